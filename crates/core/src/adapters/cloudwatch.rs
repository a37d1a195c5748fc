//! CloudWatch adapters: high-resolution metrics, published by the archiver and read back by the
//! metrics-saver.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDatum as CwDatum, MetricStat, ScanBy, StandardUnit,
};

use crate::model::metrics::{MetricDatum, NAMESPACE, Unit};
use crate::model::saved_metrics::{SavedSecond, Series, Statistic};
use crate::ports::{MetricsSink, MetricsSource, StoreError};

/// The IAM actions `CloudWatchMetricsSink` calls (PutMetricData, limited by a namespace condition).
pub const METRICS_SINK_ACTIONS: &[&str] = &["cloudwatch:PutMetricData"];

/// Datums per PutMetricData call: the model's batch (`model::metrics::DATUMS_PER_BATCH`), so a batch the
/// archiver marks is one call.
pub const DATUMS_PER_CALL: usize = crate::model::metrics::DATUMS_PER_BATCH;

/// A `MetricsSink` publishing to CloudWatch with 1-second storage resolution.
#[derive(Debug, Clone)]
pub struct CloudWatchMetricsSink {
    client: Client,
}

impl CloudWatchMetricsSink {
    pub fn new(sdk_config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(sdk_config),
        }
    }
}

fn datum(d: &MetricDatum) -> CwDatum {
    let timestamp = DateTime::from(UNIX_EPOCH + Duration::from_secs(u64::try_from(d.timestamp).unwrap_or(0)));
    let unit = match d.unit {
        Unit::Milliseconds => StandardUnit::Milliseconds,
        Unit::Count => StandardUnit::Count,
    };
    let mut builder = CwDatum::builder()
        .metric_name(d.name)
        .timestamp(timestamp)
        .unit(unit)
        .storage_resolution(1)
        .set_values(Some(d.values.clone()))
        .set_counts(Some(d.counts.clone()));
    for (name, value) in &d.dimensions {
        builder = builder.dimensions(Dimension::builder().name(*name).value(value).build());
    }
    builder.build()
}

#[async_trait]
impl MetricsSink for CloudWatchMetricsSink {
    async fn publish(&self, data: &[MetricDatum]) -> Result<(), StoreError> {
        for chunk in data.chunks(DATUMS_PER_CALL) {
            // cloudwatch:PutMetricData
            self.client
                .put_metric_data()
                .namespace(NAMESPACE)
                .set_metric_data(Some(chunk.iter().map(datum).collect()))
                .send()
                .await
                .map_err(|e| StoreError::Unavailable(Box::new(e.into_service_error())))?;
        }
        Ok(())
    }
}

/// The IAM actions `CloudWatchMetricsSource` calls.
pub const METRICS_SOURCE_ACTIONS: &[&str] = &["cloudwatch:GetMetricData"];

/// Queries per GetMetricData call: CloudWatch's limit.
pub const QUERIES_PER_CALL: usize = 500;

/// A `MetricsSource` reading Volley's 1-second metrics back with GetMetricData.
#[derive(Debug, Clone)]
pub struct CloudWatchMetricsSource {
    client: Client,
}

impl CloudWatchMetricsSource {
    pub fn new(sdk_config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(sdk_config),
        }
    }
}

/// The query id of statistic `stat` of series `series`: ids must start with a lower-case letter.
fn query_id(series: usize, stat: usize) -> String {
    format!("s{series}_{stat}")
}

fn parse_query_id(id: &str) -> Option<(usize, usize)> {
    let (series, stat) = id.strip_prefix('s')?.split_once('_')?;
    Some((series.parse().ok()?, stat.parse().ok()?))
}

/// A query for one statistic of one metric of `series`, at a 1-second period.
pub fn metric_query(id: String, series: &Series, metric_name: &str, statistic: &str) -> MetricDataQuery {
    let mut metric = Metric::builder().namespace(NAMESPACE).metric_name(metric_name);
    for (name, value) in series.dimensions() {
        metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
    }
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric.build())
                .period(1)
                .stat(statistic)
                .build(),
        )
        .return_data(true)
        .build()
}

#[async_trait]
impl MetricsSource for CloudWatchMetricsSource {
    async fn seconds(&self, series: &[Series], from: i64, to: i64) -> Result<Vec<SavedSecond>, StoreError> {
        let mut seconds: BTreeMap<(usize, i64), SavedSecond> = BTreeMap::new();
        if to <= from {
            return Ok(Vec::new());
        }
        // Every statistic of every series, packed into calls of at most QUERIES_PER_CALL queries; each
        // call paged by the SDK's paginator, which follows NextToken (CloudWatch also caps the data points
        // per page).
        let queries: Vec<MetricDataQuery> = series
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                Statistic::ALL.iter().enumerate().map(move |(j, stat)| {
                    let (metric_name, statistic) = stat.metric_and_stat();
                    metric_query(query_id(i, j), s, metric_name, statistic)
                })
            })
            .collect();
        for chunk in queries.chunks(QUERIES_PER_CALL) {
            // cloudwatch:GetMetricData (once per page)
            let mut pages = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(chunk.to_vec()))
                .start_time(DateTime::from_secs(from))
                .end_time(DateTime::from_secs(to))
                .scan_by(ScanBy::TimestampAscending)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| StoreError::Unavailable(Box::new(e.into_service_error())))?;
                for result in page.metric_data_results() {
                    let Some((index, stat)) = result.id().and_then(parse_query_id) else {
                        return Err(StoreError::Corrupt(format!("an unknown query id {:?}", result.id())));
                    };
                    let (Some(one), Some(statistic)) = (series.get(index), Statistic::ALL.get(stat)) else {
                        return Err(StoreError::Corrupt(format!(
                            "query id {:?} is out of range",
                            result.id()
                        )));
                    };
                    for (timestamp, value) in result.timestamps().iter().zip(result.values()) {
                        let second = timestamp.secs();
                        if !(from..to).contains(&second) {
                            continue;
                        }
                        let entry = seconds
                            .entry((index, second))
                            .or_insert_with(|| SavedSecond::empty(one.clone(), second));
                        statistic.set(entry, *value);
                    }
                }
            }
        }
        Ok(seconds.into_values().collect())
    }
}
