//! One test's result: every call's result merged exactly. Histograms are added, per second, per region and
//! in total, never averaged (invariant 10); counts are summed; a call that never reported but sent chunks
//! while it ran counts what its chunks carried and is named short; the calls the fleet expected and never
//! heard from are named missing; and the fleet's start skew (how far each worker's first send was from the
//! common start) is summarised across workers.
//!
//! Where it is built (ARCHITECTURE.md, "Where a distributed test's state lives"): results stay in their
//! region, and whoever reads them all merges them, the home region or the client; the demo does it today.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::to_raw_value;
use thiserror::Error;
use volley_engine::load::report::Report;
use volley_engine::load::stats::{Stats, merge_seconds};

use crate::model::result::{CallResult, ResultChunk};
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

impl FleetSkew {
    /// The summary of the calls' skews, in milliseconds (their sign ignored); None for none.
    pub fn of(skews_ms: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut skews: Vec<f64> = skews_ms.into_iter().map(f64::abs).collect();
        skews.sort_by(f64::total_cmp);
        (!skews.is_empty()).then(|| Self {
            calls: skews.len(),
            p50_ms: nearest_rank(&skews, 0.5),
            p99_ms: nearest_rank(&skews, 0.99),
            max_ms: skews[skews.len() - 1],
        })
    }
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
    /// The calls that never reported but sent chunks while they ran (a worker killed, or its result still
    /// on its way): what their chunks carried is counted, the seconds after their last chunk are not.
    pub short: Vec<ShortCall>,
    /// The calls expected and never heard from (a worker that died before its first chunk, a delivery
    /// still on its way).
    pub missing: Vec<String>,
    pub start_skew: Option<FleetSkew>,
}

/// A call known only by its chunks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShortCall {
    pub call_id: String,
    /// The chunks' numbers (a gap is a chunk still on its way).
    pub chunks: Vec<u32>,
    pub requests: u64,
}

/// The `q` quantile of `sorted` by nearest rank.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl TestResult {
    /// Merges `results`, the calls of `test`, against the call ids the fleet expected, with the `chunks`
    /// stored of calls that never reported (those of calls that did are in their results, and ignored).
    pub fn merge(
        test: &TestScope,
        expected: &[String],
        results: &[CallResult],
        chunks: &[ResultChunk],
    ) -> Result<Self, MergeError> {
        let theirs = |organisation_id: &str, test_id: &str, call: &str| {
            if organisation_id != test.organisation_id || test_id != test.test_id {
                return Err(MergeError::OtherTest {
                    call: call.to_owned(),
                    found: TestScope::new(organisation_id, test_id).key(),
                    expected: test.key(),
                });
            }
            Ok(())
        };
        let mut seen = std::collections::BTreeSet::new();
        for r in results {
            theirs(&r.organisation_id, &r.test_id, &r.call_id)?;
            if !seen.insert(r.call_id.clone()) {
                return Err(MergeError::Twice {
                    call: r.call_id.clone(),
                });
            }
        }
        // The chunks of calls with no result, by call and number.
        let mut unreported: BTreeMap<&str, BTreeMap<u32, &ResultChunk>> = BTreeMap::new();
        for c in chunks {
            theirs(&c.organisation_id, &c.test_id, &c.call_id)?;
            if seen.contains(&c.call_id) {
                continue;
            }
            if unreported.entry(&c.call_id).or_default().insert(c.chunk, c).is_some() {
                return Err(MergeError::Twice {
                    call: format!("{} (chunk {})", c.call_id, c.chunk),
                });
            }
        }
        let mut decoded = results
            .iter()
            .map(|r| {
                r.report.decode_seconds().map_err(|source| MergeError::Seconds {
                    call: r.call_id.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut total = Stats::default();
        let mut regions: BTreeMap<String, Stats> = BTreeMap::new();
        let mut short = Vec::new();
        for (call, parts) in &unreported {
            let mut seconds = Vec::new();
            for chunk in parts.values() {
                seconds.extend(chunk.decode_seconds().map_err(|source| MergeError::Seconds {
                    call: format!("{call} (chunk {})", chunk.chunk),
                    source,
                })?);
            }
            let mut carried = Stats::default();
            for second in &seconds {
                carried.merge(&second.stats);
            }
            let region = parts.values().find_map(|c| c.region.clone()).unwrap_or_default();
            short.push(ShortCall {
                call_id: (*call).to_owned(),
                chunks: parts.keys().copied().collect(),
                requests: carried.requests,
            });
            total.merge(&carried);
            regions.entry(region).or_default().merge(&carried);
            decoded.push(seconds);
        }
        let seconds = merge_seconds(decoded.iter().map(Vec::as_slice))
            .iter()
            .map(|s| to_raw_value(s).map_err(MergeError::Encode))
            .collect::<Result<Vec<_>, _>>()?;
        for r in results {
            total.merge(&r.report.total);
            regions
                .entry(r.region.clone().unwrap_or_default())
                .or_default()
                .merge(&r.report.total);
        }
        let start_skew = FleetSkew::of(
            results
                .iter()
                .filter_map(|r| r.report.start_skew.map(|s| s.first_sent_ms)),
        );
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
            missing: expected
                .iter()
                .filter(|id| !seen.contains(*id) && !unreported.contains_key(id.as_str()))
                .cloned()
                .collect(),
            short,
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
            chunked: None,
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
        let merged = TestResult::merge(&test, &expected, &results, &[]).unwrap_or_else(|e| panic!("{e}"));
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
        let e = TestResult::merge(&test, &[], &[result("a", "eu-west-1", 1, 1, 1, 0.0)], &[]);
        assert!(matches!(e, Err(MergeError::OtherTest { .. })), "{e:?}");
        let test = TestScope::new("acme", "t1");
        let twice = [
            result("a", "eu-west-1", 1, 1, 1, 0.0),
            result("a", "eu-west-1", 1, 1, 1, 0.0),
        ];
        assert!(matches!(
            TestResult::merge(&test, &[], &twice, &[]),
            Err(MergeError::Twice { .. })
        ));
    }

    /// A chunk of call `call` (its `n`th), carrying `result`'s seconds.
    fn chunk_of(result: &CallResult, n: u32) -> ResultChunk {
        ResultChunk {
            test_id: result.test_id.clone(),
            organisation_id: result.organisation_id.clone(),
            call_id: result.call_id.clone(),
            region: result.region.clone(),
            chunk: n,
            from: 0,
            seconds: result.report.seconds.clone(),
            abort: Vec::new(),
            home_region: None,
        }
    }

    #[test]
    fn a_call_known_only_by_its_chunks_is_counted_and_named_short_and_a_reported_calls_chunks_are_not_counted_twice() {
        let test = TestScope::new("acme", "t1");
        let a = result("a", "eu-west-1", 100, 10, 5, 1.0);
        // b never reported; its chunks 0 and 2 arrived (1 is still on its way).
        let b0 = result("b", "us-east-1", 100, 7, 50, 0.0);
        let b2 = result("b", "us-east-1", 102, 3, 50, 0.0);
        let chunks = [chunk_of(&a, 0), chunk_of(&b0, 0), chunk_of(&b2, 2)];
        let expected = ["a", "b", "c"].map(String::from);
        let merged =
            TestResult::merge(&test, &expected, std::slice::from_ref(&a), &chunks).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            merged.short,
            vec![ShortCall {
                call_id: "b".into(),
                chunks: vec![0, 2],
                requests: 10
            }]
        );
        assert_eq!(merged.missing, vec!["c".to_owned()], "c sent nothing at all");
        assert_eq!(merged.calls, vec!["a".to_owned()]);
        assert_eq!(
            merged.report.total.requests, 20,
            "a's 10 once (its chunk is in its result), b's 10"
        );
        assert_eq!(merged.regions["us-east-1"].requests, 10);
        let seconds = merged.report.decode_seconds().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            seconds.iter().map(|s| (s.second, s.stats.requests)).collect::<Vec<_>>(),
            vec![(100, 17), (102, 3)]
        );
        let twice = [chunk_of(&b0, 0), chunk_of(&b0, 0)];
        assert!(matches!(
            TestResult::merge(&test, &expected, &[], &twice),
            Err(MergeError::Twice { .. })
        ));
        let other = TestScope::new("acme", "t9");
        assert!(matches!(
            TestResult::merge(&other, &[], &[], &chunks),
            Err(MergeError::OtherTest { .. })
        ));
    }
}
