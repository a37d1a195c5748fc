//! The calls table: the worker's `CallClaims`, a conditional put per call (see `super::calls_schema`; the
//! archiver's marks in the same table are written by `tests.rs`, in one transaction with the counters).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::calls_schema::{EXPIRES_AT, PARTITION_KEY, RETENTION_SECONDS, TEST_ID, claim_key};
use super::{conditional, n, s};
use crate::ports::{CallClaims, StoreError};

pub use super::calls_schema as schema;

/// The IAM actions `DynamoCallClaims` calls (a conditional PutItem).
pub const CALL_CLAIMS_ACTIONS: &[&str] = &["dynamodb:PutItem"];

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
    async fn claim(&self, test_id: &str, call_id: &str, now: i64) -> Result<bool, StoreError> {
        // dynamodb:PutItem (conditional)
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, s(&claim_key(call_id)))
            .item(TEST_ID, s(test_id))
            .item(EXPIRES_AT, n(now + RETENTION_SECONDS))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        Ok(conditional(put.map_err(|e| e.into_service_error()))?.is_ok())
    }
}
