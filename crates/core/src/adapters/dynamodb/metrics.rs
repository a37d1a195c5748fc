//! The metrics table: the metrics-saver's `SavedMetricsStore`, one item per series and second.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use super::{Item, n, query_all, unavailable};
use crate::model::saved_metrics::{SavedSecond, Series};
use crate::model::scope::TestScope;
use crate::ports::{SavedMetricsStore, StoreError};

/// The metrics table: partition key `series` (S: the test's key `<org>#<test>`, then `#region` when there
/// is one), sort key `second` (N, Unix seconds); attributes `organisationId`, `testId`, `region`, `p50`, `p90`, `p95`, `p99`, `max`, `avg`
/// (milliseconds, absent when nothing was measured), `requests`, `errors`, `dropped`.
pub mod schema {
    pub const SERIES: &str = "series";
    pub const SECOND: &str = "second";
    pub const ORGANISATION_ID: &str = "organisationId";
    pub const TEST_ID: &str = "testId";
    pub const REGION: &str = "region";
}

/// The IAM actions `DynamoSavedMetrics` calls.
pub const SAVED_METRICS_ACTIONS: &[&str] = &["dynamodb:BatchWriteItem", "dynamodb:Query"];

fn item_of(second: &SavedSecond) -> Item {
    use schema::*;
    let mut item = Item::from([
        (SERIES.to_owned(), AttributeValue::S(second.series.key())),
        (SECOND.to_owned(), n(second.second)),
        (
            ORGANISATION_ID.to_owned(),
            AttributeValue::S(second.series.test.organisation_id.clone()),
        ),
        (
            TEST_ID.to_owned(),
            AttributeValue::S(second.series.test.test_id.clone()),
        ),
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
    use schema::*;
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let float = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let count = |name: &str| float(name).map_or(0, |v| v as u64);
    let part = |name: &str| text(name).ok_or_else(|| StoreError::Corrupt(format!("a saved second has no {name}")));
    let test = TestScope::new(part(ORGANISATION_ID)?, part(TEST_ID)?);
    let second = float(SECOND).ok_or_else(|| StoreError::Corrupt(format!("a saved second has no {SECOND}")))?;
    Ok(SavedSecond {
        series: Series {
            test,
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
        use schema::{SECOND, SERIES};
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
