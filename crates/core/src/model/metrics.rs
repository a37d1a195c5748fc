//! The high-resolution metrics a call's result becomes: per second, `ResponseTime` as the latency
//! histogram's values and counts (so CloudWatch computes exact-enough percentiles across workers), and the
//! sums `Requests`, `Errors` and `Dropped`. Dimensions: `OrganisationId` and `TestId` (a test id is only unique
//! within its organisation), and `Region` when the call named one.

use volley_engine::load::stats::SecondStats;

use crate::model::saved_metrics::Series;
use crate::model::scope::TestScope;

/// Datums per batch, which is one PutMetricData call: CloudWatch takes up to 1,000 datums and 1 MB; a datum
/// of 150 values is about 3 KB, so 250 stays well inside both. The archiver publishes and marks a result's
/// metrics batch by batch, so a publisher killed between a call and its mark repeats at most this many
/// datums (about 60 seconds of one series: each second is four datums).
pub const DATUMS_PER_BATCH: usize = 250;

/// The CloudWatch namespace.
pub const NAMESPACE: &str = "Volley";
/// CloudWatch accepts at most this many distinct values in one datum.
pub const MAX_VALUES_PER_DATUM: usize = 150;

/// The unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Count,
}

/// One datum: a metric at one second, as values with counts (a histogram) or a single value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDatum {
    pub name: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    /// Unix seconds.
    pub timestamp: i64,
    pub unit: Unit,
    pub values: Vec<f64>,
    pub counts: Vec<f64>,
}

/// The datums for one call's per-second buckets.
pub fn metrics_for(test: &TestScope, region: Option<&str>, seconds: &[SecondStats]) -> Vec<MetricDatum> {
    let dimensions = Series::new(test, region).dimensions();
    let mut data = Vec::new();
    for bucket in seconds {
        let stats = &bucket.stats;
        let datum = |name, unit, values: Vec<f64>, counts: Vec<f64>| MetricDatum {
            name,
            dimensions: dimensions.clone(),
            timestamp: bucket.second,
            unit,
            values,
            counts,
        };
        // Each distinct recorded value (microseconds, at 3 significant digits) with its count, in ms.
        let histogram = stats.latency.histogram();
        let recorded: Vec<(f64, f64)> = histogram
            .iter_recorded()
            .map(|v| {
                (
                    histogram.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0,
                    v.count_at_value() as f64,
                )
            })
            .collect();
        for chunk in recorded.chunks(MAX_VALUES_PER_DATUM) {
            let (values, counts) = chunk.iter().copied().unzip();
            data.push(datum("ResponseTime", Unit::Milliseconds, values, counts));
        }
        for (name, n) in [
            ("Requests", stats.requests),
            ("Errors", stats.failures()),
            ("Dropped", stats.dropped),
        ] {
            data.push(datum(name, Unit::Count, vec![n as f64], vec![1.0]));
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use volley_engine::load::stats::{Outcome, Sample, Stats};

    fn bucket(second: i64, latencies_ms: impl IntoIterator<Item = u64>) -> SecondStats {
        let mut stats = Stats::default();
        for ms in latencies_ms {
            stats.record(&Sample {
                outcome: Outcome::Status(if ms > 900 { 503 } else { 200 }),
                send_lag: Duration::ZERO,
                service_time: Duration::from_millis(ms),
                bytes_in: 0,
                bytes_out: 0,
            });
        }
        SecondStats { second, stats }
    }

    #[test]
    fn each_second_gives_its_histogram_and_sums() {
        let data = metrics_for(
            &TestScope::new("acme", "t1"),
            Some("eu-west-1"),
            &[bucket(100, [10, 10, 20, 950])],
        );
        let names: Vec<_> = data.iter().map(|d| d.name).collect();
        assert_eq!(names, ["ResponseTime", "Requests", "Errors", "Dropped"]);
        let response = &data[0];
        assert_eq!(response.timestamp, 100);
        assert_eq!(response.counts.iter().sum::<f64>(), 4.0);
        assert_eq!(response.values.len(), 3);
        assert!((response.values[0] - 10.0).abs() < 0.02, "{:?}", response.values);
        assert_eq!(data[1].values, [4.0]);
        assert_eq!(data[2].values, [1.0]);
        assert_eq!(
            response.dimensions,
            vec![
                ("OrganisationId", "acme".into()),
                ("TestId", "t1".into()),
                ("Region", "eu-west-1".into())
            ]
        );
    }

    #[test]
    fn wide_histograms_are_split_within_cloudwatchs_value_limit() {
        let data = metrics_for(&TestScope::new("acme", "t1"), None, &[bucket(7, 1..=400)]);
        let response: Vec<_> = data.iter().filter(|d| d.name == "ResponseTime").collect();
        assert!(response.len() >= 3, "{} datums", response.len());
        assert!(
            response
                .iter()
                .all(|d| d.values.len() <= MAX_VALUES_PER_DATUM && d.values.len() == d.counts.len())
        );
        assert_eq!(
            response.iter().map(|d| d.counts.iter().sum::<f64>()).sum::<f64>(),
            400.0
        );
        assert_eq!(
            data[0].dimensions,
            vec![("OrganisationId", "acme".into()), ("TestId", "t1".into())]
        );
    }
}
