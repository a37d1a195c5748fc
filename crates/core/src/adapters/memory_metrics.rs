//! In-memory twins for the metrics-saver's ports: CloudWatch read back from what a `MemoryMetricsSink`
//! kept, and a saved-metrics store that can be told to leave items unprocessed or to fail, as DynamoDB's
//! BatchWriteItem may.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::memory::MemoryMetricsSink;
use crate::model::metrics::MetricDatum;
use crate::model::saved_metrics::{SavedSecond, Series, Statistic};
use crate::ports::{MetricsSource, SavedMetricsStore, StoreError};

fn poisoned() -> StoreError {
    StoreError::Corrupt("an in-memory lock was poisoned".into())
}

/// Whether `datum` was published under exactly the dimensions of `series`.
fn belongs_to(datum: &MetricDatum, series: &Series) -> bool {
    let mut expected = vec![("TestId", series.test_id.as_str())];
    if let Some(region) = &series.region {
        expected.push(("Region", region.as_str()));
    }
    datum.dimensions.len() == expected.len()
        && expected
            .iter()
            .all(|(name, value)| datum.dimensions.iter().any(|(n, v)| n == name && v == value))
}

/// The `p`-th percentile by nearest rank of values with counts (how CloudWatch answers, to within its own
/// bucketing, for data published as values and counts).
fn percentile(sorted: &[(f64, f64)], p: f64) -> Option<f64> {
    let total: f64 = sorted.iter().map(|(_, c)| c).sum();
    if total <= 0.0 {
        return None;
    }
    let rank = (p / 100.0 * total).ceil().max(1.0);
    let mut seen = 0.0;
    for (value, count) in sorted {
        seen += count;
        if seen >= rank {
            return Some(*value);
        }
    }
    sorted.last().map(|(v, _)| *v)
}

#[async_trait]
impl MetricsSource for MemoryMetricsSink {
    async fn seconds(&self, series: &[Series], from: i64, to: i64) -> Result<Vec<SavedSecond>, StoreError> {
        let published = self.published.lock().map_err(|_| poisoned())?;
        let mut out = Vec::new();
        for one in series {
            // Per second: the ResponseTime values with counts, and the sums.
            let mut latencies: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
            let mut sums: BTreeMap<i64, [Option<f64>; 3]> = BTreeMap::new();
            for datum in published
                .iter()
                .filter(|d| belongs_to(d, one) && (from..to).contains(&d.timestamp))
            {
                let total = || datum.values.iter().zip(&datum.counts).map(|(v, c)| v * c).sum::<f64>();
                let slot = match datum.name {
                    "ResponseTime" => {
                        let entry = latencies.entry(datum.timestamp).or_default();
                        entry.extend(datum.values.iter().copied().zip(datum.counts.iter().copied()));
                        continue;
                    }
                    "Requests" => 0,
                    "Errors" => 1,
                    "Dropped" => 2,
                    _ => continue,
                };
                let entry = &mut sums.entry(datum.timestamp).or_default()[slot];
                *entry = Some(entry.unwrap_or(0.0) + total());
            }
            let all_seconds: std::collections::BTreeSet<i64> = latencies.keys().chain(sums.keys()).copied().collect();
            for second in all_seconds {
                let mut saved = SavedSecond::empty(one.clone(), second);
                if let Some(values) = latencies.get_mut(&second) {
                    values.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let count: f64 = values.iter().map(|(_, c)| c).sum();
                    let stats = [
                        (Statistic::P50, percentile(values, 50.0)),
                        (Statistic::P90, percentile(values, 90.0)),
                        (Statistic::P95, percentile(values, 95.0)),
                        (Statistic::P99, percentile(values, 99.0)),
                        (Statistic::Maximum, values.last().map(|(v, _)| *v)),
                        (
                            Statistic::Average,
                            (count > 0.0).then(|| values.iter().map(|(v, c)| v * c).sum::<f64>() / count),
                        ),
                    ];
                    for (statistic, value) in stats {
                        if let Some(value) = value {
                            statistic.set(&mut saved, value);
                        }
                    }
                }
                let [requests, errors, dropped] = sums.get(&second).copied().unwrap_or_default();
                for (statistic, value) in [
                    (Statistic::RequestsSum, requests),
                    (Statistic::ErrorsSum, errors),
                    (Statistic::DroppedSum, dropped),
                ] {
                    if let Some(value) = value {
                        statistic.set(&mut saved, value);
                    }
                }
                out.push(saved);
            }
        }
        Ok(out)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values = [(10.0, 40.0), (100.0, 52.0), (1000.0, 8.0)];
        assert_eq!(percentile(&values, 50.0), Some(100.0));
        assert_eq!(percentile(&values, 40.0), Some(10.0));
        assert_eq!(percentile(&values, 95.0), Some(1000.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
