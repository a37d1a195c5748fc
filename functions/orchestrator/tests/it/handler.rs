//! The orchestrator's handler on the memory twin, driven by testdata/events/orchestrator: a two-region test
//! from reset to completion, and every bad payload refused naming what is wrong.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use orchestrator::{Deps, OrchestratorError, function_handler};
use serde_json::{Value, json};
use volley_core::adapters::memory::{MemoryCallBus, MemoryOrchestrationStore, MemorySegmentSchedules};
use volley_core::clock::FixedClock;

const NOW_MS: i64 = 1_795_430_000_000;

fn deps() -> Deps {
    with(Arc::default(), Arc::default())
}

/// Deps whose bus and schedules the test holds.
fn with(bus: Arc<MemoryCallBus>, schedules: Arc<MemorySegmentSchedules>) -> Deps {
    Deps {
        store: Arc::new(MemoryOrchestrationStore::new()),
        bus,
        schedules,
        schedule_prefix: "volley".into(),
        segment_lead: std::time::Duration::from_secs(20),
        start_lead: std::time::Duration::from_secs(20),
        clock: Arc::new(FixedClock(
            DateTime::<Utc>::from_timestamp_millis(NOW_MS).unwrap_or_default(),
        )),
    }
}

fn payload(name: &str) -> Value {
    let path = format!(
        "{}/../../testdata/events/orchestrator/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn call(deps: &Deps, name: &str) -> Result<Value, OrchestratorError> {
    function_handler(deps, LambdaEvent::new(payload(name), Context::default())).await
}

async fn ok(deps: &Deps, name: &str) -> Value {
    call(deps, name).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test]
async fn a_two_region_test_starts_once_at_now_plus_the_buffer_and_completes() {
    let deps = deps();
    let reset = ok(&deps, "test-reset.json").await;
    assert_eq!(reset["requiredRegions"], json!(["eu-west-1", "us-east-1"]));
    assert_eq!(reset["started"], false);

    assert_eq!(
        ok(&deps, "test-init.json").await,
        json!({"state": false, "timestamp": null})
    );
    let first = ok(&deps, "agg-record-eu-west-1.json").await;
    assert_eq!(
        (first["state"].clone(), first["flipped"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(first["readyRegions"], json!(["eu-west-1"]));

    let last = ok(&deps, "agg-record-us-east-1.json").await;
    let start = NOW_MS + 100_000;
    assert_eq!(
        (last["state"].clone(), last["timestamp"].clone()),
        (json!(true), json!(start))
    );
    assert_eq!(
        last["flipped"], true,
        "the record that completed the set flipped the start"
    );
    let again = ok(&deps, "agg-record-eu-west-1.json").await;
    assert_eq!(
        (again["flipped"].clone(), again["timestamp"].clone()),
        (json!(false), json!(start))
    );
    assert_eq!(
        ok(&deps, "test-init.json").await,
        json!({"state": true, "timestamp": start})
    );

    let one = ok(&deps, "test-end-eu-west-1.json").await;
    assert_eq!(
        (one["allDone"].clone(), one["completedRegions"].clone()),
        (json!(false), json!(["eu-west-1"]))
    );
    let both = ok(&deps, "test-end-us-east-1.json").await;
    assert_eq!(
        (both["allDone"].clone(), both["completedAt"].clone()),
        (json!(true), json!(NOW_MS))
    );
    let status = ok(&deps, "status.json").await;
    assert_eq!(
        (status["completed"].clone(), status["startAt"].clone()),
        (json!(true), json!(start))
    );

    let cleared = ok(&deps, "test-reset.json").await;
    assert_eq!(
        (cleared["started"].clone(), cleared["readyRegions"].clone()),
        (json!(false), json!([]))
    );
    assert_eq!(
        ok(&deps, "test-init.json").await,
        json!({"state": false, "timestamp": null}),
        "a reset clears"
    );
}

/// A stop flips once, at now, and a second answers the first's time; an unknown test is refused; a reset
/// clears it.
#[tokio::test]
async fn a_test_stops_once_and_a_reset_clears_the_stop() {
    let deps = deps();
    let unknown = call(&deps, "test-stop.json").await;
    assert!(matches!(unknown, Err(OrchestratorError::UnknownTest(_))), "{unknown:?}");
    ok(&deps, "test-reset.json").await;
    let first = ok(&deps, "test-stop.json").await;
    assert_eq!(
        (
            first["stopped"].clone(),
            first["stoppedAt"].clone(),
            first["stoppedNow"].clone()
        ),
        (json!(true), json!(NOW_MS), json!(true))
    );
    let again = ok(&deps, "test-stop.json").await;
    assert_eq!(
        (again["stoppedAt"].clone(), again["stoppedNow"].clone()),
        (json!(NOW_MS), json!(false))
    );
    assert_eq!(ok(&deps, "status.json").await["stopped"], json!(true));
    ok(&deps, "test-reset.json").await;
    assert_eq!(ok(&deps, "status.json").await["stopped"], json!(false));
}

#[tokio::test]
async fn the_buffer_defaults_to_100_seconds() {
    let deps = deps();
    let reset = json!({"type": "test-reset", "organisationId": "acme", "testId": "t", "regions": ["eu-west-1"]});
    function_handler(&deps, LambdaEvent::new(reset, Context::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let record = json!({"type": "agg-record", "organisationId": "acme", "testId": "t", "region": "eu-west-1"});
    let answer = function_handler(&deps, LambdaEvent::new(record, Context::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["timestamp"], NOW_MS + 100_000);
}

#[tokio::test]
async fn a_test_of_the_most_regions_and_the_longest_buffer_starts_once_all_are_ready() {
    let deps = deps();
    let reset = ok(&deps, "test-reset-with-64-regions.json").await;
    let regions: Vec<String> = serde_json::from_value(reset["requiredRegions"].clone()).unwrap_or_default();
    assert_eq!(regions.len(), orchestrator::MAX_REGIONS);
    let mut last = Value::Null;
    for region in &regions {
        let record =
            json!({"type": "agg-record", "organisationId": "acme", "testId": "checkout-load", "region": region});
        last = function_handler(&deps, LambdaEvent::new(record, Context::default()))
            .await
            .unwrap_or_else(|e| panic!("{region}: {e}"));
    }
    assert_eq!(
        (last["flipped"].clone(), last["timestamp"].clone()),
        (json!(true), json!(NOW_MS + 600_000))
    );
}

#[tokio::test]
async fn bad_payloads_are_refused_naming_what_is_wrong() {
    let deps = deps();
    for (name, needle) in [
        ("unknown-type.json", "type: unknown variant `test-pause`"),
        ("agg-record-without-region.json", "region: missing field `region`"),
        ("test-reset-without-regions.json", "regions: name at least one region"),
        (
            "test-reset-with-bad-region.json",
            "regions[1]: \"Mars\" is not a region name",
        ),
        ("test-init-with-bad-test-id.json", "testId: \"checkout load\""),
        ("status-with-unknown-field.json", "verbose: unknown field `verbose`"),
        ("test-reset-with-unknown-field.json", "buffer: unknown field `buffer`"),
        (
            "test-reset-with-too-many-regions.json",
            "regions: 65 regions is more than 64, the most a test may require",
        ),
        (
            "test-reset-with-buffer-beyond-a-workers-reach.json",
            "bufferSeconds: 3600 is more than 600",
        ),
    ] {
        let error = call(&deps, name).await.err();
        assert!(
            matches!(&error, Some(OrchestratorError::BadRequest(m)) if m.contains(needle)),
            "{name}: {error:?} should say {needle:?}"
        );
    }
    let unknown = call(&deps, "test-init.json").await.err();
    assert!(
        matches!(&unknown, Some(OrchestratorError::UnknownTest(t)) if t.test_id == "checkout-load" && t.organisation_id == "acme"),
        "{unknown:?}"
    );
    let unknown = call(&deps, "agg-record-eu-west-1.json").await.err();
    assert!(
        matches!(unknown, Some(OrchestratorError::UnknownTest(_))),
        "{unknown:?}"
    );

    ok(&deps, "test-reset.json").await;
    let refused = call(&deps, "agg-record-region-not-required.json").await.err();
    let message = refused.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        matches!(refused, Some(OrchestratorError::RegionNotRequired { .. }))
            && message.contains("\"ap-south-1\" is not one test \"checkout-load\" of organisation \"acme\" requires (eu-west-1, us-east-1)"),
        "{message}"
    );
    let status = ok(&deps, "status.json").await;
    assert_eq!(status["readyRegions"], json!([]), "a refused region changes nothing");

    let not_an_object = function_handler(&deps, LambdaEvent::new(json!([1]), Context::default()))
        .await
        .err();
    assert!(matches!(not_an_object, Some(OrchestratorError::BadRequest(_))));
    let no_type = function_handler(&deps, LambdaEvent::new(json!({"testId": "t"}), Context::default()))
        .await
        .err();
    assert!(no_type.is_some_and(|e| e.to_string().contains("type is missing")));
}

/// `test-start`: a 40 s plan in 15 s segments, 3 workers, with a lead of 20 s. The first segment is due
/// within the lead, so its calls are put now; the other two get one-time schedules, each 20 s before its
/// segment, invoking this function with its `segment-start`. That puts exactly the plan's calls of the
/// segment, made again from the stored plan and start; a stop deletes the schedules, and a segment of a
/// stopped test puts nothing.
#[tokio::test]
async fn a_plan_starts_its_first_segment_now_and_schedules_the_others_which_a_stop_deletes() {
    use volley_core::model::plan::{TestPlan, ValidPlan};
    let (bus, schedules) = (
        Arc::new(MemoryCallBus::default()),
        Arc::new(MemorySegmentSchedules::default()),
    );
    let deps = with(bus.clone(), schedules.clone());
    let mut context = Context::default();
    context.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:volley-orchestrator".into();
    let start = |payload: Value| function_handler(&deps, LambdaEvent::new(payload, context.clone()));
    let started = start(payload("test-start.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let start_ms = NOW_MS + 20_000;
    assert_eq!(
        (
            started["calls"].clone(),
            started["segments"].clone(),
            started["put"].clone()
        ),
        (json!(9), json!(3), json!([0]))
    );
    assert_eq!(
        (started["started"].clone(), started["startAt"].clone()),
        (json!(true), json!(start_ms))
    );
    let scheduled: Vec<(String, i64)> = serde_json::from_value(started["scheduled"].clone()).unwrap_or_default();
    assert_eq!(
        scheduled.iter().map(|(_, at)| *at).collect::<Vec<_>>(),
        vec![start_ms / 1000 + 15 - 20, start_ms / 1000 + 30 - 20],
        "each 20 s before its segment"
    );
    // What the plan's fleet is, from the same start: the calls put must be exactly its.
    let plan: TestPlan =
        serde_json::from_value(payload("test-start.json")["plan"].clone()).unwrap_or_else(|e| panic!("{e}"));
    let valid: ValidPlan = plan.validate().unwrap_or_else(|e| panic!("{e}"));
    let fleet = valid
        .fleet(std::time::UNIX_EPOCH + std::time::Duration::from_millis(start_ms as u64))
        .unwrap_or_else(|e| panic!("{e}"));
    let segment = |k: usize, region: &str| -> Vec<_> {
        fleet
            .calls
            .iter()
            .filter(|c| c.segment == k && c.region == region)
            .map(|c| c.call.clone())
            .collect()
    };
    for region in ["eu-west-1", "us-east-1"] {
        assert_eq!(
            bus.calls_in(region),
            segment(0, region),
            "segment 0 put now on {region}'s bus"
        );
        assert!(
            bus.calls_in(region).iter().all(|c| c.abort.len() == 1),
            "the rules go with the calls"
        );
    }
    // Each schedule invokes this function with its segment-start.
    let made = schedules.schedules.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(made.len(), 2);
    let (name, first) = made
        .iter()
        .find(|(_, s)| s.at == scheduled[0].1)
        .unwrap_or_else(|| panic!("{made:?}"));
    assert!(
        name.starts_with("volley-") && name.ends_with("-s1") && name.len() <= 64,
        "{name}"
    );
    assert_eq!(first.target, context.invoked_function_arn);
    let input: Value = serde_json::from_str(&first.input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(input, payload("segment-start.json"));

    // The schedule fires: segment 1's calls, exactly the fleet's.
    let fired = start(input).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (fired["put"].clone(), fired["stopped"].clone()),
        (json!(3), json!(false))
    );
    for region in ["eu-west-1", "us-east-1"] {
        let mut expected = segment(0, region);
        expected.extend(segment(1, region));
        assert_eq!(bus.calls_in(region), expected, "segment 1 on {region}'s bus");
    }
    // A stop deletes the schedules; a segment that starts anyway puts nothing.
    let stopped = start(payload("test-stop-checkout.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stopped["schedulesDeleted"], json!(2));
    assert!(schedules.schedules.lock().unwrap_or_else(|e| e.into_inner()).is_empty());
    let late = start(
        json!({"type": "segment-start", "organisationId": "acme", "testId": "checkout-2026-12-01", "segment": 2}),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((late["put"].clone(), late["stopped"].clone()), (json!(0), json!(true)));
    assert_eq!(bus.calls_in("eu-west-1").len() + bus.calls_in("us-east-1").len(), 6);
}

/// The local stack's leads: the test starts 5 s after `test-start`, and a segment is put 20 s before it is
/// due. The same plan's second segment, due 20 s from now, is put at once with the first; only the third
/// gets a schedule, 20 s before it.
#[tokio::test]
async fn a_start_lead_shorter_than_the_segment_lead_starts_sooner_and_puts_what_is_due_within_the_lead() {
    let (bus, schedules) = (
        Arc::new(MemoryCallBus::default()),
        Arc::new(MemorySegmentSchedules::default()),
    );
    let deps = Deps {
        start_lead: std::time::Duration::from_secs(5),
        ..with(bus.clone(), schedules.clone())
    };
    let started = ok(&deps, "test-start.json").await;
    let start_ms = NOW_MS + 5_000;
    assert_eq!(
        (started["startAt"].clone(), started["put"].clone()),
        (json!(start_ms), json!([0, 1]))
    );
    let scheduled: Vec<(String, i64)> = serde_json::from_value(started["scheduled"].clone()).unwrap_or_default();
    assert_eq!(
        scheduled.iter().map(|(_, at)| *at).collect::<Vec<_>>(),
        vec![start_ms / 1000 + 30 - 20]
    );
    let segments: std::collections::BTreeSet<_> = ["eu-west-1", "us-east-1"]
        .iter()
        .flat_map(|r| bus.calls_in(r))
        .map(|c| c.call_id.rsplit('.').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        segments,
        ["s0", "s1"].map(String::from).into(),
        "segments 0 and 1 put now"
    );
}

/// `START_LEAD` is from 2 s to the `SEGMENT_LEAD`, 15 s when unset (or the segment lead, if that is less);
/// `SEGMENT_LEAD` at most 1 min 55 s.
#[test]
fn the_leads_are_read_within_their_bounds() {
    let read = |pairs: &[(&str, &str)]| {
        let mut env: std::collections::BTreeMap<String, String> = [
            ("ORCHESTRATION_TABLE", "t"),
            ("EVENT_BUS_NAME", "b"),
            ("SCHEDULER_ROLE_ARN", "arn:aws:iam::000000000000:role/r"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        env.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        orchestrator::Config::from_reader(&mut volley_core::config::EnvReader::from_map(env))
            .map(|c| (c.segment_lead.as_secs(), c.start_lead.as_secs()))
            .map_err(|e| e.to_string())
    };
    assert_eq!(read(&[]), Ok((90, 15)));
    assert_eq!(read(&[("SEGMENT_LEAD", "20s"), ("START_LEAD", "5s")]), Ok((20, 5)));
    assert_eq!(read(&[("SEGMENT_LEAD", "15s")]), Ok((15, 15)));
    assert_eq!(read(&[("SEGMENT_LEAD", "115s")]), Ok((115, 15)));
    for bad in [
        vec![("SEGMENT_LEAD", "2m")],
        vec![("START_LEAD", "1s")],
        vec![("SEGMENT_LEAD", "20s"), ("START_LEAD", "21s")],
    ] {
        let refused = read(&bad).err().unwrap_or_default();
        assert!(refused.contains(bad[bad.len() - 1].0), "{bad:?}: {refused}");
    }
}

/// A plan that does not read is refused naming its field under `plan`, with nothing stored or put; a bus
/// that is down fails the start, and its retry carries on from the first start; another plan under the
/// same test id is refused.
#[tokio::test]
async fn a_bad_plan_is_refused_naming_its_field_and_a_bus_that_is_down_fails_the_start() {
    let (bus, schedules) = (
        Arc::new(MemoryCallBus::default()),
        Arc::new(MemorySegmentSchedules::default()),
    );
    let deps = with(bus.clone(), schedules.clone());
    let refused = call(&deps, "test-start-with-bad-rate.json").await.err();
    assert!(
        matches!(&refused, Some(OrchestratorError::BadRequest(m)) if m.starts_with("plan.rate")),
        "{refused:?}"
    );
    assert!(bus.put.lock().unwrap_or_else(|e| e.into_inner()).is_empty());
    let unknown = call(&deps, "segment-start.json").await.err();
    assert!(
        matches!(unknown, Some(OrchestratorError::UnknownTest(_))),
        "{unknown:?}"
    );
    bus.failing.store(true, std::sync::atomic::Ordering::Relaxed);
    let down = call(&deps, "test-start.json").await.err();
    assert!(matches!(down, Some(OrchestratorError::Aws { .. })), "{down:?}");
    // Retried 5 s later with the same plan once the bus is back: it carries on from the first start, with
    // the schedules it made (kept, not made twice) and the calls due now put.
    bus.failing.store(false, std::sync::atomic::Ordering::Relaxed);
    let later = Deps {
        clock: Arc::new(FixedClock(
            DateTime::<Utc>::from_timestamp_millis(NOW_MS + 5_000).unwrap_or_default(),
        )),
        ..deps.clone()
    };
    let retried = ok(&later, "test-start.json").await;
    assert_eq!(retried["startAt"], json!(NOW_MS + 20_000), "the first start's");
    assert_eq!(schedules.schedules.lock().unwrap_or_else(|e| e.into_inner()).len(), 2);
    assert_eq!(bus.calls_in("eu-west-1").len() + bus.calls_in("us-east-1").len(), 3);
    // Another plan under the same test id is refused.
    let mut other = payload("test-start.json");
    other["plan"]["rate"] = json!(30);
    let refused = function_handler(&later, LambdaEvent::new(other, Context::default()))
        .await
        .err();
    assert!(
        matches!(refused, Some(OrchestratorError::AlreadyStarted(_))),
        "{refused:?}"
    );
}
