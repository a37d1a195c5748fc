//! The run index in DynamoDB: partition key `tagKey` (S): the organisation and the tag, `<org>#<tag>` (runs
//! are compared within one organisation), sort key `run` (S): the shape, the start (Unix ms, zero-padded so
//! text order is time order) and the run id, joined by `|`. Newest first is a descending query on
//! `begins_with(run, shape|)`.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::{n, number, s, text, unavailable};
use crate::ports::{RunEntry, RunIndex, StoreError};

/// The runs table's attribute names.
pub mod schema {
    pub const TAG_KEY: &str = "tagKey";
    pub const ORGANISATION_ID: &str = "organisationId";
    pub const TAG: &str = "tag";
    pub const RUN: &str = "run";
    pub const SHAPE: &str = "shape";
    pub const STARTED_AT: &str = "startedAt";
    pub const RUN_ID: &str = "runId";
    pub const KEY: &str = "key";
}
use schema::*;

/// The IAM actions `DynamoRunIndex` calls.
pub const RUN_INDEX_ACTIONS: &[&str] = &["dynamodb:PutItem", "dynamodb:Query"];

/// A `RunIndex` in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoRunIndex {
    client: Client,
    table: String,
}

impl DynamoRunIndex {
    pub fn new(sdk_config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: table.into(),
        }
    }
}

/// `<org>#<tag>` (neither holds `#`: both are identifiers).
fn tag_key(organisation_id: &str, tag: &str) -> String {
    format!("{organisation_id}#{tag}")
}

fn sort_key(entry: &RunEntry) -> String {
    format!("{}|{:015}|{}", entry.shape, entry.started_at.max(0), entry.run_id)
}

#[async_trait]
impl RunIndex for DynamoRunIndex {
    async fn add(&self, entry: &RunEntry) -> Result<(), StoreError> {
        // dynamodb:PutItem
        self.client
            .put_item()
            .table_name(&self.table)
            .item(TAG_KEY, s(&tag_key(&entry.organisation_id, &entry.tag)))
            .item(ORGANISATION_ID, s(&entry.organisation_id))
            .item(TAG, s(&entry.tag))
            .item(RUN, s(&sort_key(entry)))
            .item(SHAPE, s(&entry.shape))
            .item(STARTED_AT, n(entry.started_at))
            .item(RUN_ID, s(&entry.run_id))
            .item(KEY, s(&entry.key))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn latest(
        &self,
        organisation_id: &str,
        tag: &str,
        shape: &str,
        limit: usize,
    ) -> Result<Vec<RunEntry>, StoreError> {
        // dynamodb:Query (one page: `limit` is small)
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#t = :t AND begins_with(#r, :shape)")
            .expression_attribute_names("#t", TAG_KEY)
            .expression_attribute_names("#r", RUN)
            .expression_attribute_values(":t", s(&tag_key(organisation_id, tag)))
            .expression_attribute_values(":shape", s(&format!("{shape}|")))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX).max(1))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        out.items()
            .iter()
            .take(limit)
            .map(|item| {
                let required = |name: &str| {
                    text(item, name)
                        .map(str::to_owned)
                        .ok_or_else(|| StoreError::Corrupt(format!("a run item has no {name}")))
                };
                Ok(RunEntry {
                    organisation_id: required(ORGANISATION_ID)?,
                    tag: required(TAG)?,
                    shape: required(SHAPE)?,
                    started_at: number(item, STARTED_AT).unwrap_or(0),
                    run_id: required(RUN_ID)?,
                    key: required(KEY)?,
                })
            })
            .collect()
    }
}
