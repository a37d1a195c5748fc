//! The BirthdayStore contract, over the wire against DynamoDB in the local AWS emulator.

use volley_core::adapters::dynamodb::DynamoBirthdayStore;
use volley_core::adapters::dynamodb::testing::create_birthdays_table;
use volley_core::contract::{birthday_store_contract, emulator};

#[tokio::test]
async fn dynamodb_birthday_store_meets_the_contract() {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("birthdays-contract-");
    create_birthdays_table(&config, &table).await;
    let store = DynamoBirthdayStore::new(&config, &table);
    birthday_store_contract(&store, &emulator::unique("")).await;
}
