//! The archiver in process with its real adapters against the local AWS emulator (DynamoDB, S3,
//! CloudWatch): what only real stores with real latency show, such as two deliveries of the same results
//! overlapping.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::{Context, LambdaEvent};
use volley_core::adapters::cloudwatch::CloudWatchMetricsSink;
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::clock::{Clock, SystemClock};
use volley_core::model::result::{CallResult, ResultMessage};
use volley_core::model::scope::TestScope;
use volley_engine::load::attack::Progress;
use volley_engine::load::engine;
use volley_testkit::target::{Behaviour, get_attack, start};
use volley_testkit::{emulator, fixtures};

use archiver::{Deps, function_handler};

const REGION: &str = "eu-west-1";

/// A real result of `call_id`: 10 requests at 10 rps against a server on loopback.
async fn real_result(test_id: &str, call_id: &str) -> CallResult {
    let address = start(Behaviour::default()).await.address;
    let url = format!("http://{address}/");
    let attack = get_attack(address, &url, 10.0, 1, 10);
    let report = engine::run(&attack, Arc::new(Progress::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    CallResult {
        test_id: test_id.into(),
        organisation_id: "acme".into(),
        call_id: call_id.into(),
        region: Some(REGION.into()),
        url,
        addresses: vec![address],
        report,
        chunked: None,
    }
}

fn delivery(records: &[SqsMessage]) -> LambdaEvent<SqsEvent> {
    let mut event = SqsEvent::default();
    event.records = records.to_vec();
    LambdaEvent::new(event, Context::default())
}

/// 10 results delivered twice at the same instant (SQS delivers at least once, and two archivers can hold
/// the same message): the counters count each once, and CloudWatch holds exactly their requests, each
/// batch of metrics published once. What a delivery finds held by the other fails, and is delivered
/// again, as SQS would, until none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_duplicate_deliveries_publish_each_result_once() {
    let config = emulator::sdk_config().await;
    let (calls, tests, bucket) = (
        emulator::unique("calls-"),
        emulator::unique("tests-"),
        emulator::unique("results-"),
    );
    fixtures::create_calls_table(&config, &calls).await;
    fixtures::create_tests_table(&config, &tests).await;
    fixtures::create_bucket(&config, &bucket).await;
    let deps = Arc::new(Deps {
        ledger: Arc::new(DynamoResultLedger::new(&config, &calls, &tests)),
        archive: Arc::new(S3ResultArchive::new(&config, &bucket)),
        metrics: Arc::new(CloudWatchMetricsSink::new(&config)),
        // Its results carry no abort rules: nothing is stopped.
        stops: Arc::new(volley_core::adapters::memory::MemoryOrchestrationStore::new()),
        clock: Arc::new(SystemClock),
    });

    let test_id = emulator::unique("twice-");
    let from = SystemClock.now().timestamp() - 5;
    let mut records = Vec::new();
    let mut expected = 0;
    for i in 0..10 {
        let result = real_result(&test_id, &format!("call-{i}")).await;
        expected += result.report.total.requests;
        let mut record = SqsMessage::default();
        record.message_id = Some(format!("message-{i}"));
        record.body = Some(
            ResultMessage::Inline(Box::new(result))
                .to_json()
                .unwrap_or_else(|e| panic!("{e}")),
        );
        records.push(record);
    }
    assert_eq!(expected, 100, "10 results of 10 requests");

    let mut pending = records.clone();
    let mut deliveries = 0;
    while !pending.is_empty() {
        deliveries += 1;
        assert!(
            deliveries <= 10,
            "records still failing after 10 deliveries: {pending:?}"
        );
        let (a, b) = (Arc::clone(&deps), Arc::clone(&deps));
        let (one, two) = (delivery(&pending), delivery(&pending));
        let first = tokio::spawn(async move { function_handler(&a, one).await });
        let second = tokio::spawn(async move { function_handler(&b, two).await });
        let mut failed = BTreeSet::new();
        for outcome in [first.await, second.await] {
            match outcome.unwrap_or_else(|e| panic!("{e}")) {
                Ok(response) => failed.extend(response.batch_item_failures.into_iter().map(|f| f.item_identifier)),
                // Every record of that delivery failed: all of them come back.
                Err(_) => failed.extend(pending.iter().filter_map(|r| r.message_id.clone())),
            }
        }
        pending.retain(|r| r.message_id.as_ref().is_some_and(|id| failed.contains(id)));
    }

    let counters = deps
        .ledger
        .counters(&TestScope::new("acme", &test_id))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("no counters for {test_id}"));
    assert_eq!(
        (counters.requests, counters.results_archived),
        (100, 10),
        "each result counted once"
    );

    let to = SystemClock.now().timestamp() + 5;
    let published = emulator::eventually(
        "CloudWatch to hold the requests",
        std::time::Duration::from_secs(30),
        || {
            let config = config.clone();
            let test_id = test_id.clone();
            async move {
                let sum: f64 = fixtures::metric(
                    &config,
                    &TestScope::new("acme", &test_id),
                    Some(REGION),
                    "Requests",
                    "Sum",
                    from,
                    to,
                )
                .await
                .iter()
                .map(|(_, v)| v)
                .sum();
                (sum > 0.0).then_some(sum)
            }
        },
    )
    .await;
    assert_eq!(
        published, 100.0,
        "CloudWatch holds each request once, however the deliveries overlapped"
    );
}
