//! `DynamoOrchestrationStore` and `DynamoRunIndex` against the contract suites their memory twins pass, over
//! the wire in MiniStack.

use volley_contracts::orchestration;
use volley_core::adapters::dynamodb::orchestration::{
    DynamoOrchestrationStore, DynamoStopSignal, schema as orchestration_schema,
};
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
async fn dynamodb_begin_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("begin-contract-");
    fixtures::create_table(&config, &table, orchestration_schema::TEST_KEY, None).await;
    orchestration::begin_contract(&DynamoOrchestrationStore::new(&config, &table), &emulator::unique("")).await;
}

/// Puts on a bus made for it, in this region and by its name (a client of that region: the same emulator).
#[tokio::test]
async fn eventbridge_call_bus_meets_the_contract() {
    use volley_core::adapters::eventbridge::EventBridgeCallBus;
    let config = emulator::sdk_config().await;
    let name = emulator::unique("bus-contract-");
    fixtures::create_event_bus(&config, &name).await;
    let bus = EventBridgeCallBus::new(&config, &name);
    orchestration::call_bus_contract(&bus, None, &emulator::unique("")).await;
    let region = config.region().map(ToString::to_string);
    orchestration::call_bus_contract(&bus, region.as_deref(), &emulator::unique("")).await;
}

/// One-time schedules in the emulator's Scheduler, a day ahead (never fired here).
#[tokio::test]
async fn scheduler_segment_schedules_meet_the_contract() {
    use volley_core::adapters::scheduler::SchedulerSegmentSchedules;
    let config = emulator::sdk_config().await;
    let schedules = SchedulerSegmentSchedules::new(&config, "arn:aws:iam::000000000000:role/volley-contract-scheduler");
    orchestration::segment_schedules_contract(
        &schedules,
        "arn:aws:lambda:us-east-1:000000000000:function:volley-contract-none",
        &emulator::unique(""),
    )
    .await;
}

/// Asked in this region, and by its name as a home region (another region's client: the same emulator).
#[tokio::test]
async fn dynamodb_stop_signal_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("stop-contract-");
    fixtures::create_table(&config, &table, orchestration_schema::TEST_KEY, None).await;
    let store = DynamoOrchestrationStore::new(&config, &table);
    let signal = DynamoStopSignal::new(&config, &table);
    orchestration::stop_signal_contract(&store, &signal, None, &emulator::unique("")).await;
    let region = config.region().map(ToString::to_string);
    orchestration::stop_signal_contract(&store, &signal, region.as_deref(), &emulator::unique("")).await;
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
