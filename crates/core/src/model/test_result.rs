//! One test's result: every call's result merged exactly. Histograms are added, per second, per region and
//! in total, never averaged (invariant 10); counts are summed; the calls the fleet expected and never
//! reported are named; and the fleet's start skew (how far each worker's first send was from the common
//! start) is summarised across workers.
//!
//! Where it is built (ARCHITECTURE.md, "Where a distributed test's state lives"): results stay in their
//! region, and whoever reads them all merges them, the home region or the client; the demo does it today.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::to_raw_value;
use thiserror::Error;
use volley_engine::load::report::Report;
use volley_engine::load::stats::{Stats, merge_seconds};

use crate::model::result::CallResult;
use crate::model::scope::TestScope;

/// Why results could not be merged.
#[derive(Debug, Error)]
pub enum MergeError {
    #[error("the result of call {call} is test {found}'s, not {expected}'s")]
    OtherTest {
        call: String,
        found: String,
        expected: String,
    },
    #[error("call {call} reported twice")]
    Twice { call: String },
    #[error("the seconds of call {call} do not decode")]
    Seconds {
        call: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the merged seconds could not be encoded")]
    Encode(#[source] serde_json::Error),
}

/// How far the workers' first sends were from the common start, in milliseconds, across the calls that had
/// one (`startAt`): p50, p99 (nearest rank) and the largest, by absolute value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetSkew {
    pub calls: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A whole test's result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    #[serde(flatten)]
    pub test: TestScope,
    /// Every call together: the merged seconds (encoded, as a call's are), the merged totals, the earliest
    /// start, the longest attack and wait, the requests planned, truncated or stopped if any call was.
    pub report: Report,
    /// Each region's calls together.
    pub regions: BTreeMap<String, Stats>,
    /// The calls that reported, by id.
    pub calls: Vec<String>,
    /// The calls expected and not reported (a worker that died, a delivery still on its way).
    pub missing: Vec<String>,
    pub start_skew: Option<FleetSkew>,
}

/// The `q` quantile of `sorted` by nearest rank.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl TestResult {
    /// Merges `results`, the calls of `test`, against the call ids the fleet expected.
    pub fn merge(test: &TestScope, expected: &[String], results: &[CallResult]) -> Result<Self, MergeError> {
        let mut seen = std::collections::BTreeSet::new();
        for r in results {
            if r.organisation_id != test.organisation_id || r.test_id != test.test_id {
                return Err(MergeError::OtherTest {
                    call: r.call_id.clone(),
                    found: TestScope::new(&r.organisation_id, &r.test_id).key(),
                    expected: test.key(),
                });
            }
            if !seen.insert(r.call_id.clone()) {
                return Err(MergeError::Twice {
                    call: r.call_id.clone(),
                });
            }
        }
        let decoded = results
            .iter()
            .map(|r| {
                r.report.decode_seconds().map_err(|source| MergeError::Seconds {
                    call: r.call_id.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let seconds = merge_seconds(decoded.iter().map(Vec::as_slice))
            .iter()
            .map(|s| to_raw_value(s).map_err(MergeError::Encode))
            .collect::<Result<Vec<_>, _>>()?;
        let mut total = Stats::default();
        let mut regions: BTreeMap<String, Stats> = BTreeMap::new();
        for r in results {
            total.merge(&r.report.total);
            regions
                .entry(r.region.clone().unwrap_or_default())
                .or_default()
                .merge(&r.report.total);
        }
        let mut skews: Vec<f64> = results
            .iter()
            .filter_map(|r| r.report.start_skew.map(|s| s.first_sent_ms.abs()))
            .collect();
        skews.sort_by(f64::total_cmp);
        let start_skew = (!skews.is_empty()).then(|| FleetSkew {
            calls: skews.len(),
            p50_ms: nearest_rank(&skews, 0.5),
            p99_ms: nearest_rank(&skews, 0.99),
            max_ms: skews[skews.len() - 1],
        });
        let reports = || results.iter().map(|r| &r.report);
        Ok(Self {
            test: test.clone(),
            report: Report {
                seconds,
                total,
                started_at_ms: reports().map(|r| r.started_at_ms).min().unwrap_or_default(),
                duration: reports().map(|r| r.duration).max().unwrap_or_default(),
                wait: reports().map(|r| r.wait).max().unwrap_or_default(),
                planned: reports().map(|r| r.planned).sum(),
                truncated: reports().any(|r| r.truncated),
                stopped: reports().any(|r| r.stopped),
                start_skew: None,
            },
            regions,
            calls: seen.iter().cloned().collect(),
            missing: expected.iter().filter(|id| !seen.contains(*id)).cloned().collect(),
            start_skew,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use volley_engine::load::report::StartSkew;
    use volley_engine::load::stats::{Outcome, Sample, SecondStats};

    use super::*;

    /// A call's result with `n` requests of `latency_ms` in second `second`, skewed `skew_ms` at its start.
    fn result(call: &str, region: &str, second: i64, n: u64, latency_ms: u64, skew_ms: f64) -> CallResult {
        let mut stats = Stats::default();
        for _ in 0..n {
            stats.record(&Sample {
                outcome: Outcome::Status(200),
                send_lag: Duration::ZERO,
                service_time: Duration::from_millis(latency_ms),
                bytes_in: 10,
                bytes_out: 0,
            });
        }
        let bucket = SecondStats {
            second,
            stats: stats.clone(),
        };
        CallResult {
            test_id: "t1".into(),
            organisation_id: "acme".into(),
            call_id: call.into(),
            region: Some(region.into()),
            url: "http://example.com/".into(),
            addresses: vec![],
            report: Report {
                seconds: vec![to_raw_value(&bucket).unwrap_or_else(|e| panic!("{e}"))],
                total: stats,
                started_at_ms: second * 1000,
                duration: Duration::from_secs(1),
                wait: Duration::ZERO,
                planned: n,
                truncated: false,
                stopped: false,
                start_skew: Some(StartSkew {
                    start_at_ms: 0,
                    first_intended_ms: 0.0,
                    first_sent_ms: skew_ms,
                }),
            },
        }
    }

    #[test]
    fn results_merge_exactly_per_second_per_region_and_in_total_and_the_missing_are_named() {
        let test = TestScope::new("acme", "t1");
        let results = [
            result("a", "eu-west-1", 100, 10, 5, 1.0),
            result("b", "eu-west-1", 100, 20, 50, -3.0),
            result("c", "us-east-1", 101, 5, 500, 120.0),
        ];
        let expected = ["a", "b", "c", "d"].map(String::from);
        let merged = TestResult::merge(&test, &expected, &results).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(merged.missing, vec!["d".to_owned()]);
        assert_eq!(merged.report.total.requests, 35);
        assert_eq!(merged.report.planned, 35);
        assert_eq!(merged.regions["eu-west-1"].requests, 30);
        assert_eq!(merged.regions["us-east-1"].requests, 5);
        // Not averaged: the p99 of all 35 is the slow region's 500 ms, which an average of p99s would hide.
        let p99 = merged.report.total.latency.quantile(0.99).as_millis();
        assert!((495..=505).contains(&p99), "{p99}");
        let seconds = merged.report.decode_seconds().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            seconds.iter().map(|s| (s.second, s.stats.requests)).collect::<Vec<_>>(),
            vec![(100, 30), (101, 5)]
        );
        assert_eq!(
            merged.start_skew,
            Some(FleetSkew {
                calls: 3,
                p50_ms: 3.0,
                p99_ms: 120.0,
                max_ms: 120.0
            })
        );
    }

    #[test]
    fn another_tests_result_or_a_call_twice_is_refused() {
        let test = TestScope::new("acme", "t2");
        let e = TestResult::merge(&test, &[], &[result("a", "eu-west-1", 1, 1, 1, 0.0)]);
        assert!(matches!(e, Err(MergeError::OtherTest { .. })), "{e:?}");
        let test = TestScope::new("acme", "t1");
        let twice = [
            result("a", "eu-west-1", 1, 1, 1, 0.0),
            result("a", "eu-west-1", 1, 1, 1, 0.0),
        ];
        assert!(matches!(
            TestResult::merge(&test, &[], &twice),
            Err(MergeError::Twice { .. })
        ));
    }
}
