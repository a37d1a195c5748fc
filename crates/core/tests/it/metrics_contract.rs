//! The metrics-saver's AWS adapters against their contract suites, over the wire in the local AWS emulator:
//! the same suites the memory twins pass.

use volley_contracts::saved_metrics;
use volley_core::adapters::cloudwatch::{CloudWatchMetricsSink, CloudWatchMetricsSource};
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::dynamodb::{metrics::DynamoSavedMetrics, tests::DynamoTestActivity};
use volley_testkit::emulator;
use volley_testkit::fixtures;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn dynamodb_test_activity_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let (calls, tests) = (emulator::unique("calls-activity-"), emulator::unique("tests-activity-"));
    fixtures::create_calls_table(&config, &calls).await;
    fixtures::create_tests_table(&config, &tests).await;
    let ledger = DynamoResultLedger::new(&config, &calls, &tests);
    let activity = DynamoTestActivity::new(&config, &tests);
    saved_metrics::test_activity_contract(&ledger, &activity, &emulator::unique(""), now()).await;
}

#[tokio::test]
async fn dynamodb_saved_metrics_meet_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("metrics-contract-");
    fixtures::create_metrics_table(&config, &table).await;
    saved_metrics::saved_metrics_contract(&DynamoSavedMetrics::new(&config, &table), &emulator::unique("")).await;
}

#[tokio::test]
async fn cloudwatch_metrics_source_meets_the_contract() {
    let config = emulator::sdk_config().await;
    saved_metrics::metrics_source_contract(
        &CloudWatchMetricsSink::new(&config),
        &CloudWatchMetricsSource::new(&config),
        &emulator::unique(""),
        now(),
    )
    .await;
}
