//! Archiver behaviour on memory adapters, driven by the SQS event in testdata/events/archiver, with result
//! messages produced by the real engine against a target on loopback.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Context, LambdaEvent};
use volley_core::adapters::memory::{
    MemoryMetricsSink, MemoryOrchestrationStore, MemoryResultArchive, MemoryResultLedger,
};
use volley_core::clock::SystemClock;
use volley_core::model::result::{CallResult, ResultMessage};
use volley_core::model::scope::TestScope;
use volley_core::ports::{ResultArchive, ResultLedger, StoreError, TestCounters};
use volley_engine::load::attack::Progress;
use volley_engine::load::engine;
use volley_testkit::target::{Behaviour, get_attack, start};

use archiver::{Deps, function_handler};

/// The test every result here belongs to.
fn checkout() -> TestScope {
    TestScope::new("acme", "checkout")
}

/// A real result: 20 requests at 20 rps against a server on loopback.
async fn real_result(call_id: &str) -> CallResult {
    real_result_over(call_id, 1).await
}

/// A real result: 20 requests a second for `seconds` against a server on loopback.
async fn real_result_over(call_id: &str, seconds: u64) -> CallResult {
    real_result_from(call_id, seconds, Behaviour::default()).await
}

/// A real result: 20 requests a second for `seconds` against a server on loopback behaving so.
async fn real_result_from(call_id: &str, seconds: u64, behaviour: Behaviour) -> CallResult {
    let address = start(behaviour).await.address;
    let url = format!("http://{address}/");
    let attack = get_attack(address, &url, 20.0, seconds, 10);
    let report = engine::run(&attack, Arc::new(Progress::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    CallResult {
        test_id: "checkout".into(),
        organisation_id: "acme".into(),
        call_id: call_id.into(),
        region: Some("eu-west-1".into()),
        url,
        addresses: vec![address],
        report,
        chunked: None,
    }
}

struct World {
    deps: Deps,
    /// The tests' stops (the orchestration table's twin).
    stops: Arc<MemoryOrchestrationStore>,
    ledger: Arc<MemoryResultLedger>,
    archive: Arc<MemoryResultArchive>,
    metrics: Arc<MemoryMetricsSink>,
}

impl World {
    /// The test's counters (none counted yet: zero).
    async fn counted(&self) -> TestCounters {
        self.ledger
            .counters(&checkout())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| TestCounters::new(checkout()))
    }

    /// The sum of every value of metric `name` published.
    fn published(&self, name: &str) -> f64 {
        let published = self.metrics.published.lock().unwrap_or_else(|e| e.into_inner());
        published
            .iter()
            .filter(|d| d.name == name)
            .flat_map(|d| d.values.iter())
            .sum()
    }

    /// The keys of every object in the archive.
    fn objects(&self) -> Vec<String> {
        self.archive
            .objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

fn world() -> World {
    let ledger = Arc::new(MemoryResultLedger::new());
    let archive = Arc::new(MemoryResultArchive::default());
    let metrics = Arc::new(MemoryMetricsSink::default());
    let stops = Arc::new(MemoryOrchestrationStore::new());
    let deps = Deps {
        stops: stops.clone(),
        ledger: ledger.clone(),
        archive: archive.clone(),
        metrics: metrics.clone(),
        clock: Arc::new(SystemClock),
    };
    World {
        deps,
        stops,
        ledger,
        archive,
        metrics,
    }
}

/// The testdata batch (a good record and a poison one), with the good record's body set to `body`.
fn batch(bodies: &[String]) -> LambdaEvent<SqsEvent> {
    let path = format!(
        "{}/../../testdata/events/archiver/batch-with-poison.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut event: SqsEvent = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let template = event.records[0].clone();
    let poison = event.records[1].clone();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = template.clone();
            record.message_id = Some(format!("good-{i}"));
            record.body = Some(body.clone());
            record
        })
        .chain(std::iter::once(poison))
        .collect();
    LambdaEvent::new(event, Context::default())
}

fn only_good(mut event: LambdaEvent<SqsEvent>) -> LambdaEvent<SqsEvent> {
    event
        .payload
        .records
        .retain(|r| r.message_id.as_deref().is_some_and(|id| id.starts_with("good")));
    event
}

/// Chunk `n` of `result`'s call: its seconds at `positions`, under the test's abort `rules`.
fn chunk_message(
    result: &CallResult,
    n: u32,
    positions: std::ops::Range<usize>,
    rules: Vec<volley_core::model::abort::AbortRule>,
) -> String {
    ResultMessage::Chunk(Box::new(volley_core::model::result::ResultChunk {
        test_id: result.test_id.clone(),
        organisation_id: result.organisation_id.clone(),
        call_id: result.call_id.clone(),
        region: result.region.clone(),
        chunk: n,
        from: positions.start,
        seconds: result.report.seconds[positions].to_vec(),
        abort: rules,
        home_region: result.region.clone(),
    }))
    .to_json()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn inline(result: CallResult) -> String {
    ResultMessage::Inline(Box::new(result))
        .to_json()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_fails_only_its_record() {
    let w = world();
    let event = batch(&[inline(real_result("call-1").await), inline(real_result("call-2").await)]);
    let response = function_handler(&w.deps, event).await.unwrap_or_else(|e| panic!("{e}"));
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["3f1c9a52-0000-4000-8000-000000000002"]);
    let objects = w.objects();
    assert!(
        objects.contains(&"results/acme/checkout/call-1.json".to_owned())
            && objects.contains(&"results/acme/checkout/call-2.json".to_owned()),
        "{objects:?}"
    );
    let counters = w.counted().await;
    assert_eq!((counters.requests, counters.results_archived), (40, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_is_stored_counted_and_published_per_second() {
    let w = world();
    let result = real_result("call-1").await;
    let seconds = result.report.decode_seconds().unwrap_or_default();
    let response = function_handler(&w.deps, only_good(batch(&[inline(result)])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(response.batch_item_failures.is_empty());
    let stored = w
        .archive
        .get("results/acme/checkout/call-1.json")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let stored: serde_json::Value = serde_json::from_slice(&stored).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored["report"]["total"]["requests"], 20, "the full result is stored");
    let published = w.metrics.published.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut per_metric: BTreeMap<&str, f64> = BTreeMap::new();
    for datum in &published {
        let n: f64 = if datum.name == "ResponseTime" {
            datum.counts.iter().sum()
        } else {
            datum.values.iter().sum()
        };
        *per_metric.entry(datum.name).or_default() += n;
        assert!(
            seconds.iter().any(|s| s.second == datum.timestamp),
            "timestamped at its bucket's second"
        );
        assert!(datum.dimensions.contains(&("Region", "eu-west-1".into())));
    }
    assert_eq!(per_metric.get("Requests"), Some(&20.0));
    assert_eq!(per_metric.get("ResponseTime"), Some(&20.0), "one latency per request");
    assert_eq!(per_metric.get("Errors"), Some(&0.0));
}

/// A call that sent chunks while it ran: its chunks and its result, delivered in any order and more than
/// once, count and publish every second once (the result only the seconds no chunk carried), and each
/// chunk is stored under its own key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_and_the_result_that_follows_them_count_and_publish_every_second_once_in_any_order() {
    use volley_core::model::result::Chunked;
    let w = world();
    let mut result = real_result_over("call-1", 3).await;
    assert!(result.report.seconds.len() >= 3, "3 s of sending span 3 or 4 seconds");
    let (zero, one) = (
        chunk_message(&result, 0, 0..1, Vec::new()),
        chunk_message(&result, 1, 1..2, Vec::new()),
    );
    result.chunked = Some(Chunked {
        chunks: 2,
        seconds: 2,
        starts: vec![0, 1],
    });
    let whole = inline(result);
    for bodies in [[one.clone(), whole.clone()], [zero, one], [whole.clone(), whole]] {
        let response = function_handler(&w.deps, only_good(batch(&bodies)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(response.batch_item_failures.is_empty());
    }
    let counters = w.counted().await;
    assert_eq!(
        (counters.requests, counters.results_archived, counters.chunks_archived),
        (60, 1, 2)
    );
    let requests = w.published("Requests");
    assert_eq!(requests, 60.0, "every second published once");
    let objects = w.objects();
    for key in [
        "chunks/acme/checkout/call-1/0.json",
        "chunks/acme/checkout/call-1/1.json",
        "results/acme/checkout/call-1.json",
    ] {
        assert!(objects.contains(&key.to_owned()), "{key} in {objects:?}");
    }
}

/// A chunk whose message never came (the worker could not confirm its send) is counted from the result,
/// which says where every chunk began; its message arriving later counts nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_whose_message_never_came_is_counted_from_the_result_once() {
    use volley_core::model::result::Chunked;
    let w = world();
    let mut result = real_result_over("call-1", 3).await;
    let late_chunk = chunk_message(&result, 1, 1..2, Vec::new());
    result.chunked = Some(Chunked {
        chunks: 2,
        seconds: 2,
        starts: vec![0, 1],
    });
    for bodies in [vec![inline(result)], vec![late_chunk]] {
        let response = function_handler(&w.deps, only_good(batch(&bodies)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(response.batch_item_failures.is_empty());
    }
    let counters = w.counted().await;
    assert_eq!(
        (counters.requests, counters.results_archived, counters.chunks_archived),
        (60, 1, 2),
        "both chunks counted from the result, the late one not again"
    );
    let requests = w.published("Requests");
    assert_eq!(requests, 60.0, "every second published once");
}

/// Abort rules ride on a call's chunks: the archiver adds each chunk's seconds to the test's live seconds
/// and holds the rules over them. Three seconds of 503s trip `success<50%` for 2s, which stops the test
/// in its home region saying why; the same rule over healthy seconds does not; and a test never reset is
/// not stopped (and the chunk is archived all the same).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_whose_seconds_hold_an_abort_rule_stops_its_test_saying_why() {
    use volley_core::model::abort::AbortRule;
    use volley_core::model::orchestration::TestState;
    use volley_core::ports::{OrchestrationStore, StopSignal};
    let failing = real_result_from(
        "call-1",
        3,
        Behaviour {
            status: 503,
            ..Behaviour::default()
        },
    )
    .await;
    let healthy = real_result_over("call-2", 3).await;
    let chunk_of = |result: &CallResult| {
        let rule = AbortRule {
            when: "success<50%".into(),
            during: "2s".into(),
        };
        chunk_message(result, 0, 0..result.report.seconds.len(), vec![rule])
    };
    for (result, stops) in [(&healthy, false), (&failing, true)] {
        let w = world();
        w.stops
            .reset(&TestState::new(&checkout(), Default::default(), 0, 1))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let response = function_handler(&w.deps, only_good(batch(&[chunk_of(result)])))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(response.batch_item_failures.is_empty());
        let state = w.stops.get(&checkout()).await.ok().flatten();
        let (stopped, reason) = state.map(|s| (s.stopped, s.stop_reason)).unwrap_or_default();
        assert_eq!(stopped, stops, "{} stops the test: {reason:?}", result.call_id);
        if stops {
            let reason = reason.unwrap_or_default();
            assert!(reason.contains("success<50%") && reason.contains("2s"), "{reason}");
        }
    }
    // A test never reset: nothing to stop, and the chunk is archived and counted all the same.
    let w = world();
    let response = function_handler(&w.deps, only_good(batch(&[chunk_of(&failing)])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(response.batch_item_failures.is_empty());
    assert!(!w.stops.stopped(&checkout(), None).await.unwrap_or(true));
    let counted = w
        .ledger
        .counters(&checkout())
        .await
        .ok()
        .flatten()
        .map(|c| c.chunks_archived);
    assert_eq!(counted, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_result_is_counted_and_published_once() {
    let w = world();
    let body = inline(real_result("call-1").await);
    for _ in 0..3 {
        let response = function_handler(&w.deps, only_good(batch(std::slice::from_ref(&body))))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(response.batch_item_failures.is_empty());
    }
    let counters = w.counted().await;
    assert_eq!((counters.requests, counters.results_archived), (20, 1));
    let requests: f64 = w
        .metrics
        .published
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|d| d.name == "Requests")
        .map(|d| d.values[0])
        .sum();
    assert_eq!(requests, 20.0, "metrics published once");
}

/// The ids key everything the archiver writes: a result whose organisation, test or call id breaks the
/// identifier rule (a `#` would make its keys another test's) fails its record, naming the field, before
/// anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_whose_ids_break_the_identifier_rule_fails_before_anything_is_written() {
    let w = world();
    let mut bad = real_result("call-1").await;
    bad.organisation_id = "acme#checkout".into();
    bad.test_id = "x".into();
    let good = real_result("call-2").await;
    let response = function_handler(&w.deps, only_good(batch(&[inline(bad), inline(good)])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["good-0"], "only the bad record fails");
    let objects = w.objects();
    assert_eq!(
        objects,
        ["results/acme/checkout/call-2.json"],
        "nothing of the bad one is stored"
    );
    let counters = w.ledger.counters(&checkout()).await.ok().flatten();
    assert_eq!(
        counters.map(|c| (c.requests, c.results_archived)),
        Some((20, 1)),
        "and nothing of it counted"
    );
    let error = archiver::function_handler(&w.deps, {
        let mut bad = real_result("call-3").await;
        bad.call_id = "call#3".into();
        only_good(batch(&[inline(bad)]))
    })
    .await
    .err()
    .map(|e| volley_core::error_chain(&e))
    .unwrap_or_default();
    assert!(error.contains("callId: \"call#3\" must be 1 to 128"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_result_is_read_from_s3_through_its_pointer() {
    let w = world();
    let body = inline(real_result("call-9").await);
    w.archive
        .put("overflow/acme/checkout/call-9.json", body.into_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let pointer = ResultMessage::Stored {
        test_id: "checkout".into(),
        organisation_id: "acme".into(),
        call_id: "call-9".into(),
        key: "overflow/acme/checkout/call-9.json".into(),
    };
    let response = function_handler(&w.deps, only_good(batch(&[pointer.to_json().unwrap_or_default()])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(response.batch_item_failures.is_empty());
    assert!(
        w.archive
            .get("results/acme/checkout/call-9.json")
            .await
            .ok()
            .flatten()
            .is_some()
    );
}

/// An archive that is down: every record fails, and so does the invocation (Lambda then backs off).
#[derive(Debug)]
struct DownArchive;

#[async_trait]
impl ResultArchive for DownArchive {
    async fn put(&self, _: &str, _: Vec<u8>) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("S3 is down".into()))
    }
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Unavailable("S3 is down".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_fails_the_record_for_a_retry_and_counts_nothing() {
    let mut w = world();
    w.deps.archive = Arc::new(DownArchive);
    let event = only_good(batch(&[inline(real_result("call-1").await)]));
    let error = function_handler(&w.deps, event).await.err().map(|e| e.to_string());
    assert!(
        error.is_some_and(|e| e.contains("every record")),
        "a batch that wholly failed fails the invocation"
    );
    assert_eq!(
        w.ledger.counters(&checkout()).await.ok().flatten(),
        None,
        "nothing counted before the result is stored"
    );
}

/// How many datums the sink holds now.
fn published(w: &World) -> usize {
    w.metrics.published.lock().unwrap_or_else(|e| e.into_inner()).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_another_delivery_holds_is_left_to_it_and_the_record_retried() {
    use volley_core::ports::BatchClaim;
    let w = world();
    let now = volley_core::clock::Clock::now(&SystemClock).timestamp();
    // Another delivery claimed the result's only batch a moment ago and is publishing it.
    let held = w
        .ledger
        .claim_metrics_batch(&checkout().call("call-1"), 0, now, now + 120)
        .await
        .ok();
    assert_eq!(held, Some(BatchClaim::Claimed));
    let body = inline(real_result("call-1").await);
    let other = real_result("call-2").await;
    let other_datums = 4 * other.report.decode_seconds().unwrap_or_default().len();
    let response = function_handler(&w.deps, only_good(batch(&[body.clone(), inline(other)])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["good-0"],
        "call-1's record is failed, to be retried; call-2's is done"
    );
    assert_eq!(
        published(&w),
        other_datums,
        "nothing of call-1 published beside its holder"
    );
    let counters = w.counted().await;
    assert_eq!(counters.results_archived, 2, "but both results are stored and counted");

    // The holder finishes; the retried record then finds the batch published and publishes nothing.
    w.ledger
        .finish_metrics_batch(&checkout().call("call-1"), 0)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let response = function_handler(&w.deps, only_good(batch(&[body])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        published(&w),
        other_datums,
        "a published batch is never published again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_holder_died_is_published_by_the_next_delivery() {
    use volley_core::ports::BatchClaim;
    let w = world();
    let now = volley_core::clock::Clock::now(&SystemClock).timestamp();
    // A delivery claimed the batch long ago and died before publishing it: its lease has passed.
    let held = w
        .ledger
        .claim_metrics_batch(
            &checkout().call("call-1"),
            0,
            now - 1_000,
            now - 1_000 + archiver::METRICS_LEASE_SECONDS,
        )
        .await
        .ok();
    assert_eq!(held, Some(BatchClaim::Claimed));
    let result = real_result("call-1").await;
    let datums = 4 * result.report.decode_seconds().unwrap_or_default().len();
    let response = function_handler(&w.deps, only_good(batch(&[inline(result)])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        published(&w),
        datums,
        "the batch is published once, by the delivery that took it over"
    );
}
