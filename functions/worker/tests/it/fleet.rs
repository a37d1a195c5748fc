//! The fleet over the wire: test plans dealt to deployed workers (the real worker bootstrap in the local
//! stack, its User Calls put on the real bus), counted where it matters, at the stack's allow-listed test
//! target (`TestTargetAddress`; the greeter, behind the emulated API Gateway, holds only about 70 requests a
//! second). The tests share that one address, so nextest runs them one at a time (.config/nextest.toml).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::model::plan::{Fleet, FleetCall, TestPlan, ValidPlan};
use volley_core::model::result::{CallResult, ResultChunk, archive_key, chunk_key};
use volley_core::model::scope::TestScope;
use volley_core::model::test_result::TestResult;
use volley_core::ports::{ResultArchive, ResultLedger, TestCounters};
use volley_engine::load::stats::Stats;
use volley_testkit::emulator::{self, eventually};
use volley_testkit::fixtures;
use volley_testkit::target::{Behaviour, TestTarget, start_at};

/// The stack's test target, counting every request.
async fn test_target() -> (SocketAddr, TestTarget) {
    let address: SocketAddr = emulator::stack_output("TestTargetAddress")
        .parse()
        .unwrap_or_else(|e| panic!("TestTargetAddress: {e}"));
    (address, start_at(address, Behaviour::default()).await)
}

/// Invokes the stack's orchestrator with `request` and answers its answer.
async fn orchestrate(config: &volley_core::aws::SdkConfig, request: serde_json::Value) -> serde_json::Value {
    fixtures::invoke(config, &emulator::stack_output("OrchestratorFunctionName"), &request)
        .await
        .unwrap_or_else(|e| panic!("{request}: {e}"))
}

/// The local stack's region: the plans' home region, where the workers look for their test's stop.
fn home(config: &volley_core::aws::SdkConfig) -> String {
    config.region().map(ToString::to_string).unwrap_or_default()
}

fn plan(value: serde_json::Value) -> ValidPlan {
    TestPlan::from_json(&value)
        .and_then(TestPlan::validate)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The fleet of `plan` starting `ahead` from now (far enough for the workers' cold starts), with the instant
/// on this test's clock that stands for its start as the workers got it (to the millisecond).
fn fleet(plan: &ValidPlan, ahead: Duration) -> (Fleet, Instant) {
    let (wall, instant) = (SystemTime::now(), Instant::now());
    let fleet = plan.fleet(wall + ahead).unwrap_or_else(|e| panic!("{e}"));
    let start = instant + fleet.start_at.duration_since(wall).unwrap_or_default();
    (fleet, start)
}

async fn put<'a>(config: &volley_core::aws::SdkConfig, calls: impl IntoIterator<Item = &'a FleetCall>) {
    let bus = emulator::stack_output("EventBusName");
    for call in calls {
        let detail = serde_json::to_value(&call.call).unwrap_or_else(|e| panic!("{e}"));
        fixtures::put_user_call(config, &bus, &detail).await;
    }
}

/// Where a fleet's calls ran: each in its own region's stack (the orchestrator put them there), or all in
/// the local stack's first region (the test put them on its bus, their regions only labels).
#[derive(Clone, Copy)]
enum Ran {
    InTheirRegions,
    Here,
}

impl Ran {
    fn region(self, config: &volley_core::aws::SdkConfig, call: &FleetCall) -> String {
        match self {
            Self::InTheirRegions => call.region.clone(),
            Self::Here => home(config),
        }
    }
}

/// The results bucket of `region`'s stack.
fn archive_in(config: &volley_core::aws::SdkConfig, region: &str) -> S3ResultArchive {
    S3ResultArchive::new(
        &volley_core::aws::in_region(config, region),
        emulator::stack_output_in(region, "ResultsBucketName"),
    )
}

/// Every call's result, as the archiver of the region it ran in stored it, waiting for each.
async fn stored_results(
    config: &volley_core::aws::SdkConfig,
    organisation: &str,
    test_id: &str,
    fleet: &Fleet,
    ran: Ran,
) -> Vec<CallResult> {
    let mut results = Vec::new();
    for call in &fleet.calls {
        let archive = archive_in(config, &ran.region(config, call));
        let key = archive_key(organisation, test_id, &call.call.call_id);
        let stored = eventually(
            &format!("{}'s result in S3", call.call.call_id),
            Duration::from_secs(90),
            || {
                let (archive, key) = (archive.clone(), key.clone());
                async move { archive.get(&key).await.ok().flatten() }
            },
        )
        .await;
        results.push(serde_json::from_slice(&stored).unwrap_or_else(|e| panic!("{key}: {e}")));
    }
    results
}

/// The test's live counters in the first region's tests table (zero before anything was archived).
async fn counters(config: &volley_core::aws::SdkConfig, test: &TestScope) -> TestCounters {
    counters_in(config, &home(config), test).await
}

/// The test's live counters in `region`'s tests table.
async fn counters_in(config: &volley_core::aws::SdkConfig, region: &str, test: &TestScope) -> TestCounters {
    let ledger = DynamoResultLedger::new(
        &volley_core::aws::in_region(config, region),
        emulator::stack_output_in(region, "CallsTableName"),
        emulator::stack_output_in(region, "TestsTableName"),
    );
    ledger
        .counters(test)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| TestCounters::new(test.clone()))
}

/// The chunks the archiver of `region` stored of `call`, from 0 up to the first it has not.
async fn stored_chunks(
    config: &volley_core::aws::SdkConfig,
    region: &str,
    test: &TestScope,
    call: &str,
) -> Vec<ResultChunk> {
    let archive = archive_in(config, region);
    let mut chunks = Vec::new();
    for n in 0.. {
        let key = chunk_key(&test.organisation_id, &test.test_id, call, n);
        match archive.get(&key).await.unwrap_or_else(|e| panic!("{key}: {e}")) {
            Some(bytes) => chunks.push(serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key}: {e}"))),
            None => return chunks,
        }
    }
    chunks
}

/// The results as one, checked against the same histograms added here by hand, with no call missing.
fn merged(organisation: &str, test_id: &str, fleet: &Fleet, results: &[CallResult]) -> TestResult {
    let expected: Vec<String> = fleet.calls.iter().map(|c| c.call.call_id.clone()).collect();
    let merged = TestResult::merge(&TestScope::new(organisation, test_id), &expected, results, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(merged.missing.is_empty(), "every call reported: {:?}", merged.missing);
    let mut by_hand = Stats::default();
    for r in results {
        by_hand.merge(&r.report.total);
    }
    assert_eq!(
        merged.report.total, by_hand,
        "the merged totals and histograms are the results' added"
    );
    merged
}

/// Holds the target to the plan: exactly `total` requests counted there, and `rate` (±1: a request due at
/// .98 s may arrive in the next second) in every second after the first; answers the seconds' counts.
fn held_to_the_plan(target: &TestTarget, start: Instant, seconds: usize, rate: u32, total: usize) -> Vec<u32> {
    assert_eq!(
        target.arrivals().len(),
        total,
        "the target counted exactly the plan's requests"
    );
    let counts = per_second(target, start, seconds);
    for (second, n) in counts.iter().enumerate().skip(1) {
        assert!(
            n.abs_diff(rate) <= 1,
            "second {second}: {n} requests, asked {rate} ({counts:?})"
        );
    }
    counts
}

/// Requests per second at the target from `start`, over `seconds`: none early, none after the end.
fn per_second(target: &TestTarget, start: Instant, seconds: usize) -> Vec<u32> {
    let mut counts = vec![0_u32; seconds];
    for at in target.arrivals() {
        // The test's clock and the workers' agree to well within a millisecond on one machine.
        let early = start.saturating_duration_since(at);
        let since = at.saturating_duration_since(start).as_secs_f64();
        assert!(
            early < Duration::from_millis(20) && since < seconds as f64 + 0.1,
            "every request within the plan's {seconds} s: one {early:?} early, or at {since:.3} s"
        );
        counts[(since as usize).min(seconds - 1)] += 1;
    }
    counts
}

/// A plan of 50 requests a second for 4 s in two regions weighted 3:2, at most 10 a second per worker, is 5
/// workers (3 and 2), which fire, as counted at the target, exactly the plan's 200 requests, 50 each second
/// (±1: a request due at .98 s may arrive in the next second) after the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_dealt_to_five_workers_in_two_regions_fires_exactly_the_asked_load_at_the_target() {
    let config = emulator::sdk_config().await;
    let (address, target) = test_target().await;
    let test_id = emulator::unique("fleet-");
    let plan = plan(serde_json::json!({
        "organisationId": "acme", "testId": test_id, "homeRegion": home(&config),
        "request": {"url": format!("http://{address}/fleet")},
        "rate": 50, "duration": "4s", "maxWorkerRate": 10,
        "regions": [{"region": "eu-west-1", "share": 3}, {"region": "us-east-1", "share": 2}]
    }));
    let (fleet, start) = fleet(&plan, Duration::from_secs(10));
    assert_eq!(
        (
            fleet.workers_in("eu-west-1"),
            fleet.workers_in("us-east-1"),
            fleet.total
        ),
        (3, 2, 200)
    );
    put(&config, &fleet.calls).await;

    let results = stored_results(&config, "acme", &test_id, &fleet, Ran::Here).await;
    let merged = merged("acme", &test_id, &fleet, &results);
    assert_eq!(
        (
            merged.regions["eu-west-1"].requests,
            merged.regions["us-east-1"].requests
        ),
        (120, 80),
        "each region its share"
    );
    let per_second = held_to_the_plan(&target, start, 4, 50, 200);
    let skew = merged
        .start_skew
        .unwrap_or_else(|| panic!("the workers had a common start"));
    println!(
        "the fleet of 5 fired 200 requests at the target, per second {per_second:?}; start skew across the 5 workers: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        skew.p50_ms, skew.p99_ms, skew.max_ms
    );
}

/// A stop: a fleet of 3 workers firing 20 requests a second for 30 s; 3 s in, the orchestrator's
/// `test-stop`. Nothing reaches the target 2 s after it, every worker delivers what it measured marked
/// stopped, and a call of the test that arrives after the stop fires nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_stopped_mid_run_sends_nothing_two_seconds_later_and_starts_nothing_more() {
    let config = emulator::sdk_config().await;
    let (address, target) = test_target().await;
    let organisation = emulator::unique("acme");
    let test_id = emulator::unique("stop-");
    let region = home(&config);
    let orchestrate = |request: serde_json::Value| orchestrate(&config, request);
    orchestrate(
        serde_json::json!({"type": "test-reset", "organisationId": organisation, "testId": test_id,
        "regions": [region], "bufferSeconds": 0}),
    )
    .await;
    let plan = plan(serde_json::json!({
        "organisationId": organisation, "testId": test_id, "homeRegion": region,
        "request": {"url": format!("http://{address}/stop")},
        "rate": 20, "duration": "30s", "maxWorkerRate": 10,
        "regions": [{"region": region, "share": 3}, {"region": "us-west-2", "share": 2}]
    }));
    let (fleet, start) = fleet(&plan, Duration::from_secs(8));
    assert_eq!(fleet.calls.len(), 3);
    put(&config, &fleet.calls).await;
    tokio::time::sleep_until((start + Duration::from_secs(3)).into()).await;
    let stopped = orchestrate(serde_json::json!({"type": "test-stop", "organisationId": organisation,
        "testId": test_id}))
    .await;
    let stopped_at = Instant::now();
    assert_eq!(stopped["stoppedNow"], true, "{stopped}");

    let results = stored_results(&config, &organisation, &test_id, &fleet, Ran::Here).await;
    for result in &results {
        assert!(result.report.stopped, "{} says it was stopped", result.call_id);
    }
    let arrivals = target.arrivals();
    let late = arrivals
        .iter()
        .filter(|at| **at > stopped_at + Duration::from_secs(2))
        .count();
    assert_eq!(late, 0, "nothing reached the target 2 s after the stop");
    let last = arrivals.iter().max().map(|at| at.saturating_duration_since(stopped_at));
    println!(
        "stopped: {} requests reached the target, the last {last:?} after the orchestrator answered test-stop",
        arrivals.len()
    );
    let measured: u64 = results.iter().map(|r| r.report.total.requests).sum();
    assert_eq!(
        measured,
        arrivals.len() as u64,
        "what the target got is what the workers measured"
    );
    assert!(
        (40..200).contains(&arrivals.len()),
        "about 3 s of 20 a second, not 600: {}",
        arrivals.len()
    );

    // A later call of the stopped test (a worker invoked directly, as a segment would be) fires nothing.
    let mut later = fleet.calls[0].call.clone();
    later.call_id = "later".into();
    later.start_at = None;
    let event = serde_json::json!({"version": "0", "id": "later", "detail-type": "User Call", "source": "volley",
        "account": "000000000000", "region": region, "resources": [], "detail": later});
    let answer = fixtures::invoke(&config, &emulator::stack_output("WorkerFunctionName"), &event)
        .await
        .unwrap_or_else(|e| panic!("the worker: {e}"));
    assert_eq!(
        (answer["status"].clone(), answer["requests"].clone()),
        (serde_json::json!("stopped"), serde_json::json!(0))
    );
    assert_eq!(target.arrivals().len(), arrivals.len(), "the later call sent nothing");
}

/// Segments, started as a user starts a test: the orchestrator's `test-start` with a plan of 60 requests a
/// second for 50 s in the local stack's two regions (3:2), in 20-second segments: 3 workers (at most 30 a
/// second each) times 3 segments. The test starts 8 s on (the local stack's `START_LEAD`); the orchestrator
/// puts the first segment's calls on each region's bus and makes a one-time Scheduler schedule for each later
/// one, 20 s before it is due (the local `SEGMENT_LEAD`: the second segment's fires 8 s after `test-start`);
/// each fires the orchestrator, which puts that segment's calls. The target receives
/// exactly 3,000 requests, 60 ± 1 in every second after the first, the seconds either side of each boundary
/// included; the counters of both regions move while it runs and end at 3,000, each second counted once;
/// the nine results merge into one with none missing, equal to the stored chunks and the results' own
/// seconds added independently; and the start skew kept with the counters is the merge's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_in_segments_fires_every_second_of_it_with_no_gap_or_overlap_at_the_boundaries() {
    let config = emulator::sdk_config().await;
    let (address, target) = test_target().await;
    let test_id = emulator::unique("segments-");
    let (first, second) = (home(&config), emulator::stack_output("SecondRegion"));
    let written = serde_json::json!({
        "organisationId": "acme", "testId": test_id, "homeRegion": first,
        "request": {"url": format!("http://{address}/segments")},
        "rate": 60, "duration": "50s", "maxWorkerRate": 30, "segmentLength": "20s",
        "regions": [{"region": second, "share": 3}, {"region": first, "share": 2}]
    });
    let plan = plan(written.clone());
    let (wall, instant) = (SystemTime::now(), Instant::now());
    let started = orchestrate(&config, serde_json::json!({"type": "test-start", "plan": written})).await;
    assert_eq!(
        (
            started["calls"].clone(),
            started["segments"].clone(),
            started["put"].clone()
        ),
        (serde_json::json!(9), serde_json::json!(3), serde_json::json!([0])),
        "{started}"
    );
    assert_eq!(started["scheduled"].as_array().map(Vec::len), Some(2), "{started}");
    let start_at = UNIX_EPOCH + Duration::from_millis(started["startAt"].as_u64().unwrap_or_default());
    let start = instant + start_at.duration_since(wall).unwrap_or_default();
    // The fleet the orchestrator made, made again here from the same plan and start.
    let fleet = plan.fleet(start_at).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((fleet.calls.len(), fleet.total), (9, 3000));
    let test = TestScope::new("acme", &test_id);

    // 42 s in, in the last segment: both regions' counters have moved by the chunks of seconds sealed.
    tokio::time::sleep_until((start + Duration::from_secs(42)).into()).await;
    let live = [
        counters_in(&config, &first, &test).await,
        counters_in(&config, &second, &test).await,
    ];
    assert!(
        live.iter().all(|c| c.chunks_archived > 0) && live.iter().map(|c| c.requests).sum::<u64>() >= 60 * 20,
        "counted while running, in both regions: {live:?}"
    );

    let results = stored_results(&config, "acme", &test_id, &fleet, Ran::InTheirRegions).await;
    let merged = merged("acme", &test_id, &fleet, &results);
    assert_eq!(
        (
            merged.report.total.requests,
            merged.regions[&second].requests,
            merged.regions[&first].requests
        ),
        (3000, 1800, 1200),
        "each region its share"
    );
    let chunks_in = |region: &str| -> u64 {
        let ran_there = |r: &&CallResult| r.region.as_deref() == Some(region);
        results
            .iter()
            .filter(ran_there)
            .filter_map(|r| r.chunked.as_ref())
            .map(|c| u64::from(c.chunks))
            .sum()
    };
    let mut end = TestCounters::new(test.clone());
    for (region, calls) in [(&first, 3), (&second, 6)] {
        let expected_chunks = chunks_in(region);
        let counted = eventually(
            &format!("every result counted in {region}"),
            Duration::from_secs(30),
            || {
                let (config, test, region) = (config.clone(), test.clone(), region.clone());
                async move {
                    let c = counters_in(&config, &region, &test).await;
                    (c.results_archived == calls && c.chunks_archived == expected_chunks).then_some(c)
                }
            },
        )
        .await;
        end.requests += counted.requests;
        end.chunks_archived += counted.chunks_archived;
        end.results_archived += counted.results_archived;
        end.start_skews_us.extend(counted.start_skews_us);
    }
    assert_eq!(
        end.requests, 3000,
        "every second counted once, in a chunk or in a result"
    );
    // The merged histogram is the stored chunks' and the results' own seconds, added independently here.
    let mut from_parts = Stats::default();
    for result in &results {
        let region = result.region.clone().unwrap_or_default();
        let chunks = stored_chunks(&config, &region, &test, &result.call_id).await;
        assert_eq!(
            chunks.len() as u32,
            result.chunked.as_ref().map_or(0, |c| c.chunks),
            "{}",
            result.call_id
        );
        for second in chunks
            .iter()
            .flat_map(|c| c.decode_seconds().unwrap_or_else(|e| panic!("{e}")))
        {
            from_parts.merge(&second.stats);
        }
        from_parts.merge(&result.unchunked_total().unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(
        merged.report.total, from_parts,
        "the merge is the stored chunks' and the rest's"
    );
    // The test's start skew is kept with its counters: the same as the merge's, to the microsecond.
    let (kept, skew) = (end.start_skew(), merged.start_skew.clone());
    let close = |a: f64, b: f64| (a - b).abs() < 0.001;
    assert!(
        matches!((&kept, &skew), (Some(k), Some(m)) if k.calls == 9 && close(k.p99_ms, m.p99_ms) && close(k.max_ms, m.max_ms)),
        "kept {kept:?}, merged {skew:?}"
    );
    let per_second = held_to_the_plan(&target, start, 50, 60, 3000);
    let skew = merged
        .start_skew
        .unwrap_or_else(|| panic!("the workers had their starts"));
    println!(
        "segments: test-start in {first} and {second}, 9 calls (3 workers, 3 segments of 20 s, 2 of them started by Scheduler) fired 3000 requests; seconds 19, 20, 39, 40 (the boundaries): {:?}; counted 42 s in: {} requests in {} chunks; at the end {} in {} chunks and 9 results; start skew across the 9 calls: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        [per_second[19], per_second[20], per_second[39], per_second[40]],
        live.iter().map(|c| c.requests).sum::<u64>(),
        live.iter().map(|c| c.chunks_archived).sum::<u64>(),
        end.requests,
        end.chunks_archived,
        skew.p50_ms,
        skew.p99_ms,
        skew.max_ms
    );
}

/// A worker killed mid-call (its bootstrap process, as the local stack kills one at its timeout): 2 workers
/// fire 20 requests a second for 12 s, chunks every 5 s (the local stack's `CHUNK_INTERVAL`); 9 s in, the
/// process of one of them is killed. What its chunks carried is counted, once; it loses at most its last
/// chunk period (and the second still open); the merged result names it short; the other call reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_call_loses_at_most_one_chunk_and_the_result_names_it_short() {
    let config = emulator::sdk_config().await;
    let (address, target) = test_target().await;
    let test = TestScope::new("acme", emulator::unique("killed-"));
    let plan = plan(serde_json::json!({
        "organisationId": test.organisation_id, "testId": test.test_id, "homeRegion": home(&config),
        "request": {"url": format!("http://{address}/killed")},
        "rate": 20, "duration": "12s", "maxWorkerRate": 10,
        "regions": [{"region": home(&config), "share": 1}]
    }));
    let (fleet, start) = fleet(&plan, Duration::from_secs(8));
    assert_eq!(fleet.calls.len(), 2);
    put(&config, &fleet.calls).await;
    tokio::time::sleep_until((start + Duration::from_secs(9)).into()).await;
    let workers = emulator::processes_connected_to(address.port());
    assert_eq!(
        workers.len(),
        2,
        "the two workers' processes are connected to the target: {workers:?}"
    );
    let killed = std::process::Command::new("kill")
        .args(["-9", &workers[0].to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(killed.success());

    // The other call reports; the killed one's chunks are all that is known of it.
    let archive = S3ResultArchive::new(&config, emulator::stack_output("ResultsBucketName"));
    let ids: Vec<String> = fleet.calls.iter().map(|c| c.call.call_id.clone()).collect();
    let (survivor, result) = eventually("the surviving call's result", Duration::from_secs(60), || {
        let (archive, ids, test) = (archive.clone(), ids.clone(), test.clone());
        async move {
            for id in &ids {
                let key = archive_key(&test.organisation_id, &test.test_id, id);
                if let Some(bytes) = archive.get(&key).await.ok().flatten() {
                    let result: CallResult = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
                    return Some((id.clone(), result));
                }
            }
            None
        }
    })
    .await;
    let victim = ids.iter().find(|id| **id != survivor).cloned().unwrap_or_default();
    let survivor_chunks = result.chunked.as_ref().map_or(0, |c| c.chunks);
    let result = std::sync::Arc::new(result);
    // Settled: the counters hold the one result and every chunk stored, and what they carried.
    let (chunks, merged, counted) = eventually("the chunks counted", Duration::from_secs(30), || {
        let (config, test, victim, ids) = (config.clone(), test.clone(), victim.clone(), ids.clone());
        let result = std::sync::Arc::clone(&result);
        async move {
            let chunks = stored_chunks(&config, &home(&config), &test, &victim).await;
            let counted = counters(&config, &test).await;
            let merged = TestResult::merge(&test, &ids, std::slice::from_ref(&*result), &chunks)
                .unwrap_or_else(|e| panic!("{e}"));
            let settled = counted.results_archived == 1
                && counted.chunks_archived == u64::from(survivor_chunks) + chunks.len() as u64
                && counted.requests == merged.report.total.requests;
            settled.then_some((chunks, merged, counted))
        }
    })
    .await;
    assert!(!chunks.is_empty(), "the killed worker sent chunks before it died");
    assert_eq!(merged.calls, vec![survivor]);
    assert!(merged.missing.is_empty(), "{:?}", merged.missing);
    let [short] = merged.short.as_slice() else {
        panic!("one short call: {:?}", merged.short)
    };
    assert_eq!(short.call_id, victim, "the result names the killed call short");
    assert_eq!(short.chunks, (0..chunks.len() as u32).collect::<Vec<_>>());
    let lost = target.arrivals().len() as u64 - merged.report.total.requests;
    // Its 10 a second for at most one chunk period (5 s) and the second still open.
    assert!(
        lost > 0 && lost <= 10 * 6,
        "lost {lost} requests of the killed worker ({} at the target, {} counted)",
        target.arrivals().len(),
        counted.requests
    );
    println!(
        "killed 9 s in: its {} chunks carried {} requests; {lost} sent after its last chunk were lost; the test counts {} of the {} the target got",
        chunks.len(),
        short.requests,
        merged.report.total.requests,
        target.arrivals().len()
    );
}

/// Abort rules, held server-side on the live counters: 2 workers fire 20 requests a second for 30 s under
/// `success<50%` for 3s; 4 s in, the target starts answering 503. The region's archiver sees it in the
/// workers' chunks (every 5 s in the local stack), stops the test in its home region saying why, and the
/// workers stop at their next look: the test ends about a chunk period and the rule's 3 s after the
/// failures began, not at its 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_rule_that_holds_on_the_live_counters_stops_the_test_and_says_why() {
    let config = emulator::sdk_config().await;
    let (address, target) = test_target().await;
    let test = TestScope::new(emulator::unique("acme"), emulator::unique("abort-"));
    let region = home(&config);
    let orchestrate = |request: serde_json::Value| orchestrate(&config, request);
    orchestrate(
        serde_json::json!({"type": "test-reset", "organisationId": test.organisation_id,
        "testId": test.test_id, "regions": [region], "bufferSeconds": 0}),
    )
    .await;
    let plan = plan(serde_json::json!({
        "organisationId": test.organisation_id, "testId": test.test_id, "homeRegion": region,
        "request": {"url": format!("http://{address}/abort")},
        "rate": 20, "duration": "30s", "maxWorkerRate": 10,
        "regions": [{"region": region, "share": 1}],
        "abort": [{"when": "success<50%", "for": "3s"}]
    }));
    let (fleet, start) = fleet(&plan, Duration::from_secs(8));
    put(&config, &fleet.calls).await;
    tokio::time::sleep_until((start + Duration::from_secs(4)).into()).await;
    target.behaviour.lock().unwrap_or_else(|e| e.into_inner()).status = 503;
    let failing_from = Instant::now();

    let results = stored_results(&config, &test.organisation_id, &test.test_id, &fleet, Ran::Here).await;
    for result in &results {
        assert!(result.report.stopped, "{} says it was stopped", result.call_id);
    }
    let state = orchestrate(
        serde_json::json!({"type": "status", "organisationId": test.organisation_id,
        "testId": test.test_id}),
    )
    .await;
    let reason = state["stopReason"].as_str().unwrap_or_default().to_owned();
    assert!(
        state["stopped"] == true && reason.contains("success<50%"),
        "stopped by the rule, saying so: {state}"
    );
    let last = target
        .arrivals()
        .iter()
        .max()
        .map(|at| at.saturating_duration_since(failing_from))
        .unwrap_or_default();
    // The rule's 3 s, a chunk period (5 s), the open second, delivery and archiving, then a poll (1 s).
    assert!(
        last < Duration::from_secs(13),
        "the last request {last:?} after the failures began"
    );
    println!(
        "abort: {} requests reached the target, the last {last:?} after it began failing; the test's stop: {reason}",
        target.arrivals().len()
    );
}
