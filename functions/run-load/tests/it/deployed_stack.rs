//! The real run-load bootstrap in the local stack, invoked with a JSON payload as a user would with
//! `aws lambda invoke`, running the greeter suite against the deployed greeter through the emulator's API
//! Gateway, then again compared with the first run.

use serde_json::json;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::ports::ResultArchive;
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

/// A client that times out and retries (the AWS CLI's default read timeout is 60 s) sends the same request
/// again: with a `run_id`, the deployed function answers the first run's answer and runs nothing.
#[tokio::test]
async fn a_retried_run_id_runs_once() {
    let config = emulator::sdk_config().await;
    let function = emulator::stack_output("RunLoadFunctionName");
    let run_id = emulator::unique("retried-");
    let tag = emulator::unique("once-");
    let payload = json!({
        "suite": "greeter", "host": emulator::stack_output("GreeterLocalUrl"), "spawn_rate": 4, "users": 2,
        "spawned_runtime": "2s", "only_summary": true, "store": {"tags": [tag]}, "organisation_id": "acme",
        "run_id": run_id
    });
    let first = fixtures::invoke(&config, &function, &payload)
        .await
        .unwrap_or_else(|e| panic!("{function} failed: {e}"));
    assert_eq!(first["run_id"], run_id.as_str(), "{first}");
    let retried = fixtures::invoke(&config, &function, &payload)
        .await
        .unwrap_or_else(|e| panic!("{function} failed: {e}"));
    assert_eq!(
        retried, first,
        "the retry answers the first run's answer, field for field"
    );
    // Had it run again, a second run would be stored under the tag: an average over the tag finds one.
    let mut compare = payload.clone();
    if let Some(fields) = compare.as_object_mut() {
        fields.remove("run_id");
        fields.remove("store");
    }
    compare["compare"] = json!({"type": "average", "tag": tag, "load_limit": 10});
    let compared = fixtures::invoke(&config, &function, &compare)
        .await
        .unwrap_or_else(|e| panic!("{function} failed: {e}"));
    assert_eq!(
        compared["baseline"]["runs"],
        json!([run_id]),
        "one run stored under the tag: {compared}"
    );

    let mut other = payload.clone();
    other["users"] = 3.into();
    let reused = fixtures::invoke(&config, &function, &other)
        .await
        .err()
        .unwrap_or_else(|| panic!("the same run_id for another request is refused"));
    assert_eq!(reused["errorType"], "RunIdReused", "{reused}");
}

/// A suite of an organisation's own, stored in the results bucket with a CSV file beside it: the deployed
/// function reads both and sends each row's values (the greeter then knows every row's user).
#[tokio::test]
async fn the_deployed_function_runs_a_stored_suite_fed_from_its_csv() {
    let config = emulator::sdk_config().await;
    let function = emulator::stack_output("RunLoadFunctionName");
    let greeter = emulator::stack_output("GreeterLocalUrl");
    let archive = S3ResultArchive::new(&config, emulator::stack_output("ResultsBucketName"));
    let folder = format!("suites/acme/{}", emulator::unique("feeder-"));
    let names: Vec<String> = (0..4).map(|_| emulator::unique("Row")).collect();
    let csv: String = std::iter::once("name,born\n".to_owned())
        .chain(names.iter().map(|n| format!("{n},1990-01-05\n")))
        .collect();
    let suite = include_str!("../../../../testdata/suites/people.toml");
    for (file, text) in [("suite.toml", suite.to_owned()), ("people.csv", csv)] {
        archive
            .put(&format!("{folder}/{file}"), text.into_bytes())
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
    let answer = fixtures::invoke(
        &config,
        &function,
        &json!({"suite": format!("{folder}/suite.toml"), "host": greeter, "spawn_rate": 4, "users": 2,
                "spawned_runtime": "2s", "only_summary": true, "organisation_id": "acme"}),
    )
    .await
    .unwrap_or_else(|e| panic!("{function} failed: {e}"));
    assert_eq!(answer["result"], "success", "{answer}");
    for name in &names {
        let status = reqwest::get(format!("{greeter}/hello/{name}"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or_default();
        assert_eq!(status, 200, "{name}'s row was sent");
    }
    let refused = fixtures::invoke(
        &config,
        &function,
        &json!({"suite": "suites/globex/x.toml", "host": greeter, "spawn_rate": 4, "users": 2,
                "spawned_runtime": "2s", "organisation_id": "acme"}),
    )
    .await
    .err()
    .unwrap_or_default();
    assert_eq!(refused["errorType"], "InvalidSuite", "{refused}");
}
