//! The metrics-saver: keeps CloudWatch's 1-second metrics past their three hours.
//!
//! A schedule wakes it (`{"action": "sweep"}`, or EventBridge's "Scheduled Event"): it finds the tests with a
//! result in the last three hours (an index on the tests table), reads each one's series from CloudWatch at a
//! 1-second period, writes one item per series and second, and only then moves the test's watermark. Each
//! run re-reads from the watermark less `LATE_RESULTS_SECONDS`, because a worker sends its result when its
//! call ends, up to 15 minutes after the seconds it measured: the re-read items replace themselves, so a
//! second run adds nothing, and a run cut off midway leaves the watermark where the data is complete.
//!
//! A direct invoke `{"organisationId": "...", "testId": "...", "from": "...", "to": "..."}` saves one test's
//! window on demand (RFC 3339 times or Unix seconds) and answers how many seconds it saved.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use volley_core::adapters::cloudwatch::CloudWatchMetricsSource;
use volley_core::adapters::dynamodb::{metrics::DynamoSavedMetrics, tests::DynamoTestActivity};
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{ConfigError, EnvReader};
use volley_core::model::payload::{self, PayloadError};
use volley_core::model::saved_metrics::{ActiveTest, CLOUDWATCH_HIGH_RES_RETENTION_SECONDS, SavedSecond, Series};
use volley_core::model::scope::TestScope;
use volley_core::ports::{MetricsSource, SavedMetricsStore, StoreError, TestActivity};

/// How a run paces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `INGESTION_DELAY_SECONDS`: read no closer to now than this (CloudWatch's ingestion delay; default 60).
    pub ingestion_delay: i64,
    /// `LATE_RESULTS_SECONDS`: how far behind the watermark each run re-reads, for results that arrive late
    /// (default 960: a worker's longest call, 15 minutes, and a minute to archive it).
    pub late_results: i64,
    /// `DEADLINE_MARGIN`: start no new test this close to the Lambda's deadline (default 10s).
    pub deadline_margin: Duration,
    /// Pause before the first retry of unprocessed items; doubled each time (default 50ms).
    pub retry_base: Duration,
    /// Retries of one batch's unprocessed items before the run gives up on the test (default 8).
    pub retry_attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ingestion_delay: 60,
            late_results: 960,
            deadline_margin: Duration::from_secs(10),
            retry_base: Duration::from_millis(50),
            retry_attempts: 8,
        }
    }
}

/// The metrics-saver's settings, read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `TESTS_TABLE`: which tests are active, and their watermarks.
    pub tests_table: String,
    /// `METRICS_TABLE`: the saved seconds.
    pub metrics_table: String,
    pub settings: Settings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let tests_table = env.required("TESTS_TABLE");
        let metrics_table = env.required("METRICS_TABLE");
        let defaults = Settings::default();
        let seconds = |v: &str| {
            v.parse::<i64>()
                .ok()
                .filter(|s| (0..=CLOUDWATCH_HIGH_RES_RETENTION_SECONDS).contains(s))
                .ok_or_else(|| "must be whole seconds from 0 to 10800".to_owned())
        };
        let settings = Settings {
            ingestion_delay: env
                .parsed("INGESTION_DELAY_SECONDS", seconds)
                .unwrap_or(defaults.ingestion_delay),
            late_results: env
                .parsed("LATE_RESULTS_SECONDS", seconds)
                .unwrap_or(defaults.late_results),
            deadline_margin: env
                .parsed("DEADLINE_MARGIN", |v| {
                    humantime::parse_duration(v).map_err(|e| e.to_string())
                })
                .unwrap_or(defaults.deadline_margin),
            ..defaults
        };
        env.finish()?;
        Ok(Self {
            tests_table,
            metrics_table,
            settings,
        })
    }
}

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[
    volley_core::adapters::dynamodb::tests::TEST_ACTIVITY_ACTIONS,
    volley_core::adapters::dynamodb::metrics::SAVED_METRICS_ACTIONS,
    volley_core::adapters::cloudwatch::METRICS_SOURCE_ACTIONS,
];

/// Everything an invocation needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub activity: Arc<dyn TestActivity>,
    pub source: Arc<dyn MetricsSource>,
    pub store: Arc<dyn SavedMetricsStore>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Self {
        Self {
            activity: Arc::new(DynamoTestActivity::new(sdk_config, &config.tests_table)),
            source: Arc::new(CloudWatchMetricsSource::new(sdk_config)),
            store: Arc::new(DynamoSavedMetrics::new(sdk_config, &config.metrics_table)),
            clock: Arc::new(SystemClock),
            settings: config.settings.clone(),
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, Error)]
pub enum SaveError {
    /// The payload is neither a scheduled event nor a window request.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("test {:?} of organisation {:?} has no results, so it has no metrics to save", .0.test_id, .0.organisation_id)]
    UnknownTest(TestScope),
    /// `test` is the test's key (`org#test`), or `(all)`.
    #[error("test {test}: {what} failed")]
    Aws {
        test: String,
        what: &'static str,
        #[source]
        source: StoreError,
    },
    #[error("test {test}: {items} items were still unprocessed after {attempts} retries")]
    Unprocessed { test: String, items: usize, attempts: u32 },
    /// Some tests of a sweep failed; the others were saved (their report is in the log).
    #[error("{failed} of {tests} tests were not saved; the first: {first}")]
    Sweep { failed: usize, tests: usize, first: String },
}

impl SaveError {
    /// The variant's name: Lambda's `errorType`, so failures can be counted by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(..) => "BadRequest",
            Self::UnknownTest(..) => "UnknownTest",
            Self::Aws { .. } => "Aws",
            Self::Unprocessed { .. } => "Unprocessed",
            Self::Sweep { .. } => "Sweep",
        }
    }
}

impl From<SaveError> for lambda_runtime::Diagnostic {
    fn from(error: SaveError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().into(),
            error_message: volley_core::error_chain(&error),
        }
    }
}

/// A time in a request: RFC 3339 text or Unix seconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Time {
    Seconds(i64),
    Text(String),
}

impl Time {
    fn seconds(&self, field: &str) -> Result<i64, SaveError> {
        match self {
            Self::Seconds(seconds) => Ok(*seconds),
            Self::Text(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp())
                .map_err(|e| {
                    SaveError::BadRequest(format!(
                        "{field}: {text:?} is not an RFC 3339 time such as \"2026-11-23T09:00:00Z\": {e}"
                    ))
                }),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WindowRequest {
    organisation_id: String,
    test_id: String,
    from: Time,
    to: Time,
}

/// What one invocation was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Save every active test's new seconds.
    Sweep,
    /// Save one test's `[from, to)` (Unix seconds).
    Window { test: TestScope, from: i64, to: i64 },
}

const EXPECTED: &str = "expected {\"action\": \"sweep\"}, an EventBridge \"Scheduled Event\", or \
                        {\"organisationId\": ..., \"testId\": ..., \"from\": ..., \"to\": ...} to save one \
                        test's window";

/// `{"action": "sweep"}`: a sweep asked for by hand.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepRequest {
    #[serde(rename = "action")]
    _action: SweepAction,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SweepAction {
    Sweep,
}

fn bad_payload(e: PayloadError) -> SaveError {
    SaveError::BadRequest(e.to_string())
}

/// Reads a payload; every problem is named.
pub fn parse_request(payload: &Value) -> Result<Request, SaveError> {
    if payload::is_scheduled_event(payload) {
        return Ok(Request::Sweep);
    }
    let Value::Object(fields) = payload else {
        return Err(SaveError::BadRequest(format!(
            "the payload is not a JSON object: {EXPECTED}"
        )));
    };
    if fields.contains_key("action") {
        let _: SweepRequest = payload::parse(payload).map_err(|e| {
            if e.field == "action" {
                SaveError::BadRequest(format!("{e}; {EXPECTED}"))
            } else {
                bad_payload(e)
            }
        })?;
        return Ok(Request::Sweep);
    }
    if !fields.contains_key("testId") && !fields.contains_key("organisationId") {
        return Err(SaveError::BadRequest(EXPECTED.into()));
    }
    let request: WindowRequest = payload::parse(payload).map_err(bad_payload)?;
    let test = TestScope::checked(&request.organisation_id, &request.test_id)
        .map_err(|e| SaveError::BadRequest(e.to_string()))?;
    let (from, to) = (request.from.seconds("from")?, request.to.seconds("to")?);
    if from >= to {
        return Err(SaveError::BadRequest(format!("from ({from}) must be before to ({to})")));
    }
    Ok(Request::Window { test, from, to })
}

/// What was saved of one test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    /// `organisationId` and `testId`.
    #[serde(flatten)]
    pub test: TestScope,
    /// The window read, `[from, to)` in Unix seconds.
    pub from: i64,
    pub to: i64,
    pub seconds_saved: usize,
    pub watermark_moved: bool,
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub saved: Vec<Saved>,
    pub seconds_saved: usize,
    /// Tests left for the next run because the deadline came near.
    pub tests_left: usize,
}

/// Writes `seconds` in batches, retrying what the store leaves unprocessed, with doubling pauses.
async fn write_all(deps: &Deps, test: &TestScope, seconds: &[SavedSecond]) -> Result<(), SaveError> {
    for batch in seconds.chunks(deps.store.batch_limit().max(1)) {
        let mut pending = batch.to_vec();
        let mut attempt = 0;
        loop {
            let left = deps
                .store
                .write_batch(&pending)
                .await
                .map_err(|source| SaveError::Aws {
                    test: test.to_string(),
                    what: "writing saved seconds",
                    source,
                })?;
            if left.is_empty() {
                break;
            }
            if attempt == deps.settings.retry_attempts {
                return Err(SaveError::Unprocessed {
                    test: test.to_string(),
                    items: left.len(),
                    attempts: attempt,
                });
            }
            let pause = deps.settings.retry_base.saturating_mul(1 << attempt.min(16));
            tracing::warn!(
                organisation_id = %test.organisation_id,
                test_id = %test.test_id,
                unprocessed = left.len(),
                attempt,
                ?pause,
                "retrying unprocessed items"
            );
            tokio::time::sleep(pause).await;
            attempt += 1;
            pending = left;
        }
    }
    Ok(())
}

/// Saves `[from, to)` of `test`, then moves its watermark; `from_is_floor` when nothing older is kept.
async fn save(deps: &Deps, test: &ActiveTest, from: i64, to: i64, from_is_floor: bool) -> Result<Saved, SaveError> {
    let aws = |what| {
        let key = test.test.to_string();
        move |source| SaveError::Aws {
            test: key,
            what,
            source,
        }
    };
    let series = if test.series.is_empty() {
        vec![Series::new(&test.test, None)]
    } else {
        test.series.clone()
    };
    let seconds = deps
        .source
        .seconds(&series, from, to)
        .await
        .map_err(aws("reading CloudWatch"))?;
    write_all(deps, &test.test, &seconds).await?;
    let watermark_moved = deps
        .activity
        .advance_watermark(&test.test, (!from_is_floor).then_some(from), to)
        .await
        .map_err(aws("moving the watermark"))?;
    tracing::info!(
        organisation_id = %test.test.organisation_id,
        test_id = %test.test.test_id,
        from,
        to,
        seconds = seconds.len(),
        watermark_moved,
        "saved"
    );
    Ok(Saved {
        test: test.test.clone(),
        from,
        to,
        seconds_saved: seconds.len(),
        watermark_moved,
    })
}

/// The readable window now: `(floor, to)`, from three hours back to the ingestion delay.
fn readable(deps: &Deps) -> (i64, i64) {
    let now = deps.clock.now().timestamp();
    (
        now - CLOUDWATCH_HIGH_RES_RETENTION_SECONDS,
        now - deps.settings.ingestion_delay,
    )
}

/// Saves every active test's new seconds, oldest watermark first, until the deadline (Unix ms) is near.
pub async fn sweep(deps: &Deps, deadline_ms: Option<i64>) -> Result<SweepReport, SaveError> {
    let (floor, to) = readable(deps);
    let now = deps.clock.now().timestamp();
    let mut tests = deps
        .activity
        .active_since(floor, now)
        .await
        .map_err(|source| SaveError::Aws {
            test: "(all)".into(),
            what: "finding active tests",
            source,
        })?;
    tests.sort_by_key(|t| (t.saved_through, t.test.clone()));
    let mut report = SweepReport {
        saved: Vec::new(),
        seconds_saved: 0,
        tests_left: 0,
    };
    let mut failures = Vec::new();
    let total = tests.len();
    for (i, test) in tests.iter().enumerate() {
        let margin = deps.settings.deadline_margin.as_millis() as i64;
        if deadline_ms.is_some_and(|d| deps.clock.now().timestamp_millis() + margin >= d) {
            report.tests_left = total - i;
            tracing::warn!(
                left = report.tests_left,
                "deadline near: leaving the rest for the next run"
            );
            break;
        }
        let from = test
            .saved_through
            .map_or(floor, |w| (w - deps.settings.late_results).max(floor));
        if from >= to {
            continue;
        }
        match save(deps, test, from, to, from == floor).await {
            Ok(saved) => {
                report.seconds_saved += saved.seconds_saved;
                report.saved.push(saved);
            }
            Err(error) => {
                tracing::error!(organisation_id = %test.test.organisation_id, test_id = %test.test.test_id, error = %volley_core::error_chain(&error), "test not saved");
                failures.push(volley_core::error_chain(&error));
            }
        }
    }
    if let Some(first) = failures.first() {
        return Err(SaveError::Sweep {
            failed: failures.len(),
            tests: total,
            first: first.clone(),
        });
    }
    Ok(report)
}

/// Saves one test's window on demand, clamped to what CloudWatch still has at 1 second.
pub async fn save_window(deps: &Deps, test: &TestScope, from: i64, to: i64) -> Result<Saved, SaveError> {
    let (floor, readable_to) = readable(deps);
    let (from, to) = (from.max(floor), to.min(readable_to));
    if from >= to {
        return Err(SaveError::BadRequest(format!(
            "nothing of that window can be read: CloudWatch keeps 1-second data for 3 hours, and the last \
             {}s are not yet complete (readable now: {floor} to {readable_to})",
            deps.settings.ingestion_delay
        )));
    }
    let active = deps
        .activity
        .test(test)
        .await
        .map_err(|source| SaveError::Aws {
            test: test.to_string(),
            what: "reading the test",
            source,
        })?
        .ok_or_else(|| SaveError::UnknownTest(test.clone()))?;
    save(deps, &active, from, to, from == floor).await
}

/// Handles one invocation: a sweep or a window.
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, SaveError> {
    let deadline = i64::try_from(event.context.deadline).ok().filter(|d| *d > 0);
    let answer = match parse_request(&event.payload)? {
        Request::Sweep => serde_json::to_value(sweep(deps, deadline).await?),
        Request::Window { test, from, to } => serde_json::to_value(save_window(deps, &test, from, to).await?),
    };
    answer.map_err(|e| SaveError::BadRequest(format!("the answer could not be written: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_or_refused_by_name() {
        let parse = |text: &str| parse_request(&serde_json::from_str(text).unwrap_or_default());
        assert_eq!(parse(r#"{"action": "sweep"}"#).ok(), Some(Request::Sweep));
        assert_eq!(
            parse(r#"{"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}"#).ok(),
            Some(Request::Sweep)
        );
        let nine = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .map(|t| t.timestamp())
            .unwrap_or_default();
        assert_eq!(
            parse(&format!(
                r#"{{"organisationId": "acme", "testId": "t1", "from": "2026-11-23T09:00:00+00:00", "to": {}}}"#,
                nine + 60
            ))
            .ok(),
            Some(Request::Window {
                test: TestScope::new("acme", "t1"),
                from: nine,
                to: nine + 60
            }),
            "RFC 3339 text or Unix seconds"
        );
        for (text, needle) in [
            ("[]", "not a JSON object"),
            ("{}", "expected"),
            (r#"{"action": "run"}"#, "action"),
            (r#"{"action": "sweep", "x": 1}"#, "x: unknown field `x`"),
            (r#"{"organisationId": "acme", "testId": "t1", "to": 5}"#, "from"),
            (
                r#"{"organisationId": "acme", "testId": "t1", "from": "yesterday", "to": 5}"#,
                "RFC 3339",
            ),
            (
                r#"{"organisationId": "acme", "testId": "t1", "from": 9, "to": 5}"#,
                "before",
            ),
            (
                r#"{"organisationId": "acme", "testId": "", "from": 1, "to": 5}"#,
                "testId",
            ),
            (
                r#"{"organisationId": "a b", "testId": "t1", "from": 1, "to": 5}"#,
                "organisationId",
            ),
            (
                r#"{"testId": "t1", "from": 1, "to": 5}"#,
                "organisationId: missing field",
            ),
            (
                r#"{"organisationId": "acme", "testId": "t1", "from": 1, "to": 5, "extra": true}"#,
                "extra",
            ),
        ] {
            let error = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(needle), "{text}: {error:?} should name {needle:?}");
        }
    }
}
