//! DynamoDB adapters.
//!
//! Birthdays table: partition key `pk` (S) = hex SHA-256 of the username; attributes `username` (S) and
//! `dateOfBirth` (S, `YYYY-MM-DD`). The key spreads users evenly; the stored username guards against the
//! (theoretical) hash collision and keeps the table readable.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;

use crate::model::birthday::Username;
use crate::ports::{BirthdayStore, StoreError};

/// The attribute names of the birthdays table, shared with deploy/ and template.yaml.
pub mod birthdays_schema {
    pub const PARTITION_KEY: &str = "pk";
    pub const USERNAME: &str = "username";
    pub const DATE_OF_BIRTH: &str = "dateOfBirth";
}
use birthdays_schema::{DATE_OF_BIRTH, PARTITION_KEY, USERNAME};

/// The IAM actions each method below calls; the deploy consistency test holds the policies against it.
pub const BIRTHDAY_STORE_ACTIONS: &[&str] = &["dynamodb:PutItem", "dynamodb:GetItem"];

/// A `BirthdayStore` in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoBirthdayStore {
    client: Client,
    table: String,
}

impl DynamoBirthdayStore {
    pub fn new(sdk_config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: table.into(),
        }
    }
}

#[async_trait]
impl BirthdayStore for DynamoBirthdayStore {
    async fn put(&self, user: &Username, born: NaiveDate) -> Result<(), StoreError> {
        // dynamodb:PutItem
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, AttributeValue::S(user.key_hash()))
            .item(USERNAME, AttributeValue::S(user.as_str().to_owned()))
            .item(DATE_OF_BIRTH, AttributeValue::S(born.format("%Y-%m-%d").to_string()))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e.into_service_error())))?;
        Ok(())
    }

    async fn get(&self, user: &Username) -> Result<Option<NaiveDate>, StoreError> {
        // dynamodb:GetItem
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(user.key_hash()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e.into_service_error())))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
        if text(USERNAME) != Some(user.as_str()) {
            // Another username with the same hash: not this user.
            return Ok(None);
        }
        let born = text(DATE_OF_BIRTH)
            .ok_or_else(|| StoreError::Corrupt(format!("item for {user} has no {DATE_OF_BIRTH}")))?;
        NaiveDate::parse_from_str(born, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("item for {user} has {DATE_OF_BIRTH} {born:?}")))
    }
}

/// Table set-up for tests against the emulator (the deployed tables come from deploy/ and template.yaml).
#[cfg(feature = "contract-tests")]
pub mod testing {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};

    use super::birthdays_schema::PARTITION_KEY;

    /// Creates an on-demand birthdays table named `name`, as deploy/ and template.yaml define it.
    pub async fn create_birthdays_table(sdk_config: &aws_config::SdkConfig, name: &str) {
        let build = || -> Result<_, aws_sdk_dynamodb::error::BuildError> {
            Ok((
                AttributeDefinition::builder()
                    .attribute_name(PARTITION_KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
                KeySchemaElement::builder()
                    .attribute_name(PARTITION_KEY)
                    .key_type(KeyType::Hash)
                    .build()?,
            ))
        };
        let (attribute, key) = build().unwrap_or_else(|e| panic!("table definition: {e}"));
        aws_sdk_dynamodb::Client::new(sdk_config)
            .create_table()
            .table_name(name)
            .attribute_definitions(attribute)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create table {name}: {:?}", e.into_service_error()));
    }
}
