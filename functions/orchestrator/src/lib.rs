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
//! - `status` answers the whole state.
//!
//! Every change is one atomic DynamoDB operation (`OrchestrationStore`), so concurrent regions lose nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use volley_core::adapters::dynamodb::orchestration::DynamoOrchestrationStore;
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{ConfigError, EnvReader};
use volley_core::model::orchestration::{RegionMark, TestState, is_region_name};
use volley_core::model::payload;
use volley_core::model::scope::TestScope;
use volley_core::ports::{OrchestrationStore, RegionRecorded, StoreError};

/// The longest buffer between the last region's readiness and the start. A worker given the start must wait
/// for it and then run its call within 15 minutes of its event (`model::call::MAX_CALL_REACH`, Lambda's
/// longest timeout): ten minutes of buffer leave five for the call.
pub const MAX_BUFFER_SECONDS: u32 = 600;
/// The most regions a test may require. AWS has about 36 regions today; 64 leaves room for the ones it
/// opens, and keeps a test's item (three sets of region names) far below DynamoDB's 400 KB.
pub const MAX_REGIONS: usize = 64;
/// The buffer when a reset names none.
pub const DEFAULT_BUFFER_SECONDS: u32 = 100;

/// The orchestrator's settings, read once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ORCHESTRATION_TABLE`: one item per test.
    pub orchestration_table: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let orchestration_table = env.required("ORCHESTRATION_TABLE");
        env.finish()?;
        Ok(Self { orchestration_table })
    }
}

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[volley_core::adapters::dynamodb::orchestration::ORCHESTRATION_STORE_ACTIONS];

/// Everything an invocation needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub store: Arc<dyn OrchestrationStore>,
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Self {
        Self {
            store: Arc::new(DynamoOrchestrationStore::new(sdk_config, &config.orchestration_table)),
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
}

impl OrchestratorError {
    /// The variant's name: Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(..) => "BadRequest",
            Self::UnknownTest(..) => "UnknownTest",
            Self::RegionNotRequired { .. } => "RegionNotRequired",
            Self::Store(..) => "Store",
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
    TestInit { organisation_id: String, test_id: String },
    #[serde(rename_all = "camelCase")]
    TestEnd {
        organisation_id: String,
        test_id: String,
        region: String,
    },
    #[serde(rename_all = "camelCase")]
    TestStop { organisation_id: String, test_id: String },
    #[serde(rename_all = "camelCase")]
    Status { organisation_id: String, test_id: String },
}

impl Request {
    /// The test the request is about (its ids unchecked: [`parse_request`] checks them).
    pub fn test(&self) -> TestScope {
        let (Self::TestReset {
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
        }) = self;
        TestScope::new(organisation_id, test_id)
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
            bad("type is missing: one of test-reset, agg-record, test-init, test-end, test-stop, status")
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
        Request::TestInit { .. } | Request::TestStop { .. } | Request::Status { .. } => {}
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

/// Handles one request.
pub async fn handle(deps: &Deps, request: Request) -> Result<Value, OrchestratorError> {
    let test = request.test();
    let answer = match request {
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
            tracing::info!(
                organisation_id = %test.organisation_id,
                test_id = %test.test_id,
                stopped_now,
                stopped_at = state.stopped_at,
                "test stopped"
            );
            serde_json::to_value(Stopped { state, stopped_now })
        }
        Request::Status { .. } => serde_json::to_value(state(deps, &test).await?),
    };
    answer.map_err(|e| bad(format!("the answer could not be written: {e}")))
}

/// The Lambda handler.
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, OrchestratorError> {
    let request = parse_request(&event.payload)?;
    handle(deps, request).await
}
