//! The metrics-saver's handler on the memory twins, driven by the payloads in testdata/events/metrics-saver:
//! what a sweep saves, that a second adds nothing, retries of unprocessed items, a run cut off midway, late
//! results, the deadline, on-demand windows and bad requests.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use metrics_saver::{Deps, SaveError, Settings, function_handler};
use volley_core::adapters::memory::{MemoryMetricsSink, MemoryResultLedger, MemorySavedMetrics};
use volley_core::clock::FixedClock;
use volley_core::model::metrics::metrics_for;
use volley_core::model::saved_metrics::{SavedSecond, Series};
use volley_core::model::scope::TestScope;
use volley_core::ports::{MetricsSink, ResultCounts, ResultLedger, TestActivity};
use volley_engine::load::stats::{Outcome, Sample, SecondStats, Stats};

const ORG: &str = "acme";
const TEST: &str = "checkout-load";

/// The test the events in testdata/events/metrics-saver name.
fn test() -> TestScope {
    TestScope::new(ORG, TEST)
}

fn at(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The memory twins, and a clock stopped at `now`.
struct World {
    ledger: Arc<MemoryResultLedger>,
    sink: Arc<MemoryMetricsSink>,
    store: Arc<MemorySavedMetrics>,
}

impl World {
    fn new() -> Self {
        Self {
            ledger: Arc::new(MemoryResultLedger::new()),
            sink: Arc::new(MemoryMetricsSink::default()),
            store: Arc::new(MemorySavedMetrics::new()),
        }
    }

    fn deps(&self, now: i64) -> Deps {
        Deps {
            activity: self.ledger.clone(),
            source: self.sink.clone(),
            store: self.store.clone(),
            clock: Arc::new(FixedClock(DateTime::<Utc>::from_timestamp(now, 0).unwrap_or_default())),
            settings: Settings {
                retry_base: Duration::from_millis(1),
                ..Settings::default()
            },
        }
    }

    /// A call's result, as the archiver handles it: counted (at `archived_at`) and published, with
    /// `requests` requests at `latency_ms` in each of `seconds`.
    async fn result(&self, call: &str, region: Option<&str>, seconds: std::ops::Range<i64>, archived_at: i64) {
        let buckets: Vec<SecondStats> = seconds
            .map(|second| {
                let mut stats = Stats::default();
                for i in 0..10u64 {
                    stats.record(&Sample {
                        outcome: Outcome::Status(if i == 9 { 503 } else { 200 }),
                        send_lag: Duration::ZERO,
                        service_time: Duration::from_millis(20 + i),
                        bytes_in: 0,
                        bytes_out: 0,
                    });
                }
                SecondStats { second, stats }
            })
            .collect();
        let counts = ResultCounts {
            requests: 10 * buckets.len() as u64,
            errors: buckets.len() as u64,
            dropped: 0,
            ..ResultCounts::default()
        };
        self.ledger
            .record_archived(&test().call(call), counts, &[], region, archived_at)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        self.sink
            .publish(&metrics_for(&test(), region, &buckets))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }

    async fn watermark(&self) -> Option<i64> {
        self.ledger
            .test(&test())
            .await
            .ok()
            .flatten()
            .and_then(|t| t.saved_through)
    }
}

fn event(name: &str, deadline: Option<i64>) -> LambdaEvent<serde_json::Value> {
    let path = format!(
        "{}/../../testdata/events/metrics-saver/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let payload = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut context = Context::default();
    context.deadline = deadline.map_or(0, |ms| ms as u64);
    LambdaEvent::new(payload, context)
}

async fn run(deps: &Deps, name: &str) -> Result<serde_json::Value, SaveError> {
    function_handler(deps, event(name, None)).await
}

fn seconds_of(items: &[SavedSecond], series: &Series) -> Vec<i64> {
    items.iter().filter(|i| &i.series == series).map(|i| i.second).collect()
}

#[tokio::test]
async fn a_sweep_saves_every_second_of_every_series_then_moves_the_watermark() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    let start = now - 600;
    world.result("c1", None, start..start + 40, now - 120).await;
    world
        .result("c2", Some("eu-west-1"), start..start + 40, now - 100)
        .await;

    let answer = run(&world.deps(now), "scheduled-event.json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["secondsSaved"], 80, "{answer}");
    assert_eq!(answer["testsLeft"], 0);

    let items = world.store.all();
    let expected: Vec<i64> = (start..start + 40).collect();
    assert_eq!(seconds_of(&items, &Series::new(&test(), None)), expected);
    assert_eq!(seconds_of(&items, &Series::new(&test(), Some("eu-west-1"))), expected);
    let first = &items[0];
    assert_eq!((first.requests, first.errors, first.dropped), (10, 1, 0));
    let p50 = first.p50.unwrap_or_default();
    assert!((24.0..=25.1).contains(&p50), "p50 of 20..=29 ms: {p50}");
    assert!(
        first.max.unwrap_or_default() >= 29.0 && first.p99 <= first.max,
        "{first:?}"
    );
    assert_eq!(
        world.watermark().await,
        Some(now - 60),
        "moved to the end of what was read"
    );
}

#[tokio::test]
async fn a_second_sweep_adds_nothing() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    world.result("c1", None, now - 300..now - 200, now - 120).await;
    let deps = world.deps(now);
    run(&deps, "sweep.json").await.unwrap_or_else(|e| panic!("{e}"));
    let first = world.store.all();
    let answer = run(&deps, "sweep.json").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(world.store.all(), first, "the same items, no more");
    assert_eq!(first.len(), 100);
    assert_eq!(
        answer["saved"][0]["from"],
        now - 60 - 960,
        "re-read from the watermark less the late window"
    );
}

#[tokio::test]
async fn unprocessed_items_are_retried_until_written() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    world.result("c1", None, now - 300..now - 240, now - 120).await;
    world.store.leave_unprocessed(30);
    run(&world.deps(now), "sweep.json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(world.store.unprocessed_answered.load(Ordering::SeqCst), 30);
    assert_eq!(
        seconds_of(&world.store.all(), &Series::new(&test(), None)),
        (now - 300..now - 240).collect::<Vec<_>>(),
        "every second written in the end"
    );
    assert!(
        world.store.batch_calls.load(Ordering::SeqCst) > 3,
        "retries are calls of their own"
    );
    assert_eq!(world.watermark().await, Some(now - 60));
}

#[tokio::test]
async fn items_that_stay_unprocessed_fail_the_test_and_keep_its_watermark() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    world.result("c1", None, now - 300..now - 240, now - 120).await;
    world.store.leave_unprocessed(usize::MAX);
    let mut deps = world.deps(now);
    deps.settings.retry_attempts = 2;
    let error = run(&deps, "sweep.json")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("unprocessed after 2 retries"), "{error}");
    assert_eq!(world.watermark().await, None);
}

#[tokio::test]
async fn a_sweep_cut_off_midway_resumes_without_a_gap() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    let seconds = now - 400..now - 340;
    world.result("c1", None, seconds.clone(), now - 120).await;
    world.store.fail_after(1);
    let deps = world.deps(now);
    let error = run(&deps, "sweep.json")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("1 of 1 tests were not saved"), "{error}");
    assert_eq!(world.store.all().len(), 25, "one batch went in before the failure");
    assert_eq!(
        world.watermark().await,
        None,
        "the watermark stays where the data is complete"
    );

    world.store.fail_after(usize::MAX);
    let later = world.deps(now + 600);
    run(&later, "sweep.json").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        seconds_of(&world.store.all(), &Series::new(&test(), None)),
        seconds.collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    assert_eq!(world.watermark().await, Some(now + 600 - 60));
}

#[tokio::test]
async fn a_late_result_is_saved_by_the_next_run() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    world.result("c1", None, now - 300..now - 290, now - 120).await;
    run(&world.deps(now), "sweep.json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A worker that ran 12 minutes sends its result now, ten minutes later: seconds before the watermark.
    let later = now + 600;
    world
        .result("c2", Some("us-east-1"), now - 700..now - 690, later - 30)
        .await;
    run(&world.deps(later), "sweep.json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        seconds_of(&world.store.all(), &Series::new(&test(), Some("us-east-1"))),
        (now - 700..now - 690).collect::<Vec<_>>()
    );
    assert_eq!(world.store.all().len(), 20);
}

#[tokio::test]
async fn a_near_deadline_leaves_the_tests_for_the_next_run() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    world.result("c1", None, now - 300..now - 290, now - 120).await;
    let deadline_ms = (now + 5) * 1000;
    let answer = function_handler(&world.deps(now), event("sweep.json", Some(deadline_ms)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (answer["testsLeft"].as_u64(), answer["secondsSaved"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(world.store.all().is_empty());
    assert_eq!(world.watermark().await, None);
}

#[tokio::test]
async fn tests_quiet_for_three_hours_are_left_alone() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    world
        .result("c1", None, now - 4 * 3600..now - 4 * 3600 + 10, now - 3 * 3600 - 1)
        .await;
    let answer = run(&world.deps(now), "sweep.json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["saved"], serde_json::json!([]));
    assert!(world.store.all().is_empty());
}

#[tokio::test]
async fn a_window_is_saved_on_demand() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    world
        .result(
            "c1",
            None,
            at("2026-11-23T10:40:00Z")..at("2026-11-23T10:40:10Z"),
            now - 600,
        )
        .await;
    world
        .result(
            "c2",
            None,
            at("2026-11-23T10:20:00Z")..at("2026-11-23T10:20:05Z"),
            now - 600,
        )
        .await;
    let answer = run(&world.deps(now), "save-window.json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["testId"], TEST);
    assert_eq!(answer["organisationId"], ORG);
    assert_eq!(answer["secondsSaved"], 10, "only the window's seconds: {answer}");
    assert_eq!(answer["from"], at("2026-11-23T10:30:00Z"));
    assert_eq!(
        answer["watermarkMoved"], false,
        "no watermark yet: the seconds before the window may be missing"
    );
    assert_eq!(world.watermark().await, None);
    assert_eq!(world.store.all().len(), 10);
}

#[tokio::test]
async fn bad_requests_are_refused_by_name() {
    let world = World::new();
    let now = at("2026-11-23T11:05:00Z");
    let deps = world.deps(now);
    for (name, needle) in [
        ("window-to-before-from.json", "must be before to"),
        (
            "window-with-bad-time.json",
            "from: \"half past ten\" is not an RFC 3339 time",
        ),
        ("window-without-to.json", "to: missing field `to`"),
        ("window-with-unknown-field.json", "region: unknown field `region`"),
        (
            "window-with-bad-test-id.json",
            "testId: \"checkout load\" must be 1 to 128 letters, digits",
        ),
        ("sweep-with-unknown-field.json", "testId: unknown field `testId`"),
        ("unknown-action.json", "action: unknown variant `save`"),
    ] {
        let error = run(&deps, name).await.err();
        assert!(
            matches!(&error, Some(SaveError::BadRequest(m)) if m.contains(needle)),
            "{name}: {error:?} should say {needle:?}"
        );
    }
    let unknown = run(&deps, "save-window.json").await.err();
    assert!(
        matches!(&unknown, Some(SaveError::UnknownTest(t)) if *t == test()),
        "{unknown:?}"
    );

    let too_old = run(&world.deps(at("2026-11-23T15:00:00Z")), "save-window.json")
        .await
        .err();
    assert!(
        matches!(&too_old, Some(SaveError::BadRequest(m)) if m.contains("3 hours")),
        "{too_old:?}"
    );
}
