//! CloudWatch's twin: a `MetricsSink` that keeps every datum published, and the `MetricsSource` that reads
//! them back, computing percentiles from what it kept.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::model::metrics::MetricDatum;
use crate::model::saved_metrics::{SavedSecond, Series, Statistic};
use crate::ports::{MetricsSink, MetricsSource, StoreError};

fn poisoned() -> StoreError {
    StoreError::Corrupt("an in-memory lock was poisoned".into())
}

/// A `MetricsSink` that keeps every datum published.
#[derive(Debug, Default)]
pub struct MemoryMetricsSink {
    pub published: Mutex<Vec<MetricDatum>>,
}

#[async_trait]
impl MetricsSink for MemoryMetricsSink {
    async fn publish(&self, data: &[MetricDatum]) -> Result<(), StoreError> {
        self.published
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?
            .extend_from_slice(data);
        Ok(())
    }
}

/// Whether `datum` was published under exactly the dimensions of `series`.
fn belongs_to(datum: &MetricDatum, series: &Series) -> bool {
    let expected = series.dimensions();
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
