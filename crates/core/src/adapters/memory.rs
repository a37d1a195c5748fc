//! In-memory twins of the AWS adapters, for handler tests. They pass the same contract suites.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::model::birthday::Username;
use crate::ports::{BirthdayStore, StoreError};

/// A `BirthdayStore` in a map.
#[derive(Debug, Default)]
pub struct MemoryBirthdayStore {
    dates: Mutex<HashMap<Username, NaiveDate>>,
}

impl MemoryBirthdayStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Username, NaiveDate>>, StoreError> {
        self.dates
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory store's lock was poisoned".into()))
    }
}

#[async_trait]
impl BirthdayStore for MemoryBirthdayStore {
    async fn put(&self, user: &Username, born: NaiveDate) -> Result<(), StoreError> {
        self.lock()?.insert(user.clone(), born);
        Ok(())
    }

    async fn get(&self, user: &Username) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self.lock()?.get(user).copied())
    }
}

// The domains twin lives in `memory_domains.rs`; re-exported here where its users have always found it.
pub use super::memory_domains::MemoryDomainStore;

/// A `CallClaims` in a set.
#[derive(Debug, Default)]
pub struct MemoryCallClaims {
    claims: Mutex<std::collections::HashSet<String>>,
}

impl MemoryCallClaims {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl crate::ports::CallClaims for MemoryCallClaims {
    async fn claim(&self, _test_id: &str, call_id: &str, _now: i64) -> Result<bool, StoreError> {
        Ok(self
            .claims
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory claims' lock was poisoned".into()))?
            .insert(call_id.to_owned()))
    }
}

/// A `ResultLedger` in maps, and the `TestActivity` that reads what it wrote (as `DynamoResultLedger` and
/// `DynamoTestActivity` share the tests table).
#[derive(Debug, Default)]
pub struct MemoryResultLedger {
    state: Mutex<LedgerState>,
}

#[derive(Debug, Default)]
struct LedgerState {
    archived: HashMap<String, bool>,
    counters: HashMap<String, crate::ports::TestCounters>,
    /// Per test: the metric series' region marks, and the metrics-saver's watermark.
    activity: HashMap<String, (std::collections::BTreeSet<String>, Option<i64>)>,
}

impl MemoryResultLedger {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, LedgerState>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory ledger's lock was poisoned".into()))
    }
}

#[async_trait]
impl crate::ports::ResultLedger for MemoryResultLedger {
    async fn record_archived(
        &self,
        test_id: &str,
        call_id: &str,
        counts: crate::ports::ResultCounts,
        region: Option<&str>,
        now: i64,
    ) -> Result<crate::ports::ArchiveMark, StoreError> {
        let mut state = self.lock()?;
        if let Some(published) = state.archived.get(call_id) {
            return Ok(crate::ports::ArchiveMark::Seen {
                metrics_published: *published,
            });
        }
        state.archived.insert(call_id.to_owned(), false);
        let counters = state.counters.entry(test_id.to_owned()).or_default();
        counters.test_id = test_id.to_owned();
        counters.requests += counts.requests;
        counters.errors += counts.errors;
        counters.dropped += counts.dropped;
        counters.results_archived += 1;
        counters.last_result_at = now;
        let mark = region.unwrap_or(crate::model::saved_metrics::NO_REGION).to_owned();
        state.activity.entry(test_id.to_owned()).or_default().0.insert(mark);
        Ok(crate::ports::ArchiveMark::Fresh)
    }

    async fn mark_metrics_published(&self, call_id: &str) -> Result<(), StoreError> {
        self.lock()?.archived.insert(call_id.to_owned(), true);
        Ok(())
    }

    async fn counters(&self, test_id: &str) -> Result<Option<crate::ports::TestCounters>, StoreError> {
        Ok(self.lock()?.counters.get(test_id).cloned())
    }
}

impl MemoryResultLedger {
    fn active_test(state: &LedgerState, test_id: &str) -> Option<crate::model::saved_metrics::ActiveTest> {
        use crate::model::saved_metrics::{ActiveTest, Series};
        let counters = state.counters.get(test_id)?;
        let (marks, saved_through) = state.activity.get(test_id).cloned().unwrap_or_default();
        Some(ActiveTest {
            test_id: test_id.to_owned(),
            series: marks
                .iter()
                .map(|mark| Series::from_region_mark(test_id, mark))
                .collect(),
            last_result_at: counters.last_result_at,
            saved_through,
        })
    }
}

#[async_trait]
impl crate::ports::TestActivity for MemoryResultLedger {
    async fn active_since(
        &self,
        since: i64,
        _now: i64,
    ) -> Result<Vec<crate::model::saved_metrics::ActiveTest>, StoreError> {
        let state = self.lock()?;
        let mut tests: Vec<_> = state
            .counters
            .values()
            .filter(|c| c.last_result_at >= since)
            .filter_map(|c| Self::active_test(&state, &c.test_id))
            .collect();
        tests.sort_by(|a, b| a.test_id.cmp(&b.test_id));
        Ok(tests)
    }

    async fn test(&self, test_id: &str) -> Result<Option<crate::model::saved_metrics::ActiveTest>, StoreError> {
        Ok(Self::active_test(&*self.lock()?, test_id))
    }

    async fn advance_watermark(&self, test_id: &str, from: Option<i64>, to: i64) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        if !state.counters.contains_key(test_id) {
            return Ok(false);
        }
        let watermark = &mut state.activity.entry(test_id.to_owned()).or_default().1;
        let allowed = match (from, *watermark) {
            (None, None) => true,
            (None, Some(w)) => w < to,
            (Some(_), None) => false,
            (Some(from), Some(w)) => w >= from && w < to,
        };
        if allowed {
            *watermark = Some(to);
        }
        Ok(allowed)
    }
}

/// A `ResultQueue` that keeps what was sent, in order.
#[derive(Debug, Default)]
pub struct MemoryResultQueue {
    pub sent: Mutex<Vec<String>>,
}

#[async_trait]
impl crate::ports::ResultQueue for MemoryResultQueue {
    async fn send(&self, body: String) -> Result<(), StoreError> {
        self.sent
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .push(body);
        Ok(())
    }
}

/// A `ResultArchive` in a map.
#[derive(Debug, Default)]
pub struct MemoryResultArchive {
    pub objects: Mutex<HashMap<String, Vec<u8>>>,
}

#[async_trait]
impl crate::ports::ResultArchive for MemoryResultArchive {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.objects
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .insert(key.to_owned(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .objects
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .get(key)
            .cloned())
    }
}

/// A `MetricsSink` that keeps every datum published.
#[derive(Debug, Default)]
pub struct MemoryMetricsSink {
    pub published: Mutex<Vec<crate::model::metrics::MetricDatum>>,
}

#[async_trait]
impl crate::ports::MetricsSink for MemoryMetricsSink {
    async fn publish(&self, data: &[crate::model::metrics::MetricDatum]) -> Result<(), StoreError> {
        self.published
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .extend_from_slice(data);
        Ok(())
    }
}
