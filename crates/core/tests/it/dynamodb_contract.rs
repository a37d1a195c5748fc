//! The AWS adapters' contract suites, over the wire against the local AWS emulator: the same suites the
//! memory adapters pass.

use volley_core::adapters::dynamodb::{
    birthdays::DynamoBirthdayStore, calls::DynamoCallClaims, domains::DynamoDomainStore, tests::DynamoResultLedger,
};
use volley_core::adapters::s3::S3ResultArchive;
use volley_testkit::emulator;
use volley_testkit::fixtures;

#[tokio::test]
async fn dynamodb_birthday_store_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("birthdays-contract-");
    fixtures::create_birthdays_table(&config, &table).await;
    volley_contracts::birthday_store_contract(&DynamoBirthdayStore::new(&config, &table), &emulator::unique("")).await;
}

#[tokio::test]
async fn dynamodb_call_claims_meet_the_contract() {
    let config = emulator::sdk_config().await;
    let (calls, tests) = (emulator::unique("calls-contract-"), emulator::unique("tests-contract-"));
    fixtures::create_calls_table(&config, &calls).await;
    fixtures::create_tests_table(&config, &tests).await;
    volley_contracts::call_claims_contract(
        &DynamoCallClaims::new(&config, &calls, &tests),
        &DynamoResultLedger::new(&config, &calls, &tests),
        &emulator::unique(""),
    )
    .await;
}

#[tokio::test]
async fn dynamodb_result_ledger_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let (calls, tests) = (emulator::unique("calls-contract-"), emulator::unique("tests-contract-"));
    fixtures::create_calls_table(&config, &calls).await;
    fixtures::create_tests_table(&config, &tests).await;
    volley_contracts::result_ledger_contract(&DynamoResultLedger::new(&config, &calls, &tests), &emulator::unique(""))
        .await;
}

#[tokio::test]
async fn dynamodb_domain_store_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("domains-contract-");
    fixtures::create_domains_table(&config, &table).await;
    let unique = emulator::unique("");
    let org = format!("acme{unique}");
    fixtures::put_domain(&config, &table, &org, &format!("example{unique}.com"), "validated").await;
    fixtures::put_domain(&config, &table, &org, &format!("pending{unique}.com"), "pending").await;
    volley_contracts::domain_store_contract(&DynamoDomainStore::new(&config, &table), &unique).await;
}

#[tokio::test]
async fn dynamodb_domain_registry_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("domains-registry-contract-");
    fixtures::create_domains_table(&config, &table).await;
    volley_contracts::domain_registry_contract(&DynamoDomainStore::new(&config, &table), &emulator::unique("")).await;
}

#[tokio::test]
async fn dynamodb_organisation_limits_meet_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("domains-limits-contract-");
    fixtures::create_domains_table(&config, &table).await;
    volley_contracts::organisation_limits_contract(&DynamoDomainStore::new(&config, &table), &emulator::unique(""))
        .await;
}

#[tokio::test]
async fn s3_result_archive_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let bucket = emulator::unique("results-contract-");
    fixtures::create_bucket(&config, &bucket).await;
    volley_contracts::result_archive_contract(&S3ResultArchive::new(&config, &bucket), &emulator::unique("")).await;
}
