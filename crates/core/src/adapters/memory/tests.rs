//! The tests table's twin: the archiver's `ResultLedger` and the metrics-saver's `TestActivity` over one
//! state, as `dynamodb::tests` has both over one table (the archive marks, which DynamoDB keeps in the calls
//! table, are kept here too).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::model::scope::{CallScope, TestScope};
use crate::ports::{StoreError, TestCounters};

/// A `ResultLedger` in maps, and the `TestActivity` that reads what it wrote (as `DynamoResultLedger` and
/// `DynamoTestActivity` share the tests table).
#[derive(Debug, Default)]
pub struct MemoryResultLedger {
    state: Mutex<LedgerState>,
}

#[derive(Debug, Default)]
struct LedgerState {
    archived: HashMap<CallScope, bool>,
    /// Metrics batches: (call, batch) → published, or held until a lease.
    batches: HashMap<(CallScope, u32), Batch>,
    counters: HashMap<TestScope, TestCounters>,
    /// Per test and second: what the chunks counted, for abort rules.
    live: HashMap<(TestScope, i64), crate::model::abort::LiveSecond>,
    /// Per test: the metric series' region marks, and the metrics-saver's watermark.
    activity: HashMap<TestScope, (std::collections::BTreeSet<String>, Option<i64>)>,
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

    /// Counts one lost call of `test` (`MemoryCallClaims` calls this, as `DynamoCallClaims` adds to the
    /// tests table).
    pub fn count_lost(&self, test: &TestScope) -> Result<(), StoreError> {
        self.lock()?
            .counters
            .entry(test.clone())
            .or_insert_with(|| TestCounters::new(test.clone()))
            .calls_lost += 1;
        Ok(())
    }
}

#[async_trait]
impl crate::ports::ResultLedger for MemoryResultLedger {
    async fn record_archived(
        &self,
        call: &CallScope,
        counts: crate::ports::ResultCounts,
        live: &[crate::model::abort::LiveSecond],
        region: Option<&str>,
        now: i64,
    ) -> Result<crate::ports::ArchiveMark, StoreError> {
        if live.len() > crate::ports::MAX_LIVE_SECONDS {
            return Err(StoreError::Corrupt(format!(
                "{} live seconds in one record",
                live.len()
            )));
        }
        let mut state = self.lock()?;
        if let Some(published) = state.archived.get(call) {
            return Ok(crate::ports::ArchiveMark::Seen {
                metrics_published: *published,
            });
        }
        state.archived.insert(call.clone(), false);
        let counters = state
            .counters
            .entry(call.test.clone())
            .or_insert_with(|| TestCounters::new(call.test.clone()));
        counters.requests += counts.requests;
        counters.errors += counts.errors;
        counters.dropped += counts.dropped;
        match counts.part {
            crate::ports::ResultPart::Whole => counters.results_archived += 1,
            crate::ports::ResultPart::Chunk => counters.chunks_archived += 1,
        }
        counters.last_result_at = now;
        counters.start_skews_us.extend(counts.start_skew_us);
        for second in live {
            let kept =
                state
                    .live
                    .entry((call.test.clone(), second.second))
                    .or_insert(crate::model::abort::LiveSecond {
                        second: second.second,
                        requests: 0,
                        errors: 0,
                        dropped: 0,
                    });
            kept.requests += second.requests;
            kept.errors += second.errors;
            kept.dropped += second.dropped;
        }
        let mark = region.unwrap_or(crate::model::saved_metrics::NO_REGION).to_owned();
        state.activity.entry(call.test.clone()).or_default().0.insert(mark);
        Ok(crate::ports::ArchiveMark::Fresh)
    }

    async fn mark_metrics_published(&self, call: &CallScope) -> Result<(), StoreError> {
        self.lock()?.archived.insert(call.clone(), true);
        Ok(())
    }

    async fn claim_metrics_batch(
        &self,
        call: &CallScope,
        batch: u32,
        now: i64,
        lease_until: i64,
    ) -> Result<crate::ports::BatchClaim, StoreError> {
        use crate::ports::BatchClaim;
        let mut state = self.lock()?;
        let key = (call.clone(), batch);
        Ok(match state.batches.get(&key) {
            Some(Batch::Published) => BatchClaim::Published,
            Some(Batch::Publishing { lease_until: held }) if *held >= now => BatchClaim::InProgress,
            _ => {
                state.batches.insert(key, Batch::Publishing { lease_until });
                BatchClaim::Claimed
            }
        })
    }

    async fn finish_metrics_batch(&self, call: &CallScope, batch: u32) -> Result<(), StoreError> {
        self.lock()?.batches.insert((call.clone(), batch), Batch::Published);
        Ok(())
    }

    async fn marks(&self, calls: &[CallScope]) -> Result<Vec<Option<bool>>, StoreError> {
        let state = self.lock()?;
        Ok(calls.iter().map(|call| state.archived.get(call).copied()).collect())
    }

    async fn live_seconds(
        &self,
        test: &TestScope,
        from: i64,
        to: i64,
    ) -> Result<Vec<crate::model::abort::LiveSecond>, StoreError> {
        let state = self.lock()?;
        Ok((from..=to)
            .take(crate::ports::MAX_LIVE_SECONDS)
            .filter_map(|second| state.live.get(&(test.clone(), second)).copied())
            .collect())
    }

    async fn counters(&self, test: &TestScope) -> Result<Option<TestCounters>, StoreError> {
        Ok(self.lock()?.counters.get(test).cloned())
    }
}

impl MemoryResultLedger {
    /// The test as the metrics-saver sees it: only once a result or a chunk was archived (a test with only
    /// lost calls has nothing to save).
    fn active_test(state: &LedgerState, test: &TestScope) -> Option<crate::model::saved_metrics::ActiveTest> {
        use crate::model::saved_metrics::{ActiveTest, Series};
        let counters = state
            .counters
            .get(test)
            .filter(|c| c.results_archived + c.chunks_archived > 0)?;
        let (marks, saved_through) = state.activity.get(test).cloned().unwrap_or_default();
        Some(ActiveTest {
            test: test.clone(),
            series: marks.iter().map(|mark| Series::from_region_mark(test, mark)).collect(),
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
            .filter_map(|c| Self::active_test(&state, &c.test))
            .collect();
        tests.sort_by(|a, b| a.test.cmp(&b.test));
        Ok(tests)
    }

    async fn test(&self, test: &TestScope) -> Result<Option<crate::model::saved_metrics::ActiveTest>, StoreError> {
        Ok(Self::active_test(&*self.lock()?, test))
    }

    async fn advance_watermark(&self, test: &TestScope, from: Option<i64>, to: i64) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        if Self::active_test(&state, test).is_none() {
            return Ok(false);
        }
        let watermark = &mut state.activity.entry(test.clone()).or_default().1;
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
