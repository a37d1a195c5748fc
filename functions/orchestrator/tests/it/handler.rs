//! The orchestrator's handler on the memory twin, driven by testdata/events/orchestrator: a two-region test
//! from reset to completion, and every bad payload refused naming what is wrong.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use orchestrator::{Deps, OrchestratorError, function_handler};
use serde_json::{Value, json};
use volley_core::adapters::memory::MemoryOrchestrationStore;
use volley_core::clock::FixedClock;

const NOW_MS: i64 = 1_795_430_000_000;

fn deps() -> Deps {
    Deps {
        store: Arc::new(MemoryOrchestrationStore::new()),
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
        ("unknown-type.json", "type: unknown variant `test-start`"),
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
