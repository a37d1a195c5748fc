//! The orchestrator over the wire in the local AWS emulator: 64 concurrent agg-record calls for 16 regions
//! leave all 16 recorded, the start flips exactly once, and every test-init caller gets the same timestamp;
//! twenty trials. Then the deployed function, invoked as a user would with `aws lambda invoke`.

use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use orchestrator::{Config, Deps, function_handler};
use serde_json::{Value, json};
use volley_core::adapters::dynamodb::orchestration::schema as orchestration_schema;
use volley_testkit::emulator;
use volley_testkit::fixtures;

/// The orchestrator's dependencies over an orchestration table made for this test alone.
async fn over_a_table_of_its_own() -> Arc<Deps> {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("orchestration-");
    fixtures::create_table(&config, &table, orchestration_schema::TEST_KEY, None).await;
    Arc::new(Deps::from_aws(
        &config,
        &Config {
            orchestration_table: table,
            // Neither is used by these requests.
            event_bus_name: "unused".into(),
            scheduler_role_arn: "arn:aws:iam::000000000000:role/unused".into(),
            schedule_prefix: "volley".into(),
            segment_lead: orchestrator::DEFAULT_SEGMENT_LEAD,
            start_lead: orchestrator::DEFAULT_START_LEAD,
        },
    ))
}

async fn call(deps: &Arc<Deps>, payload: Value) -> Value {
    function_handler(deps, LambdaEvent::new(payload.clone(), Context::default()))
        .await
        .unwrap_or_else(|e| panic!("{payload}: {e}"))
}

/// The region list is bounded: the most regions, with the longest names, all record and start over the
/// wire; one more is refused as a bad request before the table is touched (12,737 regions were once
/// accepted and the test could never start: each agg-record grew the item past DynamoDB's 400 KB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_regions_a_test_may_require_start_and_one_more_is_refused() {
    let deps = over_a_table_of_its_own().await;
    // 32 characters each, the longest a region name may be.
    let regions: Vec<String> = (1..=orchestrator::MAX_REGIONS + 1)
        .map(|i| format!("eu-{}-{i:02}", "a".repeat(26)))
        .collect();
    let test_id = emulator::unique("regions-");
    let too_many = json!({"type": "test-reset", "organisationId": "acme", "testId": test_id, "regions": regions});
    let refused = function_handler(&deps, LambdaEvent::new(too_many, Context::default()))
        .await
        .err();
    assert!(
        matches!(&refused, Some(orchestrator::OrchestratorError::BadRequest(m)) if m.contains("more than 64")),
        "{refused:?}"
    );
    let status = json!({"type": "status", "organisationId": "acme", "testId": test_id});
    let unknown = function_handler(&deps, LambdaEvent::new(status, Context::default()))
        .await
        .err();
    assert!(
        matches!(unknown, Some(orchestrator::OrchestratorError::UnknownTest(_))),
        "a refused reset stores nothing: {unknown:?}"
    );

    let regions = &regions[..orchestrator::MAX_REGIONS];
    call(
        &deps,
        json!({"type": "test-reset", "organisationId": "acme", "testId": test_id, "regions": regions, "bufferSeconds": 600}),
    )
    .await;
    let mut flips = 0;
    for region in regions {
        let answer = call(
            &deps,
            json!({"type": "agg-record", "organisationId": "acme", "testId": test_id, "region": region}),
        )
        .await;
        flips += usize::from(answer["flipped"] == true);
    }
    assert_eq!(flips, 1);
    let init = call(
        &deps,
        json!({"type": "test-init", "organisationId": "acme", "testId": test_id}),
    )
    .await;
    assert_eq!(init["state"], true, "{init}");
    for region in regions {
        call(
            &deps,
            json!({"type": "test-end", "organisationId": "acme", "testId": test_id, "region": region}),
        )
        .await;
    }
    let status = call(
        &deps,
        json!({"type": "status", "organisationId": "acme", "testId": test_id}),
    )
    .await;
    assert_eq!(status["completed"], true, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_records_for_sixteen_regions_start_once_with_one_timestamp() {
    let deps = over_a_table_of_its_own().await;
    let regions: Vec<String> = (1..=16).map(|i| format!("eu-trial-{i}")).collect();

    for trial in 0..20 {
        let test_id = emulator::unique(&format!("trial{trial}-"));
        call(
            &deps,
            json!({"type": "test-reset", "organisationId": "acme", "testId": test_id, "regions": regions, "bufferSeconds": 30}),
        )
        .await;
        let records: Vec<_> = regions
            .iter()
            .cycle()
            .take(64)
            .map(|region| {
                let (deps, payload) = (
                    deps.clone(),
                    json!({"type": "agg-record", "organisationId": "acme", "testId": test_id, "region": region}),
                );
                tokio::spawn(async move { call(&deps, payload).await })
            })
            .collect();
        let mut answers = Vec::new();
        for record in records {
            answers.push(record.await.unwrap_or_else(|e| panic!("{e}")));
        }
        let flips = answers.iter().filter(|a| a["flipped"] == true).count();
        assert_eq!(flips, 1, "trial {trial}: the start flips exactly once");

        let inits: Vec<_> = (0..64)
            .map(|_| {
                let (deps, payload) = (
                    deps.clone(),
                    json!({"type": "test-init", "organisationId": "acme", "testId": test_id}),
                );
                tokio::spawn(async move { call(&deps, payload).await })
            })
            .collect();
        let mut timestamps = std::collections::BTreeSet::new();
        for init in inits {
            let answer = init.await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(answer["state"], true, "trial {trial}: {answer}");
            timestamps.insert(answer["timestamp"].to_string());
        }
        assert_eq!(
            timestamps.len(),
            1,
            "trial {trial}: one timestamp for every caller: {timestamps:?}"
        );
        let flipped_at = answers
            .iter()
            .find(|a| a["flipped"] == true)
            .map(|a| a["timestamp"].to_string());
        assert_eq!(
            timestamps.first(),
            flipped_at.as_ref(),
            "trial {trial}: the flipping call's timestamp"
        );

        let status = call(
            &deps,
            json!({"type": "status", "organisationId": "acme", "testId": test_id}),
        )
        .await;
        let ready: Vec<String> = serde_json::from_value(status["readyRegions"].clone()).unwrap_or_default();
        let mut expected = regions.clone();
        expected.sort();
        assert_eq!(ready, expected, "trial {trial}: all 16 recorded");
    }
}

#[tokio::test]
async fn the_deployed_function_runs_a_two_region_start() {
    let config = emulator::sdk_config().await;
    let function = emulator::stack_output("OrchestratorFunctionName");
    let test_id = emulator::unique("deployed-orch-");
    let invoke = |payload: Value| {
        let (config, function) = (config.clone(), function.clone());
        async move { fixtures::invoke(&config, &function, &payload).await }
    };
    let reset = json!({"type": "test-reset", "organisationId": "acme", "testId": test_id, "regions": ["eu-west-1", "us-east-1"], "bufferSeconds": 5});
    invoke(reset).await.unwrap_or_else(|e| panic!("reset: {e}"));
    let first =
        invoke(json!({"type": "agg-record", "organisationId": "acme", "testId": test_id, "region": "eu-west-1"})).await;
    assert_eq!(first.ok().map(|a| a["state"].clone()), Some(json!(false)));
    let last =
        invoke(json!({"type": "agg-record", "organisationId": "acme", "testId": test_id, "region": "us-east-1"}))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(last["state"], true, "{last}");
    let init = invoke(json!({"type": "test-init", "organisationId": "acme", "testId": test_id}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(init, json!({"state": true, "timestamp": last["timestamp"]}));

    let refused =
        invoke(json!({"type": "agg-record", "organisationId": "acme", "testId": test_id, "region": "ap-south-1"}))
            .await
            .err()
            .unwrap_or_default();
    assert_eq!(refused["errorType"], "RegionNotRequired", "{refused}");
    let unknown = invoke(json!({"type": "launch", "organisationId": "acme", "testId": test_id}))
        .await
        .err()
        .unwrap_or_default();
    assert_eq!(unknown["errorType"], "BadRequest", "{unknown}");
}
