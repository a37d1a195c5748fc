//! The worker: triggered by an EventBridge `User Call` event, it fires the call's requests at the asked
//! rate against a vetted target, and sends what it measured to the results queue (or, when too big for a
//! message, to S3 with a pointer on the queue).
//!
//! Order matters for at-least-once delivery: the call is validated (every number within its bound, and a
//! `startAt` neither past by more than the tolerance nor beyond what this invocation can wait for and run)
//! and its target vetted first (an invalid or refused call fails the same way on every retry and ends in the
//! dead-letter queue), then claimed once (a duplicate delivery runs nothing), then run. While it runs, the
//! seconds it has sealed go to the results queue every `CHUNK_INTERVAL` as numbered chunks, and its result
//! at the end says how many seconds they carried (`model::result`), so a worker that dies loses at most a
//! chunk period and the test's counters move while it runs.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use bytes::Bytes;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use thiserror::Error;
use volley_core::adapters::dynamodb::{
    calls::DynamoCallClaims, domains::DynamoDomainStore, orchestration::DynamoStopSignal,
};
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::adapters::sqs::SqsResultQueue;
use volley_core::adapters::ssm::SsmSecretStore;
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{ConfigError, EnvReader, SecretSettings};
use volley_core::model::call::{CallError, MAX_IN_FLIGHT, USER_CALL_DETAIL_TYPE, UserCall, ValidCall};
use volley_core::model::result::{CallResult, Chunked, MAX_INLINE_BYTES, ResultChunk, ResultMessage, overflow_key};
use volley_core::model::secrets::references;
use volley_core::ports::{
    CallClaims, Claim, OrganisationLimitsStore, ResultArchive, ResultQueue, StopSignal, StoreError,
};
use volley_core::secrets::{SecretError, Secrets};
use volley_engine::guard::{GuardSettings, Refusal, ResolveError, TargetGuard};
use volley_engine::load::attack::{Attack, AttackError, Load, Progress};
use volley_engine::load::engine;
use volley_engine::load::request::{RequestSpec, Sensitive};

/// The default `maxInFlight`, which is also its bound (`model::call::MAX_IN_FLIGHT`): Lambda's open-file
/// limit is 1,024; connections get that less a reserve.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = MAX_IN_FLIGHT;

/// The worker's settings, read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CALLS_TABLE`: claims, so a duplicate delivery runs once.
    pub calls_table: String,
    /// `TESTS_TABLE`: where a lost call is counted, in its test's counters.
    pub tests_table: String,
    /// `DOMAINS_TABLE`: each organisation's validated domains.
    pub domains_table: String,
    /// `RESULTS_QUEUE_URL`.
    pub results_queue_url: String,
    /// `RESULTS_BUCKET`: where results too big for a message wait for the archiver.
    pub results_bucket: String,
    /// `ALLOWED_TARGETS` and `DNS_SERVERS`, for the target guard.
    pub guard: GuardSettings,
    /// `DEADLINE_MARGIN`: stop this long before the Lambda deadline (default 5s).
    pub deadline_margin: Duration,
    /// `SECRETS_ROOT` and `SENSITIVE_HEADERS`: header secrets by reference, and which headers are never
    /// written down.
    pub secrets: SecretSettings,
    /// `ORCHESTRATION_TABLE`: where each test's stop is, by the same name in its home region.
    pub orchestration_table: String,
    /// `STOP_POLL_INTERVAL`: how often a running call looks at its test's stop (default 1s).
    pub stop_poll: Duration,
    /// `CHUNK_INTERVAL`: how often a running call sends the seconds it has sealed (default 10s, at least
    /// 1s).
    pub chunk_interval: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let calls_table = env.required("CALLS_TABLE");
        let tests_table = env.required("TESTS_TABLE");
        let domains_table = env.required("DOMAINS_TABLE");
        let results_queue_url = env.required("RESULTS_QUEUE_URL");
        let results_bucket = env.required("RESULTS_BUCKET");
        let guard = volley_core::config::guard_settings(env);
        let secrets = volley_core::config::secret_settings(env);
        let deadline_margin = env
            .parsed("DEADLINE_MARGIN", volley_core::config::duration)
            .unwrap_or(Duration::from_secs(5));
        let orchestration_table = env.required("ORCHESTRATION_TABLE");
        let stop_poll = env
            .parsed("STOP_POLL_INTERVAL", volley_core::config::duration)
            .unwrap_or(DEFAULT_STOP_POLL);
        let chunk_interval = env
            .parsed("CHUNK_INTERVAL", |text| {
                let interval = volley_core::config::duration(text)?;
                if !(MIN_CHUNK_INTERVAL..=MAX_CHUNK_INTERVAL).contains(&interval) {
                    return Err(format!(
                        "{text} is not from {MIN_CHUNK_INTERVAL:?} to {MAX_CHUNK_INTERVAL:?}"
                    ));
                }
                Ok(interval)
            })
            .unwrap_or(DEFAULT_CHUNK_INTERVAL);
        env.finish()?;
        Ok(Self {
            calls_table,
            tests_table,
            domains_table,
            results_queue_url,
            results_bucket,
            guard,
            deadline_margin,
            secrets,
            orchestration_table,
            stop_poll,
            chunk_interval,
        })
    }
}

pub use volley_core::model::result::{DEFAULT_CHUNK_INTERVAL, MAX_CHUNK_INTERVAL, MIN_CHUNK_INTERVAL};

/// How often a running call looks at its test's stop: one eventually consistent GetItem of one attribute
/// (half a read unit) a second, 3,600 an hour per worker, about $0.0002 per worker-hour on demand. A stop is
/// seen within it, and sending ends within the pacer's slice after (`STOP_LATENCY`, 100 ms).
pub const DEFAULT_STOP_POLL: Duration = Duration::from_secs(1);

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[
    volley_core::adapters::dynamodb::calls::CALL_CLAIMS_ACTIONS,
    volley_core::adapters::dynamodb::domains::DOMAIN_STORE_ACTIONS,
    volley_core::adapters::dynamodb::domains::LIMITS_READ_ACTIONS,
    volley_core::adapters::dynamodb::orchestration::STOP_SIGNAL_ACTIONS,
    volley_core::adapters::sqs::RESULT_QUEUE_ACTIONS,
    volley_core::adapters::s3::ARCHIVE_PUT_ACTIONS,
    volley_core::adapters::ssm::SECRET_STORE_ACTIONS,
];

/// Everything an invocation needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub guard: TargetGuard,
    pub claims: Arc<dyn CallClaims>,
    pub queue: Arc<dyn ResultQueue>,
    pub archive: Arc<dyn ResultArchive>,
    pub clock: Arc<dyn Clock>,
    pub deadline_margin: Duration,
    /// Results larger than this many bytes go to S3, with a pointer on the queue.
    pub inline_limit: usize,
    /// Where `{{ssm:...}}` references in header values resolve.
    pub secrets: Secrets,
    /// Which headers' values are credentials (marked sensitive, never written down).
    pub sensitive: Sensitive,
    /// Each organisation's limits (the domains table): a call beyond them is refused before it is claimed.
    pub limits: Arc<dyn OrganisationLimitsStore>,
    /// Each test's stop, in its home region.
    pub stops: Arc<dyn StopSignal>,
    pub stop_poll: Duration,
    /// How often a running call sends its sealed seconds as a chunk.
    pub chunk_interval: Duration,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Result<Self, ResolveError> {
        let domains = Arc::new(DynamoDomainStore::new(sdk_config, &config.domains_table));
        Ok(Self {
            guard: config.guard.guard(Arc::clone(&domains) as _)?,
            limits: domains,
            stops: Arc::new(DynamoStopSignal::new(sdk_config, &config.orchestration_table)),
            stop_poll: config.stop_poll,
            chunk_interval: config.chunk_interval,
            claims: Arc::new(DynamoCallClaims::new(
                sdk_config,
                &config.calls_table,
                &config.tests_table,
            )),
            queue: Arc::new(SqsResultQueue::new(sdk_config, &config.results_queue_url)),
            archive: Arc::new(S3ResultArchive::new(sdk_config, &config.results_bucket)),
            clock: Arc::new(SystemClock),
            deadline_margin: config.deadline_margin,
            inline_limit: MAX_INLINE_BYTES,
            secrets: Secrets {
                store: Arc::new(SsmSecretStore::new(sdk_config)),
                root: config.secrets.root.clone(),
            },
            sensitive: config.secrets.sensitive.clone(),
        })
    }
}

/// Why an invocation failed. Every one of these fails the invocation (and, after the retries, lands the
/// event in the worker's dead-letter queue).
#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("not a User Call event: detail-type is {0:?}")]
    WrongDetailType(String),
    #[error(transparent)]
    InvalidCall(#[from] CallError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("invalid User Call: request.headers.{header}: {source}")]
    Secret {
        header: String,
        #[source]
        source: SecretError,
    },
    #[error("invalid User Call: request.headers.{0}: the secret's value is not a valid header value")]
    SecretValue(String),
    #[error("the organisation's limits could not be read")]
    Limits(#[source] StoreError),
    #[error("the test's stop could not be read")]
    Stop(#[source] StoreError),
    #[error("the call could not be claimed")]
    Ledger(#[source] StoreError),
    #[error("the result could not be delivered")]
    Delivery(#[source] StoreError),
    #[error(transparent)]
    Attack(#[from] AttackError),
    #[error("the result could not be encoded")]
    Encode(#[from] serde_json::Error),
}

/// What an invocation answers (visible in the Lambda's logs and to synchronous callers).
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WorkerOutcome {
    pub call_id: String,
    /// `completed`, or `stopped` when its test was stopped (before it fired, or while it ran: what it
    /// measured is delivered); for a delivery of a call already claimed: `redelivered` (its stored result
    /// sent again), `running` (another invocation holds it) or `lost` (its holder ended with no result).
    pub status: &'static str,
    pub requests: u64,
    pub dropped: u64,
    pub truncated: bool,
    /// Chunks of its seconds sent while it ran.
    pub chunks: u32,
    /// `queue` (inline) or `s3` (too big: a pointer on the queue).
    pub delivered_via: &'static str,
}

impl WorkerOutcome {
    /// A call this invocation did not fire: `stopped`, `running` or `lost`.
    fn not_fired(call_id: String, status: &'static str) -> Self {
        Self {
            call_id,
            status,
            requests: 0,
            dropped: 0,
            truncated: false,
            chunks: 0,
            delivered_via: "none",
        }
    }
}

/// A running call's chunks so far: where each began among its sealed seconds (`starts`, in order), where the
/// last ended (`end`), and the body of the last one if the queue has not taken it yet. A chunk's number and
/// seconds are fixed when it is made, and it is sent again as it was until the queue takes it, so a send
/// that failed ambiguously (the queue took it, the answer was lost) never makes two different chunks of one
/// number. The result says every chunk made (`Chunked`), sent or not: the archiver counts any the queue never
/// delivered from the result itself.
#[derive(Debug, Default, Clone)]
struct Chunks {
    starts: Vec<usize>,
    end: usize,
    pending: Option<String>,
}

/// How long one chunk's send may take before it is tried again at the next tick.
const CHUNK_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a running call's chunks go, and whose they are.
#[derive(Debug, Clone)]
struct Chunker {
    queue: Arc<dyn ResultQueue>,
    inline_limit: usize,
    test_id: String,
    organisation_id: String,
    call_id: String,
    region: Option<String>,
    abort: Vec<volley_core::model::abort::AbortRule>,
    home_region: Option<String>,
}

impl Chunker {
    /// Sends the chunk made and not yet taken, if any, then makes and sends chunks of the seconds sealed
    /// since the last (as many as messages need: halved until a chunk fits; one second always does). Each
    /// change is written to `state` as it happens.
    async fn send_new(&self, progress: &Progress, state: &std::sync::Mutex<Chunks>) -> Result<(), WorkerError> {
        let read = || state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut chunks = read();
        loop {
            if let Some(body) = chunks.pending.clone() {
                tokio::time::timeout(CHUNK_SEND_TIMEOUT, self.queue.send(body))
                    .await
                    .map_err(|_| WorkerError::Delivery(StoreError::Unavailable("the chunk's send timed out".into())))?
                    .map_err(WorkerError::Delivery)?;
                chunks.pending = None;
                *state.lock().unwrap_or_else(|e| e.into_inner()) = chunks.clone();
            }
            let fresh = progress.sealed_since(chunks.end);
            if fresh.is_empty() {
                return Ok(());
            }
            let mut take = fresh.len();
            let body = loop {
                let chunk = ResultChunk {
                    test_id: self.test_id.clone(),
                    organisation_id: self.organisation_id.clone(),
                    call_id: self.call_id.clone(),
                    region: self.region.clone(),
                    chunk: u32::try_from(chunks.starts.len()).unwrap_or(u32::MAX),
                    from: chunks.end,
                    seconds: fresh[..take].to_vec(),
                    abort: self.abort.clone(),
                    home_region: self.home_region.clone(),
                };
                let body = ResultMessage::Chunk(Box::new(chunk)).to_json()?;
                if body.len() <= self.inline_limit || take == 1 {
                    break body;
                }
                take = take.div_ceil(2);
            };
            // Made: its number and seconds are fixed from here on.
            chunks.starts.push(chunks.end);
            chunks.end += take;
            chunks.pending = Some(body);
            *state.lock().unwrap_or_else(|e| e.into_inner()) = chunks.clone();
        }
    }

    /// Sends chunks every `interval` (the first after `offset`, which spreads a fleet's chunks over the
    /// period) until `done` is notified, between sends. A failed send is logged and tried again, as it was,
    /// at the next tick.
    fn spawn(
        self,
        progress: Arc<Progress>,
        (offset, interval): (Duration, Duration),
        done: Arc<tokio::sync::Notify>,
        state: Arc<std::sync::Mutex<Chunks>>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut next = tokio::time::Instant::now() + offset;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(next) => {}
                    () = done.notified() => return,
                }
                next += interval;
                if let Err(error) = self.send_new(&progress, &state).await {
                    tracing::warn!(organisation_id = %self.organisation_id, test_id = %self.test_id, call_id = %self.call_id, error = %volley_core::error_chain(&error), "a chunk could not be sent; it is sent again at the next tick");
                }
            }
        })
    }
}

/// Where in the chunk period a call's first chunk goes: a fraction of it from the call id, so a fleet's
/// workers, which start together, do not all send (and their archivers count) in the same instant.
fn chunk_offset(call_id: &str, interval: Duration) -> Duration {
    let spread = call_id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    interval / 2 + interval.mul_f64((spread % 1000) as f64 / 2000.0)
}

/// The wall-clock time to stop by: the invocation's deadline (Unix ms) less the margin.
fn stop_by_time(deadline_ms: u64, margin: Duration) -> SystemTime {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    deadline.checked_sub(margin).unwrap_or(UNIX_EPOCH)
}

/// The instant to stop by, on this machine's monotonic clock.
fn stop_by(stop_by: SystemTime, now: SystemTime) -> Instant {
    Instant::now() + stop_by.duration_since(now).unwrap_or_default()
}

/// The call's headers to send: every `{{ssm:...}}` reference resolved for the call's organisation, and
/// the values of sensitive headers marked so (never printed, never indexed by HPACK).
async fn request_headers(deps: &Deps, call: &ValidCall) -> Result<http::HeaderMap, WorkerError> {
    // The validated map (`validate` checked every name and value once); only values holding a reference are
    // rebuilt, and checked again now that they are resolved.
    let mut headers = call.headers.clone();
    for (name, value) in headers.iter_mut() {
        let Ok(text) = value.to_str() else { continue };
        if references(text).is_empty() {
            continue;
        }
        let resolved = deps
            .secrets
            .resolve(text, &call.call.organisation_id)
            .await
            .map_err(|source| WorkerError::Secret {
                header: name.to_string(),
                source,
            })?;
        *value = http::HeaderValue::from_str(&resolved).map_err(|_| WorkerError::SecretValue(name.to_string()))?;
    }
    deps.sensitive.mark(&mut headers);
    Ok(headers)
}

/// The attack a valid, vetted call describes.
pub fn attack_for(call: &ValidCall, target: volley_engine::guard::VettedTarget, deadline: Option<Instant>) -> Attack {
    let max_in_flight = call.call.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    Attack {
        target,
        request: RequestSpec {
            method: call.method.clone(),
            headers: call.headers.clone(),
            body: call.call.request.body.clone().map(Bytes::from).unwrap_or_default(),
        },
        load: Load::Open {
            schedule: call.schedule.clone(),
            share: call.share.clone(),
            segment: call.segment.clone(),
            max_in_flight: usize::try_from(max_in_flight).unwrap_or(usize::MAX),
        },
        timeout: call.timeout,
        deadline,
        start_at: call.start_at,
        // Targets are public sites: the platform's roots (Lambda's trust store) decide.
        tls_roots: Vec::new(),
    }
}

/// Sends the stored result of a call that already ran (its first delivery may have failed after storing
/// it): a pointer to it on the queue. Fires nothing.
async fn redeliver(deps: &Deps, call: &ValidCall, key: String) -> Result<WorkerOutcome, WorkerError> {
    let (organisation_id, test_id, call_id) = (&call.call.organisation_id, &call.call.test_id, &call.call.call_id);
    send_pointer(deps, call, key).await?;
    tracing::warn!(organisation_id = %organisation_id, test_id = %test_id, call_id = %call_id, "repeated delivery; the stored result was sent again, the call not fired");
    Ok(WorkerOutcome {
        call_id: call_id.clone(),
        status: "redelivered",
        requests: 0,
        dropped: 0,
        truncated: false,
        chunks: 0,
        delivered_via: "s3",
    })
}

/// Puts a pointer to `call`'s result, stored at `key`, on the results queue.
async fn send_pointer(deps: &Deps, call: &ValidCall, key: String) -> Result<(), WorkerError> {
    let pointer = ResultMessage::Stored {
        test_id: call.call.test_id.clone(),
        organisation_id: call.call.organisation_id.clone(),
        call_id: call.call.call_id.clone(),
        key,
    };
    deps.queue.send(pointer.to_json()?).await.map_err(WorkerError::Delivery)
}

/// Handles one `User Call` event.
pub async fn function_handler(
    deps: &Deps,
    event: LambdaEvent<EventBridgeEvent<serde_json::Value>>,
) -> Result<WorkerOutcome, WorkerError> {
    let (event, context) = event.into_parts();
    if event.detail_type != USER_CALL_DETAIL_TYPE {
        return Err(WorkerError::WrongDetailType(event.detail_type));
    }
    let mut call = UserCall::from_json(&event.detail)?.validate()?;
    let now = deps.clock.now();
    let stop_at = stop_by_time(context.deadline, deps.deadline_margin);
    // The event's time (when it was put) is the start bound's reference, so a retry is judged as the first
    // delivery was; an event without one is judged from now.
    if let Err(late) = call.check_start(event.time.unwrap_or(now).into(), now.into(), stop_at) {
        // Too late to fire, but a retry of a call that already ran still delivers its stored result.
        return match deps
            .claims
            .stored(&call.call.scope())
            .await
            .map_err(WorkerError::Ledger)?
        {
            Some(key) => redeliver(deps, &call, key).await,
            None => Err(late.into()),
        };
    }
    let test_id = call.call.test_id.clone();
    let organisation_id = call.call.organisation_id.clone();
    let call_id = call.call.call_id.clone();
    let scope = call.call.scope();
    // The organisation's limits hold whoever put the event: the bus does not say who that was.
    deps.limits
        .limits(&organisation_id)
        .await
        .map_err(WorkerError::Limits)?
        .check_call(&call)?;
    let target = deps.guard.vet(&organisation_id, &call.call.request.url).await?;
    // A stopped test fires no call; a retry of one that already ran still delivers its stored result.
    let home_region = call.call.home_region.clone();
    let test = scope.test.clone();
    if deps
        .stops
        .stopped(&test, home_region.as_deref())
        .await
        .map_err(WorkerError::Stop)?
    {
        return match deps.claims.stored(&scope).await.map_err(WorkerError::Ledger)? {
            Some(key) => redeliver(deps, &call, key).await,
            None => {
                tracing::info!(organisation_id = %organisation_id, test_id = %test_id, call_id = %call_id, "the test was stopped: the call is not fired");
                Ok(WorkerOutcome::not_fired(call_id, "stopped"))
            }
        };
    }
    // Secrets by reference, resolved for this organisation only, before anything is claimed.
    call.headers = request_headers(deps, &call).await?;
    // The claim is held until this invocation's deadline: no other invocation fires the call before then.
    let lease_until = i64::try_from(context.deadline.div_ceil(1000)).unwrap_or(i64::MAX);
    let not_fired = |status| WorkerOutcome::not_fired(call_id.clone(), status);
    match deps
        .claims
        .claim(&scope, now.timestamp(), lease_until)
        .await
        .map_err(WorkerError::Ledger)?
    {
        Claim::Fresh => {}
        Claim::Stored { key } => return redeliver(deps, &call, key).await,
        Claim::Running { lease_until } => {
            tracing::warn!(organisation_id = %organisation_id, test_id = %test_id, call_id = %call_id, lease_until, "repeated delivery; the call is running in another invocation");
            return Ok(not_fired("running"));
        }
        Claim::Lost => {
            tracing::error!(organisation_id = %organisation_id, test_id = %test_id, call_id = %call_id, "the call's invocation ended without a result; marked lost, not fired again");
            return Ok(not_fired("lost"));
        }
    }
    let deadline = stop_by(stop_at, deps.clock.now().into());
    tracing::info!(organisation_id = %organisation_id, test_id = %test_id, call_id = %call_id, url = %target.url, addresses = ?target.addresses, share = ?call.call.share, segment = ?call.segment, "volley starting");
    let progress = Arc::new(Progress::default());
    // Looks at the test's stop while the call runs; a failed look is logged and the next one tried.
    let watcher = {
        let (progress, stops, poll) = (Arc::clone(&progress), Arc::clone(&deps.stops), deps.stop_poll);
        let (test, home_region) = (test.clone(), home_region.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(poll).await;
                match stops.stopped(&test, home_region.as_deref()).await {
                    Ok(true) => {
                        tracing::info!(organisation_id = %test.organisation_id, test_id = %test.test_id, "the test was stopped: sending ends");
                        progress.stop();
                        return;
                    }
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(error = %volley_core::error_chain(&error), "the test's stop could not be read")
                    }
                }
            }
        })
    };
    // Sends the sealed seconds every chunk period while the call runs.
    let (done, chunks) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(std::sync::Mutex::new(Chunks::default())),
    );
    let offset = chunk_offset(&call_id, deps.chunk_interval);
    let chunker = Chunker {
        queue: Arc::clone(&deps.queue),
        inline_limit: deps.inline_limit,
        test_id: test_id.clone(),
        organisation_id: organisation_id.clone(),
        call_id: call_id.clone(),
        region: call.call.region.clone(),
        abort: call.call.abort.clone(),
        home_region: home_region.clone(),
    }
    .spawn(
        Arc::clone(&progress),
        (offset, deps.chunk_interval),
        Arc::clone(&done),
        Arc::clone(&chunks),
    );
    let report = engine::run(&attack_for(&call, target.clone(), Some(deadline)), progress).await;
    watcher.abort();
    // The chunker ends between sends (or is ended, if a send hangs): the result says every chunk it made,
    // sent or not, and the archiver counts from the result any the queue never delivered.
    done.notify_one();
    let mut chunker = chunker;
    if tokio::time::timeout(CHUNK_SEND_TIMEOUT, &mut chunker).await.is_err() {
        chunker.abort();
        tracing::warn!(organisation_id = %organisation_id, test_id = %test_id, call_id = %call_id, "a chunk's send was still under way at the end: ended; the result carries its seconds");
    }
    let made = chunks.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let report = report?;
    let (requests, dropped, truncated, stopped) = (
        report.total.requests,
        report.total.dropped,
        report.truncated,
        report.stopped,
    );
    tracing::info!(organisation_id = %organisation_id, test_id = %test_id, call_id = %call_id, requests, dropped, truncated, "volley finished");
    let result = CallResult {
        test_id: test_id.clone(),
        organisation_id: organisation_id.clone(),
        call_id: call_id.clone(),
        region: call.call.region.clone(),
        url: target.url.to_string(),
        addresses: target.addresses,
        report,
        chunked: (!made.starts.is_empty()).then(|| Chunked {
            chunks: u32::try_from(made.starts.len()).unwrap_or(u32::MAX),
            seconds: made.end,
            starts: made.starts.clone(),
        }),
    };
    // Durable before anything else: stored, then the claim marked, then sent. A delivery that fails after
    // the store is retried, finds the claim stored, and sends the stored result without firing again.
    let body = ResultMessage::Inline(Box::new(result)).to_json()?;
    let key = overflow_key(&organisation_id, &test_id, &call_id);
    deps.archive
        .put(&key, body.clone().into_bytes())
        .await
        .map_err(WorkerError::Delivery)?;
    deps.claims
        .mark_stored(&scope, &key)
        .await
        .map_err(WorkerError::Ledger)?;
    let delivered_via = if body.len() <= deps.inline_limit {
        deps.queue.send(body).await.map_err(WorkerError::Delivery)?;
        "queue"
    } else {
        send_pointer(deps, &call, key).await?;
        "s3"
    };
    Ok(WorkerOutcome {
        call_id,
        status: if stopped { "stopped" } else { "completed" },
        requests,
        dropped,
        truncated,
        chunks: u32::try_from(made.starts.len()).unwrap_or(u32::MAX),
        delivered_via,
    })
}

impl WorkerError {
    /// The variant's name: Lambda's `errorType`, so failures can be counted by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WrongDetailType(..) => "WrongDetailType",
            Self::InvalidCall(..) => "InvalidCall",
            Self::Refused(..) => "Refused",
            Self::Secret {
                source: SecretError::Store { .. },
                ..
            } => "SecretUnavailable",
            Self::Secret { .. } | Self::SecretValue(..) => "InvalidCall",
            Self::Limits(..) => "Limits",
            Self::Stop(..) => "Stop",
            Self::Ledger(..) => "Ledger",
            Self::Delivery(..) => "Delivery",
            Self::Attack(..) => "Attack",
            Self::Encode(..) => "Encode",
        }
    }
}

impl From<WorkerError> for lambda_runtime::Diagnostic {
    fn from(error: WorkerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().into(),
            error_message: volley_core::error_chain(&error),
        }
    }
}
