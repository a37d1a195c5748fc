//! The metrics table's twin: a `SavedMetricsStore` that can be told to leave items unprocessed or to fail,
//! as DynamoDB's BatchWriteItem may.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::model::saved_metrics::{SavedSecond, Series};
use crate::ports::{SavedMetricsStore, StoreError};

fn poisoned() -> StoreError {
    StoreError::Corrupt("an in-memory lock was poisoned".into())
}

/// A `SavedMetricsStore` in a map, keyed like the table (series key, second). It can be told to leave a
/// number of items unprocessed (half of each batch at most, as a throttled BatchWriteItem does) and to
/// fail every call after a number of batches (a run cut off midway).
#[derive(Debug, Default)]
pub struct MemorySavedMetrics {
    items: Mutex<BTreeMap<(String, i64), SavedSecond>>,
    /// Items still to leave unprocessed.
    unprocessed_left: AtomicUsize,
    /// Batches that succeed before every call fails; `usize::MAX` for never.
    batches_before_failure: AtomicUsize,
    /// How many `write_batch` calls were made.
    pub batch_calls: AtomicUsize,
    /// How many items were answered as unprocessed in all.
    pub unprocessed_answered: AtomicUsize,
}

impl MemorySavedMetrics {
    pub fn new() -> Self {
        Self {
            batches_before_failure: AtomicUsize::new(usize::MAX),
            ..Self::default()
        }
    }

    /// Leaves `items` items unprocessed, spread over the next batches.
    pub fn leave_unprocessed(&self, items: usize) {
        self.unprocessed_left.store(items, Ordering::SeqCst);
    }

    /// Fails every call after `batches` more successful ones (`usize::MAX`: never).
    pub fn fail_after(&self, batches: usize) {
        self.batches_before_failure.store(batches, Ordering::SeqCst);
    }

    /// Every item kept, in key order.
    pub fn all(&self) -> Vec<SavedSecond> {
        self.items
            .lock()
            .map(|items| items.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl SavedMetricsStore for MemorySavedMetrics {
    async fn write_batch(&self, items: &[SavedSecond]) -> Result<Vec<SavedSecond>, StoreError> {
        self.batch_calls.fetch_add(1, Ordering::SeqCst);
        if items.len() > self.batch_limit() {
            return Err(StoreError::Corrupt(format!("{} items in one batch", items.len())));
        }
        let allowed = self.batches_before_failure.load(Ordering::SeqCst);
        if allowed == 0 {
            return Err(StoreError::Unavailable("the memory store was told to fail".into()));
        }
        if allowed != usize::MAX {
            self.batches_before_failure.store(allowed - 1, Ordering::SeqCst);
        }
        let left = self.unprocessed_left.load(Ordering::SeqCst);
        let refused = left.min(items.len() / 2).min(items.len());
        self.unprocessed_left.store(left - refused, Ordering::SeqCst);
        self.unprocessed_answered.fetch_add(refused, Ordering::SeqCst);
        let (kept, unprocessed) = items.split_at(items.len() - refused);
        let mut map = self.items.lock().map_err(|_| poisoned())?;
        for item in kept {
            map.insert((item.series.key(), item.second), item.clone());
        }
        Ok(unprocessed.to_vec())
    }

    async fn read(&self, series: &Series, from: i64, to: i64) -> Result<Vec<SavedSecond>, StoreError> {
        let key = series.key();
        Ok(self
            .items
            .lock()
            .map_err(|_| poisoned())?
            .range((key.clone(), from)..(key, to))
            .map(|(_, item)| item.clone())
            .collect())
    }
}
