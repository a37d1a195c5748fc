//! DynamoDB adapters, one file per table, and the helpers they share (this file: attribute values and
//! getters, one item by key, every page of a query, error mapping and conditional writes).
//!
//! A table's file holds its schema (the attribute names, shared with deploy/ and template.yaml), its
//! adapters and their IAM actions (`*_ACTIONS`). Table files import only this file, never each other. The
//! two tables written from two files have their schemas here: the calls table (the worker's claims in
//! `calls.rs`, the archiver's marks in `tests.rs`, in one transaction with the counters), `calls_schema`, and
//! the tests table (the archiver's counters in `tests.rs`, the worker's lost calls in `calls.rs`),
//! `tests_schema`.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::StoreError;

pub mod birthdays;
pub mod calls;
pub mod domains;
pub mod metrics;
pub mod orchestration;
pub mod runs;
pub mod tests;

/// The calls table: partition key `pk` (S), every key scoped by the call's organisation and test
/// (`model::scope`). Claim items `claim#<org>#<test>#<call>` (the worker's, `calls.rs`), archive marks
/// `archived#<org>#<test>#<call>` with `metricsPublished` and metrics batches
/// `metrics#<org>#<test>#<call>#<n>` with `state` and `leaseUntil`, and live seconds `live#<org>#<test>#<s>`
/// with `requests`, `errors` and `dropped` (the archiver's, `tests.rs`), all with
/// `testKey` (`<org>#<test>`) and an `expiresAt` TTL (30 days).
pub mod calls_schema {
    use crate::model::scope::CallScope;

    pub const PARTITION_KEY: &str = "pk";
    /// The test the item belongs to, `<org>#<test>`.
    pub const TEST_KEY: &str = "testKey";
    pub const EXPIRES_AT: &str = "expiresAt";
    pub const METRICS_PUBLISHED: &str = "metricsPublished";
    /// How long claims and archive marks are kept.
    pub const RETENTION_SECONDS: i64 = 30 * 24 * 3600;
    /// The key of the claim of `call`.
    pub fn claim_key(call: &CallScope) -> String {
        format!("claim#{}", call.key())
    }
    /// The key of the archive mark of `call`.
    pub fn archived_key(call: &CallScope) -> String {
        format!("archived#{}", call.key())
    }
    /// A claim's state: `running` (held until `leaseUntil`), `stored` (its result at `resultKey`) or `lost`.
    pub const CLAIM_STATE: &str = "state";
    pub const RESULT_KEY: &str = "resultKey";
    pub const RUNNING: &str = "running";
    pub const STORED: &str = "stored";
    pub const LOST: &str = "lost";
    /// A metrics batch's state: `publishing` (held until `leaseUntil`) or `published`.
    pub const BATCH_STATE: &str = "state";
    pub const LEASE_UNTIL: &str = "leaseUntil";
    pub const PUBLISHING: &str = "publishing";
    pub const PUBLISHED: &str = "published";
    /// The key of batch `batch` of `call`'s metrics.
    pub fn metrics_batch_key(call: &CallScope, batch: u32) -> String {
        format!("metrics#{}", call.piece_key(batch))
    }
    /// The key of a test's live second (what its chunks counted in that Unix second): `live#<org>#<test>#<s>`.
    pub fn live_key(test: &crate::model::scope::TestScope, second: i64) -> String {
        format!("live#{}#{second}", test.key())
    }
    /// A live second's counts (N).
    pub const LIVE_REQUESTS: &str = "requests";
    pub const LIVE_ERRORS: &str = "errors";
    pub const LIVE_DROPPED: &str = "dropped";
    /// How long live seconds are kept: abort rules read the last minute.
    pub const LIVE_RETENTION_SECONDS: i64 = 24 * 3600;
}

/// The tests table (written from two files: the archiver's counters in `tests.rs`, the worker's count of
/// lost calls in `calls.rs`): partition key `testKey` (S, `<org>#<test>`, `model::scope`) with
/// `organisationId` and `testId`; the archiver's counters `requests`, `errors`, `dropped`, `resultsArchived`,
/// `chunksArchived`, `lastResultAt` (Unix seconds) and `startSkewsUs` (each call's start skew); the worker's `callsLost`; the series its results named,
/// `metricRegions` (SS); the metrics-saver's watermark `metricsSavedThrough` (N). The global secondary index
/// `byActiveDay` (partition `activeDay`, the UTC date of the last result; sort `lastResultAt`) finds the
/// recently active tests without a scan.
pub mod tests_schema {
    pub const TEST_KEY: &str = "testKey";
    pub const ORGANISATION_ID: &str = "organisationId";
    pub const TEST_ID: &str = "testId";
    pub const REQUESTS: &str = "requests";
    pub const ERRORS: &str = "errors";
    pub const DROPPED: &str = "dropped";
    pub const RESULTS_ARCHIVED: &str = "resultsArchived";
    pub const CHUNKS_ARCHIVED: &str = "chunksArchived";
    /// Each archived call's start skew in microseconds (L of N), appended once per call.
    pub const START_SKEWS: &str = "startSkewsUs";
    pub const LAST_RESULT_AT: &str = "lastResultAt";
    pub const CALLS_LOST: &str = "callsLost";
    pub const ACTIVE_DAY_INDEX: &str = "byActiveDay";
    pub const ACTIVE_DAY: &str = "activeDay";
    pub const METRIC_REGIONS: &str = "metricRegions";
    pub const SAVED_THROUGH: &str = "metricsSavedThrough";
}

/// An item as the SDK holds it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// A number attribute.
pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute of `item`, if it is one.
pub(crate) fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A whole-number attribute of `item`, if it is one.
pub(crate) fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

/// A boolean attribute of `item`; false when absent.
pub(crate) fn flag(item: &Item, name: &str) -> bool {
    item.get(name).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false)
}

/// A string-set attribute of `item`; empty when absent (DynamoDB has no empty sets).
pub(crate) fn string_set(item: &Item, name: &str) -> BTreeSet<String> {
    item.get(name)
        .and_then(|v| v.as_ss().ok())
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default()
}

/// A failure of the service (or of reaching it): a retry may succeed.
pub(crate) fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// One item by its string partition key, read consistently (dynamodb:GetItem).
pub(crate) async fn get_by_key(
    client: &Client,
    table: &str,
    key: &str,
    value: &str,
) -> Result<Option<Item>, StoreError> {
    // dynamodb:GetItem
    Ok(client
        .get_item()
        .table_name(table)
        .key(key, s(value))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| unavailable(e.into_service_error()))?
        .item)
}

/// The items of `values` (string partition keys, at most 100 a request), read consistently, those that exist
/// (dynamodb:BatchGetItem; the keys a request leaves unprocessed asked again, a few times, then unavailable).
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    key: &str,
    values: &[String],
) -> Result<Vec<Item>, StoreError> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let mut found = Vec::new();
    for page in values.chunks(100) {
        let keys = page.iter().map(|v| Item::from([(key.to_owned(), s(v))])).collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        for attempt in 0..5 {
            let Some(keys) = request.take() else { break };
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            // dynamodb:BatchGetItem
            let out = client
                .batch_get_item()
                .request_items(table, keys)
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
            if let Some(items) = out.responses.and_then(|mut r| r.remove(table)) {
                found.extend(items);
            }
            request = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .filter(|k| !k.keys.is_empty());
        }
        if request.is_some() {
            return Err(StoreError::Unavailable(
                format!("{table}: keys left unprocessed after 5 tries").into(),
            ));
        }
    }
    Ok(found)
}

/// Every item a query matches, through all its pages (the SDK's paginator; dynamodb:Query per page).
pub(crate) async fn query_all(query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
    query
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| unavailable(e.into_service_error()))
}

/// A service error that can say its write was refused by the write's condition.
pub(crate) trait ConditionFailed: std::error::Error + Send + Sync + 'static {
    fn condition_failed(&self) -> bool;
}

impl ConditionFailed for PutItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailed for UpdateItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

/// A transaction is cancelled as a whole when one of its conditions fails.
impl ConditionFailed for TransactWriteItemsError {
    fn condition_failed(&self) -> bool {
        self.is_transaction_canceled_exception()
    }
}

/// The outcome of a conditional write, given its service error (`send().await` mapped through
/// `into_service_error`): `Ok(Ok(output))` when written, `Ok(Err(refusal))` when its condition refused it, and
/// `StoreError::Unavailable` for any other failure.
pub(crate) fn conditional<O, E: ConditionFailed>(sent: Result<O, E>) -> Result<Result<O, E>, StoreError> {
    match sent {
        Ok(output) => Ok(Ok(output)),
        Err(e) if e.condition_failed() => Ok(Err(e)),
        Err(e) => Err(unavailable(e)),
    }
}
