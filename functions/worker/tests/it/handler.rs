//! Worker behaviour on memory adapters, driven by the EventBridge events in testdata/events/worker, against a
//! target server of our own on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Context, LambdaEvent};
use volley_core::adapters::memory::{
    MemoryCallClaims, MemoryDomainStore, MemoryOrchestrationStore, MemoryResultArchive, MemoryResultLedger,
    MemoryResultQueue, MemorySecretStore,
};
use volley_core::clock::{FixedClock, SystemClock};
use volley_core::model::result::{CallResult, MAX_INLINE_BYTES, ResultMessage};
use volley_core::model::scope::{CallScope, TestScope};
use volley_core::ports::ResultLedger;
use volley_core::secrets::Secrets;
use volley_engine::guard::{AllowList, DnsResolver, TargetGuard};
use volley_engine::load::request::Sensitive;
use volley_testkit::target::{Behaviour, TestTarget, start};
use worker::{Deps, WorkerError, function_handler};

async fn target() -> (SocketAddr, TestTarget) {
    let target = start(Behaviour::default()).await;
    (target.address, target)
}

struct World {
    deps: Deps,
    queue: Arc<MemoryResultQueue>,
    archive: Arc<MemoryResultArchive>,
    claims: Arc<MemoryCallClaims>,
    /// Where the claims count lost calls (the tests table's twin).
    ledger: Arc<MemoryResultLedger>,
    /// The organisations' limits (the domains table's twin).
    limits: Arc<MemoryDomainStore>,
    /// The tests' stops (the orchestration table's twin).
    stops: Arc<MemoryOrchestrationStore>,
}

/// A call of the test user-call.json names, in its organisation.
fn call(call_id: &str) -> CallScope {
    TestScope::new("acme", "checkout-2026-11-23").call(call_id)
}

fn world(allow: SocketAddr) -> World {
    let queue = Arc::new(MemoryResultQueue::default());
    let archive = Arc::new(MemoryResultArchive::default());
    let ledger = Arc::new(MemoryResultLedger::new());
    let claims = Arc::new(MemoryCallClaims::sharing(ledger.clone()));
    let limits = Arc::new(MemoryDomainStore::new());
    let stops = Arc::new(MemoryOrchestrationStore::new());
    // No name is resolved in these tests (targets are allow-listed literal addresses); the resolver is
    // pointed at a closed port so an accidental lookup fails fast instead of leaving the machine.
    let resolver = DnsResolver::with_nameservers(
        &["127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}"))],
        Duration::from_millis(200),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let deps = Deps {
        guard: TargetGuard::new(
            Arc::new(MemoryDomainStore::new()),
            Arc::new(resolver),
            AllowList::new([allow]),
            None,
        ),
        claims: claims.clone(),
        queue: queue.clone(),
        archive: archive.clone(),
        clock: Arc::new(SystemClock),
        deadline_margin: Duration::from_secs(1),
        inline_limit: MAX_INLINE_BYTES,
        secrets: Secrets {
            store: Arc::new(MemorySecretStore::with([
                ("/volley/acme/api-token", "s3cr3t"),
                ("/volley/globex/api-token", "theirs"),
            ])),
            root: "/volley".into(),
        },
        sensitive: Sensitive::default(),
        stops: stops.clone(),
        stop_poll: Duration::from_millis(200),
        // Longer than these tests' calls, so they send no chunk; the chunk tests shorten it.
        chunk_interval: Duration::from_secs(10),
        limits: limits.clone(),
    };
    World {
        deps,
        queue,
        archive,
        claims,
        ledger,
        limits,
        stops,
    }
}

fn event(name: &str, url: Option<String>) -> LambdaEvent<EventBridgeEvent<serde_json::Value>> {
    let path = format!("{}/../../testdata/events/worker/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    if let Some(url) = url {
        event.detail["request"]["url"] = url.into();
    }
    let mut context = Context::default();
    let in_a_minute = SystemTime::now() + Duration::from_secs(60);
    context.deadline = in_a_minute
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    LambdaEvent::new(event, context)
}

/// The whole result message the worker stored at `key`.
fn stored_result(archive: &MemoryResultArchive, key: &str) -> CallResult {
    let stored = archive
        .objects
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("{key} was stored"));
    match ResultMessage::from_json(&String::from_utf8_lossy(&stored)) {
        Ok(ResultMessage::Inline(result)) => *result,
        other => panic!("the stored object is the whole result message: {other:?}"),
    }
}

fn sent(queue: &MemoryResultQueue) -> Vec<ResultMessage> {
    let bodies = queue.sent.lock().unwrap_or_else(|e| e.into_inner()).clone();
    bodies
        .iter()
        .map(|b| ResultMessage::from_json(b).unwrap_or_else(|e| panic!("{e}: {b}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_call_runs_and_its_result_goes_to_the_queue() {
    let (address, hits) = target().await;
    let w = world(address);
    let outcome = function_handler(
        &w.deps,
        event("user-call.json", Some(format!("http://{address}/hello/alice"))),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (outcome.status, outcome.requests, outcome.delivered_via),
        ("completed", 50, "queue")
    );
    assert_eq!(hits.arrivals().len(), 50);
    let messages = sent(&w.queue);
    let [ResultMessage::Inline(result)] = messages.as_slice() else {
        panic!("one inline result, got {messages:?}")
    };
    assert_eq!(
        (result.test_id.as_str(), result.call_id.as_str()),
        ("checkout-2026-11-23", "checkout-2026-11-23-eu-1")
    );
    assert_eq!(result.region.as_deref(), Some("eu-west-1"));
    assert_eq!(result.addresses, vec![address]);
    assert_eq!(result.report.total.statuses.get(&200), Some(&50));
    assert!(!result.report.decode_seconds().unwrap_or_default().is_empty());
}

/// While a call runs its sealed seconds go out as numbered chunks every chunk period, and its result says
/// what they carried: the chunks' seconds are the report's first ones, exactly, and the rest are the
/// result's own. A chunk too big for a message is split, down to a second a chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_call_sends_its_sealed_seconds_in_chunks_and_its_result_counts_only_the_rest() {
    use volley_core::model::result::ResultChunk;
    let (address, hits) = target().await;
    for (duration, inline_limit, at_least) in [("3s", MAX_INLINE_BYTES, 2), ("2s", 1, 1)] {
        let mut w = world(address);
        w.deps.chunk_interval = Duration::from_secs(1);
        w.deps.inline_limit = inline_limit;
        let mut event = event("user-call.json", Some(format!("http://{address}/hello/alice")));
        event.payload.detail["duration"] = duration.into();
        let outcome = function_handler(&w.deps, event).await.unwrap_or_else(|e| panic!("{e}"));
        let mut chunks: Vec<ResultChunk> = Vec::new();
        for message in sent(&w.queue) {
            match message {
                ResultMessage::Chunk(chunk) => chunks.push(*chunk),
                ResultMessage::Inline(..) | ResultMessage::Stored { .. } => {}
            }
        }
        let result = stored_result(
            &w.archive,
            "overflow/acme/checkout-2026-11-23/checkout-2026-11-23-eu-1.json",
        );
        let chunked = result
            .chunked
            .clone()
            .unwrap_or_else(|| panic!("the result says what its chunks carried"));
        assert!(
            chunks.len() >= at_least && chunked.chunks as usize == chunks.len() && outcome.chunks == chunked.chunks,
            "{} chunks sent over {duration}, the result says {chunked:?}",
            chunks.len()
        );
        let mut from = 0;
        for (n, chunk) in chunks.iter().enumerate() {
            assert_eq!(
                (chunk.chunk as usize, chunk.from),
                (n, from),
                "numbered in order, none skipped"
            );
            assert_eq!(chunk.region.as_deref(), Some("eu-west-1"));
            if inline_limit == 1 {
                assert_eq!(chunk.seconds.len(), 1, "split down to a second a chunk");
            }
            for (i, raw) in chunk.seconds.iter().enumerate() {
                assert_eq!(
                    raw.get(),
                    result.report.seconds[from + i].get(),
                    "the report's own second"
                );
            }
            from += chunk.seconds.len();
        }
        assert_eq!(from, chunked.seconds);
        let carried: u64 = chunks
            .iter()
            .flat_map(|c| c.decode_seconds().unwrap_or_else(|e| panic!("{e}")))
            .map(|s| s.stats.requests)
            .sum();
        let rest = result.unchunked_total().unwrap_or_else(|e| panic!("{e}")).requests;
        assert_eq!(
            (carried + rest, result.report.total.requests),
            (outcome.requests, outcome.requests),
            "every second counted once, in a chunk or in the result"
        );
        assert!(carried > 0 && rest > 0, "{carried} in chunks, {rest} in the result");
    }
    assert_eq!(hits.arrivals().len(), 250);
}

/// A worker of a fleet fires its share of the call's schedule: offsets 1 and 3 of every 5 of the 50
/// requests, 20, each at the schedule's own time for its index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_fires_its_share_of_the_schedule_and_no_more() {
    let (address, hits) = target().await;
    let w = world(address);
    let outcome = function_handler(
        &w.deps,
        event("user-call-share.json", Some(format!("http://{address}/hello/alice"))),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((outcome.status, outcome.requests), ("completed", 20));
    let arrivals = hits.arrivals();
    assert_eq!(arrivals.len(), 20);
    // Index 1 at 20 ms, 3 at 60 ms, 6 at 120 ms...: gaps of 40 and 60 ms in turn, never 20 (a whole
    // schedule's spacing at 50 rps).
    let span = arrivals[arrivals.len() - 1].duration_since(arrivals[0]);
    assert!(
        span >= Duration::from_millis(850) && span < Duration::from_millis(1000),
        "the share spreads over the whole second: {span:?}"
    );
}

/// An organisation's limits hold for every call, whoever put it on the bus: beyond them the call is refused
/// naming the limit, before anything is claimed or sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_beyond_its_organisations_limits_is_refused_naming_the_limit() {
    use volley_core::model::limits::OrganisationLimits;
    use volley_core::ports::OrganisationLimitsStore;
    let (address, hits) = target().await;
    let w = world(address);
    let strict = OrganisationLimits {
        max_rate: 40.0,
        ..OrganisationLimits::default()
    };
    w.limits
        .set_limits("acme", &strict)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // The shared call's load is 50 rps, though this worker's share is 20 a second.
    let error = function_handler(
        &w.deps,
        event("user-call-share.json", Some(format!("http://{address}/hello/alice"))),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("a call beyond the limits was fired"));
    let text = error.to_string();
    assert!(matches!(error, WorkerError::InvalidCall(_)), "{text}");
    assert!(text.contains("rate") && text.contains("maxRate (40)"), "{text}");
    assert!(hits.arrivals().is_empty(), "nothing was sent");
    assert_eq!(
        w.claims.get(&call("checkout-2026-11-23.eu-west-1.0.1")),
        None,
        "nothing was claimed"
    );
    // Another organisation keeps the defaults.
    let mut other = event("user-call.json", Some(format!("http://{address}/hello/alice")));
    other.payload.detail["organisationId"] = "globex".into();
    let outcome = function_handler(&w.deps, other).await;
    assert!(outcome.is_ok(), "{outcome:?}");
}

/// A stop while a call runs: sending ends within the poll (200 ms here) and the pacer's slice, what was
/// measured is delivered marked stopped, and a later call of the stopped test fires nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_test_stops_its_running_call_and_fires_no_later_one() {
    use volley_core::model::orchestration::TestState;
    use volley_core::ports::OrchestrationStore;
    let (address, hits) = target().await;
    let w = world(address);
    let test = TestScope::new("acme", "checkout-2026-11-23");
    w.stops
        .reset(&TestState::new(&test, ["eu-west-1".to_owned()].into(), 0, 0))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut long = event("user-call.json", Some(format!("http://{address}/hello/alice")));
    long.payload.detail["duration"] = "10s".into();
    let running = {
        let deps = w.deps.clone();
        tokio::spawn(async move { function_handler(&deps, long).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    w.stops.stop(&test, 1).await.unwrap_or_else(|e| panic!("{e:?}"));
    let stopped_at = std::time::Instant::now();
    let outcome = running
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.status, "stopped");
    let arrivals = hits.arrivals();
    let after = arrivals
        .iter()
        .filter(|at| **at > stopped_at + Duration::from_millis(200 + 100 + 100))
        .count();
    assert_eq!(after, 0, "nothing sent after the poll and the pacer's slice");
    assert!(
        (50..200).contains(&arrivals.len()),
        "about 1.5 s of 50 a second: {}",
        arrivals.len()
    );
    let messages = sent(&w.queue);
    let Some(ResultMessage::Inline(result)) = messages.first() else {
        panic!("the result was delivered: {messages:?}");
    };
    assert!(result.report.stopped, "marked stopped");
    assert_eq!(result.report.total.requests, arrivals.len() as u64, "what it measured");

    let mut later = event("user-call.json", Some(format!("http://{address}/hello/alice")));
    later.payload.detail["callId"] = "checkout-2026-11-23-eu-2".into();
    let outcome = function_handler(&w.deps, later).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((outcome.status, outcome.requests), ("stopped", 0));
    assert_eq!(hits.arrivals().len(), arrivals.len(), "the later call fired nothing");
    assert_eq!(
        w.claims.get(&call("checkout-2026-11-23-eu-2")),
        None,
        "nor was it claimed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_delivery_runs_once_and_delivers_the_stored_result_again() {
    let (address, hits) = target().await;
    let w = world(address);
    let url = Some(format!("http://{address}/"));
    let first = function_handler(&w.deps, event("user-call.json", url.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = function_handler(&w.deps, event("user-call.json", url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((first.status, second.status), ("completed", "redelivered"));
    assert_eq!(hits.arrivals().len(), 50, "the target was hit by one run only");
    let messages = sent(&w.queue);
    let [ResultMessage::Inline(_), ResultMessage::Stored { key, .. }] = messages.as_slice() else {
        panic!("the result, then a pointer to the same stored result: {messages:?}")
    };
    assert_eq!(key, "overflow/acme/checkout-2026-11-23/checkout-2026-11-23-eu-1.json");
}

#[tokio::test]
async fn invalid_events_fail_naming_the_field_and_claim_nothing() {
    let (address, _) = target().await;
    let w = world(address);
    for (name, field) in [
        ("invalid-missing-url.json", "request.url"),
        ("invalid-rate.json", "rate"),
        ("invalid-duration.json", "duration"),
        ("invalid-unknown-field.json", "priority"),
        ("invalid-unknown-request-field.json", "request.proxy"),
    ] {
        match function_handler(&w.deps, event(name, None)).await {
            Err(WorkerError::InvalidCall(e)) => assert_eq!(e.field, field, "{name}: {e}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(
        function_handler(&w.deps, event("wrong-detail-type.json", None)).await,
        Err(WorkerError::WrongDetailType(_))
    ));
    assert_eq!(
        w.claims.get(&call("checkout-2026-11-23-eu-1")),
        None,
        "nothing was claimed"
    );
}

/// Every number is bounded before anything is claimed: a call over a bound fails naming the field and the
/// bound, the same way on every delivery, with no claim left behind (a claim would turn every retry into
/// "duplicate" and the call would never run). The clock stands at the events' time (2026-11-23T09:00:00Z),
/// and the invocation has a minute left, as in the other tests.
#[tokio::test]
async fn calls_beyond_a_bound_fail_naming_the_field_and_claim_nothing() {
    let (address, hits) = target().await;
    let mut w = world(address);
    let sent_at = event("user-call.json", None)
        .payload
        .time
        .unwrap_or_else(|| panic!("the events carry their time"));
    w.deps.clock = Arc::new(FixedClock(sent_at));
    let a_minute_later = u64::try_from(sent_at.timestamp_millis() + 60_000).unwrap_or(0);
    for (name, field, bound) in [
        ("invalid-max-in-flight-too-large.json", "maxInFlight", "above 960"),
        (
            "invalid-max-in-flight-above-the-file-budget.json",
            "maxInFlight",
            "above 960",
        ),
        ("invalid-rate-too-high.json", "rate", "above 50000 requests a second"),
        ("invalid-ramp-too-high.json", "ramp.to", "above 50000 requests a second"),
        (
            "invalid-timeout-too-long.json",
            "timeout",
            "longest per-request timeout, 2m",
        ),
        (
            "invalid-start-at-year-9999.json",
            "startAt",
            "more than 15m after the event's time",
        ),
        (
            "invalid-start-at-past.json",
            "startAt",
            "passed 1m ago, more than the 10s",
        ),
        (
            "invalid-start-at-beyond-a-workers-reach.json",
            "startAt",
            "more than 15m after the event's time",
        ),
        (
            "invalid-start-at-beyond-the-workers-deadline.json",
            "startAt",
            "must start by 2026-11-23T09:00:58Z",
        ),
    ] {
        let mut e = event(name, Some(format!("http://{address}/")));
        e.context.deadline = a_minute_later;
        let diagnostic = match function_handler(&w.deps, e).await {
            Err(WorkerError::InvalidCall(e)) => {
                assert_eq!(e.field, field, "{name}: {e}");
                assert!(e.problem.contains(bound), "{name}: {e} should say {bound:?}");
                lambda_runtime::Diagnostic::from(WorkerError::InvalidCall(e))
            }
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(diagnostic.error_type, "InvalidCall", "{name}");
    }
    assert!(hits.arrivals().is_empty(), "nothing was sent");
    assert!(sent(&w.queue).is_empty());
    assert_eq!(
        w.claims.get(&call("checkout-2026-11-23-eu-1")),
        None,
        "nothing was claimed"
    );
}

#[tokio::test]
async fn a_refused_target_fails_with_the_reason_and_sends_nothing() {
    let (address, _) = target().await;
    let w = world(address);
    let error = function_handler(&w.deps, event("refused-private-target.json", None))
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("rule: literal address") && e.contains("10.0.0.1")),
        "{error:?}"
    );
    assert!(sent(&w.queue).is_empty());
    let diagnostic: lambda_runtime::Diagnostic = function_handler(&w.deps, event("refused-private-target.json", None))
        .await
        .err()
        .map(Into::into)
        .unwrap_or_else(|| panic!("refused"));
    assert_eq!(diagnostic.error_type, "Refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_too_big_for_a_message_goes_to_s3_with_a_pointer() {
    let (address, _) = target().await;
    let mut w = world(address);
    w.deps.inline_limit = 100;
    let outcome = function_handler(&w.deps, event("user-call.json", Some(format!("http://{address}/"))))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.delivered_via, "s3");
    let messages = sent(&w.queue);
    let [ResultMessage::Stored { key, .. }] = messages.as_slice() else {
        panic!("one pointer, got {messages:?}")
    };
    assert_eq!(key, "overflow/acme/checkout-2026-11-23/checkout-2026-11-23-eu-1.json");
    let result = stored_result(&w.archive, key);
    assert_eq!(result.report.total.requests, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_near_its_deadline_still_delivers_what_it_measured() {
    let (address, _) = target().await;
    let w = world(address);
    let mut e = event("user-call.json", Some(format!("http://{address}/")));
    e.payload.detail["duration"] = "30s".into();
    let soon = SystemTime::now() + Duration::from_millis(2500);
    e.context.deadline = soon.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let outcome = function_handler(&w.deps, e).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.truncated);
    assert!(
        (50..=100).contains(&outcome.requests),
        "{} requests before the deadline",
        outcome.requests
    );
    let messages = sent(&w.queue);
    let [ResultMessage::Inline(result)] = messages.as_slice() else {
        panic!("{messages:?}")
    };
    assert!(result.report.truncated);
}

/// A results queue whose first send fails (the queue unreachable once), then sends through `inner`: the
/// emulator has no fault injection, so the fault is injected here, around the real adapter.
#[derive(Debug)]
pub(crate) struct FailsFirst {
    pub(crate) inner: Arc<dyn volley_core::ports::ResultQueue>,
    pub(crate) failed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl volley_core::ports::ResultQueue for FailsFirst {
    async fn send(&self, body: String) -> Result<(), volley_core::ports::StoreError> {
        if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(volley_core::ports::StoreError::Unavailable("the queue, once".into()));
        }
        self.inner.send(body).await
    }
}

/// A queue that takes the first chunk it is given and answers an error all the same (a send whose answer
/// was lost): the worker cannot tell whether the chunk went.
#[derive(Debug)]
struct TakesFirstChunkButFails {
    inner: Arc<MemoryResultQueue>,
    failed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl volley_core::ports::ResultQueue for TakesFirstChunkButFails {
    async fn send(&self, body: String) -> Result<(), volley_core::ports::StoreError> {
        let chunk = body.starts_with(r#"{"kind":"chunk""#);
        self.inner.send(body).await?;
        if chunk && !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(volley_core::ports::StoreError::Unavailable(
                "the answer was lost".into(),
            ));
        }
        Ok(())
    }
}

/// A chunk whose send failed ambiguously (the queue took it) is sent again as it was, under its number,
/// never as a different chunk of the same number: every copy of chunk n is the same message, the chunks
/// tile the result's first seconds in order, and the result says where each began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_whose_send_failed_is_sent_again_as_it_was() {
    use volley_core::model::result::ResultChunk;
    let (address, _hits) = target().await;
    let mut w = world(address);
    w.deps.chunk_interval = Duration::from_secs(1);
    w.deps.queue = Arc::new(TakesFirstChunkButFails {
        inner: w.queue.clone(),
        failed: std::sync::atomic::AtomicBool::new(false),
    });
    let mut event = event("user-call.json", Some(format!("http://{address}/hello/alice")));
    event.payload.detail["duration"] = "4s".into();
    function_handler(&w.deps, event).await.unwrap_or_else(|e| panic!("{e}"));
    let bodies = w.queue.sent.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut by_number: std::collections::BTreeMap<u32, Vec<String>> = std::collections::BTreeMap::new();
    for body in &bodies {
        if let Ok(ResultMessage::Chunk(chunk)) = ResultMessage::from_json(body) {
            by_number.entry(chunk.chunk).or_default().push(body.clone());
        }
    }
    assert!(
        by_number[&0].len() >= 2,
        "chunk 0 sent again after its failed send: {by_number:?}"
    );
    assert!(
        by_number.values().all(|copies| copies.iter().all(|c| c == &copies[0])),
        "every copy the same"
    );
    let result = stored_result(
        &w.archive,
        "overflow/acme/checkout-2026-11-23/checkout-2026-11-23-eu-1.json",
    );
    let chunked = result.chunked.clone().unwrap_or_else(|| panic!("chunked"));
    assert_eq!(
        by_number.keys().copied().collect::<Vec<_>>(),
        (0..chunked.chunks).collect::<Vec<_>>()
    );
    let mut at = 0;
    for (k, copies) in &by_number {
        let Ok(ResultMessage::Chunk(chunk)) = ResultMessage::from_json(&copies[0]) else {
            panic!()
        };
        let chunk: ResultChunk = *chunk;
        assert_eq!(
            (chunk.from, chunked.range(*k as usize)),
            (at, Some(at..at + chunk.seconds.len()))
        );
        at += chunk.seconds.len();
    }
    assert_eq!(at, chunked.seconds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_whose_delivery_failed_is_delivered_by_the_retry_without_firing_again() {
    let (address, hits) = target().await;
    let mut w = world(address);
    w.deps.queue = Arc::new(FailsFirst {
        inner: w.queue.clone(),
        failed: Default::default(),
    });
    let url = Some(format!("http://{address}/"));
    let first = function_handler(&w.deps, event("user-call.json", url.clone())).await;
    assert!(matches!(first, Err(WorkerError::Delivery(_))), "{first:?}");
    assert_eq!(hits.arrivals().len(), 50, "the call fired");
    assert!(sent(&w.queue).is_empty(), "and its result did not reach the queue");

    let retry = function_handler(&w.deps, event("user-call.json", url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((retry.status, retry.requests), ("redelivered", 0));
    assert_eq!(hits.arrivals().len(), 50, "the retry did not fire again");
    let messages = sent(&w.queue);
    let [ResultMessage::Stored { key, .. }] = messages.as_slice() else {
        panic!("one pointer to the stored result: {messages:?}")
    };
    let result = stored_result(&w.archive, key);
    assert_eq!(result.report.total.requests, 50, "the measured result, not lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_within_the_lease_says_the_call_is_running_and_one_after_it_says_lost() {
    use volley_core::ports::{CallClaims, Claim};
    let (address, hits) = target().await;
    let w = world(address);
    let now = volley_core::clock::Clock::now(&SystemClock).timestamp();
    let url = Some(format!("http://{address}/"));
    // Another invocation holds the call until its deadline, a minute from now.
    let held = w
        .claims
        .claim(&call("checkout-2026-11-23-eu-1"), now, now + 60)
        .await
        .ok();
    assert_eq!(held, Some(Claim::Fresh));
    let outcome = function_handler(&w.deps, event("user-call.json", url.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((outcome.status, outcome.requests), ("running", 0));

    // A call whose holder's lease passed with no result stored is lost, not fired late.
    let gone = w
        .claims
        .claim(&call("checkout-2026-11-23-eu-2"), now - 1_000, now - 100)
        .await
        .ok();
    assert_eq!(gone, Some(Claim::Fresh));
    let mut e = event("user-call.json", url);
    e.payload.detail["callId"] = "checkout-2026-11-23-eu-2".into();
    let outcome = function_handler(&w.deps, e).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((outcome.status, outcome.requests), ("lost", 0));
    assert_eq!(w.claims.get(&call("checkout-2026-11-23-eu-2")), Some(Claim::Lost));
    let counters = w.ledger.counters(&call("x").test).await.ok().flatten();
    assert_eq!(
        counters.map(|c| (c.calls_lost, c.results_archived)),
        Some((1, 0)),
        "the lost call shows in its test's counters"
    );
    assert!(hits.arrivals().is_empty(), "neither delivery fired");
    assert!(sent(&w.queue).is_empty());
}

#[tokio::test]
async fn a_late_retry_of_a_call_that_ran_delivers_its_stored_result_and_one_that_did_not_is_refused() {
    use volley_core::ports::CallClaims;
    let (address, hits) = target().await;
    let w = world(address);
    // Its start is a minute past: too late to fire, and nothing ran, so it is refused naming startAt.
    match function_handler(&w.deps, event("invalid-start-at-past.json", None)).await {
        Err(WorkerError::InvalidCall(e)) => assert_eq!(e.field, "startAt", "{e}"),
        other => panic!("{other:?}"),
    }
    // Had its first delivery run and stored the result (then failed to send it), the late retry sends it.
    let key = "overflow/acme/checkout-2026-11-23/checkout-2026-11-23-eu-1.json";
    let claimed = w.claims.claim(&call("checkout-2026-11-23-eu-1"), 0, 60).await.ok();
    assert_eq!(claimed, Some(volley_core::ports::Claim::Fresh));
    w.claims
        .mark_stored(&call("checkout-2026-11-23-eu-1"), key)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let outcome = function_handler(&w.deps, event("invalid-start-at-past.json", None))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((outcome.status, outcome.requests), ("redelivered", 0));
    let messages = sent(&w.queue);
    assert!(
        matches!(messages.as_slice(), [ResultMessage::Stored { key: k, .. }] if k == key),
        "{messages:?}"
    );
    assert!(hits.arrivals().is_empty(), "nothing fired");
}

#[tokio::test]
async fn a_secret_reference_resolves_for_its_own_organisation_and_is_refused_for_anothers() {
    let (address, hits) = target().await;
    let w = world(address);
    let url = Some(format!("http://{address}/"));
    let mut own = event("user-call.json", url.clone());
    own.payload.detail["request"]["headers"]["authorization"] = "Bearer {{ssm:/volley/acme/api-token}}".into();
    let outcome = function_handler(&w.deps, own).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.status, "completed");
    let sent = hits.authorizations();
    assert!(!sent.is_empty(), "the call fired");
    assert!(
        sent.iter().all(|a| a.as_deref() == Some("Bearer s3cr3t")),
        "every request carried the resolved secret: {:?}",
        sent.first()
    );
    let stored = String::from_utf8(
        w.archive
            .objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .next()
            .cloned()
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert!(!stored.contains("s3cr3t"), "the result holds no secret");

    let mut theirs = event("user-call.json", url);
    theirs.payload.detail["callId"] = "checkout-2026-11-23-eu-9".into();
    theirs.payload.detail["request"]["headers"]["authorization"] = "Bearer {{ssm:/volley/globex/api-token}}".into();
    let refused = function_handler(&w.deps, theirs).await.err();
    let message = refused.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(refused.map(|e| e.kind()), Some("InvalidCall"), "{message}");
    assert!(
        message.contains("request.headers.authorization: {{ssm:/volley/globex/api-token}} is outside /volley/acme/"),
        "{message}"
    );
    assert!(!message.contains("theirs"), "no value in the message: {message}");
    assert_eq!(
        w.claims.get(&call("checkout-2026-11-23-eu-9")),
        None,
        "a refused reference claims nothing"
    );
    assert_eq!(hits.authorizations().len(), sent.len(), "and fires nothing");
}

#[test]
fn a_validated_calls_credentials_are_never_printed() {
    let path = format!(
        "{}/../../testdata/events/worker/user-call.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let event: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut detail = event["detail"].clone();
    detail["request"]["headers"]["x-api-key"] = "k3y-value".into();
    let call = volley_core::model::call::UserCall::from_json(&detail)
        .and_then(volley_core::model::call::UserCall::validate)
        .unwrap_or_else(|e| panic!("{e}"));
    let printed = format!("{call:?}");
    assert!(
        printed.contains("x-api-key") && !printed.contains("k3y-value"),
        "{printed}"
    );
}
