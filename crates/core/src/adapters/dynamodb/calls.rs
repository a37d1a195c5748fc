//! The calls table: the worker's `CallClaims`, a conditional put per call under a lease, then the result's
//! key (see `super::calls_schema`; the archiver's marks in the same table are written by `tests.rs`, in one
//! transaction with the counters).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::calls_schema::{
    CLAIM_STATE, EXPIRES_AT, LEASE_UNTIL, LOST, PARTITION_KEY, RESULT_KEY, RETENTION_SECONDS, RUNNING, STORED, TEST_ID,
    claim_key,
};
use super::{conditional, get_by_key, n, number, s, text, unavailable};
use crate::ports::{CallClaims, Claim, StoreError};

pub use super::calls_schema as schema;

/// The IAM actions `DynamoCallClaims` calls: a conditional PutItem (the claim), UpdateItem (lost, stored)
/// and GetItem (how a claim stands).
pub const CALL_CLAIMS_ACTIONS: &[&str] = &["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"];

/// A `CallClaims` in the calls table.
#[derive(Debug, Clone)]
pub struct DynamoCallClaims {
    client: Client,
    table: String,
}

impl DynamoCallClaims {
    pub fn new(sdk_config: &aws_config::SdkConfig, calls_table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: calls_table.into(),
        }
    }
}

#[async_trait]
impl CallClaims for DynamoCallClaims {
    async fn claim(&self, test_id: &str, call_id: &str, now: i64, lease_until: i64) -> Result<Claim, StoreError> {
        let key = claim_key(call_id);
        // dynamodb:PutItem (conditional): the first claim.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, s(&key))
            .item(TEST_ID, s(test_id))
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
        // dynamodb:UpdateItem (conditional): a running claim whose lease passed stored nothing: lost.
        let lost = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(&key))
            .update_expression("SET #st = :lost")
            .condition_expression("#st = :running AND #lu < :now")
            .expression_attribute_names("#st", CLAIM_STATE)
            .expression_attribute_names("#lu", LEASE_UNTIL)
            .expression_attribute_values(":lost", s(LOST))
            .expression_attribute_values(":running", s(RUNNING))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        if conditional(lost.map_err(|e| e.into_service_error()))?.is_ok() {
            return Ok(Claim::Lost);
        }
        // dynamodb:GetItem: how it stands.
        let item = get_by_key(&self.client, &self.table, PARTITION_KEY, &key)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("the claim of {call_id} vanished while read")))?;
        Ok(match text(&item, CLAIM_STATE) {
            Some(STORED) => Claim::Stored {
                key: text(&item, RESULT_KEY)
                    .ok_or_else(|| StoreError::Corrupt(format!("the stored claim of {call_id} has no result key")))?
                    .to_owned(),
            },
            Some(RUNNING) => Claim::Running {
                lease_until: number(&item, LEASE_UNTIL).unwrap_or(0),
            },
            Some(LOST) => Claim::Lost,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "the claim of {call_id} has state {other:?}"
                )));
            }
        })
    }

    async fn stored(&self, call_id: &str) -> Result<Option<String>, StoreError> {
        // dynamodb:GetItem
        let item = get_by_key(&self.client, &self.table, PARTITION_KEY, &claim_key(call_id)).await?;
        Ok(item
            .filter(|item| text(item, CLAIM_STATE) == Some(STORED))
            .and_then(|item| text(&item, RESULT_KEY).map(str::to_owned)))
    }

    async fn mark_stored(&self, call_id: &str, key: &str) -> Result<(), StoreError> {
        // dynamodb:UpdateItem
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(&claim_key(call_id)))
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
