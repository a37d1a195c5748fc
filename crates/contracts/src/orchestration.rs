//! The contracts of `OrchestrationStore`, `RunIndex` and `RunClaims`, run against the memory twins here and against DynamoDB in MiniStack
//! by `tests/orchestration_contract.rs`.

use std::collections::BTreeSet;

use volley_core::model::orchestration::{RegionMark, TestState};
use volley_core::model::scope::TestScope;
use volley_core::ports::{OrchestrationStore, RegionRecorded};

fn regions(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Every behaviour an `OrchestrationStore` must have, including concurrent adds that lose nothing.
pub async fn orchestration_store_contract(store: &dyn OrchestrationStore, unique: &str) {
    let test = TestScope::new(format!("acme-{unique}"), format!("orch-{unique}"));
    assert_eq!(store.get(&test).await.ok(), Some(None), "an unknown test has no state");
    assert_eq!(
        store.add_region(&test, RegionMark::Ready, "eu-west-1").await.ok(),
        Some(RegionRecorded::UnknownTest)
    );
    assert_eq!(
        store.start(&test, 5).await.ok(),
        Some(false),
        "an unknown test cannot start"
    );

    let fresh = TestState::new(&test, regions(&["eu-west-1", "us-east-1"]), 100, 1_000);
    store.reset(&fresh).await.unwrap_or_else(|e| panic!("reset: {e:?}"));
    assert_eq!(
        store.get(&test).await.ok().flatten(),
        Some(fresh.clone()),
        "a reset reads back whole"
    );
    // Another organisation's test of the same id is another test.
    let other = TestScope::new(format!("globex-{unique}"), &test.test_id);
    assert_eq!(
        store.get(&other).await.ok(),
        Some(None),
        "another organisation's test of the same id is unknown"
    );
    assert_eq!(
        store.add_region(&other, RegionMark::Ready, "eu-west-1").await.ok(),
        Some(RegionRecorded::UnknownTest)
    );
    // A state reset with its plan (test-start) reads back with it, whole.
    let mut others = TestState::new(&other, regions(&["ap-south-1"]), 5, 1_001);
    others.plan =
        Some(serde_json::json!({"testId": other.test_id, "rate": 2.5, "regions": [{"region": "ap-south-1"}]}));
    store.reset(&others).await.unwrap_or_else(|e| panic!("reset: {e:?}"));
    assert_eq!(store.get(&other).await.ok().flatten(), Some(others), "kept apart");
    assert_eq!(
        store.get(&test).await.ok().flatten(),
        Some(fresh.clone()),
        "and the first test is untouched"
    );

    let Ok(RegionRecorded::Recorded(after)) = store.add_region(&test, RegionMark::Ready, "eu-west-1").await else {
        panic!("a required region is recorded");
    };
    assert_eq!(after.ready_regions, regions(&["eu-west-1"]));
    let again = store.add_region(&test, RegionMark::Ready, "eu-west-1").await.ok();
    assert_eq!(
        again,
        Some(RegionRecorded::Recorded(after.clone())),
        "recording twice is recording once"
    );
    let Ok(RegionRecorded::NotRequired(unchanged)) = store.add_region(&test, RegionMark::Ready, "ap-south-1").await
    else {
        panic!("a region the test does not require is refused");
    };
    assert_eq!(unchanged, after, "and changes nothing");

    assert_eq!(
        store.start(&test, 9_000).await.ok(),
        Some(true),
        "the first start flips"
    );
    assert_eq!(store.start(&test, 9_999).await.ok(), Some(false), "and only the first");
    let started = store.get(&test).await.ok().flatten();
    assert_eq!(
        started.as_ref().map(|s| (s.started, s.start_at)),
        Some((true, Some(9_000)))
    );

    let Ok(RegionRecorded::Recorded(ended)) = store.add_region(&test, RegionMark::Completed, "us-east-1").await else {
        panic!("a completed region is recorded");
    };
    assert_eq!(ended.completed_regions, regions(&["us-east-1"]));
    assert_eq!(ended.ready_regions, regions(&["eu-west-1"]), "the sets are apart");
    assert_eq!(store.complete(&test, 20_000).await.ok(), Some(true));
    assert_eq!(store.complete(&test, 20_001).await.ok(), Some(false));
    assert_eq!(
        store.stop(&test, 21_000).await.ok(),
        Some(true),
        "the first stop flips it"
    );
    assert_eq!(
        store.stop(&test, 21_001).await.ok(),
        Some(false),
        "a second changes nothing"
    );
    let stopped = store.get(&test).await.ok().flatten();
    assert_eq!(stopped.map(|s| (s.stopped, s.stopped_at)), Some((true, Some(21_000))));
    let unknown = TestScope::new(format!("acme-{unique}"), format!("never-{unique}"));
    assert_eq!(
        store.stop(&unknown, 1).await.ok(),
        Some(false),
        "an unknown test is not stopped"
    );

    store.reset(&fresh).await.unwrap_or_else(|e| panic!("reset: {e:?}"));
    assert_eq!(
        store.get(&test).await.ok().flatten(),
        Some(fresh),
        "a reset clears everything"
    );

    // Sixteen regions, each recorded four times, all at once: none is lost.
    let many: Vec<String> = (1..=16).map(|i| format!("eu-test-{i}")).collect();
    let crowd = TestScope::new(format!("acme-{unique}"), format!("crowd-{unique}"));
    let required: BTreeSet<String> = many.iter().cloned().collect();
    store
        .reset(&TestState::new(&crowd, required.clone(), 0, 1))
        .await
        .unwrap_or_else(|e| panic!("reset: {e:?}"));
    let calls = many
        .iter()
        .cycle()
        .take(64)
        .map(|region| store.add_region(&crowd, RegionMark::Ready, region));
    let results = futures_util::future::join_all(calls).await;
    assert!(
        results.iter().all(|r| matches!(r, Ok(RegionRecorded::Recorded(_)))),
        "{results:?}"
    );
    let state = store.get(&crowd).await.ok().flatten();
    assert_eq!(state.map(|s| s.ready_regions), Some(required), "every region, once");
}

/// Every behaviour a `StopSignal` must have, over the store that sets the stop: a test never reset, or reset
/// and not stopped, is not stopped; once stopped it is, in its home region; a reset clears it.
pub async fn stop_signal_contract(
    store: &dyn OrchestrationStore,
    signal: &dyn volley_core::ports::StopSignal,
    home_region: Option<&str>,
    unique: &str,
) {
    let test = TestScope::new(format!("acme-{unique}"), format!("stop-{unique}"));
    let stopped = || async {
        signal
            .stopped(&test, home_region)
            .await
            .unwrap_or_else(|e| panic!("stopped: {e:?}"))
    };
    assert!(!stopped().await, "a test never reset is not stopped");
    let fresh = TestState::new(&test, regions(&["eu-west-1"]), 0, 1);
    store.reset(&fresh).await.unwrap_or_else(|e| panic!("reset: {e:?}"));
    assert!(!stopped().await, "reset, not stopped");
    assert_eq!(store.stop(&test, 5).await.ok(), Some(true));
    assert!(stopped().await, "stopped");
    let other = TestScope::new(format!("globex-{unique}"), format!("stop-{unique}"));
    assert!(
        !signal
            .stopped(&other, home_region)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        "another organisation's test of the same id is not"
    );
    store.reset(&fresh).await.unwrap_or_else(|e| panic!("reset: {e:?}"));
    assert!(!stopped().await, "a reset clears the stop");

    // Stopped by an abort rule, through the signal: once, with its reason, which a reset clears too.
    let test_ref = &test;
    let because = |at: i64| async move {
        signal
            .stop_because(test_ref, home_region, at, "abort rule \"success<50%\" held")
            .await
            .unwrap_or_else(|e| panic!("stop_because: {e:?}"))
    };
    assert!(because(7).await, "the first stops it");
    assert!(!because(8).await, "a second does not");
    assert!(stopped().await);
    let state = store
        .get(&test)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{test}'s state"));
    assert_eq!(
        (state.stopped_at, state.stop_reason.as_deref()),
        (Some(7), Some("abort rule \"success<50%\" held"))
    );
    store.reset(&fresh).await.unwrap_or_else(|e| panic!("reset: {e:?}"));
    let state = store.get(&test).await.ok().flatten();
    assert_eq!(state.and_then(|s| s.stop_reason), None, "a reset clears the reason");
    let never = TestScope::new(format!("acme-{unique}"), format!("never-{unique}"));
    assert_eq!(
        signal.stop_because(&never, home_region, 9, "x").await.ok(),
        Some(false),
        "a test never reset has nothing to stop"
    );
}

/// `begin`: a test started from its plan is written once; a second start finds the first (its plan and
/// start), and a test only reset (no plan) may begin.
pub async fn begin_contract(store: &dyn OrchestrationStore, unique: &str) {
    let test = TestScope::new(format!("acme-{unique}"), format!("begin-{unique}"));
    store
        .reset(&TestState::new(&test, regions(&["eu-west-1"]), 0, 1))
        .await
        .unwrap_or_else(|e| panic!("reset: {e:?}"));
    let started = |start_at: i64, rate: u32| {
        let mut state = TestState::new(&test, regions(&["eu-west-1", "us-east-1"]), 0, 2);
        state.started = true;
        state.start_at = Some(start_at);
        state.plan = Some(serde_json::json!({"testId": test.test_id, "rate": rate}));
        state
    };
    let first = started(50_000, 10);
    assert_eq!(store.begin(&first).await.ok(), Some(None), "a reset test begins");
    assert_eq!(
        store.get(&test).await.ok().flatten(),
        Some(first.clone()),
        "read back whole"
    );
    assert_eq!(
        store.begin(&started(99_000, 20)).await.ok(),
        Some(Some(first.clone())),
        "a second start finds the first, unchanged"
    );
    let fresh = TestScope::new(format!("acme-{unique}"), format!("begin-fresh-{unique}"));
    let mut never_reset = started(7, 1);
    never_reset.test = fresh.clone();
    assert_eq!(
        store.begin(&never_reset).await.ok(),
        Some(None),
        "nor need it be reset first"
    );
}

/// Every behaviour a `CallBus` must have: calls are put, more than one request's worth (10) at once too.
/// (Not held here: that a bus which does not exist refuses. AWS answers such an entry with an error;
/// MiniStack 1.5.33 accepts it, so an over-the-wire suite cannot hold it.)
pub async fn call_bus_contract(bus: &dyn volley_core::ports::CallBus, region: Option<&str>, unique: &str) {
    use volley_core::model::call::UserCall;
    let calls: Vec<UserCall> = (0..12)
        .map(|i| {
            serde_json::from_value(serde_json::json!({
                "testId": format!("bus-{unique}"), "organisationId": "acme", "callId": format!("c{i}"),
                // Nowhere a worker may send: a contract puts events, it does not fire them.
                "request": {"url": "http://192.0.2.1/"}, "rate": 1, "duration": "1s"
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    bus.put(region, &[])
        .await
        .unwrap_or_else(|e| panic!("nothing to put: {e:?}"));
    bus.put(region, &calls)
        .await
        .unwrap_or_else(|e| panic!("12 calls, two requests: {e:?}"));
}

/// Every behaviour a `SegmentSchedules` must have: a schedule is made once (made again, it is kept),
/// deleted once.
pub async fn segment_schedules_contract(
    schedules: &dyn volley_core::ports::SegmentSchedules,
    target: &str,
    unique: &str,
) {
    let name = format!("contract-{unique}");
    // A day ahead: it never fires while the suite runs.
    let at = chrono::Utc::now().timestamp() + 86_400;
    let input = r#"{"type": "segment-start"}"#;
    for _ in 0..2 {
        schedules
            .create(&name, at, target, input)
            .await
            .unwrap_or_else(|e| panic!("create: {e:?}"));
    }
    assert_eq!(schedules.delete(&name).await.ok(), Some(true), "made, so deleted");
    assert_eq!(schedules.delete(&name).await.ok(), Some(false), "gone");
}

/// Every behaviour a `RunIndex` must have: newest first, by tag and shape, at most `limit`.
pub async fn run_index_contract(index: &dyn volley_core::ports::RunIndex, unique: &str) {
    use volley_core::ports::RunEntry;
    let tag = format!("tag-{unique}");
    let organisation = format!("acme-{unique}");
    let entry = |shape: &str, started_at: i64, id: &str| RunEntry {
        organisation_id: organisation.clone(),
        tag: tag.clone(),
        shape: shape.to_owned(),
        started_at,
        run_id: id.to_owned(),
        key: format!("runs/{id}.json"),
    };
    let shape = "suite=greeter|users=4|host=http://127.0.0.1:9/x";
    assert_eq!(
        index.latest(&organisation, &tag, shape, 5).await.ok(),
        Some(vec![]),
        "no runs yet"
    );
    for (at, id) in [(1_000, "a"), (3_000, "c"), (2_000, "b"), (999_000, "z")] {
        index
            .add(&entry(shape, at, id))
            .await
            .unwrap_or_else(|e| panic!("add: {e:?}"));
    }
    index
        .add(&entry(
            "suite=greeter|users=8|host=http://127.0.0.1:9/x",
            5_000,
            "other",
        ))
        .await
        .unwrap_or_else(|e| panic!("add: {e:?}"));
    let ids = |entries: Vec<RunEntry>| entries.into_iter().map(|e| e.run_id).collect::<Vec<_>>();
    assert_eq!(
        ids(index.latest(&organisation, &tag, shape, 3).await.unwrap_or_default()),
        ["z", "c", "b"],
        "newest first, limited"
    );
    assert_eq!(
        ids(index.latest(&organisation, &tag, shape, 1).await.unwrap_or_default()),
        ["z"]
    );
    assert_eq!(
        index
            .latest(&organisation, &tag, shape, 1)
            .await
            .ok()
            .map(|e| e[0].clone()),
        Some(entry(shape, 999_000, "z"))
    );
    assert_eq!(
        index
            .latest(&organisation, &format!("other-{unique}"), shape, 5)
            .await
            .ok(),
        Some(vec![]),
        "tags are apart"
    );
    assert_eq!(
        index.latest(&format!("globex-{unique}"), &tag, shape, 5).await.ok(),
        Some(vec![]),
        "organisations are apart: another's runs of the same tag are not its baseline"
    );
}

/// Every behaviour a `RunClaims` must have: a run id is run once per organisation, its answer found again,
/// a live claim said to be running, a dead one lost, and another request under the same id refused.
pub async fn run_claims_contract(claims: &dyn volley_core::ports::RunClaims, unique: &str) {
    use volley_core::ports::RunClaim;
    let org = format!("acme-{unique}");
    let claim = |org: String, run: &'static str, request: &'static str, now: i64| async move {
        claims
            .claim(&org, run, request, now, now + 900)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
    };
    assert_eq!(
        claim(org.clone(), "r1", "fp-a", 1_000).await,
        RunClaim::Fresh,
        "the first claim wins"
    );
    assert_eq!(
        claim(org.clone(), "r1", "fp-a", 1_001).await,
        RunClaim::Running { lease_until: 1_900 },
        "a retry within the lease finds it running"
    );
    assert_eq!(
        claim(org.clone(), "r1", "fp-b", 1_002).await,
        RunClaim::OtherRequest,
        "the same id for another request is refused"
    );
    assert_eq!(
        claim(format!("globex-{unique}"), "r1", "fp-b", 1_002).await,
        RunClaim::Fresh,
        "another organisation's run of the same id is its own"
    );
    claims
        .answered(&org, "r1", "run-answers/org=acme/r1.json")
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let answered = RunClaim::Answered {
        key: "run-answers/org=acme/r1.json".into(),
    };
    assert_eq!(
        claim(org.clone(), "r1", "fp-a", 1_003).await,
        answered,
        "a retry finds the answer"
    );
    assert_eq!(
        claim(org.clone(), "r1", "fp-a", 99_999).await,
        answered,
        "answered is final, lease or not"
    );
    assert_eq!(claim(org.clone(), "r2", "fp-a", 2_000).await, RunClaim::Fresh);
    assert_eq!(
        claim(org.clone(), "r2", "fp-a", 2_901).await,
        RunClaim::Lost,
        "a lease that passed with no answer: lost, never run again"
    );
    assert_eq!(claim(org, "r2", "fp-a", 2_902).await, RunClaim::Lost, "and stays lost");
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_orchestration_store_meets_the_contract() {
        let store = volley_core::adapters::memory::MemoryOrchestrationStore::new();
        super::orchestration_store_contract(&store, "x").await;
    }

    #[tokio::test]
    async fn memory_stop_signal_meets_the_contract() {
        let store = volley_core::adapters::memory::MemoryOrchestrationStore::new();
        super::stop_signal_contract(&store, &store, None, "x").await;
    }

    #[tokio::test]
    async fn memory_begin_meets_the_contract() {
        super::begin_contract(&volley_core::adapters::memory::MemoryOrchestrationStore::new(), "x").await;
    }

    #[tokio::test]
    async fn memory_call_bus_meets_the_contract() {
        let bus = volley_core::adapters::memory::MemoryCallBus::default();
        super::call_bus_contract(&bus, Some("eu-west-1"), "x").await;
        assert_eq!(bus.calls_in("eu-west-1").len(), 12);
    }

    #[tokio::test]
    async fn memory_segment_schedules_meet_the_contract() {
        let schedules = volley_core::adapters::memory::MemorySegmentSchedules::default();
        super::segment_schedules_contract(&schedules, "arn:aws:lambda:eu-west-1:000000000000:function:x", "x").await;
    }

    #[tokio::test]
    async fn memory_run_claims_meet_the_contract() {
        super::run_claims_contract(&volley_core::adapters::memory::MemoryRunClaims::default(), "x").await;
    }

    #[tokio::test]
    async fn memory_run_index_meets_the_contract() {
        super::run_index_contract(&volley_core::adapters::memory::MemoryRunIndex::default(), "x").await;
    }
}
