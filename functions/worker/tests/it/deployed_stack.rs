//! The deployed topology in the local AWS emulator, over the wire: `User Call` events put on the real bus
//! run the real worker bootstrap, whose results the real archiver bootstrap stores in S3, CloudWatch and
//! DynamoDB. The target is the deployed greeter, through the emulator's API Gateway (the local stack's
//! allow-list admits the emulator's address). `make stack-deploy` deploys and writes the outputs read here.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use volley_core::adapters::dynamodb::metrics::DynamoSavedMetrics;
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::adapters::sqs::SqsResultQueue;
use volley_core::model::result::{CallResult, ResultMessage, archive_key};
use volley_core::model::saved_metrics::Series;
use volley_core::model::scope::TestScope;
use volley_core::ports::{ResultArchive, ResultLedger, ResultQueue, SavedMetricsStore, TestCounters};
use volley_engine::load::attack::Progress;
use volley_engine::load::engine;
use volley_testkit::emulator;
use volley_testkit::fixtures;
use volley_testkit::target::get_attack;

use volley_testkit::emulator::eventually;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Stores a user in the deployed greeter, so GETs for it answer 200; answers the GET URL.
async fn greeter_user(greeter: &str) -> String {
    let user = emulator::unique("Load");
    let url = format!("{greeter}/hello/{user}");
    let status = reqwest::Client::new()
        .put(&url)
        .header("content-type", "application/json")
        .body(r#"{"dateOfBirth": "1990-01-05"}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"))
        .status();
    assert_eq!(status.as_u16(), 204, "PUT {url}");
    url
}

fn call(test_id: &str, call_id: &str, url: &str, rate: u32, seconds: u32) -> serde_json::Value {
    org_call("acme", test_id, call_id, url, rate, seconds)
}

fn org_call(organisation: &str, test_id: &str, call_id: &str, url: &str, rate: u32, seconds: u32) -> serde_json::Value {
    serde_json::json!({
        "testId": test_id, "organisationId": organisation, "callId": call_id,
        "request": {"method": "GET", "url": url, "headers": {"accept": "application/json"}},
        "rate": rate, "duration": format!("{seconds}s"), "timeout": "10s", "region": "local"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_call_on_the_bus_is_fired_archived_measured_and_counted_once() {
    let config = emulator::sdk_config().await;
    let url = greeter_user(&emulator::stack_output("GreeterLocalUrl")).await;
    let test_id = emulator::unique("wire-");
    let call_id = format!("{test_id}-a");
    let started = now();
    let detail = call(&test_id, &call_id, &url, 10, 3);
    fixtures::put_user_call(&config, &emulator::stack_output("EventBusName"), &detail).await;

    // The full result, in S3 at its deterministic key.
    let archive = S3ResultArchive::new(&config, emulator::stack_output("ResultsBucketName"));
    let key = archive_key("acme", &test_id, &call_id);
    let stored = eventually("the archived result in S3", Duration::from_secs(90), || {
        let archive = archive.clone();
        let key = key.clone();
        async move { archive.get(&key).await.ok().flatten() }
    })
    .await;
    let result: CallResult = serde_json::from_slice(&stored).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(result.report.total.requests, 30);
    assert_eq!(
        result.report.total.statuses.get(&200),
        Some(&30),
        "{:?}",
        result.report.total
    );

    // Live counters in DynamoDB.
    let ledger = DynamoResultLedger::new(
        &config,
        emulator::stack_output("CallsTableName"),
        emulator::stack_output("TestsTableName"),
    );
    let test = TestScope::new("acme", &test_id);
    let counters = ledger
        .counters(&test)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no counters for {test_id}"));
    assert_eq!(
        (counters.requests, counters.errors, counters.results_archived),
        (30, 0, 1)
    );

    // 1-second metrics in CloudWatch: p99 of ResponseTime at a 1 s period.
    let p99 = eventually("ResponseTime p99 in CloudWatch", Duration::from_secs(30), || {
        let config = config.clone();
        let test = test.clone();
        async move {
            let points = fixtures::response_time(&config, &test, Some("local"), "p99", started - 10, now() + 10).await;
            (!points.is_empty()).then_some(points)
        }
    })
    .await;
    assert!(
        (3..=4).contains(&p99.len()),
        "one point per second of the 3 s call: {p99:?}"
    );
    assert!(p99.iter().all(|(_, ms)| *ms > 0.0 && *ms < 10_000.0), "{p99:?}");

    // A duplicate delivery of the same event runs nothing, and the same result delivered twice to the
    // archiver is counted once.
    fixtures::put_user_call(&config, &emulator::stack_output("EventBusName"), &detail).await;
    let queue = SqsResultQueue::new(&config, emulator::stack_output("ResultsQueueUrl"));
    queue
        .send(ResultMessage::Inline(Box::new(result)).to_json().unwrap_or_default())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    tokio::time::sleep(Duration::from_secs(8)).await;
    let again: TestCounters = ledger
        .counters(&test)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| TestCounters::new(test.clone()));
    assert_eq!(
        (again.requests, again.results_archived),
        (30, 1),
        "counted once: {again:?}"
    );
}

/// Two organisations that choose the same test id and the same call id run two tests: both calls fire (a
/// claim is the organisation's), and each is counted, measured and saved in its own organisation's test:
/// the archive, the live counters, CloudWatch's series, the metrics-saver's saved seconds and the
/// orchestrator's start state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organisations_with_the_same_test_and_call_ids_both_fire_and_are_counted_apart_everywhere() {
    let config = emulator::sdk_config().await;
    let url = greeter_user(&emulator::stack_output("GreeterLocalUrl")).await;
    let test_id = emulator::unique("orgs-");
    let call_id = format!("{test_id}-a");
    let started = now();
    // Different rates, so each organisation's numbers are told apart: 10 a second and 5 a second for 2 s.
    let organisations = [("acme", 10, 20), ("globex", 5, 10)];
    let bus = emulator::stack_output("EventBusName");
    for (organisation, rate, _) in organisations {
        fixtures::put_user_call(
            &config,
            &bus,
            &org_call(organisation, &test_id, &call_id, &url, rate, 2),
        )
        .await;
    }

    let archive = S3ResultArchive::new(&config, emulator::stack_output("ResultsBucketName"));
    let ledger = DynamoResultLedger::new(
        &config,
        emulator::stack_output("CallsTableName"),
        emulator::stack_output("TestsTableName"),
    );
    for (organisation, _, requests) in organisations {
        let key = archive_key(organisation, &test_id, &call_id);
        let stored = eventually(
            &format!("{organisation}'s result in S3"),
            Duration::from_secs(90),
            || {
                let archive = archive.clone();
                let key = key.clone();
                async move { archive.get(&key).await.ok().flatten() }
            },
        )
        .await;
        let result: CallResult = serde_json::from_slice(&stored).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (result.organisation_id.as_str(), result.report.total.requests),
            (organisation, requests),
            "{organisation}'s call fired, at its own rate"
        );
        let test = TestScope::new(organisation, &test_id);
        let counters = eventually(&format!("{organisation}'s counters"), Duration::from_secs(30), || {
            let (ledger, test) = (ledger.clone(), test.clone());
            async move { ledger.counters(&test).await.ok().flatten() }
        })
        .await;
        assert_eq!(
            (counters.requests, counters.results_archived, counters.calls_lost),
            (requests, 1, 0),
            "{organisation}'s counters hold its own call only"
        );
        let sum = eventually(
            &format!("{organisation}'s Requests in CloudWatch"),
            Duration::from_secs(30),
            || {
                let (config, test) = (config.clone(), test.clone());
                async move {
                    let points = fixtures::metric(
                        &config,
                        &test,
                        Some("local"),
                        "Requests",
                        "Sum",
                        started - 10,
                        now() + 10,
                    )
                    .await;
                    let sum: f64 = points.iter().map(|(_, v)| v).sum();
                    (sum >= requests as f64).then_some(sum)
                }
            },
        )
        .await;
        assert_eq!(
            sum, requests as f64,
            "{organisation}'s series holds its own requests only"
        );
    }

    // The metrics-saver saves each organisation's test as its own series.
    let (from, to) = (started - 5, now() + 1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let saved = DynamoSavedMetrics::new(&config, emulator::stack_output("MetricsTableName"));
    for (organisation, _, requests) in organisations {
        let answer = fixtures::invoke(
            &config,
            &emulator::stack_output("MetricsSaverFunctionName"),
            &serde_json::json!({"organisationId": organisation, "testId": test_id, "from": from, "to": to}),
        )
        .await
        .unwrap_or_else(|e| panic!("{organisation}'s window: {e:?}"));
        assert_eq!(answer["organisationId"], organisation, "{answer}");
        let test = TestScope::new(organisation, &test_id);
        let seconds = saved
            .read(&Series::new(&test, Some("local")), 0, i64::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            seconds.iter().map(|s| s.requests).sum::<u64>(),
            requests,
            "{organisation}'s saved seconds hold its own requests only: {seconds:?}"
        );
    }

    // The orchestrator keeps each organisation's start state apart.
    let orchestrator = emulator::stack_output("OrchestratorFunctionName");
    for (organisation, region) in [("acme", "eu-west-1"), ("globex", "us-east-1")] {
        fixtures::invoke(
            &config,
            &orchestrator,
            &serde_json::json!({"type": "test-reset", "organisationId": organisation, "testId": test_id,
                                "regions": [region]}),
        )
        .await
        .unwrap_or_else(|e| panic!("{organisation}'s reset: {e:?}"));
    }
    for (organisation, region) in [("acme", "eu-west-1"), ("globex", "us-east-1")] {
        let status = fixtures::invoke(
            &config,
            &orchestrator,
            &serde_json::json!({"type": "status", "organisationId": organisation, "testId": test_id}),
        )
        .await
        .unwrap_or_else(|e| panic!("{organisation}'s status: {e:?}"));
        assert_eq!(
            (status["organisationId"].as_str(), status["requiredRegions"].clone()),
            (Some(organisation), serde_json::json!([region])),
            "{status}"
        );
    }
}

/// A real result, measured here against the deployed greeter.
async fn real_result(test_id: &str, call_id: &str, url: &str) -> CallResult {
    let parsed: url::Url = url.parse().unwrap_or_else(|e| panic!("{e}"));
    let port = parsed.port().unwrap_or(80);
    let address = format!("127.0.0.1:{port}").parse().unwrap_or_else(|e| panic!("{e}"));
    let attack = get_attack(address, url, 5.0, 1, 5);
    let report = engine::run(&attack, Arc::new(Progress::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    CallResult {
        test_id: test_id.into(),
        organisation_id: "acme".into(),
        call_id: call_id.into(),
        region: None,
        url: url.into(),
        addresses: vec![address],
        report,
        chunked: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_reaches_the_dead_letter_queue_while_its_batch_mates_are_archived() {
    let config = emulator::sdk_config().await;
    let url = greeter_user(&emulator::stack_output("GreeterLocalUrl")).await;
    // A queue of this test's own into the deployed archiver, with a 1 s visibility timeout so that the
    // redrive after 5 receives takes seconds, not the half hour of the real queue's 360 s.
    let name = emulator::unique("poison-");
    let (queue_url, dlq_url, mapping) =
        fixtures::queue_into_function(&config, &name, &emulator::stack_output("ArchiverFunctionName"), 1, 5).await;
    let queue = SqsResultQueue::new(&config, &queue_url);
    let test_id = emulator::unique("poison-test-");
    let good = real_result(&test_id, "good", &url).await;
    queue
        .send("this is not a result".into())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    queue
        .send(ResultMessage::Inline(Box::new(good)).to_json().unwrap_or_default())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let archive = S3ResultArchive::new(&config, emulator::stack_output("ResultsBucketName"));
    let key = archive_key("acme", &test_id, "good");
    eventually("the good message archived", Duration::from_secs(60), || {
        let archive = archive.clone();
        let key = key.clone();
        async move { archive.get(&key).await.ok().flatten() }
    })
    .await;
    let dead = eventually(
        "the poison message in the dead-letter queue",
        Duration::from_secs(120),
        || {
            let config = config.clone();
            let dlq_url = dlq_url.clone();
            async move {
                let bodies = fixtures::receive(&config, &dlq_url, 1).await;
                (!bodies.is_empty()).then_some(bodies)
            }
        },
    )
    .await;
    fixtures::delete_mapping(&config, &mapping).await;
    assert_eq!(dead, vec!["this is not a result".to_owned()]);
}

/// An invalid event fails the worker with an error naming the field; after Lambda's retries (2, bounded,
/// never a loop) the on-failure destination puts it in the worker's dead-letter queue.
///
/// The event is delivered by an asynchronous invoke, as EventBridge delivers rule targets in AWS. MiniStack
/// 1.5.33 runs EventBridge rule targets directly, bypassing Lambda's asynchronous retries and destinations
/// (its `_dispatch_to_lambda`), so going through the bus here would test the emulator's shortcut, not the
/// deployed configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_user_call_ends_in_the_workers_dead_letter_queue_naming_the_field() {
    let config = emulator::sdk_config().await;
    let call_id = emulator::unique("invalid-");
    let mut detail = call(&call_id, &call_id, "http://127.0.0.1:4566/", 1, 1);
    detail["duration"] = "10x".into();
    let event = serde_json::json!({
        "version": "0", "id": call_id, "detail-type": "User Call", "source": "volley", "account": "000000000000",
        "time": "2026-11-23T09:00:00Z", "region": "us-east-1", "resources": [], "detail": detail
    });
    fixtures::invoke_async(&config, &emulator::stack_output("WorkerFunctionName"), &event).await;
    let dlq = emulator::stack_output("WorkerDeadLetterQueueUrl");
    let message = eventually(
        "the invalid event in the worker's dead-letter queue",
        Duration::from_secs(60),
        || {
            let config = config.clone();
            let dlq = dlq.clone();
            let call_id = call_id.clone();
            async move {
                fixtures::receive(&config, &dlq, 1)
                    .await
                    .into_iter()
                    .find(|body| body.contains(&call_id))
            }
        },
    )
    .await;
    // The destination record is Lambda's: {"requestContext": ..., "requestPayload": <the event>,
    // "responsePayload": {"errorType": ..., "errorMessage": ...}}.
    let record: serde_json::Value = serde_json::from_str(&message).unwrap_or_else(|e| panic!("{e}: {message}"));
    let error = &record["responsePayload"];
    assert_eq!(error["errorType"], "InvalidCall", "{record}");
    let text = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("invalid User Call: duration:"),
        "the failure names the field: {text}"
    );
}
