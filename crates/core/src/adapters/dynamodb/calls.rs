//! The calls table: the worker's `CallClaims`, a conditional put per call under a lease, then the result's
//! key (see `super::calls_schema`; the archiver's marks in the same table are written by `tests.rs`, in one
//! transaction with the counters). A call found lost is marked so in one transaction with its test's
//! `callsLost` counter in the tests table (`super::tests_schema`), so it is counted once.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::calls_schema::{
    CLAIM_STATE, EXPIRES_AT, LEASE_UNTIL, LOST, PARTITION_KEY, RESULT_KEY, RETENTION_SECONDS, RUNNING, STORED,
    TEST_KEY, claim_key,
};
use super::tests_schema;
use super::{conditional, get_by_key, n, number, s, text, unavailable};
use crate::model::scope::CallScope;
use crate::ports::{CallClaims, Claim, StoreError};

pub use super::calls_schema as schema;

/// The IAM actions `DynamoCallClaims` calls: a conditional PutItem (the claim), UpdateItem (lost, with the
/// tests table's counter in one transaction; stored) and GetItem (how a claim stands), on the calls table,
/// and UpdateItem on the tests table.
pub const CALL_CLAIMS_ACTIONS: &[&str] = &["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"];

/// A `CallClaims` in the calls table, counting lost calls in the tests table.
#[derive(Debug, Clone)]
pub struct DynamoCallClaims {
    client: Client,
    table: String,
    tests_table: String,
}

impl DynamoCallClaims {
    pub fn new(
        sdk_config: &aws_config::SdkConfig,
        calls_table: impl Into<String>,
        tests_table: impl Into<String>,
    ) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: calls_table.into(),
            tests_table: tests_table.into(),
        }
    }

    /// Marks `call`'s claim lost if it is running and its lease passed before `now`, and counts it in its
    /// test's `callsLost`, in one transaction: true for the one caller that did.
    async fn mark_lost(&self, call: &CallScope, key: &str, now: i64) -> Result<bool, StoreError> {
        use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
        let to_error = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt(e.to_string());
        let lost = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(key))
            .update_expression("SET #st = :lost")
            .condition_expression("#st = :running AND #lu < :now")
            .expression_attribute_names("#st", CLAIM_STATE)
            .expression_attribute_names("#lu", LEASE_UNTIL)
            .expression_attribute_values(":lost", s(LOST))
            .expression_attribute_values(":running", s(RUNNING))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(to_error)?;
        let count = Update::builder()
            .table_name(&self.tests_table)
            .key(tests_schema::TEST_KEY, s(&call.test.key()))
            .update_expression("ADD #lost :one SET #o = :o, #t = :t")
            .expression_attribute_names("#lost", tests_schema::CALLS_LOST)
            .expression_attribute_names("#o", tests_schema::ORGANISATION_ID)
            .expression_attribute_names("#t", tests_schema::TEST_ID)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":o", s(&call.test.organisation_id))
            .expression_attribute_values(":t", s(&call.test.test_id))
            .build()
            .map_err(to_error)?;
        // dynamodb:UpdateItem on both tables, in one transaction.
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(lost).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        Ok(conditional(written.map_err(|e| e.into_service_error()))?.is_ok())
    }
}

#[async_trait]
impl CallClaims for DynamoCallClaims {
    async fn claim(&self, call: &CallScope, now: i64, lease_until: i64) -> Result<Claim, StoreError> {
        let key = claim_key(call);
        // dynamodb:PutItem (conditional): the first claim.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, s(&key))
            .item(TEST_KEY, s(&call.test.key()))
            .item(CLAIM_STATE, s(RUNNING))
            .item(LEASE_UNTIL, n(lease_until))
            .item(EXPIRES_AT, n(now + RETENTION_SECONDS))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        if conditional(put.map_err(|e| e.into_service_error()))?.is_ok() {
            return Ok(Claim::Fresh);
        }
        // A running claim whose lease passed stored nothing: lost.
        if self.mark_lost(call, &key, now).await? {
            return Ok(Claim::Lost);
        }
        // dynamodb:GetItem: how it stands.
        let item = get_by_key(&self.client, &self.table, PARTITION_KEY, &key)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("the claim of {call} vanished while read")))?;
        Ok(match text(&item, CLAIM_STATE) {
            Some(STORED) => Claim::Stored {
                key: text(&item, RESULT_KEY)
                    .ok_or_else(|| StoreError::Corrupt(format!("the stored claim of {call} has no result key")))?
                    .to_owned(),
            },
            Some(RUNNING) => Claim::Running {
                lease_until: number(&item, LEASE_UNTIL).unwrap_or(0),
            },
            Some(LOST) => Claim::Lost,
            other => {
                return Err(StoreError::Corrupt(format!("the claim of {call} has state {other:?}")));
            }
        })
    }

    async fn stored(&self, call: &CallScope) -> Result<Option<String>, StoreError> {
        // dynamodb:GetItem
        let item = get_by_key(&self.client, &self.table, PARTITION_KEY, &claim_key(call)).await?;
        Ok(item
            .filter(|item| text(item, CLAIM_STATE) == Some(STORED))
            .and_then(|item| text(&item, RESULT_KEY).map(str::to_owned)))
    }

    async fn mark_stored(&self, call: &CallScope, key: &str) -> Result<(), StoreError> {
        // dynamodb:UpdateItem
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(&claim_key(call)))
            .update_expression("SET #st = :stored, #rk = :key REMOVE #lu")
            .expression_attribute_names("#st", CLAIM_STATE)
            .expression_attribute_names("#rk", RESULT_KEY)
            .expression_attribute_names("#lu", LEASE_UNTIL)
            .expression_attribute_values(":stored", s(STORED))
            .expression_attribute_values(":key", s(key))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }
}
