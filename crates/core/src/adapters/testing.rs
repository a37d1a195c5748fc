//! Fixture set-up for tests against the local emulator: tables, buckets and queues shaped as deploy/ and
//! template.yaml define them. The deployed resources come from those files; these are for tests that make
//! their own, uniquely named, so tests run in parallel and in any order.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use super::dynamodb::{birthdays_schema, domains_schema, ledger_schema};

fn key(name: &str, kind: KeyType) -> (AttributeDefinition, KeySchemaElement) {
    let definition = AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let element = KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    (definition, element)
}

/// Creates an on-demand table with a string partition key and, optionally, a string sort key.
pub async fn create_table(sdk_config: &aws_config::SdkConfig, name: &str, partition: &str, sort: Option<&str>) {
    let mut request = aws_sdk_dynamodb::Client::new(sdk_config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (definition, element) in
        std::iter::once(key(partition, KeyType::Hash)).chain(sort.map(|s| key(s, KeyType::Range)))
    {
        request = request.attribute_definitions(definition).key_schema(element);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {:?}", e.into_service_error()));
}

pub async fn create_birthdays_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    create_table(sdk_config, name, birthdays_schema::PARTITION_KEY, None).await;
}

pub async fn create_calls_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    create_table(sdk_config, name, ledger_schema::PARTITION_KEY, None).await;
}

pub async fn create_tests_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    create_table(sdk_config, name, ledger_schema::TEST_ID, None).await;
}

pub async fn create_domains_table(sdk_config: &aws_config::SdkConfig, name: &str) {
    create_table(
        sdk_config,
        name,
        domains_schema::ORGANISATION_ID,
        Some(domains_schema::DOMAIN),
    )
    .await;
}

/// Writes a domain with a status, as the domain-validator would.
pub async fn put_domain(
    sdk_config: &aws_config::SdkConfig,
    table: &str,
    organisation: &str,
    domain: &str,
    status: &str,
) {
    aws_sdk_dynamodb::Client::new(sdk_config)
        .put_item()
        .table_name(table)
        .item(domains_schema::ORGANISATION_ID, AttributeValue::S(organisation.into()))
        .item(domains_schema::DOMAIN, AttributeValue::S(domain.into()))
        .item(domains_schema::STATUS, AttributeValue::S(status.into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put domain: {:?}", e.into_service_error()));
}

pub async fn create_bucket(sdk_config: &aws_config::SdkConfig, name: &str) {
    super::s3::client(sdk_config)
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {name}: {:?}", e.into_service_error()));
}

/// Creates a queue and answers its URL.
pub async fn create_queue(sdk_config: &aws_config::SdkConfig, name: &str) -> String {
    aws_sdk_sqs::Client::new(sdk_config)
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue {name}: {:?}", e.into_service_error()))
        .queue_url
        .unwrap_or_else(|| panic!("no URL for queue {name}"))
}

/// Receives up to 10 messages (waiting up to `wait_seconds`), deleting none.
pub async fn receive(sdk_config: &aws_config::SdkConfig, queue_url: &str, wait_seconds: i32) -> Vec<String> {
    aws_sdk_sqs::Client::new(sdk_config)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .send()
        .await
        .unwrap_or_else(|e| panic!("receive: {:?}", e.into_service_error()))
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect()
}
