//! CloudWatch adapters: high-resolution metrics.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum as CwDatum, StandardUnit};

use crate::model::metrics::{MetricDatum, NAMESPACE, Unit};
use crate::ports::{MetricsSink, StoreError};

/// The IAM actions `CloudWatchMetricsSink` calls (PutMetricData, limited by a namespace condition).
pub const METRICS_SINK_ACTIONS: &[&str] = &["cloudwatch:PutMetricData"];

/// Datums per PutMetricData call: CloudWatch takes up to 1,000 and 1 MB; a datum of 150 values is about
/// 3 KB, so 250 stays well inside both.
pub const DATUMS_PER_CALL: usize = 250;

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
