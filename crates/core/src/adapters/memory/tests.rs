//! The tests table's twin: the archiver's `ResultLedger` and the metrics-saver's `TestActivity` over one
//! state, as `dynamodb::tests` has both over one table (the archive marks, which DynamoDB keeps in the calls
//! table, are kept here too).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::StoreError;

/// A `ResultLedger` in maps, and the `TestActivity` that reads what it wrote (as `DynamoResultLedger` and
/// `DynamoTestActivity` share the tests table).
#[derive(Debug, Default)]
pub struct MemoryResultLedger {
    state: Mutex<LedgerState>,
}

#[derive(Debug, Default)]
struct LedgerState {
    archived: HashMap<String, bool>,
    /// Metrics batches: (call, batch) → published, or held until a lease.
    batches: HashMap<(String, u32), Batch>,
    counters: HashMap<String, crate::ports::TestCounters>,
    /// Per test: the metric series' region marks, and the metrics-saver's watermark.
    activity: HashMap<String, (std::collections::BTreeSet<String>, Option<i64>)>,
}

#[derive(Debug, Clone, Copy)]
enum Batch {
    Publishing { lease_until: i64 },
    Published,
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

    async fn claim_metrics_batch(
        &self,
        call_id: &str,
        batch: u32,
        now: i64,
        lease_until: i64,
    ) -> Result<crate::ports::BatchClaim, StoreError> {
        use crate::ports::BatchClaim;
        let mut state = self.lock()?;
        let key = (call_id.to_owned(), batch);
        Ok(match state.batches.get(&key) {
            Some(Batch::Published) => BatchClaim::Published,
            Some(Batch::Publishing { lease_until: held }) if *held >= now => BatchClaim::InProgress,
            _ => {
                state.batches.insert(key, Batch::Publishing { lease_until });
                BatchClaim::Claimed
            }
        })
    }

    async fn finish_metrics_batch(&self, call_id: &str, batch: u32) -> Result<(), StoreError> {
        self.lock()?
            .batches
            .insert((call_id.to_owned(), batch), Batch::Published);
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
