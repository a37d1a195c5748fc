//! The tests table (the table named `tests`, not test code): the archiver's `ResultLedger` (counters,
//! counted once by an archive mark in the calls table written in the same transaction) and the
//! metrics-saver's `TestActivity` (which tests are active, and how far each one's metrics are saved).
//! Both sides share the one schema below.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::DateTime;

use super::calls_schema as calls;
use super::{Item, batch_get, conditional, flag, get_by_key, n, number, query_all, s, string_set, text, unavailable};
use crate::model::abort::LiveSecond;
use crate::model::saved_metrics::{ActiveTest, Series};
use crate::model::scope::{CallScope, TestScope};
use crate::ports::{
    ArchiveMark, BatchClaim, MAX_LIVE_SECONDS, ResultCounts, ResultLedger, ResultPart, StoreError, TestActivity,
    TestCounters,
};

pub use super::tests_schema as schema;
use schema::*;

/// The IAM actions `DynamoResultLedger` calls: `record_archived` (a transaction of a put and updates, with
/// its condition, then a read on redelivery), `mark_metrics_published`, `counters`, and the batch reads of
/// `marks` and `live_seconds`.
pub const RESULT_LEDGER_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:GetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchGetItem",
];
/// The IAM actions `DynamoTestActivity` calls (Query on the `byActiveDay` index).
pub const TEST_ACTIVITY_ACTIONS: &[&str] = &["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"];

/// How many times a record's transaction is sent when others on the same items cancel it.
const CONFLICT_ATTEMPTS: u32 = 5;

/// The UTC date of a Unix second, as the `activeDay` index holds it.
pub fn active_day(unix_seconds: i64) -> String {
    DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
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
        call: &CallScope,
        counts: ResultCounts,
        live: &[LiveSecond],
        region: Option<&str>,
        now: i64,
    ) -> Result<ArchiveMark, StoreError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
        let to_error = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt(e.to_string());
        if live.len() > MAX_LIVE_SECONDS {
            return Err(StoreError::Corrupt(format!(
                "{} live seconds in one record",
                live.len()
            )));
        }
        // Each live second, added in the same transaction as the mark: counted once, as the counters are.
        let seconds = live
            .iter()
            .map(|second| {
                Update::builder()
                    .table_name(&self.calls_table)
                    .key(calls::PARTITION_KEY, s(&calls::live_key(&call.test, second.second)))
                    .update_expression("ADD #r :r, #e :e, #d :d SET #tk = :tk, #ex = :ex")
                    .expression_attribute_names("#r", calls::LIVE_REQUESTS)
                    .expression_attribute_names("#e", calls::LIVE_ERRORS)
                    .expression_attribute_names("#d", calls::LIVE_DROPPED)
                    .expression_attribute_names("#tk", calls::TEST_KEY)
                    .expression_attribute_names("#ex", calls::EXPIRES_AT)
                    .expression_attribute_values(":r", n(second.requests))
                    .expression_attribute_values(":e", n(second.errors))
                    .expression_attribute_values(":d", n(second.dropped))
                    .expression_attribute_values(":tk", s(&call.test.key()))
                    .expression_attribute_values(":ex", n(now + calls::LIVE_RETENTION_SECONDS))
                    .build()
                    .map(|update| TransactWriteItem::builder().update(update).build())
                    .map_err(to_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mark = Put::builder()
            .table_name(&self.calls_table)
            .item(calls::PARTITION_KEY, s(&calls::archived_key(call)))
            .item(calls::TEST_KEY, s(&call.test.key()))
            .item(calls::METRICS_PUBLISHED, AttributeValue::Bool(false))
            .item(calls::EXPIRES_AT, n(now + calls::RETENTION_SECONDS))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", calls::PARTITION_KEY)
            .build()
            .map_err(to_error)?;
        let mut expression =
            String::from("ADD #r :r, #e :e, #d :d, #a :one, #mr :mr SET #l = :now, #ad = :day, #o = :o, #t = :t");
        let mut count = Update::builder();
        if let Some(skew) = counts.start_skew_us {
            expression.push_str(", #sk = list_append(if_not_exists(#sk, :none), :skew)");
            count = count
                .expression_attribute_names("#sk", START_SKEWS)
                .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":skew", AttributeValue::L(vec![n(skew)]));
        }
        let count = count
            .table_name(&self.tests_table)
            .key(TEST_KEY, s(&call.test.key()))
            .update_expression(expression)
            .expression_attribute_names("#o", ORGANISATION_ID)
            .expression_attribute_names("#t", TEST_ID)
            .expression_attribute_values(":o", s(&call.test.organisation_id))
            .expression_attribute_values(":t", s(&call.test.test_id))
            .expression_attribute_names("#r", REQUESTS)
            .expression_attribute_names("#e", ERRORS)
            .expression_attribute_names("#d", DROPPED)
            .expression_attribute_names(
                "#a",
                match counts.part {
                    ResultPart::Whole => RESULTS_ARCHIVED,
                    ResultPart::Chunk => CHUNKS_ARCHIVED,
                },
            )
            .expression_attribute_names("#l", LAST_RESULT_AT)
            .expression_attribute_names("#mr", METRIC_REGIONS)
            .expression_attribute_names("#ad", ACTIVE_DAY)
            .expression_attribute_values(":r", n(counts.requests))
            .expression_attribute_values(":e", n(counts.errors))
            .expression_attribute_values(":d", n(counts.dropped))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(
                ":mr",
                AttributeValue::Ss(vec![
                    region.unwrap_or(crate::model::saved_metrics::NO_REGION).to_owned(),
                ]),
            )
            .expression_attribute_values(":day", s(&active_day(now)))
            .build()
            .map_err(to_error)?;
        let mut items = vec![
            TransactWriteItem::builder().put(mark).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        items.extend(seconds);
        let mut attempt = 0;
        loop {
            // dynamodb:PutItem + dynamodb:UpdateItem in one transaction (TransactWriteItems needs both actions).
            let written = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(cancelled) = conditional(written.map_err(|e| e.into_service_error()))? else {
                return Ok(ArchiveMark::Fresh);
            };
            // The mark exists: a redelivery. dynamodb:GetItem
            let mark = get_by_key(
                &self.client,
                &self.calls_table,
                calls::PARTITION_KEY,
                &calls::archived_key(call),
            )
            .await?;
            if let Some(item) = mark {
                return Ok(ArchiveMark::Seen {
                    metrics_published: flag(&item, calls::METRICS_PUBLISHED),
                });
            }
            // Cancelled, yet no mark: a conflict with another transaction on the same counters or live
            // second (a fleet's chunks of one test arrive together). Tried again after a short, uneven pause.
            attempt += 1;
            if attempt >= CONFLICT_ATTEMPTS {
                return Err(unavailable(cancelled));
            }
            let jitter = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::from(d.subsec_nanos()) % 40);
            tokio::time::sleep(std::time::Duration::from_millis((20 << attempt) + jitter)).await;
        }
    }

    async fn mark_metrics_published(&self, call: &CallScope) -> Result<(), StoreError> {
        // dynamodb:UpdateItem
        self.client
            .update_item()
            .table_name(&self.calls_table)
            .key(calls::PARTITION_KEY, s(&calls::archived_key(call)))
            .update_expression("SET #m = :t")
            .expression_attribute_names("#m", calls::METRICS_PUBLISHED)
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn claim_metrics_batch(
        &self,
        call: &CallScope,
        batch: u32,
        now: i64,
        lease_until: i64,
    ) -> Result<BatchClaim, StoreError> {
        let key = calls::metrics_batch_key(call, batch);
        // dynamodb:UpdateItem: free, or held by a publisher whose lease passed (it died before finishing).
        let claimed = self
            .client
            .update_item()
            .table_name(&self.calls_table)
            .key(calls::PARTITION_KEY, s(&key))
            .update_expression("SET #st = :publishing, #lu = :lease, #ex = :expires")
            .condition_expression("attribute_not_exists(#pk) OR (#st = :publishing AND #lu < :now)")
            .expression_attribute_names("#pk", calls::PARTITION_KEY)
            .expression_attribute_names("#st", calls::BATCH_STATE)
            .expression_attribute_names("#lu", calls::LEASE_UNTIL)
            .expression_attribute_names("#ex", calls::EXPIRES_AT)
            .expression_attribute_values(":publishing", s(calls::PUBLISHING))
            .expression_attribute_values(":lease", n(lease_until))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":expires", n(now + calls::RETENTION_SECONDS))
            .send()
            .await;
        if conditional(claimed.map_err(|e| e.into_service_error()))?.is_ok() {
            return Ok(BatchClaim::Claimed);
        }
        // dynamodb:GetItem: refused, so it is published or held by a live lease.
        let item = get_by_key(&self.client, &self.calls_table, calls::PARTITION_KEY, &key).await?;
        Ok(match item.as_ref().and_then(|i| text(i, calls::BATCH_STATE)) {
            Some(calls::PUBLISHED) => BatchClaim::Published,
            _ => BatchClaim::InProgress,
        })
    }

    async fn finish_metrics_batch(&self, call: &CallScope, batch: u32) -> Result<(), StoreError> {
        // dynamodb:UpdateItem
        self.client
            .update_item()
            .table_name(&self.calls_table)
            .key(calls::PARTITION_KEY, s(&calls::metrics_batch_key(call, batch)))
            .update_expression("SET #st = :published REMOVE #lu")
            .expression_attribute_names("#st", calls::BATCH_STATE)
            .expression_attribute_names("#lu", calls::LEASE_UNTIL)
            .expression_attribute_values(":published", s(calls::PUBLISHED))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn marks(&self, calls: &[CallScope]) -> Result<Vec<Option<bool>>, StoreError> {
        let keys: Vec<String> = calls.iter().map(calls::archived_key).collect();
        let found = batch_get(&self.client, &self.calls_table, calls::PARTITION_KEY, &keys).await?;
        let by_key: std::collections::HashMap<&str, bool> = found
            .iter()
            .filter_map(|item| Some((text(item, calls::PARTITION_KEY)?, flag(item, calls::METRICS_PUBLISHED))))
            .collect();
        Ok(keys.iter().map(|key| by_key.get(key.as_str()).copied()).collect())
    }

    async fn live_seconds(&self, test: &TestScope, from: i64, to: i64) -> Result<Vec<LiveSecond>, StoreError> {
        let wanted: Vec<i64> = (from..=to).take(MAX_LIVE_SECONDS).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let keys = wanted
            .iter()
            .map(|second| calls::live_key(test, *second))
            .collect::<Vec<_>>();
        // Read right after the transaction that wrote them: the chunk's own seconds must be seen.
        let found = batch_get(&self.client, &self.calls_table, calls::PARTITION_KEY, &keys).await?;
        let count = |item: &Item, name: &str| number(item, name).unwrap_or(0).max(0) as u64;
        let mut seconds: Vec<LiveSecond> = found
            .iter()
            .filter_map(|item| {
                let key = text(item, calls::PARTITION_KEY)?;
                let second = key.rsplit('#').next()?.parse().ok()?;
                Some(LiveSecond {
                    second,
                    requests: count(item, calls::LIVE_REQUESTS),
                    errors: count(item, calls::LIVE_ERRORS),
                    dropped: count(item, calls::LIVE_DROPPED),
                })
            })
            .collect();
        seconds.sort_by_key(|s| s.second);
        Ok(seconds)
    }

    async fn counters(&self, test: &TestScope) -> Result<Option<TestCounters>, StoreError> {
        let item = get_by_key(&self.client, &self.tests_table, TEST_KEY, &test.key()).await?;
        let count = |item: &Item, name: &str| number(item, name).unwrap_or(0);
        Ok(item.map(|item| TestCounters {
            test: test.clone(),
            requests: count(&item, REQUESTS) as u64,
            errors: count(&item, ERRORS) as u64,
            dropped: count(&item, DROPPED) as u64,
            results_archived: count(&item, RESULTS_ARCHIVED) as u64,
            chunks_archived: count(&item, CHUNKS_ARCHIVED) as u64,
            last_result_at: count(&item, LAST_RESULT_AT),
            calls_lost: count(&item, CALLS_LOST) as u64,
            start_skews_us: item
                .get(START_SKEWS)
                .and_then(|v| v.as_l().ok())
                .map(|values| values.iter().filter_map(|v| v.as_n().ok()?.parse().ok()).collect())
                .unwrap_or_default(),
        }))
    }
}

/// A `TestActivity` over the tests table.
#[derive(Debug, Clone)]
pub struct DynamoTestActivity {
    client: Client,
    table: String,
}

impl DynamoTestActivity {
    pub fn new(sdk_config: &aws_config::SdkConfig, tests_table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: tests_table.into(),
        }
    }
}

fn active_test_of(item: &Item) -> Result<ActiveTest, StoreError> {
    let part = |name: &str| {
        text(item, name)
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Corrupt(format!("a test item has no {name}")))
    };
    let test = TestScope::new(part(ORGANISATION_ID)?, part(TEST_ID)?);
    // Sorted: a string set.
    let marks = string_set(item, METRIC_REGIONS);
    Ok(ActiveTest {
        series: marks.iter().map(|mark| Series::from_region_mark(&test, mark)).collect(),
        test,
        last_result_at: number(item, LAST_RESULT_AT).unwrap_or(0),
        saved_through: number(item, SAVED_THROUGH),
    })
}

#[async_trait]
impl TestActivity for DynamoTestActivity {
    async fn active_since(&self, since: i64, now: i64) -> Result<Vec<ActiveTest>, StoreError> {
        let mut tests = Vec::new();
        let mut day = since - since.rem_euclid(86_400);
        while day <= now {
            // dynamodb:Query (on the index)
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ACTIVE_DAY_INDEX)
                .key_condition_expression("#d = :d AND #l >= :since")
                .expression_attribute_names("#d", ACTIVE_DAY)
                .expression_attribute_names("#l", LAST_RESULT_AT)
                .expression_attribute_values(":d", s(&active_day(day)))
                .expression_attribute_values(":since", n(since));
            for item in query_all(query).await? {
                tests.push(active_test_of(&item)?);
            }
            day += 86_400;
        }
        Ok(tests)
    }

    async fn test(&self, test: &TestScope) -> Result<Option<ActiveTest>, StoreError> {
        let item = get_by_key(&self.client, &self.table, TEST_KEY, &test.key()).await?;
        // A test with lost calls and no result yet has no series to save.
        item.filter(|item| item.contains_key(LAST_RESULT_AT))
            .as_ref()
            .map(active_test_of)
            .transpose()
    }

    async fn advance_watermark(&self, test: &TestScope, from: Option<i64>, to: i64) -> Result<bool, StoreError> {
        let condition = match from {
            None => "attribute_exists(#l) AND (attribute_not_exists(#w) OR #w < :to)",
            Some(_) => "attribute_exists(#l) AND #w >= :from AND #w < :to",
        };
        // dynamodb:UpdateItem (conditional)
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(TEST_KEY, s(&test.key()))
            .update_expression("SET #w = :to")
            .condition_expression(condition)
            .expression_attribute_names("#w", SAVED_THROUGH)
            .expression_attribute_names("#l", LAST_RESULT_AT)
            .expression_attribute_values(":to", n(to));
        if let Some(from) = from {
            update = update.expression_attribute_values(":from", n(from));
        }
        Ok(conditional(update.send().await.map_err(|e| e.into_service_error()))?.is_ok())
    }
}
