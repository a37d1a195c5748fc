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
use crate::ports::{ArchiveMark, BirthdayStore, CallClaims, ResultCounts, ResultLedger, StoreError, TestCounters};

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

/// The calls table: partition key `pk` (S). Claim items `claim#<callId>` and archive marks
/// `archived#<callId>` (with `metricsPublished`), both with `testId` and an `expiresAt` TTL (30 days).
/// The tests table: partition key `testId` (S), with the counters `requests`, `errors`, `dropped`,
/// `resultsArchived` and `lastResultAt` (Unix seconds), and what the metrics-saver needs (see
/// `dynamodb_metrics::activity_schema`).
pub mod ledger_schema {
    pub const PARTITION_KEY: &str = "pk";
    pub const TEST_ID: &str = "testId";
    pub const EXPIRES_AT: &str = "expiresAt";
    pub const METRICS_PUBLISHED: &str = "metricsPublished";
    pub const REQUESTS: &str = "requests";
    pub const ERRORS: &str = "errors";
    pub const DROPPED: &str = "dropped";
    pub const RESULTS_ARCHIVED: &str = "resultsArchived";
    pub const LAST_RESULT_AT: &str = "lastResultAt";
    /// How long claims and archive marks are kept.
    pub const RETENTION_SECONDS: i64 = 30 * 24 * 3600;
}

/// The IAM actions `DynamoCallClaims` calls (a conditional PutItem).
pub const CALL_CLAIMS_ACTIONS: &[&str] = &["dynamodb:PutItem"];
/// The IAM actions `DynamoResultLedger` calls: `record_archived` (a transaction of a put and an update, with
/// its condition, then a read on redelivery), `mark_metrics_published` and `counters`.
pub const RESULT_LEDGER_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:GetItem",
    "dynamodb:ConditionCheckItem",
];

pub(crate) fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// One item by its string partition key, read consistently (dynamodb:GetItem).
pub(crate) async fn get_by_key(
    client: &Client,
    table: &str,
    key: &str,
    value: &str,
) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, StoreError> {
    // dynamodb:GetItem
    Ok(client
        .get_item()
        .table_name(table)
        .key(key, AttributeValue::S(value.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| unavailable(e.into_service_error()))?
        .item)
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A `CallClaims` in the calls table.
#[derive(Debug, Clone)]
pub struct DynamoCallClaims {
    client: Client,
    calls_table: String,
}

impl DynamoCallClaims {
    pub fn new(sdk_config: &aws_config::SdkConfig, calls_table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            calls_table: calls_table.into(),
        }
    }
}

#[async_trait]
impl CallClaims for DynamoCallClaims {
    async fn claim(&self, test_id: &str, call_id: &str, now: i64) -> Result<bool, StoreError> {
        use ledger_schema::{EXPIRES_AT, PARTITION_KEY, RETENTION_SECONDS, TEST_ID};
        // dynamodb:PutItem (conditional)
        let put = self
            .client
            .put_item()
            .table_name(&self.calls_table)
            .item(PARTITION_KEY, AttributeValue::S(format!("claim#{call_id}")))
            .item(TEST_ID, AttributeValue::S(test_id.to_owned()))
            .item(EXPIRES_AT, AttributeValue::N((now + RETENTION_SECONDS).to_string()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match put.map_err(|e| e.into_service_error()) {
            Ok(_) => Ok(true),
            Err(e) if e.is_conditional_check_failed_exception() => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// A `ResultLedger` in two DynamoDB tables: archive marks in the calls table, counters in the tests table.
#[derive(Debug, Clone)]
pub struct DynamoResultLedger {
    client: Client,
    calls_table: String,
    tests_table: String,
}

impl DynamoResultLedger {
    pub fn new(
        sdk_config: &aws_config::SdkConfig,
        calls_table: impl Into<String>,
        tests_table: impl Into<String>,
    ) -> Self {
        Self {
            client: Client::new(sdk_config),
            calls_table: calls_table.into(),
            tests_table: tests_table.into(),
        }
    }
}

#[async_trait]
impl ResultLedger for DynamoResultLedger {
    async fn record_archived(
        &self,
        test_id: &str,
        call_id: &str,
        counts: ResultCounts,
        region: Option<&str>,
        now: i64,
    ) -> Result<ArchiveMark, StoreError> {
        use super::dynamodb_metrics::{active_day, activity_schema::*};
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
        use ledger_schema::*;
        let to_error = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt(e.to_string());
        let mark = Put::builder()
            .table_name(&self.calls_table)
            .item(PARTITION_KEY, AttributeValue::S(format!("archived#{call_id}")))
            .item(TEST_ID, AttributeValue::S(test_id.to_owned()))
            .item(METRICS_PUBLISHED, AttributeValue::Bool(false))
            .item(EXPIRES_AT, AttributeValue::N((now + RETENTION_SECONDS).to_string()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(to_error)?;
        let count = Update::builder()
            .table_name(&self.tests_table)
            .key(TEST_ID, AttributeValue::S(test_id.to_owned()))
            .update_expression("ADD #r :r, #e :e, #d :d, #a :one, #mr :mr SET #l = :now, #ad = :day")
            .expression_attribute_names("#r", REQUESTS)
            .expression_attribute_names("#e", ERRORS)
            .expression_attribute_names("#d", DROPPED)
            .expression_attribute_names("#a", RESULTS_ARCHIVED)
            .expression_attribute_names("#l", LAST_RESULT_AT)
            .expression_attribute_names("#mr", METRIC_REGIONS)
            .expression_attribute_names("#ad", ACTIVE_DAY)
            .expression_attribute_values(":r", AttributeValue::N(counts.requests.to_string()))
            .expression_attribute_values(":e", AttributeValue::N(counts.errors.to_string()))
            .expression_attribute_values(":d", AttributeValue::N(counts.dropped.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(
                ":mr",
                AttributeValue::Ss(vec![
                    region.unwrap_or(crate::model::saved_metrics::NO_REGION).to_owned(),
                ]),
            )
            .expression_attribute_values(":day", AttributeValue::S(active_day(now)))
            .build()
            .map_err(to_error)?;
        // dynamodb:PutItem + dynamodb:UpdateItem in one transaction (TransactWriteItems needs both actions).
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(mark).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        match written.map_err(|e| e.into_service_error()) {
            Ok(_) => Ok(ArchiveMark::Fresh),
            Err(e) if e.is_transaction_canceled_exception() => {
                // The mark exists: a redelivery. dynamodb:GetItem
                let item = self
                    .client
                    .get_item()
                    .table_name(&self.calls_table)
                    .key(PARTITION_KEY, AttributeValue::S(format!("archived#{call_id}")))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| unavailable(e.into_service_error()))?
                    .item
                    .ok_or_else(|| StoreError::Unavailable(Box::new(e)))?;
                let metrics_published = item
                    .get(METRICS_PUBLISHED)
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false);
                Ok(ArchiveMark::Seen { metrics_published })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn mark_metrics_published(&self, call_id: &str) -> Result<(), StoreError> {
        use ledger_schema::{METRICS_PUBLISHED, PARTITION_KEY};
        // dynamodb:UpdateItem
        self.client
            .update_item()
            .table_name(&self.calls_table)
            .key(PARTITION_KEY, AttributeValue::S(format!("archived#{call_id}")))
            .update_expression("SET #m = :t")
            .expression_attribute_names("#m", METRICS_PUBLISHED)
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn counters(&self, test_id: &str) -> Result<Option<TestCounters>, StoreError> {
        use ledger_schema::*;
        let item = get_by_key(&self.client, &self.tests_table, TEST_ID, test_id).await?;
        Ok(item.map(|item| TestCounters {
            test_id: test_id.to_owned(),
            requests: number(&item, REQUESTS) as u64,
            errors: number(&item, ERRORS) as u64,
            dropped: number(&item, DROPPED) as u64,
            results_archived: number(&item, RESULTS_ARCHIVED) as u64,
            last_result_at: number(&item, LAST_RESULT_AT),
        }))
    }
}

// The domains table's adapter lives in `domains.rs`; re-exported here where the worker has always found it.
pub use super::domains::{DOMAIN_STORE_ACTIONS, DynamoDomainStore, domains_schema};
