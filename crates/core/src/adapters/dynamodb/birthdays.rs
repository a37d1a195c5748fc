//! The birthdays table: the greeter's `BirthdayStore`.
//!
//! Table `<prefix>-birthdays`: partition key `pk` (S) = hex SHA-256 of the username; attributes `username` (S) and
//! `dateOfBirth` (S, `YYYY-MM-DD`). The key spreads users evenly; the stored username guards against the
//! (theoretical) hash collision and keeps the table readable.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;

use super::{get_by_key, s, text, unavailable};
use crate::model::birthday::Username;
use crate::ports::{BirthdayStore, StoreError};

/// The attribute names of the birthdays table, shared with deploy/ and template.yaml.
pub mod schema {
    pub const PARTITION_KEY: &str = "pk";
    pub const USERNAME: &str = "username";
    pub const DATE_OF_BIRTH: &str = "dateOfBirth";
}
use schema::{DATE_OF_BIRTH, PARTITION_KEY, USERNAME};

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
            .item(PARTITION_KEY, s(&user.key_hash()))
            .item(USERNAME, s(user.as_str()))
            .item(DATE_OF_BIRTH, s(&born.format("%Y-%m-%d").to_string()))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn get(&self, user: &Username) -> Result<Option<NaiveDate>, StoreError> {
        let Some(item) = get_by_key(&self.client, &self.table, PARTITION_KEY, &user.key_hash()).await? else {
            return Ok(None);
        };
        if text(&item, USERNAME) != Some(user.as_str()) {
            // Another username with the same hash: not this user.
            return Ok(None);
        }
        let born = text(&item, DATE_OF_BIRTH)
            .ok_or_else(|| StoreError::Corrupt(format!("item for {user} has no {DATE_OF_BIRTH}")))?;
        NaiveDate::parse_from_str(born, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("item for {user} has {DATE_OF_BIRTH} {born:?}")))
    }
}
