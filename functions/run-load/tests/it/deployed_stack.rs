//! The real run-load bootstrap in the local stack, invoked with a JSON payload as a user would with
//! `aws lambda invoke`, running the greeter suite against the deployed greeter through the emulator's API
//! Gateway, then again compared with the first run.

use serde_json::json;
use volley_testkit::emulator;
use volley_testkit::fixtures;

#[tokio::test]
async fn the_deployed_function_runs_the_greeter_suite_and_compares() {
    let config = emulator::sdk_config().await;
    let function = emulator::stack_output("RunLoadFunctionName");
    let host = emulator::stack_output("GreeterLocalUrl");
    let tag = emulator::unique("deployed-");
    let payload = json!({
        "suite": "greeter", "host": host, "spawn_rate": 4, "users": 2, "spawned_runtime": "3s",
        "only_summary": false, "compare": {"type": "previous", "tag": tag}, "store": {"tags": [tag]},
        "organisation_id": "acme"
    });
    let first = fixtures::invoke(&config, &function, &payload)
        .await
        .unwrap_or_else(|e| panic!("{function} failed: {e}"));
    assert_eq!(first["result"], "success", "{first}");
    assert!(
        first["message"].as_str().is_some_and(|m| m.contains("no baseline")),
        "{first}"
    );
    assert!(
        first["summary"]["total"]["requests"].as_u64().unwrap_or(0) > 5,
        "{first}"
    );
    assert_eq!(first["summary"]["total"]["failures"], 0, "{first}");

    let second = fixtures::invoke(&config, &function, &payload)
        .await
        .unwrap_or_else(|e| panic!("{function} failed: {e}"));
    assert_eq!(
        second["baseline"]["runs"][0], first["run_id"],
        "compared with the first run: {second}"
    );

    let bad = fixtures::invoke(
        &config,
        &function,
        &json!({"suite": "greeter", "host": host, "spawn_rate": 1, "users": -1, "spawned_runtime": "1s"}),
    )
    .await
    .err()
    .unwrap_or_default();
    assert_eq!(bad["errorType"], "BadRequest", "{bad}");
}
