//! run-load: runs a suite of simulated users against a host (invoked synchronously), compares the run with
//! stored baselines of the same tag and shape, stores it, and answers whether performance regressed.
//!
//! The payload (`RunRequest`) and the answer (`RunAnswer`) are defined once, in `volley_core::model::run`,
//! where the demo driver reads them too. The payload's `organisation_id`, whose validated domains the host
//! must belong to, defaults to `ORGANISATION_ID`; a run for no organisation is refused (runs are stored and
//! compared per organisation). A caller's `run_id` makes the run happen once however often the invoke is
//! retried (`RunClaims`). The suite is packaged, the organisation's own in the results bucket, or inline
//! (`suite::Source`); `{{ssm:...}}` references in its header values resolve before anything is claimed.

pub mod compare;
pub mod suite;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::adapters::dynamodb::runs::{DynamoRunClaims, DynamoRunIndex};
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::adapters::ssm::SsmSecretStore;
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{ConfigError, EnvReader, SecretSettings};
use volley_core::model::identifier::check_identifier;
use volley_core::model::payload;
use volley_core::model::run::{
    Baseline, CompareType, Level, NamedSummary, RunAnswer, RunRequest, RunResult, RunSummary, SuiteRef, Summary,
    fingerprint,
};
use volley_core::ports::{ResultArchive, RunClaim, RunClaims, RunEntry, RunIndex, StoreError};
use volley_core::secrets::{SecretError, Secrets};
use volley_engine::guard::{GuardSettings, Refusal, ResolveError, TargetGuard};
use volley_engine::load::request::Sensitive;

use crate::compare::summary_of;
use crate::suite::{Source, SuiteError};
use crate::users::{RunStats, Shape, TaskStats};

/// The most simulated users one invocation runs.
pub const MAX_USERS: i64 = 1000;
/// The most users started a second (`spawn_rate`).
pub const MAX_SPAWN_RATE: f64 = 1000.0;
/// The longest `spawned_runtime`: a Lambda function runs at most 15 minutes (the invocation's own deadline
/// is checked too, before the run starts).
pub const MAX_SPAWNED_RUNTIME: Duration = Duration::from_secs(15 * 60);
/// The most runs `compare` may merge.
pub const MAX_LOAD_LIMIT: usize = 50;
/// The most tags a run is stored under.
pub const MAX_STORE_TAGS: usize = 10;

/// run-load's settings, read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `RESULTS_BUCKET`: stored runs go under `runs/`.
    pub results_bucket: String,
    /// `RUNS_TABLE`: the index of stored runs by tag.
    pub runs_table: String,
    /// `DOMAINS_TABLE`: validated domains, for the target guard.
    pub domains_table: String,
    /// `ALLOWED_TARGETS` and `DNS_SERVERS`, for the target guard.
    pub guard: GuardSettings,
    /// `ORGANISATION_ID`: whose domains a host must belong to when the payload names no organisation.
    pub organisation_id: Option<String>,
    /// `AWS_LAMBDA_LOG_GROUP_NAME` and `AWS_LAMBDA_LOG_STREAM_NAME`, set by Lambda: where the run's logs are.
    pub log_group_name: String,
    pub log_stream_name: String,
    /// `SECRETS_ROOT` and `SENSITIVE_HEADERS`: a suite's header secrets by reference, and which headers are
    /// never written down.
    pub secrets: SecretSettings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let results_bucket = env.required("RESULTS_BUCKET");
        let runs_table = env.required("RUNS_TABLE");
        let domains_table = env.required("DOMAINS_TABLE");
        let guard = volley_core::config::guard_settings(env);
        let organisation_id = env.optional("ORGANISATION_ID");
        let log_group_name = env.optional("AWS_LAMBDA_LOG_GROUP_NAME").unwrap_or_default();
        let log_stream_name = env.optional("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default();
        let secrets = volley_core::config::secret_settings(env);
        env.finish()?;
        Ok(Self {
            results_bucket,
            runs_table,
            domains_table,
            guard,
            organisation_id,
            log_group_name,
            log_stream_name,
            secrets,
        })
    }
}

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[
    volley_core::adapters::dynamodb::runs::RUN_INDEX_ACTIONS,
    volley_core::adapters::dynamodb::runs::RUN_CLAIMS_ACTIONS,
    volley_core::adapters::dynamodb::domains::DOMAIN_STORE_ACTIONS,
    volley_core::adapters::s3::ARCHIVE_PUT_ACTIONS,
    volley_core::adapters::s3::ARCHIVE_GET_ACTIONS,
    volley_core::adapters::ssm::SECRET_STORE_ACTIONS,
];

/// Everything an invocation needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub guard: TargetGuard,
    pub archive: Arc<dyn ResultArchive>,
    pub index: Arc<dyn RunIndex>,
    /// Claims of callers' run ids (the runs table).
    pub claims: Arc<dyn RunClaims>,
    /// The results bucket's name: stored suites are keys in it, and an `s3://` URL must name it.
    pub results_bucket: String,
    /// Where `{{ssm:...}}` references in a suite's header values resolve.
    pub secrets: Secrets,
    /// Which headers' values are credentials (marked sensitive, never written down).
    pub sensitive: Sensitive,
    pub clock: Arc<dyn Clock>,
    pub organisation_id: Option<String>,
    pub log_group_name: String,
    pub log_stream_name: String,
    /// Refuse a run that cannot end this long before the Lambda's deadline.
    pub deadline_margin: Duration,
    /// Per request.
    pub request_timeout: Duration,
    /// How often a stats line is logged when `only_summary` is false.
    pub stats_every: Duration,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Result<Self, ResolveError> {
        Ok(Self {
            guard: config
                .guard
                .guard(Arc::new(DynamoDomainStore::new(sdk_config, &config.domains_table)))?,
            archive: Arc::new(S3ResultArchive::new(sdk_config, &config.results_bucket)),
            index: Arc::new(DynamoRunIndex::new(sdk_config, &config.runs_table)),
            claims: Arc::new(DynamoRunClaims::new(sdk_config, &config.runs_table)),
            results_bucket: config.results_bucket.clone(),
            secrets: Secrets {
                store: Arc::new(SsmSecretStore::new(sdk_config)),
                root: config.secrets.root.clone(),
            },
            sensitive: config.secrets.sensitive.clone(),
            clock: Arc::new(SystemClock),
            organisation_id: config.organisation_id.clone(),
            log_group_name: config.log_group_name.clone(),
            log_stream_name: config.log_stream_name.clone(),
            deadline_margin: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            stats_every: Duration::from_secs(5),
        })
    }
}

/// Why a run could not be made. A run that was made but regressed is not an error: it answers `failed`.
#[derive(Debug, Error)]
pub enum RunError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Suite(#[from] SuiteError),
    #[error("the host may not be load-tested: {0}")]
    Refused(#[source] Refusal),
    #[error("{what} failed")]
    Store {
        what: &'static str,
        #[source]
        source: StoreError,
    },
    /// `place` is where the reference stands: `suite "<name>": task "<task>": headers.<name>`.
    #[error("{place}: {source}")]
    Secret {
        place: String,
        #[source]
        source: Box<SecretError>,
    },
    #[error("the HTTP client could not be built")]
    Client(#[source] volley_engine::load::attack::AttackError),
    #[error(
        "run {run_id:?} is running in another invocation (its lease ends {until}): ask again with the same run_id once it is done for its answer"
    )]
    RunInProgress { run_id: String, until: String },
    #[error(
        "run {run_id:?} ended without an answer (its invocation was cut off before it finished): it is not run again; use a new run_id"
    )]
    RunLost { run_id: String },
    #[error("run_id: {run_id:?} was used for another request: a run id names one request, so use a new run_id")]
    RunIdReused { run_id: String },
}

impl RunError {
    /// The variant's name: Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(..) => "BadRequest",
            Self::Suite(SuiteError::Unknown { .. }) => "UnknownSuite",
            Self::Suite(SuiteError::Store { .. }) => "Store",
            Self::Suite(..) => "InvalidSuite",
            Self::Refused(..) => "TargetRefused",
            Self::Store { .. } => "Store",
            Self::Client(..) => "Client",
            Self::Secret { source, .. } if matches!(**source, SecretError::Store { .. }) => "SecretUnavailable",
            Self::Secret { .. } => "InvalidSuite",
            Self::RunInProgress { .. } => "RunInProgress",
            Self::RunLost { .. } => "RunLost",
            Self::RunIdReused { .. } => "RunIdReused",
        }
    }
}

impl From<RunError> for lambda_runtime::Diagnostic {
    fn from(error: RunError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().into(),
            error_message: volley_core::error_chain(&error),
        }
    }
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Which suite: read (and checked) once the organisation is known.
    pub suite: SuiteRef,
    pub host: String,
    pub shape: Shape,
    pub only_summary: bool,
    pub compare: Option<(CompareType, String, usize)>,
    pub store_tags: Vec<String>,
    pub organisation_id: Option<String>,
    /// The caller's run id: run once, however often the invoke is retried.
    pub run_id: Option<String>,
    /// The payload's fingerprint (`model::run::fingerprint`): a run id reused for another request is refused.
    pub fingerprint: String,
}

fn bad(message: impl Into<String>) -> RunError {
    RunError::BadRequest(message.into())
}

fn check_identifier_field(field: &str, tag: &str) -> Result<(), RunError> {
    check_identifier(tag).map_err(|e| bad(format!("{field}: {e}")))
}

/// Reads and checks a payload; every problem names its field.
pub fn parse_request(payload: &Value) -> Result<Request, RunError> {
    let p: RunRequest = payload::parse(payload).map_err(|e| bad(e.to_string()))?;
    if p.users < 1 || p.users > MAX_USERS {
        return Err(bad(format!("users: {} must be from 1 to {MAX_USERS}", p.users)));
    }
    if !(p.spawn_rate.is_finite() && p.spawn_rate > 0.0 && p.spawn_rate <= MAX_SPAWN_RATE) {
        return Err(bad(format!(
            "spawn_rate: {} must be above 0 and at most {MAX_SPAWN_RATE} users a second",
            p.spawn_rate
        )));
    }
    let runtime = humantime::parse_duration(&p.spawned_runtime).map_err(|e| {
        bad(format!(
            "spawned_runtime: {:?} is not a duration such as \"1m30s\": {e}",
            p.spawned_runtime
        ))
    })?;
    if runtime.is_zero() || runtime > MAX_SPAWNED_RUNTIME {
        return Err(bad(format!(
            "spawned_runtime: {:?} must be above 0 and at most {}",
            p.spawned_runtime,
            humantime::format_duration(MAX_SPAWNED_RUNTIME)
        )));
    }
    let compare = match p.compare {
        None => None,
        Some(c) => {
            check_identifier_field("compare.tag", &c.tag)?;
            let limit = c.load_limit();
            if limit < 1 || limit > MAX_LOAD_LIMIT as i64 {
                return Err(bad(format!(
                    "compare.load_limit: {limit} must be from 1 to {MAX_LOAD_LIMIT}"
                )));
            }
            Some((c.kind, c.tag, limit as usize))
        }
    };
    let store_tags = match p.store {
        Some(store) if store.tags.is_empty() => {
            return Err(bad(
                "store.tags: name at least one tag to store the run under (or leave store out)",
            ));
        }
        Some(store) => store.tags,
        None => Vec::new(),
    };
    for (i, tag) in store_tags.iter().enumerate() {
        check_identifier_field(&format!("store.tags[{i}]"), tag)?;
    }
    if store_tags.len() > MAX_STORE_TAGS {
        return Err(bad(format!("store.tags: at most {MAX_STORE_TAGS} tags")));
    }
    if let Some(org) = &p.organisation_id {
        check_identifier_field("organisation_id", org)?;
    }
    if let Some(run_id) = &p.run_id {
        check_identifier_field("run_id", run_id)?;
    }
    Ok(Request {
        suite: p.suite,
        host: p.host,
        shape: Shape {
            users: p.users as u32,
            spawn_rate: p.spawn_rate,
            spawned_runtime: runtime,
        },
        only_summary: p.only_summary,
        compare,
        store_tags,
        organisation_id: p.organisation_id,
        run_id: p.run_id,
        fingerprint: fingerprint(payload),
    })
}

/// A stored run: what compare reads back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRun {
    pub run_id: String,
    pub suite: String,
    pub host: String,
    pub users: u32,
    pub spawn_rate: f64,
    pub spawned_runtime_s: f64,
    /// Unix ms.
    pub started_at: i64,
    pub tags: Vec<String>,
    pub total: Summary,
    /// Every task's counts and serialised histogram, so runs merge exactly.
    pub stats: RunStats,
}

/// What makes two runs comparable.
pub fn shape_key(suite: &str, host: &str, users: u32) -> String {
    format!("suite={suite}|users={users}|host={}", host.trim_end_matches('/'))
}

fn summarise(stats: &RunStats, seconds: f64) -> RunSummary {
    RunSummary {
        total: summary_of(&stats.total(), seconds),
        tasks: stats
            .tasks
            .iter()
            .map(|t| NamedSummary {
                name: t.name.clone(),
                summary: summary_of(t, seconds),
            })
            .collect(),
        elapsed_s: seconds,
    }
}

/// The baseline of `kind` from `organisation`'s stored runs with `tag` and `shape`, if any.
async fn baseline(
    deps: &Deps,
    organisation: &str,
    kind: CompareType,
    tag: &str,
    shape: &str,
    limit: usize,
) -> Result<Option<Baseline>, RunError> {
    let store = |what| move |source| RunError::Store { what, source };
    let take = if kind == CompareType::Previous { 1 } else { limit };
    let entries = deps
        .index
        .latest(organisation, tag, shape, take)
        .await
        .map_err(store("reading the run index"))?;
    let mut merged = TaskStats::default();
    let (mut seconds, mut runs) = (0.0, Vec::new());
    for entry in &entries {
        let bytes = deps
            .archive
            .get(&entry.key)
            .await
            .map_err(store("reading a stored run"))?;
        let Some(bytes) = bytes else {
            tracing::warn!(key = %entry.key, "an indexed run is not in the bucket; skipped");
            continue;
        };
        let run: StoredRun = serde_json::from_slice(&bytes).map_err(|e| RunError::Store {
            what: "reading a stored run",
            source: StoreError::Corrupt(format!("{}: {e}", entry.key)),
        })?;
        merged.add(&run.stats.total());
        seconds += run.stats.elapsed.as_secs_f64();
        runs.push(run.run_id);
    }
    if runs.is_empty() {
        return Ok(None);
    }
    Ok(Some(Baseline {
        kind,
        tag: tag.to_owned(),
        runs,
        total: summary_of(&merged, seconds),
    }))
}

/// Runs one request.
pub async fn run_load(deps: &Deps, request: Request, deadline_ms: Option<i64>) -> Result<RunAnswer, RunError> {
    let now = deps.clock.now();
    if let Some(deadline) = deadline_ms {
        let left = Duration::from_millis(u64::try_from(deadline - now.timestamp_millis()).unwrap_or(0));
        let needs = request.shape.total() + request.shape.total() / 10 + deps.deadline_margin;
        if needs > left {
            return Err(bad(format!(
                "the run needs {} (spawning {} users at {}/s, then {}) and a margin, but the invocation has {} \
                 left: shorten spawned_runtime or raise the function's timeout",
                humantime::format_duration(Duration::from_secs(needs.as_secs())),
                request.shape.users,
                request.shape.spawn_rate,
                humantime::format_duration(request.shape.spawned_runtime),
                humantime::format_duration(Duration::from_secs(left.as_secs())),
            )));
        }
    }
    let organisation = request
        .organisation_id
        .clone()
        .or_else(|| deps.organisation_id.clone())
        .ok_or_else(|| {
            RunError::BadRequest(
                "organisation_id: name the organisation the run is for (in the payload, or the function's \
                 ORGANISATION_ID): the host must be one of its validated domains, and its runs are stored and \
                 compared apart from other organisations'"
                    .into(),
            )
        })?;
    let target = deps
        .guard
        .vet(&organisation, &request.host)
        .await
        .map_err(RunError::Refused)?;
    let mut suite = Source::of(&request.suite, &organisation, &deps.results_bucket)?
        .load(deps.archive.as_ref())
        .await?;
    // Secrets by reference in the suite's header values, resolved for this organisation only, before
    // anything is claimed or sent.
    for task in &mut suite.tasks {
        for (header, value) in &mut task.headers {
            *value = deps
                .secrets
                .resolve(value, &organisation)
                .await
                .map_err(|source| RunError::Secret {
                    place: format!("suite {:?}: task {:?}: headers.{header}", suite.name, task.name),
                    source: Box::new(source),
                })?;
        }
    }
    let shape = shape_key(&suite.name, target.url.as_str(), request.shape.users);
    // A caller's run id is claimed (after every check, so a refused request claims nothing) for as long as
    // this invocation may run: a retry finds the answer, or that the run is under way, and never runs it.
    if let Some(run_id) = &request.run_id {
        let lease_until = deadline_ms.map_or(now.timestamp() + 900, |d| d.div_euclid(1000) + 1);
        let claim = deps
            .claims
            .claim(
                &organisation,
                run_id,
                &request.fingerprint,
                now.timestamp(),
                lease_until,
            )
            .await
            .map_err(|source| RunError::Store {
                what: "claiming the run id",
                source,
            })?;
        match claim {
            RunClaim::Fresh => {}
            RunClaim::Answered { key } => {
                tracing::warn!(
                    run_id,
                    key,
                    "a retried run: its stored answer is answered again, nothing runs"
                );
                return stored_answer(deps, &key).await;
            }
            RunClaim::Running { lease_until } => {
                return Err(RunError::RunInProgress {
                    run_id: run_id.clone(),
                    until: chrono::DateTime::from_timestamp(lease_until, 0)
                        .map_or_else(|| lease_until.to_string(), |t| t.to_rfc3339()),
                });
            }
            RunClaim::Lost => return Err(RunError::RunLost { run_id: run_id.clone() }),
            RunClaim::OtherRequest => return Err(RunError::RunIdReused { run_id: run_id.clone() }),
        }
    }
    let run_id = request
        .run_id
        .clone()
        .unwrap_or_else(|| format!("{}-{:04x}", now.format("%Y%m%dT%H%M%S%.3fZ"), fastrand::u16(..)));

    tracing::info!(run_id, suite = %suite.name, host = %target.url, users = request.shape.users,
        spawn_rate = request.shape.spawn_rate, runtime = ?request.shape.spawned_runtime, "run starting");
    let log_every = (!request.only_summary).then_some(deps.stats_every);
    let stats = users::run(
        &suite,
        &target,
        request.shape,
        deps.request_timeout,
        now.date_naive(),
        log_every,
        &deps.sensitive,
    )
    .await
    .map_err(RunError::Client)?;
    let summary = summarise(&stats, stats.elapsed.as_secs_f64());

    let mut problems = Vec::new();
    let failure_percent = summary.total.failure_percent();
    if failure_percent > suite.failure_limit_percent {
        problems.push(format!(
            "failure ratio {failure_percent:.2}% is above the suite's limit of {}%",
            suite.failure_limit_percent
        ));
    }
    let (mut findings, mut base, mut notes) = (Vec::new(), None, Vec::new());
    if let Some((kind, tag, limit)) = &request.compare {
        match baseline(deps, &organisation, *kind, tag, &shape, *limit).await? {
            None => notes.push(format!(
                "no baseline: no stored run with tag {tag:?} and this shape ({shape}); nothing was compared"
            )),
            Some(b) => {
                findings = compare::compare(&b.total, &summary.total, &suite.thresholds);
                notes.push(
                    format!("compared with the {kind:?} of {} run(s) tagged {tag:?}", b.runs.len()).to_lowercase(),
                );
                base = Some(b);
            }
        }
    }
    for finding in &findings {
        match finding.level {
            Level::Fail => problems.push(finding.to_string()),
            Level::Warn => notes.push(finding.to_string()),
        }
    }

    let mut stored = Vec::new();
    if !request.store_tags.is_empty() {
        let run = StoredRun {
            run_id: run_id.clone(),
            suite: suite.name.clone(),
            host: target.url.to_string(),
            users: request.shape.users,
            spawn_rate: request.shape.spawn_rate,
            spawned_runtime_s: request.shape.spawned_runtime.as_secs_f64(),
            started_at: now.timestamp_millis(),
            tags: request.store_tags.clone(),
            total: summary.total,
            stats: stats.clone(),
        };
        let document = serde_json::to_vec(&run).map_err(|e| RunError::Store {
            what: "writing the run",
            source: StoreError::Corrupt(e.to_string()),
        })?;
        for tag in &request.store_tags {
            let key = format!(
                "runs/org={organisation}/tag={tag}/dt={}/{run_id}.json",
                now.format("%Y-%m-%d")
            );
            let store = |what| move |source| RunError::Store { what, source };
            deps.archive
                .put(&key, document.clone())
                .await
                .map_err(store("storing the run"))?;
            let entry = RunEntry {
                organisation_id: organisation.clone(),
                tag: tag.clone(),
                shape: shape.clone(),
                started_at: run.started_at,
                run_id: run_id.clone(),
                key: key.clone(),
            };
            deps.index.add(&entry).await.map_err(store("indexing the run"))?;
            stored.push(key);
        }
    }

    let failed = !problems.is_empty();
    let t = &summary.total;
    let headline = format!(
        "{} requests, {} failures, {:.1} rps, p95 {:.1} ms, p99 {:.1} ms",
        t.requests, t.failures, t.rps, t.p95_ms, t.p99_ms
    );
    let message = [vec![headline], problems, notes].concat().join("; ");
    tracing::info!(run_id, failed, summary = ?summary.total, %message, "run finished");
    let answer = RunAnswer {
        result: if failed { RunResult::Failed } else { RunResult::Success },
        message,
        log_stream_name: deps.log_stream_name.clone(),
        log_group_name: deps.log_group_name.clone(),
        run_id,
        summary,
        baseline: base,
        findings,
        stored,
    };
    if request.run_id.is_some() {
        // The answer, kept for a retry: stored, then the claim marked.
        let key = answer_key(&organisation, &answer.run_id);
        let store = |what| move |source| RunError::Store { what, source };
        let document = serde_json::to_vec(&answer).map_err(|e| RunError::Store {
            what: "writing the answer",
            source: StoreError::Corrupt(e.to_string()),
        })?;
        deps.archive
            .put(&key, document)
            .await
            .map_err(store("storing the answer"))?;
        deps.claims
            .answered(&organisation, &answer.run_id, &key)
            .await
            .map_err(store("marking the run answered"))?;
    }
    Ok(answer)
}

/// Where the answer of a run with a caller's run id is kept: `run-answers/org=<org>/<runId>.json`.
pub fn answer_key(organisation: &str, run_id: &str) -> String {
    format!("run-answers/org={organisation}/{run_id}.json")
}

/// The stored answer of a run that already ran.
async fn stored_answer(deps: &Deps, key: &str) -> Result<RunAnswer, RunError> {
    let corrupt = |what: String| RunError::Store {
        what: "reading the stored answer",
        source: StoreError::Corrupt(what),
    };
    let bytes = deps
        .archive
        .get(key)
        .await
        .map_err(|source| RunError::Store {
            what: "reading the stored answer",
            source,
        })?
        .ok_or_else(|| corrupt(format!("{key} is marked answered but not in the bucket")))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("{key}: {e}")))
}

/// The Lambda handler.
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, RunError> {
    let request = parse_request(&event.payload)?;
    let deadline = i64::try_from(event.context.deadline).ok().filter(|d| *d > 0);
    let answer = run_load(deps, request, deadline).await?;
    serde_json::to_value(answer).map_err(|e| bad(format!("the answer could not be written: {e}")))
}
