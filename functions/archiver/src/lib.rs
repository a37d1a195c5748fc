//! The archiver: drains the results queue. For each result, on its own (a poison message fails only
//! itself): the full result to S3 at a deterministic key, live counters to DynamoDB (once per call, however
//! often the message is delivered), and 1-second metrics to CloudWatch. A chunk of a running call's seconds
//! is archived the same way under its own scope (`CallScope::chunk`), and the call's result at its end
//! counts and publishes only the seconds no chunk carried, so every second is counted once.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use thiserror::Error;
use volley_core::adapters::cloudwatch::CloudWatchMetricsSink;
use volley_core::adapters::dynamodb::orchestration::DynamoStopSignal;
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{ConfigError, EnvReader};
use volley_core::model::abort::{self, AbortRule, LiveSecond};
use volley_core::model::metrics::{DATUMS_PER_BATCH, MetricDatum, metrics_for};
use volley_core::model::result::{CallResult, ResultChunk, ResultMessage};
use volley_core::model::scope::{CallScope, ScopeError};
use volley_core::ports::{
    ArchiveMark, BatchClaim, MAX_LIVE_SECONDS, MetricsSink, ResultArchive, ResultCounts, ResultLedger, ResultPart,
    StopSignal, StoreError,
};
use volley_engine::load::stats::{SecondStats, Stats};

/// The archiver's settings, read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CALLS_TABLE`: archive marks, so each result is counted once.
    pub calls_table: String,
    /// `TESTS_TABLE`: live per-test counters.
    pub tests_table: String,
    /// `RESULTS_BUCKET`.
    pub results_bucket: String,
    /// `ORCHESTRATION_TABLE`: where a test's stop is, by the same name in its home region (an abort rule
    /// that holds stops the test there).
    pub orchestration_table: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let calls_table = env.required("CALLS_TABLE");
        let tests_table = env.required("TESTS_TABLE");
        let results_bucket = env.required("RESULTS_BUCKET");
        let orchestration_table = env.required("ORCHESTRATION_TABLE");
        env.finish()?;
        Ok(Self {
            calls_table,
            tests_table,
            results_bucket,
            orchestration_table,
        })
    }
}

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[
    volley_core::adapters::dynamodb::tests::RESULT_LEDGER_ACTIONS,
    volley_core::adapters::s3::ARCHIVE_PUT_ACTIONS,
    volley_core::adapters::s3::ARCHIVE_GET_ACTIONS,
    volley_core::adapters::cloudwatch::METRICS_SINK_ACTIONS,
    volley_core::adapters::dynamodb::orchestration::STOP_BECAUSE_ACTIONS,
];

/// Everything an invocation needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub ledger: Arc<dyn ResultLedger>,
    pub archive: Arc<dyn ResultArchive>,
    pub metrics: Arc<dyn MetricsSink>,
    /// Each test's stop, in its home region: where an abort rule that held stops it.
    pub stops: Arc<dyn StopSignal>,
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Self {
        Self {
            ledger: Arc::new(DynamoResultLedger::new(
                sdk_config,
                &config.calls_table,
                &config.tests_table,
            )),
            archive: Arc::new(S3ResultArchive::new(sdk_config, &config.results_bucket)),
            metrics: Arc::new(CloudWatchMetricsSink::new(sdk_config)),
            stops: Arc::new(DynamoStopSignal::new(sdk_config, &config.orchestration_table)),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Why one record could not be archived. Its message is retried, and after the queue's redrive count it
/// lands in the dead-letter queue.
#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("message {0} has no body")]
    NoBody(String),
    #[error("message {id} is not a result message")]
    Malformed {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("message {id} points at {key}, which is not in the results bucket")]
    MissingStored { id: String, key: String },
    #[error("message {id}: {what} failed")]
    Aws {
        id: String,
        what: &'static str,
        #[source]
        source: StoreError,
    },
    #[error("message {id}: metrics batches {batches:?} are being published by another delivery; retried later")]
    MetricsInProgress { id: String, batches: Vec<u32> },
    #[error("message {id}: the result's {source}")]
    BadScope {
        id: String,
        #[source]
        source: ScopeError,
    },
    #[error("every record of the batch failed; the first: {0}")]
    WholeBatch(String),
}

fn aws(id: &str, what: &'static str) -> impl FnOnce(StoreError) -> ArchiveError {
    let id = id.to_owned();
    move |source| ArchiveError::Aws { id, what, source }
}

/// What one record holds, ready to archive: whose it is (the scope its mark and metrics batches are kept
/// under: the call's, or its chunk's), where it is stored and as what (nothing, for a chunk counted from its
/// call's result), and the seconds it counts.
struct Archivable {
    scope: CallScope,
    region: Option<String>,
    stored: Option<(String, Vec<u8>)>,
    part: ResultPart,
    /// What it adds to the counters: a whole result's seconds that no chunk carried, or a chunk's.
    total: Stats,
    /// A whole result's start skew, kept with the test's counters.
    start_skew_us: Option<i64>,
    /// Its seconds as the live seconds count them, and the test's abort rules with where its stop is.
    live: Vec<LiveSecond>,
    abort: Vec<AbortRule>,
    home_region: Option<String>,
    seconds: Vec<SecondStats>,
}

/// `seconds` as the live seconds count them: summed by second (a second is one item, once per
/// transaction), the last [`MAX_LIVE_SECONDS`].
fn live_of(seconds: &[SecondStats]) -> Vec<LiveSecond> {
    let mut by_second: std::collections::BTreeMap<i64, LiveSecond> = std::collections::BTreeMap::new();
    for s in seconds {
        let live = by_second.entry(s.second).or_insert(LiveSecond {
            second: s.second,
            requests: 0,
            errors: 0,
            dropped: 0,
        });
        live.requests += s.stats.requests;
        live.errors += s.stats.failures();
        live.dropped += s.stats.dropped;
    }
    let live: Vec<LiveSecond> = by_second.into_values().collect();
    live[live.len().saturating_sub(MAX_LIVE_SECONDS)..].to_vec()
}

fn total_of(seconds: &[SecondStats]) -> Stats {
    let mut total = Stats::default();
    for second in seconds {
        total.merge(&second.stats);
    }
    total
}

impl Archivable {
    fn whole(id: &str, result: &CallResult) -> Result<Self, ArchiveError> {
        let malformed = |source| ArchiveError::Malformed {
            id: id.to_owned(),
            source,
        };
        let seconds = result.unchunked_seconds().map_err(malformed)?;
        Ok(Self {
            // Its ids key everything written below: checked before anything is.
            scope: result.scope().map_err(|source| ArchiveError::BadScope {
                id: id.to_owned(),
                source,
            })?,
            region: result.region.clone(),
            stored: Some((result.archive_key(), serde_json::to_vec(result).map_err(malformed)?)),
            part: ResultPart::Whole,
            total: result.unchunked_total().map_err(malformed)?,
            start_skew_us: result
                .report
                .start_skew
                .map(|skew| (skew.first_sent_ms * 1e3).round() as i64),
            live: live_of(&seconds),
            abort: Vec::new(),
            home_region: None,
            seconds,
        })
    }

    fn chunk(id: &str, chunk: &ResultChunk) -> Result<Self, ArchiveError> {
        let malformed = |source| ArchiveError::Malformed {
            id: id.to_owned(),
            source,
        };
        let call = chunk.call_scope().map_err(|source| ArchiveError::BadScope {
            id: id.to_owned(),
            source,
        })?;
        let seconds = chunk.decode_seconds().map_err(malformed)?;
        Ok(Self {
            scope: call.chunk(chunk.chunk),
            region: chunk.region.clone(),
            stored: Some((chunk.archive_key(), serde_json::to_vec(chunk).map_err(malformed)?)),
            part: ResultPart::Chunk,
            total: total_of(&seconds),
            start_skew_us: None,
            live: live_of(&seconds),
            abort: chunk.abort.clone(),
            home_region: chunk.home_region.clone(),
            seconds,
        })
    }

    /// Chunk `k` of `result`, at `positions` among its seconds, counted from the result itself: for a chunk
    /// whose message never came (a send the worker could not confirm), or has not yet. Counted once under the
    /// chunk's own scope either way; the result in S3 holds its seconds, so nothing more is stored.
    fn from_result(
        id: &str,
        result: &CallResult,
        call: &CallScope,
        k: u32,
        positions: std::ops::Range<usize>,
    ) -> Result<Self, ArchiveError> {
        let seconds = result.report.seconds[positions]
            .iter()
            .map(|raw| serde_json::from_str(raw.get()))
            .collect::<Result<Vec<SecondStats>, _>>()
            .map_err(|source| ArchiveError::Malformed {
                id: id.to_owned(),
                source,
            })?;
        Ok(Self {
            scope: call.chunk(k),
            region: result.region.clone(),
            stored: None,
            part: ResultPart::Chunk,
            total: total_of(&seconds),
            start_skew_us: None,
            live: live_of(&seconds),
            abort: Vec::new(),
            home_region: None,
            seconds,
        })
    }
}

/// Archives one record.
async fn archive_one(deps: &Deps, message: &SqsMessage) -> Result<(), ArchiveError> {
    let id = message.message_id.clone().unwrap_or_default();
    let body = message
        .body
        .as_deref()
        .ok_or_else(|| ArchiveError::NoBody(id.clone()))?;
    let malformed = |source| ArchiveError::Malformed { id: id.clone(), source };
    let result: CallResult = match ResultMessage::from_json(body).map_err(malformed)? {
        ResultMessage::Chunk(chunk) => return archive(deps, &id, Archivable::chunk(&id, &chunk)?).await,
        ResultMessage::Inline(result) => *result,
        ResultMessage::Stored { key, .. } => {
            let bytes = deps
                .archive
                .get(&key)
                .await
                .map_err(aws(&id, "reading the stored result"))?;
            let bytes = bytes.ok_or_else(|| ArchiveError::MissingStored {
                id: id.clone(),
                key: key.clone(),
            })?;
            let text = String::from_utf8_lossy(&bytes);
            match ResultMessage::from_json(&text).map_err(malformed)? {
                ResultMessage::Inline(result) => *result,
                ResultMessage::Stored { .. } | ResultMessage::Chunk(..) => {
                    return Err(ArchiveError::MissingStored { id, key });
                }
            }
        }
    };
    let whole = Archivable::whole(&id, &result)?;
    // Every chunk the worker made is counted, its message come or not (each once, under its own scope):
    // one read of their marks, then only those not yet counted and published.
    if let Some(chunked) = &result.chunked {
        let made: Vec<(u32, std::ops::Range<usize>)> = (0..chunked.chunks)
            .map_while(|k| chunked.range(k as usize).map(|positions| (k, positions)))
            .collect();
        let scopes: Vec<CallScope> = made.iter().map(|(k, _)| whole.scope.chunk(*k)).collect();
        let marks = deps
            .ledger
            .marks(&scopes)
            .await
            .map_err(aws(&id, "reading the chunks' marks"))?;
        for ((k, positions), mark) in made.into_iter().zip(marks) {
            if mark != Some(true) {
                let chunk = Archivable::from_result(&id, &result, &whole.scope, k, positions)?;
                archive(deps, &id, chunk).await?;
            }
        }
    }
    archive(deps, &id, whole).await
}

/// Stores a result or chunk, counts it once, holds the test's abort rules, and publishes its metrics once.
async fn archive(deps: &Deps, id: &str, item: Archivable) -> Result<(), ArchiveError> {
    let Archivable {
        scope,
        region,
        stored,
        part,
        total,
        start_skew_us,
        seconds,
        live,
        abort,
        home_region,
    } = item;
    if let Some((key, document)) = stored {
        deps.archive
            .put(&key, document)
            .await
            .map_err(aws(id, "storing the result"))?;
    }
    let counts = ResultCounts {
        requests: total.requests,
        errors: total.failures(),
        dropped: total.dropped,
        part,
        start_skew_us,
    };
    let now = deps.clock.now().timestamp();
    let mark = deps
        .ledger
        .record_archived(&scope, counts, &live, region.as_deref(), now)
        .await
        .map_err(aws(id, "counting the result"))?;
    // Before the metrics: a batch another delivery holds must not hold the rules back.
    if !abort.is_empty() {
        hold_abort_rules(deps, id, &scope, &live, &abort, home_region.as_deref()).await?;
    }
    let publish = !matches!(
        mark,
        ArchiveMark::Seen {
            metrics_published: true
        }
    );
    if publish {
        let data = metrics_for(&scope.test, region.as_deref(), &seconds);
        publish_once(deps, id, &scope, &data).await?;
    }
    tracing::info!(
        organisation_id = %scope.test.organisation_id, test_id = %scope.test.test_id, call_id = %scope.call_id,
        requests = counts.requests, part = ?part,
        first_delivery = matches!(mark, ArchiveMark::Fresh), metrics_published = publish, "result archived"
    );
    Ok(())
}

/// Holds the test's abort rules over its live seconds, from the longest rule's window before `chunk`'s
/// first second to its last; a rule that holds stops the test in its home region, saying why. A failed
/// read or stop fails the record, so its retry holds them again (nothing is counted twice).
async fn hold_abort_rules(
    deps: &Deps,
    id: &str,
    scope: &CallScope,
    chunk: &[LiveSecond],
    rules: &[AbortRule],
    home_region: Option<&str>,
) -> Result<(), ArchiveError> {
    let test = &scope.test;
    let rules = match abort::checked(rules) {
        Ok(rules) => rules,
        Err((field, problem)) => {
            // The worker checked them before it fired: a chunk's rules that do not read came from elsewhere.
            tracing::warn!(organisation_id = %test.organisation_id, test_id = %test.test_id, field, problem, "abort rules that do not read are not held");
            return Ok(());
        }
    };
    let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
        return Ok(());
    };
    let from = (first.second - i64::from(abort::window(&rules)) + 1).max(last.second - MAX_LIVE_SECONDS as i64 + 1);
    let live = deps
        .ledger
        .live_seconds(test, from, last.second)
        .await
        .map_err(aws(id, "reading the live seconds"))?;
    let Some(tripped) = abort::tripped(&rules, &live) else {
        return Ok(());
    };
    let reason = tripped.reason();
    let stopped_now = deps
        .stops
        .stop_because(test, home_region, deps.clock.now().timestamp_millis(), &reason)
        .await
        .map_err(aws(id, "stopping the test"))?;
    tracing::warn!(organisation_id = %test.organisation_id, test_id = %test.test_id, reason, stopped_now, "an abort rule held: the test is stopped");
    Ok(())
}

/// How long a delivery holds a metrics batch it is publishing. A holder that dies before its mark lets the
/// batch go after this; a duplicate delivery meanwhile leaves the batch to it and retries later.
pub const METRICS_LEASE_SECONDS: i64 = 120;

/// Publishes a result's metrics once, batch by batch (one batch is one PutMetricData call,
/// `DATUMS_PER_BATCH` datums): each batch is claimed under a lease before it is published and marked after,
/// so an overlapping duplicate delivery publishes nothing twice, and a redelivery after a crash publishes only
/// the batches not marked. Only a publisher killed between a PutMetricData and its mark repeats that one
/// batch. A batch another delivery holds fails this record, to be retried once that delivery is done.
async fn publish_once(deps: &Deps, id: &str, call: &CallScope, data: &[MetricDatum]) -> Result<(), ArchiveError> {
    let mut held_elsewhere = Vec::new();
    for (batch, datums) in (0u32..).zip(data.chunks(DATUMS_PER_BATCH)) {
        let now = deps.clock.now().timestamp();
        let claim = deps
            .ledger
            .claim_metrics_batch(call, batch, now, now + METRICS_LEASE_SECONDS)
            .await
            .map_err(aws(id, "claiming a metrics batch"))?;
        match claim {
            BatchClaim::Claimed => {
                deps.metrics
                    .publish(datums)
                    .await
                    .map_err(aws(id, "publishing metrics"))?;
                deps.ledger
                    .finish_metrics_batch(call, batch)
                    .await
                    .map_err(aws(id, "marking a metrics batch published"))?;
            }
            BatchClaim::Published => {}
            BatchClaim::InProgress => held_elsewhere.push(batch),
        }
    }
    if !held_elsewhere.is_empty() {
        return Err(ArchiveError::MetricsInProgress {
            id: id.to_owned(),
            batches: held_elsewhere,
        });
    }
    deps.ledger
        .mark_metrics_published(call)
        .await
        .map_err(aws(id, "marking metrics published"))
}

/// Handles one batch: each record on its own; the failed ones are reported for retry. If every record
/// failed, the invocation fails (so Lambda backs off instead of spinning on a broken dependency).
pub async fn function_handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, ArchiveError> {
    let records = event.payload.records;
    let mut response = SqsBatchResponse::default();
    let mut first_error = None;
    for record in &records {
        if let Err(error) = archive_one(deps, record).await {
            tracing::error!(message_id = ?record.message_id, error = %error, source = ?std::error::Error::source(&error), "record not archived");
            first_error.get_or_insert_with(|| error.to_string());
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    if !records.is_empty() && response.batch_item_failures.len() == records.len() {
        return Err(ArchiveError::WholeBatch(first_error.unwrap_or_default()));
    }
    Ok(response)
}

impl ArchiveError {
    /// The variant's name: Lambda's `errorType`, so failures can be counted by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoBody(..) => "NoBody",
            Self::Malformed { .. } => "Malformed",
            Self::BadScope { .. } => "BadScope",
            Self::MissingStored { .. } => "MissingStored",
            Self::Aws { .. } => "Aws",
            Self::MetricsInProgress { .. } => "MetricsInProgress",
            Self::WholeBatch(..) => "WholeBatch",
        }
    }
}

impl From<ArchiveError> for lambda_runtime::Diagnostic {
    fn from(error: ArchiveError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().into(),
            error_message: volley_core::error_chain(&error),
        }
    }
}
