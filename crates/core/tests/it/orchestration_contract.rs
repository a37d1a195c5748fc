//! `DynamoOrchestrationStore` and `DynamoRunIndex` against the contract suites their memory twins pass, over
//! the wire in MiniStack.

use volley_contracts::orchestration;
use volley_core::adapters::dynamodb::orchestration::{DynamoOrchestrationStore, schema as orchestration_schema};
use volley_core::adapters::dynamodb::runs::{DynamoRunClaims, DynamoRunIndex, schema as runs_schema};
use volley_testkit::emulator;
use volley_testkit::fixtures;

#[tokio::test]
async fn dynamodb_orchestration_store_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("orchestration-contract-");
    fixtures::create_table(&config, &table, orchestration_schema::TEST_KEY, None).await;
    orchestration::orchestration_store_contract(&DynamoOrchestrationStore::new(&config, &table), &emulator::unique(""))
        .await;
}

#[tokio::test]
async fn dynamodb_run_index_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("runs-contract-");
    fixtures::create_table(&config, &table, runs_schema::TAG_KEY, Some(runs_schema::RUN)).await;
    orchestration::run_index_contract(&DynamoRunIndex::new(&config, &table), &emulator::unique("")).await;
}

#[tokio::test]
async fn dynamodb_run_claims_meet_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("run-claims-contract-");
    fixtures::create_table(&config, &table, runs_schema::TAG_KEY, Some(runs_schema::RUN)).await;
    orchestration::run_claims_contract(&DynamoRunClaims::new(&config, &table), &emulator::unique("")).await;
}
