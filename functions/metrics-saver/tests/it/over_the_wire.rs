//! The metrics-saver over the wire in the local AWS emulator: results archived the way the archiver does it
//! (counters in a tests table of the test's own, metrics put to CloudWatch with timestamps in the last
//! minutes) come back as the right items in a metrics table of its own; a second run adds nothing; a run
//! cut off midway resumes without a gap. The deployed function, invoked as a user would, saves a window.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lambda_runtime::{Context, LambdaEvent};
use metrics_saver::{Config, Deps, Settings, function_handler};
use volley_core::adapters::cloudwatch::CloudWatchMetricsSink;
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::dynamodb::{metrics::DynamoSavedMetrics, tests::DynamoTestActivity};
use volley_core::model::metrics::metrics_for;
use volley_core::model::saved_metrics::{SavedSecond, Series};
use volley_core::model::scope::TestScope;
use volley_core::ports::{MetricsSink, ResultCounts, ResultLedger, SavedMetricsStore, StoreError, TestActivity};
use volley_engine::load::stats::{Outcome, Sample, SecondStats, Stats};
use volley_testkit::emulator;
use volley_testkit::fixtures;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `seconds` of 5 requests each (one a 503), at 10 to 14 ms.
fn buckets(seconds: std::ops::Range<i64>) -> Vec<SecondStats> {
    seconds
        .map(|second| {
            let mut stats = Stats::default();
            for ms in 10..15u64 {
                stats.record(&Sample {
                    outcome: Outcome::Status(if ms == 14 { 503 } else { 200 }),
                    send_lag: Duration::ZERO,
                    service_time: Duration::from_millis(ms),
                    bytes_in: 0,
                    bytes_out: 0,
                });
            }
            SecondStats { second, stats }
        })
        .collect()
}

/// Archives a result as the archiver does: counted in `ledger`, published to CloudWatch.
async fn archive(ledger: &dyn ResultLedger, test: &TestScope, region: Option<&str>, seconds: std::ops::Range<i64>) {
    let config = emulator::sdk_config().await;
    let buckets = buckets(seconds);
    let counts = ResultCounts {
        requests: 5 * buckets.len() as u64,
        errors: buckets.len() as u64,
        dropped: 0,
        ..ResultCounts::default()
    };
    ledger
        .record_archived(&test.call(emulator::unique("call-")), counts, &[], region, now())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    CloudWatchMetricsSink::new(&config)
        .publish(&metrics_for(test, region, &buckets))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
}

/// A saved-metrics store that fails every call after `left` batches, as a run cut off midway does.
#[derive(Debug)]
struct CutOff {
    inner: DynamoSavedMetrics,
    left: AtomicUsize,
}

#[async_trait]
impl SavedMetricsStore for CutOff {
    async fn write_batch(&self, items: &[SavedSecond]) -> Result<Vec<SavedSecond>, StoreError> {
        if self.left.load(Ordering::SeqCst) == 0 {
            return Err(StoreError::Unavailable("cut off".into()));
        }
        self.left.fetch_sub(1, Ordering::SeqCst);
        self.inner.write_batch(items).await
    }
    async fn read(&self, series: &Series, from: i64, to: i64) -> Result<Vec<SavedSecond>, StoreError> {
        self.inner.read(series, from, to).await
    }
}

struct Tables {
    ledger: DynamoResultLedger,
    activity: DynamoTestActivity,
    metrics: DynamoSavedMetrics,
    deps: Deps,
}

async fn tables() -> Tables {
    let config = emulator::sdk_config().await;
    let (calls, tests, metrics) = (
        emulator::unique("saver-calls-"),
        emulator::unique("saver-tests-"),
        emulator::unique("saver-metrics-"),
    );
    fixtures::create_calls_table(&config, &calls).await;
    fixtures::create_tests_table(&config, &tests).await;
    fixtures::create_metrics_table(&config, &metrics).await;
    let mut deps = Deps::from_aws(
        &config,
        &Config {
            tests_table: tests.clone(),
            metrics_table: metrics.clone(),
            settings: Settings::default(),
        },
    );
    // Read up to now: the emulator ingests at once (AWS needs the default 60 s).
    deps.settings.ingestion_delay = 0;
    Tables {
        ledger: DynamoResultLedger::new(&config, &calls, &tests),
        activity: DynamoTestActivity::new(&config, &tests),
        metrics: DynamoSavedMetrics::new(&config, &metrics),
        deps,
    }
}

fn sweep() -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(serde_json::json!({"action": "sweep"}), Context::default())
}

#[tokio::test]
async fn recent_metrics_become_items_and_a_second_run_adds_nothing() {
    let t = tables().await;
    let test = TestScope::new("acme", emulator::unique("saver-"));
    let start = now() - 300;
    archive(&t.ledger, &test, None, start..start + 30).await;
    archive(&t.ledger, &test, Some("eu-west-1"), start + 10..start + 20).await;

    let answer = function_handler(&t.deps, sweep())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["secondsSaved"], 40, "{answer}");
    let plain = t
        .metrics
        .read(&Series::new(&test, None), 0, i64::MAX)
        .await
        .unwrap_or_default();
    assert_eq!(
        plain.iter().map(|s| s.second).collect::<Vec<_>>(),
        (start..start + 30).collect::<Vec<_>>()
    );
    let first = &plain[0];
    assert_eq!((first.requests, first.errors, first.dropped), (5, 1, 0));
    let p50 = first.p50.unwrap_or_default();
    assert!((11.9..=12.1).contains(&p50), "p50 of 10..=14 ms: {p50} in {first:?}");
    assert!(first.max.unwrap_or_default() >= 14.0, "{first:?}");
    let regional = t
        .metrics
        .read(&Series::new(&test, Some("eu-west-1")), 0, i64::MAX)
        .await
        .unwrap_or_default();
    assert_eq!(regional.len(), 10);
    let watermark = t
        .activity
        .test(&test)
        .await
        .ok()
        .flatten()
        .and_then(|a| a.saved_through);
    assert!(watermark.is_some_and(|w| w >= start + 30), "{watermark:?}");

    let again = function_handler(&t.deps, sweep())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = t
        .metrics
        .read(&Series::new(&test, None), 0, i64::MAX)
        .await
        .unwrap_or_default();
    assert_eq!(after, plain, "the same items after a second run: {again}");
}

#[tokio::test]
async fn a_run_cut_off_midway_resumes_without_a_gap() {
    let t = tables().await;
    let test = TestScope::new("acme", emulator::unique("cutoff-"));
    let start = now() - 600;
    archive(&t.ledger, &test, None, start..start + 70).await;

    let mut cut = t.deps.clone();
    cut.store = Arc::new(CutOff {
        inner: t.metrics.clone(),
        left: AtomicUsize::new(1),
    });
    let error = function_handler(&cut, sweep())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("were not saved"), "{error}");
    let series = Series::new(&test, None);
    assert_eq!(t.metrics.read(&series, 0, i64::MAX).await.unwrap_or_default().len(), 25);
    assert_eq!(
        t.activity
            .test(&test)
            .await
            .ok()
            .flatten()
            .and_then(|a| a.saved_through),
        None
    );

    function_handler(&t.deps, sweep())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let saved = t.metrics.read(&series, 0, i64::MAX).await.unwrap_or_default();
    assert_eq!(
        saved.iter().map(|s| s.second).collect::<Vec<_>>(),
        (start..start + 70).collect::<Vec<_>>()
    );
}

/// The real bootstrap, deployed in the local stack, invoked with a window as a user would.
#[tokio::test]
async fn the_deployed_function_saves_a_window_on_demand() {
    let config = emulator::sdk_config().await;
    let ledger = DynamoResultLedger::new(
        &config,
        emulator::stack_output("CallsTableName"),
        emulator::stack_output("TestsTableName"),
    );
    let test = TestScope::new("acme", emulator::unique("deployed-saver-"));
    let start = now() - 400;
    archive(&ledger, &test, None, start..start + 12).await;
    let function = emulator::stack_output("MetricsSaverFunctionName");
    let payload = serde_json::json!({"organisationId": test.organisation_id, "testId": test.test_id, "from": start - 60, "to": start + 100});
    let answer = fixtures::invoke(&config, &function, &payload)
        .await
        .unwrap_or_else(|e| panic!("{function} failed: {e}"));
    assert_eq!(answer["secondsSaved"], 12, "{answer}");
    let metrics = DynamoSavedMetrics::new(&config, emulator::stack_output("MetricsTableName"));
    let saved = metrics
        .read(&Series::new(&test, None), 0, i64::MAX)
        .await
        .unwrap_or_default();
    assert_eq!(saved.len(), 12);

    let nobody = serde_json::json!({"organisationId": "acme", "testId": emulator::unique("nobody-"),
                                     "from": start, "to": start + 10});
    let unknown = fixtures::invoke(&config, &function, &nobody)
        .await
        .err()
        .unwrap_or_default();
    assert_eq!(unknown["errorType"], "UnknownTest", "{unknown}");
    let reversed = serde_json::json!({"organisationId": test.organisation_id, "testId": test.test_id, "from": start + 10, "to": start});
    let bad = fixtures::invoke(&config, &function, &reversed)
        .await
        .err()
        .unwrap_or_default();
    assert_eq!(bad["errorType"], "BadRequest", "{bad}");
    assert!(
        bad["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("must be before")),
        "{bad}"
    );
}
