//! The orchestrator: starts a test in several regions at the same instant.
//!
//! Invoked directly with `{"type": ..., "organisationId": ..., "testId": ..., ...}`; a test is one
//! organisation's (`model::scope`), so two organisations' tests of the same id are kept apart:
//! - `test-reset` `{"regions": [...], "bufferSeconds": 100}` sets the regions the test needs (1 to
//!   [`MAX_REGIONS`]) and clears its state; the buffer is at most [`MAX_BUFFER_SECONDS`];
//! - `agg-record` `{"region": ...}` records that region's aggregator as ready; the call that completes the
//!   set flips the start to true, once, at now plus the buffer;
//! - `test-init` answers `{"state": true|false, "timestamp": <epoch ms or null>}`, the same for every caller;
//! - `test-end` `{"region": ...}` records the region as completed; when all are, the test is completed;
//! - `test-stop` stops the test, once: every worker of it, in every region, stops sending within
//!   `STOP_POLL_INTERVAL` and the pacer's slice, delivers what it measured (marked stopped), and no later
//!   call of the test fires; answers the state (`stopped`, `stoppedAt`, and `stoppedNow` for the one call
//!   that stopped it);
//! - `status` answers the whole state;
//! - `test-start` `{"plan": {...}}` starts a whole test from its plan (`model::plan`): the state reset with
//!   the plan and its start (`START_LEAD` from now), the calls of every segment due within `SEGMENT_LEAD` put
//!   on their regions' buses now, and a one-time EventBridge Scheduler schedule made for each later segment,
//!   `SEGMENT_LEAD` before it, which invokes this function with
//! - `segment-start` `{"segment": n}`: that segment's calls, made again from the stored plan and start (the
//!   fleet is a pure function of them), put on their regions' buses; nothing for a stopped test.
//!   `test-stop` deletes the schedules of the segments not yet put.
//!
//! Every change is one atomic DynamoDB operation (`OrchestrationStore`), so concurrent regions lose nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use volley_core::adapters::dynamodb::orchestration::DynamoOrchestrationStore;
use volley_core::adapters::eventbridge::EventBridgeCallBus;
use volley_core::adapters::scheduler::SchedulerSegmentSchedules;
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{ConfigError, EnvReader};
use volley_core::model::orchestration::segment_schedule_name;
use volley_core::model::orchestration::{RegionMark, TestState, is_region_name};
use volley_core::model::payload;
use volley_core::model::plan::{Fleet, TestPlan, ValidPlan, put_at_once};
use volley_core::model::scope::TestScope;
use volley_core::ports::{CallBus, OrchestrationStore, RegionRecorded, SegmentSchedules, StoreError};

/// The longest buffer between the last region's readiness and the start. A worker given the start must wait
/// for it and then run its call within 15 minutes of its event (`model::call::MAX_CALL_REACH`, Lambda's
/// longest timeout): ten minutes of buffer leave five for the call.
pub const MAX_BUFFER_SECONDS: u32 = 600;
/// The most regions a test may require. AWS has about 36 regions today; 64 leaves room for the ones it
/// opens, and keeps a test's item (three sets of region names) far below DynamoDB's 400 KB.
pub const MAX_REGIONS: usize = 64;
/// The buffer when a reset names none.
pub const DEFAULT_BUFFER_SECONDS: u32 = 100;

/// How long before a later segment is due its calls are put, when `SEGMENT_LEAD` does not say: EventBridge
/// Scheduler fires a one-time schedule within a minute of its time, then EventBridge's delivery and a
/// worker's cold start.
pub const DEFAULT_SEGMENT_LEAD: std::time::Duration = volley_core::model::plan::DEFAULT_SEGMENT_LEAD;
/// The shortest lead: the local stack's Scheduler looks at its schedules every 10 s.
pub const MIN_SEGMENT_LEAD: std::time::Duration = volley_core::model::plan::MIN_SEGMENT_LEAD;
/// The longest: what a plan's segment length leaves a worker for (`model::plan::SEGMENT_LEAD`), less the
/// margin within which a segment is put at once rather than scheduled.
pub const MAX_SEGMENT_LEAD: std::time::Duration = volley_core::model::plan::MAX_SEGMENT_LEAD;
/// How long after `test-start` the test starts when `START_LEAD` does not say (at most `SEGMENT_LEAD`): the
/// first segment's calls are put at once, so only EventBridge's delivery and the workers' cold starts.
pub const DEFAULT_START_LEAD: std::time::Duration = volley_core::model::plan::DEFAULT_START_LEAD;
/// The shortest `START_LEAD`.
pub const MIN_START_LEAD: std::time::Duration = volley_core::model::plan::MIN_START_LEAD;

/// The orchestrator's settings, read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ORCHESTRATION_TABLE`: one item per test.
    pub orchestration_table: String,
    /// `EVENT_BUS_NAME`: the bus of every region that takes User Calls (one name, a stack per region).
    pub event_bus_name: String,
    /// `SCHEDULER_ROLE_ARN`: the role Scheduler assumes to invoke this function for a segment.
    pub scheduler_role_arn: String,
    /// `SCHEDULE_PREFIX`: the schedules' names begin with it (the stack's prefix), at most 24 characters.
    pub schedule_prefix: String,
    /// `SEGMENT_LEAD`: 15s to 1m 55s, default 90s.
    pub segment_lead: std::time::Duration,
    /// `START_LEAD`: 2s to `SEGMENT_LEAD`, default 15s (or `SEGMENT_LEAD`, if less).
    pub start_lead: std::time::Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let orchestration_table = env.required("ORCHESTRATION_TABLE");
        let event_bus_name = env.required("EVENT_BUS_NAME");
        let scheduler_role_arn = env.required("SCHEDULER_ROLE_ARN");
        let schedule_prefix = env
            .parsed("SCHEDULE_PREFIX", |text| {
                let fits = !text.is_empty()
                    && text.len() <= 24
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if fits {
                    Ok(text.to_owned())
                } else {
                    Err("1 to 24 of A-Z a-z 0-9 - _ . (a schedule's name is at most 64)".into())
                }
            })
            .unwrap_or_else(|| "volley".into());
        let segment_lead = env
            .parsed("SEGMENT_LEAD", |text| lead(text, MIN_SEGMENT_LEAD, MAX_SEGMENT_LEAD))
            .unwrap_or(DEFAULT_SEGMENT_LEAD);
        let start_lead = env
            .parsed("START_LEAD", |text| lead(text, MIN_START_LEAD, segment_lead))
            .unwrap_or(DEFAULT_START_LEAD.min(segment_lead));
        env.finish()?;
        Ok(Self {
            orchestration_table,
            event_bus_name,
            scheduler_role_arn,
            schedule_prefix,
            segment_lead,
            start_lead,
        })
    }
}

/// A lead read from `text`, from `min` to `max`.
fn lead(text: &str, min: std::time::Duration, max: std::time::Duration) -> Result<std::time::Duration, String> {
    let lead = volley_core::config::duration(text)?;
    if (min..=max).contains(&lead) {
        Ok(lead)
    } else {
        Err(format!("{text} is not from {min:?} to {max:?}"))
    }
}

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[
    volley_core::adapters::dynamodb::orchestration::ORCHESTRATION_STORE_ACTIONS,
    volley_core::adapters::eventbridge::CALL_BUS_ACTIONS,
    volley_core::adapters::scheduler::SEGMENT_SCHEDULES_ACTIONS,
];

/// Everything an invocation needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub store: Arc<dyn OrchestrationStore>,
    /// Every region's bus, where a segment's calls are put.
    pub bus: Arc<dyn CallBus>,
    /// The one-time schedules of later segments.
    pub schedules: Arc<dyn SegmentSchedules>,
    pub schedule_prefix: String,
    pub segment_lead: std::time::Duration,
    pub start_lead: std::time::Duration,
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Self {
        Self {
            store: Arc::new(DynamoOrchestrationStore::new(sdk_config, &config.orchestration_table)),
            bus: Arc::new(EventBridgeCallBus::new(sdk_config, &config.event_bus_name)),
            schedules: Arc::new(SchedulerSegmentSchedules::new(sdk_config, &config.scheduler_role_arn)),
            schedule_prefix: config.schedule_prefix.clone(),
            segment_lead: config.segment_lead,
            start_lead: config.start_lead,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Why a request failed. Each names what is wrong.
#[derive(Debug, Error)]
pub enum OrchestratorError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(
        "test {:?} of organisation {:?} is unknown: send a test-reset with its regions first",
        .0.test_id,
        .0.organisation_id
    )]
    UnknownTest(TestScope),
    #[error("region {region:?} is not one test {:?} of organisation {:?} requires ({required})", .test.test_id, .test.organisation_id)]
    RegionNotRequired {
        test: TestScope,
        region: String,
        required: String,
    },
    #[error("the orchestration table failed")]
    Store(#[source] StoreError),
    #[error("test {:?} of organisation {:?} was started already: start a test once, under a new test id", .0.test_id, .0.organisation_id)]
    AlreadyStarted(TestScope),
    #[error("{what} failed")]
    Aws {
        what: String,
        #[source]
        source: StoreError,
    },
}

impl OrchestratorError {
    /// The variant's name: Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(..) => "BadRequest",
            Self::UnknownTest(..) => "UnknownTest",
            Self::RegionNotRequired { .. } => "RegionNotRequired",
            Self::Store(..) => "Store",
            Self::AlreadyStarted(..) => "AlreadyStarted",
            Self::Aws { .. } => "Aws",
        }
    }
}

impl From<OrchestratorError> for lambda_runtime::Diagnostic {
    fn from(error: OrchestratorError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().into(),
            error_message: volley_core::error_chain(&error),
        }
    }
}

/// One request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    #[serde(rename_all = "camelCase")]
    TestReset {
        organisation_id: String,
        test_id: String,
        regions: Vec<String>,
        #[serde(default = "default_buffer")]
        buffer_seconds: u32,
    },
    #[serde(rename_all = "camelCase")]
    AggRecord {
        organisation_id: String,
        test_id: String,
        region: String,
    },
    #[serde(rename_all = "camelCase")]
    TestInit {
        organisation_id: String,
        test_id: String,
    },
    #[serde(rename_all = "camelCase")]
    TestEnd {
        organisation_id: String,
        test_id: String,
        region: String,
    },
    #[serde(rename_all = "camelCase")]
    TestStop {
        organisation_id: String,
        test_id: String,
    },
    #[serde(rename_all = "camelCase")]
    Status {
        organisation_id: String,
        test_id: String,
    },
    TestStart {
        plan: Box<TestPlan>,
    },
    #[serde(rename_all = "camelCase")]
    SegmentStart {
        organisation_id: String,
        test_id: String,
        segment: usize,
    },
}

impl Request {
    /// The test the request is about (its ids unchecked: [`parse_request`] checks them).
    pub fn test(&self) -> TestScope {
        match self {
            Self::TestStart { plan } => TestScope::new(&plan.organisation_id, &plan.test_id),
            Self::TestReset {
                organisation_id,
                test_id,
                ..
            }
            | Self::AggRecord {
                organisation_id,
                test_id,
                ..
            }
            | Self::TestInit {
                organisation_id,
                test_id,
            }
            | Self::TestEnd {
                organisation_id,
                test_id,
                ..
            }
            | Self::TestStop {
                organisation_id,
                test_id,
            }
            | Self::Status {
                organisation_id,
                test_id,
            }
            | Self::SegmentStart {
                organisation_id,
                test_id,
                ..
            } => TestScope::new(organisation_id, test_id),
        }
    }
}

fn default_buffer() -> u32 {
    DEFAULT_BUFFER_SECONDS
}

fn bad(message: impl Into<String>) -> OrchestratorError {
    OrchestratorError::BadRequest(message.into())
}

fn check_region(field: &str, region: &str) -> Result<(), OrchestratorError> {
    if is_region_name(region) {
        Ok(())
    } else {
        Err(bad(format!(
            "{field}: {region:?} is not a region name such as \"eu-west-1\""
        )))
    }
}

/// Reads a payload; every problem names its field.
pub fn parse_request(payload: &Value) -> Result<Request, OrchestratorError> {
    let request: Request = payload::parse(payload).map_err(|e| {
        if e.field == "type" && e.problem.starts_with("missing field") {
            bad(
                "type is missing: one of test-reset, agg-record, test-init, test-end, test-stop, status, \
                 test-start, segment-start",
            )
        } else {
            bad(e.to_string())
        }
    })?;
    let test = request.test();
    TestScope::checked(&test.organisation_id, &test.test_id).map_err(|e| bad(e.to_string()))?;
    match &request {
        Request::TestReset {
            regions,
            buffer_seconds,
            ..
        } => {
            if regions.is_empty() {
                return Err(bad("regions: name at least one region"));
            }
            if regions.len() > MAX_REGIONS {
                return Err(bad(format!(
                    "regions: {} regions is more than {MAX_REGIONS}, the most a test may require",
                    regions.len()
                )));
            }
            for (i, region) in regions.iter().enumerate() {
                check_region(&format!("regions[{i}]"), region)?;
            }
            if *buffer_seconds > MAX_BUFFER_SECONDS {
                return Err(bad(format!(
                    "bufferSeconds: {buffer_seconds} is more than {MAX_BUFFER_SECONDS}: a worker must wait for \
                     the start and run its call within 15 minutes of its event"
                )));
            }
        }
        Request::AggRecord { region, .. } | Request::TestEnd { region, .. } => check_region("region", region)?,
        Request::TestInit { .. }
        | Request::TestStop { .. }
        | Request::Status { .. }
        | Request::TestStart { .. }
        | Request::SegmentStart { .. } => {}
    }
    Ok(request)
}

/// `agg-record`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// `organisationId` and `testId`.
    #[serde(flatten)]
    pub test: TestScope,
    pub region: String,
    pub ready_regions: BTreeSet<String>,
    pub required_regions: BTreeSet<String>,
    /// Whether the test has started (every required region is ready).
    pub state: bool,
    /// The common start, Unix ms, once started.
    pub timestamp: Option<i64>,
    /// True for the one call whose record flipped the start.
    pub flipped: bool,
}

/// `test-init`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Init {
    pub state: bool,
    pub timestamp: Option<i64>,
}

/// `test-stop`'s answer: the state, and whether this call stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopped {
    #[serde(flatten)]
    pub state: TestState,
    pub stopped_now: bool,
    /// The schedules of later segments deleted by this call.
    pub schedules_deleted: usize,
}

/// `test-end`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ended {
    /// `organisationId` and `testId`.
    #[serde(flatten)]
    pub test: TestScope,
    pub region: String,
    pub completed_regions: BTreeSet<String>,
    pub all_done: bool,
    pub completed_at: Option<i64>,
}

fn store(e: StoreError) -> OrchestratorError {
    OrchestratorError::Store(e)
}

async fn state(deps: &Deps, test: &TestScope) -> Result<TestState, OrchestratorError> {
    deps.store
        .get(test)
        .await
        .map_err(store)?
        .ok_or_else(|| OrchestratorError::UnknownTest(test.clone()))
}

async fn add(deps: &Deps, test: &TestScope, mark: RegionMark, region: &str) -> Result<TestState, OrchestratorError> {
    match deps.store.add_region(test, mark, region).await.map_err(store)? {
        RegionRecorded::Recorded(state) => Ok(state),
        RegionRecorded::UnknownTest => Err(OrchestratorError::UnknownTest(test.clone())),
        RegionRecorded::NotRequired(state) => Err(OrchestratorError::RegionNotRequired {
            test: test.clone(),
            region: region.to_owned(),
            required: state.required_regions.into_iter().collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Records a region's aggregator as ready; flips the start once when every required region is.
pub async fn agg_record(deps: &Deps, test: &TestScope, region: &str) -> Result<Recorded, OrchestratorError> {
    let mut state = add(deps, test, RegionMark::Ready, region).await?;
    let mut flipped = false;
    if state.all_ready() && !state.started {
        let start_at = deps.clock.now().timestamp_millis() + i64::from(state.buffer_seconds) * 1000;
        flipped = deps.store.start(test, start_at).await.map_err(store)?;
        // Read back either way: another call may have flipped it first, with its own timestamp.
        state = self::state(deps, test).await?;
    }
    tracing::info!(
        organisation_id = %test.organisation_id,
        test_id = %test.test_id,
        region,
        ready = state.ready_regions.len(),
        required = state.required_regions.len(),
        started = state.started,
        flipped,
        "aggregator ready"
    );
    Ok(Recorded {
        test: test.clone(),
        region: region.to_owned(),
        ready_regions: state.ready_regions,
        required_regions: state.required_regions,
        state: state.started,
        timestamp: state.start_at,
        flipped,
    })
}

/// Records a region as completed; marks the test completed once when every required region is.
pub async fn test_end(deps: &Deps, test: &TestScope, region: &str) -> Result<Ended, OrchestratorError> {
    let mut state = add(deps, test, RegionMark::Completed, region).await?;
    if state.all_completed() && !state.completed {
        let now = deps.clock.now().timestamp_millis();
        deps.store.complete(test, now).await.map_err(store)?;
        state = self::state(deps, test).await?;
    }
    tracing::info!(
        organisation_id = %test.organisation_id,
        test_id = %test.test_id,
        region,
        completed = state.completed,
        "region completed"
    );
    Ok(Ended {
        test: test.clone(),
        region: region.to_owned(),
        all_done: state.completed,
        completed_regions: state.completed_regions,
        completed_at: state.completed_at,
    })
}

/// `test-start`'s answer: the state as started, and what became of each segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    #[serde(flatten)]
    pub state: TestState,
    /// Calls in all, and segments.
    pub calls: usize,
    pub segments: usize,
    /// The segments whose calls were put now (due within `SEGMENT_LEAD`).
    pub put: Vec<usize>,
    /// The schedules made for the others: name and when it fires (Unix seconds).
    pub scheduled: Vec<(String, i64)>,
}

/// `segment-start`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentStarted {
    #[serde(flatten)]
    pub test: TestScope,
    pub segment: usize,
    /// Calls put (none for a stopped test).
    pub put: usize,
    pub stopped: bool,
}

fn aws(what: impl Into<String>) -> impl FnOnce(StoreError) -> OrchestratorError {
    let what = what.into();
    move |source| OrchestratorError::Aws { what, source }
}

/// A plan read and checked, naming the field at fault (`plan.<field>`).
fn valid_plan(plan: TestPlan) -> Result<ValidPlan, OrchestratorError> {
    plan.validate()
        .map_err(|e| bad(format!("plan.{}: {}", e.field, e.problem)))
}

/// Puts segment `segment`'s calls on their regions' buses.
async fn put_segment(deps: &Deps, test: &TestScope, fleet: &Fleet, segment: usize) -> Result<usize, OrchestratorError> {
    let mut by_region: std::collections::BTreeMap<&str, Vec<_>> = std::collections::BTreeMap::new();
    for call in fleet.calls.iter().filter(|c| c.segment == segment) {
        by_region
            .entry(call.region.as_str())
            .or_default()
            .push(call.call.clone());
    }
    let mut put = 0;
    for (region, calls) in by_region {
        deps.bus
            .put(Some(region), &calls)
            .await
            .map_err(aws(format!("putting segment {segment}'s calls on {region}'s bus")))?;
        put += calls.len();
    }
    tracing::info!(organisation_id = %test.organisation_id, test_id = %test.test_id, segment, calls = put, "segment's calls put");
    Ok(put)
}

/// Starts a whole test from its plan: see the module's documentation.
pub async fn test_start(deps: &Deps, plan: TestPlan, function_arn: &str) -> Result<Started, OrchestratorError> {
    let test = TestScope::new(&plan.organisation_id, &plan.test_id);
    let written = serde_json::to_value(&plan).map_err(|e| bad(format!("plan: {e}")))?;
    let valid = valid_plan(plan)?;
    // The plan's segments leave a worker room for the longest lead (`plan::SEGMENT_LEAD`, which
    // `SEGMENT_LEAD` may not pass), its request timeout and the delivery: every segment fits its 15 minutes.
    let lead = deps.segment_lead;
    let now_ms = deps.clock.now().timestamp_millis();
    let start =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(now_ms).unwrap_or(0)) + deps.start_lead;
    let start_ms = start
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut state = TestState::new(
        &test,
        valid.plan.regions.iter().map(|r| r.region.clone()).collect(),
        0,
        now_ms,
    );
    state.plan = Some(written.clone());
    state.started = true;
    state.start_at = Some(start_ms);
    // One start wins (a conditional write); a retry of it, with the same plan, carries on from its start:
    // the schedules are kept as made, and calls put again fire once (the workers' claims).
    let start_ms = match deps.store.begin(&state).await.map_err(store)? {
        None => start_ms,
        Some(existing) if existing.plan.as_ref() == Some(&written) && !existing.stopped => {
            existing.start_at.unwrap_or(start_ms)
        }
        Some(_) => return Err(OrchestratorError::AlreadyStarted(test)),
    };
    let fleet = valid
        .fleet(std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(start_ms).unwrap_or(0)))
        .map_err(|e| bad(format!("plan.{}: {}", e.field, e.problem)))?;
    let segments = valid.segments();
    let (mut put, mut scheduled) = (Vec::new(), Vec::new());
    // The schedules first, then the segments due now: a start that fails part way is retried whole.
    // From now to the start: the start lead, or less for a retry.
    let start_in = std::time::Duration::from_millis(u64::try_from(start_ms - now_ms).unwrap_or(0));
    for (k, segment) in segments.iter().enumerate() {
        // Due within the lead (and the few seconds it takes to make a schedule): put now, below.
        if put_at_once(segment.start, start_in, lead) {
            put.push(k);
            continue;
        }
        let fires_ms = start_ms + segment.start.as_millis() as i64 - lead.as_millis() as i64;
        let name = segment_schedule_name(&deps.schedule_prefix, &test, k);
        let input = serde_json::json!({"type": "segment-start", "organisationId": test.organisation_id,
            "testId": test.test_id, "segment": k});
        let at = fires_ms.div_euclid(1000);
        deps.schedules
            .create(&name, at, function_arn, &input.to_string())
            .await
            .map_err(aws(format!("making the schedule of segment {k}")))?;
        scheduled.push((name, at));
    }
    for k in &put {
        put_segment(deps, &test, &fleet, *k).await?;
    }
    tracing::info!(organisation_id = %test.organisation_id, test_id = %test.test_id, start_ms, calls = fleet.calls.len(), segments = segments.len(), put = ?put, scheduled = scheduled.len(), "test started from its plan");
    Ok(Started {
        state: self::state(deps, &test).await?,
        calls: fleet.calls.len(),
        segments: segments.len(),
        put,
        scheduled,
    })
}

/// The stored plan and start of a test started by `test-start`, as its fleet.
fn stored_fleet(state: &TestState) -> Result<(ValidPlan, Fleet), OrchestratorError> {
    let test = &state.test;
    let (Some(plan), Some(start_ms)) = (&state.plan, state.start_at) else {
        return Err(bad(format!(
            "test {:?} of organisation {:?} was not started by test-start: it has no plan",
            test.test_id, test.organisation_id
        )));
    };
    let plan: TestPlan = serde_json::from_value(plan.clone()).map_err(|e| bad(format!("the stored plan: {e}")))?;
    let valid = valid_plan(plan)?;
    let start = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(start_ms).unwrap_or(0));
    let fleet = valid
        .fleet(start)
        .map_err(|e| bad(format!("plan.{}: {}", e.field, e.problem)))?;
    Ok((valid, fleet))
}

/// Puts one segment's calls, made again from the stored plan and start; nothing for a stopped test.
pub async fn segment_start(deps: &Deps, test: &TestScope, segment: usize) -> Result<SegmentStarted, OrchestratorError> {
    let state = state(deps, test).await?;
    if state.stopped {
        tracing::info!(organisation_id = %test.organisation_id, test_id = %test.test_id, segment, "the test was stopped: the segment is not put");
        return Ok(SegmentStarted {
            test: test.clone(),
            segment,
            put: 0,
            stopped: true,
        });
    }
    let (valid, fleet) = stored_fleet(&state)?;
    let segments = valid.segments().len();
    if segment >= segments {
        return Err(bad(format!("segment: {segment}, but the test has {segments}")));
    }
    let put = put_segment(deps, test, &fleet, segment).await?;
    Ok(SegmentStarted {
        test: test.clone(),
        segment,
        put,
        stopped: false,
    })
}

/// Deletes the schedules of a started test's segments (those already fired are gone): how many there were.
async fn delete_schedules(deps: &Deps, state: &TestState) -> Result<usize, OrchestratorError> {
    if state.plan.is_none() {
        return Ok(0);
    }
    let (valid, _) = stored_fleet(state)?;
    let mut deleted = 0;
    for k in 0..valid.segments().len() {
        let name = segment_schedule_name(&deps.schedule_prefix, &state.test, k);
        if deps
            .schedules
            .delete(&name)
            .await
            .map_err(aws(format!("deleting the schedule of segment {k}")))?
        {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Handles one request; `function_arn` is this function's, which a segment's schedule invokes.
pub async fn handle(deps: &Deps, request: Request, function_arn: &str) -> Result<Value, OrchestratorError> {
    let test = request.test();
    let answer = match request {
        Request::TestStart { plan } => serde_json::to_value(test_start(deps, *plan, function_arn).await?),
        Request::SegmentStart { segment, .. } => serde_json::to_value(segment_start(deps, &test, segment).await?),
        Request::TestReset {
            regions,
            buffer_seconds,
            ..
        } => {
            let fresh = TestState::new(
                &test,
                regions.into_iter().collect(),
                buffer_seconds,
                deps.clock.now().timestamp_millis(),
            );
            deps.store.reset(&fresh).await.map_err(store)?;
            tracing::info!(
                organisation_id = %test.organisation_id,
                test_id = %test.test_id,
                regions = fresh.required_regions.len(),
                buffer_seconds,
                "test reset"
            );
            serde_json::to_value(fresh)
        }
        Request::AggRecord { region, .. } => serde_json::to_value(agg_record(deps, &test, &region).await?),
        Request::TestInit { .. } => {
            let state = state(deps, &test).await?;
            serde_json::to_value(Init {
                state: state.started,
                timestamp: state.start_at,
            })
        }
        Request::TestEnd { region, .. } => serde_json::to_value(test_end(deps, &test, &region).await?),
        Request::TestStop { .. } => {
            let now = deps.clock.now().timestamp_millis();
            let stopped_now = deps.store.stop(&test, now).await.map_err(store)?;
            // Unknown tests are refused; a second stop answers the first one's time.
            let state = state(deps, &test).await?;
            // No later segment starts: its schedule goes (and a schedule that fires anyway finds the stop).
            let schedules_deleted = delete_schedules(deps, &state).await?;
            tracing::info!(
                organisation_id = %test.organisation_id,
                test_id = %test.test_id,
                stopped_now,
                stopped_at = state.stopped_at,
                schedules_deleted,
                "test stopped"
            );
            serde_json::to_value(Stopped {
                state,
                stopped_now,
                schedules_deleted,
            })
        }
        Request::Status { .. } => serde_json::to_value(state(deps, &test).await?),
    };
    answer.map_err(|e| bad(format!("the answer could not be written: {e}")))
}

/// The Lambda handler.
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, OrchestratorError> {
    let request = parse_request(&event.payload)?;
    handle(deps, request, &event.context.invoked_function_arn).await
}
