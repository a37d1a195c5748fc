//! DynamoDB adapters for the metrics-saver: the saved seconds (metrics table) and the tests' activity and
//! watermarks (tests table, which the archiver's `DynamoResultLedger` writes).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::DateTime;

use super::dynamodb::{get_by_key, ledger_schema, unavailable};
use crate::model::saved_metrics::{ActiveTest, SavedSecond, Series};
use crate::ports::{SavedMetricsStore, StoreError, TestActivity};

/// The metrics table: partition key `series` (S: the test id, then `#region` when there is one), sort key
/// `second` (N, Unix seconds); attributes `testId`, `region`, `p50`, `p90`, `p95`, `p99`, `max`, `avg`
/// (milliseconds, absent when nothing was measured), `requests`, `errors`, `dropped`.
pub mod metrics_schema {
    pub const SERIES: &str = "series";
    pub const SECOND: &str = "second";
    pub const TEST_ID: &str = "testId";
    pub const REGION: &str = "region";
}

/// The tests table's attributes that this module reads or writes beyond the counters (see `ledger_schema`):
/// the global secondary index `byActiveDay` (partition `activeDay`, the UTC date of the last result; sort
/// `lastResultAt`) finds the recently active tests without a scan.
pub mod activity_schema {
    pub const ACTIVE_DAY_INDEX: &str = "byActiveDay";
    pub const ACTIVE_DAY: &str = "activeDay";
    pub const METRIC_REGIONS: &str = "metricRegions";
    pub const SAVED_THROUGH: &str = "metricsSavedThrough";
}

/// The IAM actions `DynamoSavedMetrics` calls.
pub const SAVED_METRICS_ACTIONS: &[&str] = &["dynamodb:BatchWriteItem", "dynamodb:Query"];
/// The IAM actions `DynamoTestActivity` calls (Query on the `byActiveDay` index).
pub const TEST_ACTIVITY_ACTIONS: &[&str] = &["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"];

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

type Item = HashMap<String, AttributeValue>;

/// Every item a query matches, through all its pages.
async fn query_all(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = query
            .clone()
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}

fn item_of(second: &SavedSecond) -> Item {
    use metrics_schema::*;
    let mut item = HashMap::from([
        (SERIES.to_owned(), AttributeValue::S(second.series.key())),
        (SECOND.to_owned(), n(second.second)),
        (TEST_ID.to_owned(), AttributeValue::S(second.series.test_id.clone())),
        ("requests".to_owned(), n(second.requests)),
        ("errors".to_owned(), n(second.errors)),
        ("dropped".to_owned(), n(second.dropped)),
    ]);
    if let Some(region) = &second.series.region {
        item.insert(REGION.to_owned(), AttributeValue::S(region.clone()));
    }
    for (name, value) in [
        ("p50", second.p50),
        ("p90", second.p90),
        ("p95", second.p95),
        ("p99", second.p99),
        ("max", second.max),
        ("avg", second.avg),
    ] {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            item.insert(name.to_owned(), n(value));
        }
    }
    item
}

fn second_of(item: &Item) -> Result<SavedSecond, StoreError> {
    use metrics_schema::*;
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let float = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let count = |name: &str| float(name).map_or(0, |v| v as u64);
    let test_id = text(TEST_ID).ok_or_else(|| StoreError::Corrupt(format!("a saved second has no {TEST_ID}")))?;
    let second = float(SECOND).ok_or_else(|| StoreError::Corrupt(format!("a saved second has no {SECOND}")))?;
    Ok(SavedSecond {
        series: Series {
            test_id,
            region: text(REGION),
        },
        second: second as i64,
        p50: float("p50"),
        p90: float("p90"),
        p95: float("p95"),
        p99: float("p99"),
        max: float("max"),
        avg: float("avg"),
        requests: count("requests"),
        errors: count("errors"),
        dropped: count("dropped"),
    })
}

/// A `SavedMetricsStore` in the metrics table.
#[derive(Debug, Clone)]
pub struct DynamoSavedMetrics {
    client: Client,
    table: String,
}

impl DynamoSavedMetrics {
    pub fn new(sdk_config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk_config),
            table: table.into(),
        }
    }
}

#[async_trait]
impl SavedMetricsStore for DynamoSavedMetrics {
    async fn write_batch(&self, items: &[SavedSecond]) -> Result<Vec<SavedSecond>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if items.len() > self.batch_limit() {
            return Err(StoreError::Corrupt(format!(
                "{} items in one batch; BatchWriteItem takes {}",
                items.len(),
                self.batch_limit()
            )));
        }
        let requests = items
            .iter()
            .map(|second| {
                let put = PutRequest::builder()
                    .set_item(Some(item_of(second)))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // dynamodb:BatchWriteItem
        let out = self
            .client
            .batch_write_item()
            .request_items(&self.table, requests)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let unprocessed = out.unprocessed_items.unwrap_or_default();
        unprocessed
            .get(&self.table)
            .into_iter()
            .flatten()
            .filter_map(|request| request.put_request.as_ref())
            .map(|put| second_of(&put.item))
            .collect()
    }

    async fn read(&self, series: &Series, from: i64, to: i64) -> Result<Vec<SavedSecond>, StoreError> {
        use metrics_schema::{SECOND, SERIES};
        // dynamodb:Query
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#p = :p AND #s BETWEEN :from AND :last")
            .expression_attribute_names("#p", SERIES)
            .expression_attribute_names("#s", SECOND)
            .expression_attribute_values(":p", AttributeValue::S(series.key()))
            .expression_attribute_values(":from", n(from))
            .expression_attribute_values(":last", n(to - 1))
            .consistent_read(true);
        query_all(query).await?.iter().map(second_of).collect()
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

/// The UTC date of a Unix second, as the `activeDay` index holds it.
pub fn active_day(unix_seconds: i64) -> String {
    DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

fn active_test_of(item: &Item) -> Result<ActiveTest, StoreError> {
    use activity_schema::*;
    use ledger_schema::{LAST_RESULT_AT, TEST_ID};
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let test_id = item
        .get(TEST_ID)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("a test item has no {TEST_ID}")))?;
    let mut marks: Vec<&String> = item
        .get(METRIC_REGIONS)
        .and_then(|v| v.as_ss().ok())
        .map(|marks| marks.iter().collect())
        .unwrap_or_default();
    marks.sort();
    Ok(ActiveTest {
        series: marks
            .into_iter()
            .map(|mark| crate::model::saved_metrics::Series::from_region_mark(&test_id, mark))
            .collect(),
        test_id,
        last_result_at: number(LAST_RESULT_AT).unwrap_or(0),
        saved_through: number(SAVED_THROUGH),
    })
}

#[async_trait]
impl TestActivity for DynamoTestActivity {
    async fn active_since(&self, since: i64, now: i64) -> Result<Vec<ActiveTest>, StoreError> {
        use activity_schema::*;
        use ledger_schema::LAST_RESULT_AT;
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
                .expression_attribute_values(":d", AttributeValue::S(active_day(day)))
                .expression_attribute_values(":since", n(since));
            for item in query_all(query).await? {
                tests.push(active_test_of(&item)?);
            }
            day += 86_400;
        }
        Ok(tests)
    }

    async fn test(&self, test_id: &str) -> Result<Option<ActiveTest>, StoreError> {
        let item = get_by_key(&self.client, &self.table, ledger_schema::TEST_ID, test_id).await?;
        item.as_ref().map(active_test_of).transpose()
    }

    async fn advance_watermark(&self, test_id: &str, from: Option<i64>, to: i64) -> Result<bool, StoreError> {
        use activity_schema::SAVED_THROUGH;
        let condition = match from {
            None => "attribute_exists(#t) AND (attribute_not_exists(#w) OR #w < :to)",
            Some(_) => "attribute_exists(#t) AND #w >= :from AND #w < :to",
        };
        // dynamodb:UpdateItem (conditional)
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(ledger_schema::TEST_ID, AttributeValue::S(test_id.to_owned()))
            .update_expression("SET #w = :to")
            .condition_expression(condition)
            .expression_attribute_names("#w", SAVED_THROUGH)
            .expression_attribute_names("#t", ledger_schema::TEST_ID)
            .expression_attribute_values(":to", n(to));
        if let Some(from) = from {
            update = update.expression_attribute_values(":from", n(from));
        }
        match update.send().await.map_err(|e| e.into_service_error()) {
            Ok(_) => Ok(true),
            Err(e) if e.is_conditional_check_failed_exception() => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}
