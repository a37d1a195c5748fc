//! The run index in DynamoDB: partition key `tagKey` (S): the organisation and the tag, `<org>#<tag>` (runs
//! are compared within one organisation), sort key `run` (S): the shape, the start (Unix ms, zero-padded so
//! text order is time order) and the run id, joined by `|`. Newest first is a descending query on
//! `begins_with(run, shape|)`.
//!
//! The same table holds run-load's claims of caller-supplied run ids (`RunClaims`): partition
//! `run#<org>#<runId>` (two `#`, where an index partition has one, so the two never meet), sort key
//! `claim`, with `state` (`running` until `leaseUntil`, `answered` with `answerKey`, or `lost`) and the
//! request's `fingerprint`.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::{Item, conditional, n, number, s, text, unavailable};
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
    /// A run claim's sort key, and its attributes.
    pub const CLAIM: &str = "claim";
    pub const STATE: &str = "state";
    pub const LEASE_UNTIL: &str = "leaseUntil";
    pub const FINGERPRINT: &str = "fingerprint";
    pub const ANSWER_KEY: &str = "answerKey";
    pub const RUNNING: &str = "running";
    pub const ANSWERED: &str = "answered";
    pub const LOST: &str = "lost";
}
use schema::*;

/// The IAM actions `DynamoRunIndex` calls.
pub const RUN_INDEX_ACTIONS: &[&str] = &["dynamodb:PutItem", "dynamodb:Query"];
/// The IAM actions `DynamoRunClaims` calls: a conditional PutItem (the claim), UpdateItem (answered,
/// lost) and GetItem (how a claim stands).
pub const RUN_CLAIMS_ACTIONS: &[&str] = &["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"];

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

/// A `RunClaims` in the runs table.
#[derive(Debug, Clone)]
pub struct DynamoRunClaims {
    client: Client,
    table: String,
}

impl DynamoRunClaims {
    pub fn new(sdk_config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: table.into(),
        }
    }

    /// `run#<org>#<runId>`.
    fn partition(organisation: &str, run_id: &str) -> String {
        format!("run#{organisation}#{run_id}")
    }

    async fn item(&self, organisation: &str, run_id: &str) -> Result<Option<Item>, StoreError> {
        // dynamodb:GetItem
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key(TAG_KEY, s(&Self::partition(organisation, run_id)))
            .key(RUN, s(CLAIM))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?
            .item)
    }
}

#[async_trait]
impl crate::ports::RunClaims for DynamoRunClaims {
    async fn claim(
        &self,
        organisation: &str,
        run_id: &str,
        request: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<crate::ports::RunClaim, StoreError> {
        use crate::ports::RunClaim;
        let partition = Self::partition(organisation, run_id);
        // dynamodb:PutItem (conditional): the first claim.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(TAG_KEY, s(&partition))
            .item(RUN, s(CLAIM))
            .item(STATE, s(RUNNING))
            .item(LEASE_UNTIL, n(lease_until))
            .item(FINGERPRINT, s(request))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", TAG_KEY)
            .send()
            .await;
        if conditional(put.map_err(|e| e.into_service_error()))?.is_ok() {
            return Ok(RunClaim::Fresh);
        }
        // dynamodb:UpdateItem (conditional): a running claim of this request whose lease passed: lost.
        let lost = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(TAG_KEY, s(&partition))
            .key(RUN, s(CLAIM))
            .update_expression("SET #st = :lost")
            .condition_expression("#st = :running AND #lu < :now AND #fp = :fp")
            .expression_attribute_names("#st", STATE)
            .expression_attribute_names("#lu", LEASE_UNTIL)
            .expression_attribute_names("#fp", FINGERPRINT)
            .expression_attribute_values(":lost", s(LOST))
            .expression_attribute_values(":running", s(RUNNING))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":fp", s(request))
            .send()
            .await;
        if conditional(lost.map_err(|e| e.into_service_error()))?.is_ok() {
            return Ok(RunClaim::Lost);
        }
        let item = self
            .item(organisation, run_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("the claim of run {run_id} vanished while read")))?;
        if text(&item, FINGERPRINT) != Some(request) {
            return Ok(RunClaim::OtherRequest);
        }
        Ok(match text(&item, STATE) {
            Some(ANSWERED) => RunClaim::Answered {
                key: text(&item, ANSWER_KEY)
                    .ok_or_else(|| StoreError::Corrupt(format!("the answered claim of run {run_id} has no key")))?
                    .to_owned(),
            },
            Some(RUNNING) => RunClaim::Running {
                lease_until: number(&item, LEASE_UNTIL).unwrap_or(0),
            },
            Some(LOST) => RunClaim::Lost,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "the claim of run {run_id} has state {other:?}"
                )));
            }
        })
    }

    async fn answered(&self, organisation: &str, run_id: &str, key: &str) -> Result<(), StoreError> {
        // dynamodb:UpdateItem
        self.client
            .update_item()
            .table_name(&self.table)
            .key(TAG_KEY, s(&Self::partition(organisation, run_id)))
            .key(RUN, s(CLAIM))
            .update_expression("SET #st = :answered, #ak = :key REMOVE #lu")
            .expression_attribute_names("#st", STATE)
            .expression_attribute_names("#ak", ANSWER_KEY)
            .expression_attribute_names("#lu", LEASE_UNTIL)
            .expression_attribute_values(":answered", s(ANSWERED))
            .expression_attribute_values(":key", s(key))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }
}
