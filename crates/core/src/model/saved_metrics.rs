//! What the metrics-saver keeps of CloudWatch's 1-second metrics, which CloudWatch itself drops after three
//! hours: per series (a test, or a test in one region) and second, the latency percentiles, maximum and
//! average, and the sums of requests, errors and dropped sends.

use serde::{Deserialize, Serialize};

use crate::model::scope::TestScope;

/// How long CloudWatch keeps 1-second data points.
pub const CLOUDWATCH_HIGH_RES_RETENTION_SECONDS: i64 = 3 * 3600;

/// The mark a test's `metricRegions` set holds for results that named no region (DynamoDB sets cannot
/// hold an empty string).
pub const NO_REGION: &str = "-";

/// One metric series: a test's metrics under the dimensions the archiver published them with
/// (`OrganisationId` and `TestId`, and `Region` when the results named one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Series {
    #[serde(flatten)]
    pub test: TestScope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Series {
    pub fn new(test: &TestScope, region: Option<&str>) -> Self {
        Self {
            test: test.clone(),
            region: region.map(str::to_owned),
        }
    }

    /// The series of a test from one entry of its `metricRegions` set.
    pub fn from_region_mark(test: &TestScope, mark: &str) -> Self {
        Self::new(test, (mark != NO_REGION).then_some(mark))
    }

    /// The CloudWatch dimensions its datums carry, in this order: `OrganisationId`, `TestId` (a test id is
    /// only unique within its organisation), and `Region` when the series has one.
    pub fn dimensions(&self) -> Vec<(&'static str, String)> {
        let mut dimensions = vec![
            ("OrganisationId", self.test.organisation_id.clone()),
            ("TestId", self.test.test_id.clone()),
        ];
        if let Some(region) = &self.region {
            dimensions.push(("Region", region.clone()));
        }
        dimensions
    }

    /// The storage key: the test's key (`org#test`), then `#region` when there is one (identifiers cannot
    /// hold `#`).
    pub fn key(&self) -> String {
        match &self.region {
            Some(region) => format!("{}#{region}", self.test.key()),
            None => self.test.key(),
        }
    }
}

impl std::fmt::Display for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

/// One second of one series, as kept. Latency statistics are in milliseconds and absent when no request
/// in that second measured a latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedSecond {
    #[serde(flatten)]
    pub series: Series,
    /// Unix seconds.
    pub second: i64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub avg: Option<f64>,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
}

impl SavedSecond {
    /// A second with no data yet, to be filled statistic by statistic.
    pub fn empty(series: Series, second: i64) -> Self {
        Self {
            series,
            second,
            p50: None,
            p90: None,
            p95: None,
            p99: None,
            max: None,
            avg: None,
            requests: 0,
            errors: 0,
            dropped: 0,
        }
    }
}

/// The statistics read back for each series, with CloudWatch's names for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    P50,
    P90,
    P95,
    P99,
    Maximum,
    Average,
    RequestsSum,
    ErrorsSum,
    DroppedSum,
}

impl Statistic {
    pub const ALL: [Statistic; 9] = [
        Self::P50,
        Self::P90,
        Self::P95,
        Self::P99,
        Self::Maximum,
        Self::Average,
        Self::RequestsSum,
        Self::ErrorsSum,
        Self::DroppedSum,
    ];

    /// The metric name and CloudWatch statistic.
    pub fn metric_and_stat(self) -> (&'static str, &'static str) {
        match self {
            Self::P50 => ("ResponseTime", "p50"),
            Self::P90 => ("ResponseTime", "p90"),
            Self::P95 => ("ResponseTime", "p95"),
            Self::P99 => ("ResponseTime", "p99"),
            Self::Maximum => ("ResponseTime", "Maximum"),
            Self::Average => ("ResponseTime", "Average"),
            Self::RequestsSum => ("Requests", "Sum"),
            Self::ErrorsSum => ("Errors", "Sum"),
            Self::DroppedSum => ("Dropped", "Sum"),
        }
    }

    /// Sets this statistic's value on `second`.
    pub fn set(self, second: &mut SavedSecond, value: f64) {
        let count = || {
            if value.is_finite() && value > 0.0 {
                value.round() as u64
            } else {
                0
            }
        };
        match self {
            Self::P50 => second.p50 = Some(value),
            Self::P90 => second.p90 = Some(value),
            Self::P95 => second.p95 = Some(value),
            Self::P99 => second.p99 = Some(value),
            Self::Maximum => second.max = Some(value),
            Self::Average => second.avg = Some(value),
            Self::RequestsSum => second.requests = count(),
            Self::ErrorsSum => second.errors = count(),
            Self::DroppedSum => second.dropped = count(),
        }
    }
}

/// A test whose metrics the saver looks after, as the tests table knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveTest {
    pub test: TestScope,
    /// Every series its results were published under.
    pub series: Vec<Series>,
    /// Unix seconds of the last archived result.
    pub last_result_at: i64,
    /// Every second before this one is saved (Unix seconds); none before the first save.
    pub saved_through: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(test_id: &str) -> TestScope {
        TestScope::new("acme", test_id)
    }

    #[test]
    fn series_keys_and_region_marks() {
        assert_eq!(Series::new(&t("t1"), None).key(), "acme#t1");
        assert_eq!(Series::new(&t("t1"), Some("eu-west-1")).key(), "acme#t1#eu-west-1");
        assert_ne!(
            Series::new(&TestScope::new("globex", "t1"), None).key(),
            Series::new(&t("t1"), None).key()
        );
        assert_eq!(
            Series::from_region_mark(&t("t1"), NO_REGION),
            Series::new(&t("t1"), None)
        );
        assert_eq!(
            Series::from_region_mark(&t("t1"), "us-east-1"),
            Series::new(&t("t1"), Some("us-east-1"))
        );
    }

    #[test]
    fn statistics_fill_a_second() {
        let mut second = SavedSecond::empty(Series::new(&t("t"), None), 5);
        for (i, statistic) in Statistic::ALL.iter().enumerate() {
            statistic.set(&mut second, i as f64 + 1.0);
        }
        assert_eq!((second.p50, second.p99, second.avg), (Some(1.0), Some(4.0), Some(6.0)));
        assert_eq!((second.requests, second.errors, second.dropped), (7, 8, 9));
        Statistic::ErrorsSum.set(&mut second, f64::NAN);
        assert_eq!(second.errors, 0, "a count that is not a number is no count");
    }

    #[test]
    fn a_saved_second_serialises_flat() {
        let second = SavedSecond::empty(Series::new(&t("t"), Some("eu-west-1")), 5);
        let json = serde_json::to_value(&second).unwrap_or_default();
        assert_eq!(json["organisationId"], "acme");
        assert_eq!(json["testId"], "t");
        assert_eq!(json["region"], "eu-west-1");
        assert_eq!(json["second"], 5);
    }
}
