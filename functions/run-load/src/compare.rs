//! Summaries and the comparison with a baseline: each threshold of the suite checked, each regression
//! named with its numbers. The types they are written in are run-load's answer, in
//! `volley_core::model::run`.

use volley_core::model::run::{Finding, Level, Metric, Summary};

use crate::suite::{Limits, Thresholds};
use crate::users::TaskStats;

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// The summary of `stats` measured over `seconds`.
pub fn summary_of(stats: &TaskStats, seconds: f64) -> Summary {
    let l = &stats.latencies;
    let any = l.count() > 0;
    let at = |q: f64| if any { ms(l.quantile(q)) } else { 0.0 };
    Summary {
        requests: stats.requests,
        failures: stats.failures,
        rps: if seconds > 0.0 {
            stats.requests as f64 / seconds
        } else {
            0.0
        },
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: if any { ms(l.max()) } else { 0.0 },
        avg_ms: if any { ms(l.mean()) } else { 0.0 },
    }
}

fn judge(metric: Metric, baseline: f64, current: f64, worse_by: f64, limits: Limits) -> Option<Finding> {
    let (level, limit) = if worse_by > limits.fail {
        (Level::Fail, limits.fail)
    } else if worse_by > limits.warn {
        (Level::Warn, limits.warn)
    } else {
        return None;
    };
    Some(Finding {
        metric,
        level,
        baseline,
        current,
        worse_by,
        limit,
    })
}

fn rise(baseline: f64, current: f64) -> f64 {
    if baseline > 0.0 {
        (current - baseline) * 100.0 / baseline
    } else {
        0.0
    }
}

/// Every threshold `current` crosses against `baseline`.
pub fn compare(baseline: &Summary, current: &Summary, thresholds: &Thresholds) -> Vec<Finding> {
    [
        judge(
            Metric::P95,
            baseline.p95_ms,
            current.p95_ms,
            rise(baseline.p95_ms, current.p95_ms),
            thresholds.p95,
        ),
        judge(
            Metric::P99,
            baseline.p99_ms,
            current.p99_ms,
            rise(baseline.p99_ms, current.p99_ms),
            thresholds.p99,
        ),
        judge(
            Metric::FailureRatio,
            baseline.failure_percent(),
            current.failure_percent(),
            current.failure_percent() - baseline.failure_percent(),
            thresholds.failure_ratio,
        ),
        judge(
            Metric::RequestsPerSecond,
            baseline.rps,
            current.rps,
            -rise(baseline.rps, current.rps),
            thresholds.rps,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p95: f64, p99: f64, rps: f64, failures: u64) -> Summary {
        Summary {
            requests: 1000,
            failures,
            rps,
            p50_ms: 10.0,
            p95_ms: p95,
            p99_ms: p99,
            max_ms: 200.0,
            avg_ms: 12.0,
        }
    }

    #[test]
    fn each_threshold_warns_then_fails() {
        let t = Thresholds::default();
        let base = summary(20.0, 40.0, 100.0, 0);
        assert!(compare(&base, &base, &t).is_empty(), "the same run is no regression");
        assert!(
            compare(&base, &summary(15.0, 30.0, 130.0, 0), &t).is_empty(),
            "better is no regression"
        );

        let slower = compare(&base, &summary(23.0, 70.0, 100.0, 0), &t);
        assert_eq!(
            slower.iter().map(|f| (f.metric.as_str(), f.level)).collect::<Vec<_>>(),
            [("p95", Level::Warn), ("p99", Level::Fail)]
        );
        assert!((slower[1].worse_by - 75.0).abs() < 1e-9);
        assert_eq!(
            slower[1].to_string(),
            "p99 regression: 70.00 against a baseline of 40.00 (+75.0%, limit 50%)"
        );

        let worse = compare(&base, &summary(20.0, 40.0, 70.0, 20), &t);
        assert_eq!(
            worse.iter().map(|f| (f.metric.as_str(), f.level)).collect::<Vec<_>>(),
            [("failure ratio", Level::Fail), ("requests per second", Level::Fail)]
        );
        assert!(worse[0].to_string().contains("+2.0 points"), "{}", worse[0]);
    }
}
