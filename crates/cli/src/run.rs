//! `volley run`, `volley stop`, `volley status` and `volley report`: a whole distributed test, driven through
//! a deployed stack as a user drives it (its orchestrator's `test-start`, `test-stop` and `status`, its
//! results in each region's bucket). Behind the `stack` feature, with the AWS SDK; `attack` and `vet` never
//! need it.
//!
//! Which stack: `--outputs FILE`, a stack's outputs as JSON (what `make stack-deploy` writes for the local
//! stack and `make outputs` for AWS: each output by name, another region's as `<Name>@<region>`), or
//! `--stack aws --region R --prefix P`, naming everything the way deploy/ names it ([`deployed_name`]). The
//! command reaches AWS through the standard SDK configuration; it does not know whether an emulator answers.
//!
//! Before anything fires ([`preflight`]): the target vetted by each region's workers' own guard (their
//! deployed `ALLOWED_TARGETS` and `DNS_SERVERS`, that region's domain registry), the organisation's limits
//! with its tests running now, and each region's workers against the concurrency Lambda gives them. Then
//! the plan is printed, and a big one needs a yes ([`CONFIRM_ABOVE`]).

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use volley_core::adapters::driver::{self, FunctionError, Functions};
use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::adapters::dynamodb::tests::{DynamoResultLedger, DynamoTestActivity};
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::config::EnvReader;
use volley_core::model::plan::{Fleet, TestPlan, ValidPlan};
use volley_core::model::result::{
    CallResult, DEFAULT_CHUNK_INTERVAL, MAX_CHUNK_INTERVAL, MIN_CHUNK_INTERVAL, ResultChunk, archive_key, chunk_key,
};
use volley_core::model::scope::TestScope;
use volley_core::model::test_result::TestResult;
use volley_core::ports::{OrganisationLimitsStore, ResultArchive, ResultLedger, StoreError, TestActivity};
use volley_engine::load::stats::Stats;
use volley_engine::load::threshold::{self, Threshold};

use crate::{CliError, OutputsArgs, RunArgs, StackArgs, TestArgs, cost};

/// A plan firing more requests than this needs a yes: asked in a terminal, `--yes` without one.
pub const CONFIRM_ABOVE: u64 = 1_000_000;
/// A plan estimated above this many dollars needs a yes too.
pub const CONFIRM_ABOVE_USD: f64 = 5.0;
/// A test counts as running for `maxConcurrentTests` while its last result arrived within two of the
/// region's chunk periods and this (a running test's workers send a chunk every period).
const RUNNING_SLACK: Duration = Duration::from_secs(10);

/// A plan as `volley run` was given it: the plan, the thresholds it is held to, and the bytes each answer
/// is expected to carry (for the estimate only).
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub plan: ValidPlan,
    pub written: serde_json::Value,
    pub thresholds: Vec<Threshold>,
    pub response_bytes: Option<u64>,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

fn stack_error(what: &str) -> impl FnOnce(StoreError) -> CliError + '_ {
    move |e| CliError::Stack(format!("{what}: {}", volley_core::error_chain(&e)))
}

/// Reads the plan file or the quick form's flags into a checked plan; every refusal names the key or flag.
pub fn read_plan(args: &RunArgs) -> Result<RunPlan, CliError> {
    let path = Path::new(&args.plan);
    let mut response_bytes = args.response_bytes;
    let (written, mut thresholds) = if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
        match table.remove("responseBytes") {
            None => {}
            Some(toml::Value::Integer(n)) if n >= 0 => response_bytes = response_bytes.or(Some(n as u64)),
            Some(other) => {
                return Err(usage(format!(
                    "{}: responseBytes: {other:?} is not a number of bytes",
                    args.plan
                )));
            }
        }
        let thresholds = match table.remove("thresholds") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s),
                    other => Err(usage(format!("{}: thresholds: {other:?} is not a string", args.plan))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(usage(format!("{}: thresholds: {other:?} is not a list", args.plan))),
        };
        override_plan(&mut table, args)?;
        let written = serde_json::to_value(&table).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
        (written, thresholds)
    } else if args.plan.starts_with("http://") || args.plan.starts_with("https://") {
        if args.url.is_some() {
            return Err(usage("--url: the quick form's target is its URL already"));
        }
        (quick_plan(args)?, Vec::new())
    } else {
        return Err(usage(format!("{}: neither a plan file nor an http(s) URL", args.plan)));
    };
    thresholds.extend(args.fail_if.iter().cloned());
    let plan = TestPlan::from_json(&written)
        .and_then(TestPlan::validate)
        .map_err(|e| usage(format!("{}: {}", args.plan, e)))?;
    let thresholds = thresholds
        .iter()
        .map(|t| Threshold::parse(t).map_err(|e| usage(format!("thresholds: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunPlan {
        plan,
        written,
        thresholds,
        response_bytes,
    })
}

/// The flags that replace a plan file's fields: `--org`, `--test-id`, `--rate`, `--duration`, `--regions`
/// (equal shares, the first the home region) and `--url`. A flag that cannot replace what the plan says
/// (a rate over a plan of stages, a URL over several requests) is refused naming both.
fn override_plan(table: &mut toml::Table, args: &RunArgs) -> Result<(), CliError> {
    let text = |s: &str| toml::Value::String(s.to_owned());
    if let Some(org) = &args.org {
        table.insert("organisationId".into(), text(org));
    }
    if let Some(test_id) = &args.test_id {
        table.insert("testId".into(), text(test_id));
    }
    if let Some(rate) = args.rate {
        if let Some(shape) = ["ramp", "stages"].into_iter().find(|k| table.contains_key(*k)) {
            return Err(usage(format!("--rate: the plan's load is its {shape}, not a rate")));
        }
        table.insert("rate".into(), toml::Value::Float(rate));
    }
    if let Some(duration) = &args.duration {
        if table.contains_key("stages") {
            return Err(usage("--duration: the plan's stages set its duration"));
        }
        table.insert("duration".into(), text(duration));
    }
    if let Some(home) = args.regions.first() {
        table.insert("homeRegion".into(), text(home));
        let regions = args
            .regions
            .iter()
            .map(|region| {
                let mut entry = toml::Table::new();
                entry.insert("region".into(), text(region));
                entry.insert("share".into(), toml::Value::Integer(1));
                toml::Value::Table(entry)
            })
            .collect();
        table.insert("regions".into(), toml::Value::Array(regions));
    }
    if let Some(url) = &args.url {
        match table.get_mut("request") {
            Some(toml::Value::Table(request)) => {
                request.insert("url".into(), text(url));
            }
            _ => {
                return Err(usage(
                    "--url: the plan has no one `request` to aim elsewhere (several `requests` name their own)",
                ));
            }
        }
    }
    Ok(())
}

/// The quick form's plan: the URL, the rate over the duration, the regions in equal shares.
fn quick_plan(args: &RunArgs) -> Result<serde_json::Value, CliError> {
    let org = args
        .org
        .as_deref()
        .ok_or_else(|| usage("--org: the organisation is needed"))?;
    let rate = args
        .rate
        .ok_or_else(|| usage("--rate: requests per second are needed"))?;
    let duration = args.duration.as_deref().ok_or_else(|| usage("--duration is needed"))?;
    let home = args
        .regions
        .first()
        .ok_or_else(|| usage("--regions: name at least one region"))?;
    let test_id = args.test_id.clone().unwrap_or_else(|| {
        format!(
            "run-{}",
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
        )
    });
    Ok(serde_json::json!({
        "organisationId": org, "testId": test_id, "homeRegion": home,
        "request": {"url": args.plan}, "rate": rate, "duration": duration,
        "regions": args.regions.iter().map(|r| serde_json::json!({"region": r, "share": 1})).collect::<Vec<_>>(),
    }))
}

/// The outputs `--stack aws` derives, named as the stacks' own outputs (template.yaml's, and deploy/'s
/// `stack_outputs`), which every other command reads.
pub const DERIVED_OUTPUTS: &[&str] = &[
    "Prefix",
    "StackRegion",
    "OrchestratorFunctionName",
    "WorkerFunctionName",
    "ArchiverFunctionName",
    "ResultsBucketName",
    "CallsTableName",
    "TestsTableName",
    "DomainsTableName",
    "OrchestrationTableName",
    "EventBusName",
];

/// The name deploy/ gives `output` of the stack deployed with `prefix` in `region` of `account`: the
/// functions `<prefix>-<function>`, the tables `<prefix>-<table>`, the bus `<prefix>`, the results bucket
/// `<prefix>-results-<account>-<region>` (template.yaml names them the same way). None for another output.
pub fn deployed_name(prefix: &str, account: &str, region: &str, output: &str) -> Option<String> {
    Some(match output {
        "Prefix" | "EventBusName" => prefix.to_owned(),
        "StackRegion" => region.to_owned(),
        "OrchestratorFunctionName" => format!("{prefix}-orchestrator"),
        "WorkerFunctionName" => format!("{prefix}-worker"),
        "ArchiverFunctionName" => format!("{prefix}-archiver"),
        "ResultsBucketName" => format!("{prefix}-results-{account}-{region}"),
        "CallsTableName" => format!("{prefix}-calls"),
        "TestsTableName" => format!("{prefix}-tests"),
        "DomainsTableName" => format!("{prefix}-domains"),
        "OrchestrationTableName" => format!("{prefix}-orchestration"),
        _ => return None,
    })
}

/// Where a stack's names come from.
#[derive(Debug, Clone)]
enum Names {
    /// Its outputs file.
    Outputs(BTreeMap<String, serde_json::Value>),
    /// deploy/'s naming, with the stack's home region.
    Derived {
        prefix: String,
        account: String,
        home: String,
    },
}

/// A deployed stack: its names, and how to reach each region.
#[derive(Debug, Clone)]
pub struct Stack {
    names: Names,
    config: volley_core::aws::SdkConfig,
}

impl Stack {
    pub async fn open(args: &StackArgs) -> Result<Self, CliError> {
        let config = volley_core::aws::sdk_config().await;
        let names = match (&args.outputs, &args.stack, &args.region) {
            (Some(path), None, _) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| usage(format!("--outputs {}: {e}", path.display())))?;
                Names::Outputs(
                    serde_json::from_str(&text)
                        .map_err(|e| usage(format!("--outputs {}: not a stack's outputs: {e}", path.display())))?,
                )
            }
            (None, Some(_), Some(home)) => {
                let prefix = &args.prefix;
                let valid = prefix.len() >= 2
                    && prefix.len() <= 21
                    && prefix.starts_with(|c: char| c.is_ascii_lowercase())
                    && prefix
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !valid {
                    return Err(usage(format!(
                        "--prefix {prefix:?}: deploy/'s prefixes are 2 to 21 lower-case letters, digits or hyphens, starting with a letter"
                    )));
                }
                let account = driver::account_id(&volley_core::aws::in_region(&config, home))
                    .await
                    .map_err(stack_error("asking STS which account the credentials belong to"))?;
                Names::Derived {
                    prefix: prefix.clone(),
                    account,
                    home: home.clone(),
                }
            }
            _ => {
                return Err(usage(
                    "name the stack: --outputs FILE, or --stack aws --region R [--prefix P]",
                ));
            }
        };
        Ok(Self { names, config })
    }

    /// The stack's home region: where its orchestrator runs.
    fn home(&self) -> Result<String, CliError> {
        match &self.names {
            Names::Derived { home, .. } => Ok(home.clone()),
            Names::Outputs(_) => self.output("StackRegion", None),
        }
    }

    /// The output `name` of `region`'s stack (None: the home region's).
    pub fn output(&self, name: &str, region: Option<&str>) -> Result<String, CliError> {
        match &self.names {
            Names::Derived { prefix, account, home } => deployed_name(prefix, account, region.unwrap_or(home), name)
                .ok_or_else(|| usage(format!("--stack aws derives no {name}"))),
            Names::Outputs(outputs) => {
                let own = outputs.get("StackRegion").and_then(|v| v.as_str());
                let key = match region {
                    Some(region) if Some(region) != own => format!("{name}@{region}"),
                    _ => name.to_owned(),
                };
                outputs
                    .get(&key)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| usage(format!("--outputs has no {key}: is the stack deployed in that region?")))
            }
        }
    }

    fn in_region(&self, region: &str) -> volley_core::aws::SdkConfig {
        volley_core::aws::in_region(&self.config, region)
    }

    /// Invokes the orchestrator in the home region with `request`.
    pub async fn orchestrate(&self, request: serde_json::Value) -> Result<serde_json::Value, CliError> {
        let function = self.output("OrchestratorFunctionName", None)?;
        match Functions::new(&self.in_region(&self.home()?))
            .invoke(&function, &request)
            .await
            .map_err(stack_error("the orchestrator could not be invoked"))?
        {
            Ok(answer) => Ok(answer),
            Err(FunctionError {
                error_type, message, ..
            }) if error_type == "BadRequest" => Err(usage(message)),
            Err(e) => Err(CliError::Stack(format!("the orchestrator answered {e}"))),
        }
    }

    fn archive(&self, region: &str) -> Result<S3ResultArchive, CliError> {
        Ok(S3ResultArchive::new(
            &self.in_region(region),
            self.output("ResultsBucketName", Some(region))?,
        ))
    }

    fn ledger(&self, region: &str) -> Result<DynamoResultLedger, CliError> {
        Ok(DynamoResultLedger::new(
            &self.in_region(region),
            self.output("CallsTableName", Some(region))?,
            self.output("TestsTableName", Some(region))?,
        ))
    }

    /// Every output this command uses, the home region's by name and each of `regions`' as `<Name>@<region>`:
    /// an outputs file for `--outputs`.
    pub fn outputs(&self, regions: &[String]) -> Result<BTreeMap<String, String>, CliError> {
        let home = self.home()?;
        let mut outputs = BTreeMap::new();
        for name in DERIVED_OUTPUTS {
            outputs.insert((*name).to_owned(), self.output(name, None)?);
            for region in regions.iter().filter(|r| **r != home) {
                outputs.insert(format!("{name}@{region}"), self.output(name, Some(region))?);
            }
        }
        Ok(outputs)
    }
}

/// `volley outputs`: the names the stack commands will use.
pub async fn outputs(args: &OutputsArgs) -> Result<BTreeMap<String, String>, CliError> {
    Stack::open(&args.stack).await?.outputs(&args.regions)
}

/// What `volley run` and `volley report` print.
#[derive(Debug, Serialize)]
pub struct RunOutput {
    #[serde(flatten)]
    pub result: TestResult,
    pub thresholds: Vec<threshold::Verdict>,
    /// The cost estimated before the run (`volley run` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<cost::Cost>,
    /// The cost from what Volley measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<cost::Cost>,
    /// For the page.
    #[serde(skip)]
    pub facts: TestFacts,
}

impl RunOutput {
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|v| v.passed)
    }

    /// What Volley measured of `plan`'s test started at `start_ms`: how long its load ran (to its last
    /// second), and each region's requests sent, each the size of the plan's requests on the wire (the
    /// report's `bytes_out` counts bodies only, as vegeta's does).
    pub fn measured(&self, plan: &ValidPlan, start_ms: i64) -> cost::Measured {
        let last = self
            .result
            .report
            .decode_seconds()
            .ok()
            .and_then(|seconds| seconds.last().map(|s| s.second));
        let ran_ms = last.map_or(0, |s| ((s + 1) * 1000 - start_ms).max(0));
        cost::Measured {
            ran: Duration::from_millis(ran_ms as u64),
            bytes_out: self
                .result
                .regions
                .iter()
                .map(|(r, s)| (r.clone(), (s.requests as f64 * mean_request_bytes(plan)).round() as u64))
                .collect(),
        }
    }

    /// The whole test as one attack's output: what the text report and the page are drawn from.
    pub fn as_attack(&self, url: &str) -> crate::AttackOutput {
        let mut attack = crate::AttackOutput::new(url.to_owned(), Vec::new(), None, None, self.result.report.clone());
        attack.thresholds = self.thresholds.clone();
        attack
    }
}

/// What the checks before firing found in one region.
#[derive(Debug, Clone)]
pub struct RegionCheck {
    /// The stack there as deployed: the worker's and the archiver's memory and architecture, the chunk
    /// period (the live view's lag).
    pub stack: cost::RegionStack,
    /// The most of the fleet's workers running there at once: a segment's, and the next segment's while
    /// the first hand over (they wait for their last answers and deliver).
    pub workers_at_once: u64,
    pub concurrency: driver::Concurrency,
}

/// What the checks before firing found.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub regions: Vec<RegionCheck>,
    pub home: cost::HomeStack,
}

impl Preflight {
    /// The cost of `given` on these stacks, before it runs or, with `measured`, after.
    pub fn cost(&self, plan: &ValidPlan, fleet: &Fleet, measured: Option<&cost::Measured>) -> cost::Cost {
        let stacks: Vec<cost::RegionStack> = self.regions.iter().map(|r| r.stack.clone()).collect();
        cost_of(plan, fleet, &stacks, self.home, measured)
    }
}

/// The cost of `plan` followed by `volley run` on `stacks`, before it runs or, with `measured`, after.
fn cost_of(
    plan: &ValidPlan,
    fleet: &Fleet,
    stacks: &[cost::RegionStack],
    home: cost::HomeStack,
    measured: Option<&cost::Measured>,
) -> cost::Cost {
    let bytes_out = |region: &str| expected_bytes_out(plan, fleet, region);
    cost::estimate(plan, fleet, stacks, home, &bytes_out, true, measured)
}

/// The most workers of `region` running at once.
fn workers_at_once(plan: &ValidPlan, fleet: &Fleet, region: &str) -> u64 {
    let per_segment: Vec<u64> = (0..plan.segments().len())
        .map(|k| {
            fleet
                .calls
                .iter()
                .filter(|c| c.region == region && c.segment == k)
                .count() as u64
        })
        .collect();
    if per_segment.len() < 2 {
        return per_segment.first().copied().unwrap_or_default();
    }
    per_segment.windows(2).map(|w| w[0] + w[1]).max().unwrap_or_default()
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn size(deployed: &driver::Deployment) -> cost::FunctionSize {
    cost::FunctionSize {
        memory_mb: deployed.memory_mb,
        arm64: deployed.architecture == "arm64",
    }
}

/// A duration setting of a deployed function, or its default; one outside `range` is refused, as the
/// function itself refuses it.
fn setting(
    deployed: &driver::Deployment,
    name: &str,
    default: Duration,
    range: std::ops::RangeInclusive<Duration>,
    region: &str,
) -> Result<Duration, CliError> {
    let Some(text) = deployed.environment.get(name) else {
        return Ok(default);
    };
    let value = volley_core::config::duration(text).map_err(|e| CliError::Stack(format!("{region}: {name}: {e}")))?;
    if !range.contains(&value) {
        return Err(CliError::Stack(format!(
            "{region}: the deployed {name} {text:?} is outside {} to {}: the function refuses it",
            humantime::format_duration(*range.start()),
            humantime::format_duration(*range.end())
        )));
    }
    Ok(value)
}

/// The home region's orchestrator as deployed: its size and its `SEGMENT_LEAD`.
async fn home_stack(stack: &Stack) -> Result<cost::HomeStack, CliError> {
    let home = stack.home()?;
    let orchestrator = Functions::new(&stack.in_region(&home))
        .configuration(&stack.output("OrchestratorFunctionName", None)?)
        .await
        .map_err(stack_error("reading the orchestrator's configuration"))?;
    Ok(cost::HomeStack {
        orchestrator: size(&orchestrator),
        lead: setting(
            &orchestrator,
            "SEGMENT_LEAD",
            volley_core::model::plan::DEFAULT_SEGMENT_LEAD,
            volley_core::model::plan::MIN_SEGMENT_LEAD..=volley_core::model::plan::SEGMENT_LEAD,
            &home,
        )?,
    })
}

/// `region`'s stack as deployed, and its worker's deployment (whose environment its guard is built from).
async fn region_stack(stack: &Stack, region: &str) -> Result<(cost::RegionStack, driver::Deployment), CliError> {
    let functions = Functions::new(&stack.in_region(region));
    let worker = functions
        .configuration(&stack.output("WorkerFunctionName", Some(region))?)
        .await
        .map_err(stack_error(&format!("reading the worker's configuration in {region}")))?;
    let archiver = functions
        .configuration(&stack.output("ArchiverFunctionName", Some(region))?)
        .await
        .map_err(stack_error(&format!(
            "reading the archiver's configuration in {region}"
        )))?;
    Ok((
        cost::RegionStack {
            region: region.to_owned(),
            worker: size(&worker),
            archiver: size(&archiver),
            chunk_interval: setting(
                &worker,
                "CHUNK_INTERVAL",
                DEFAULT_CHUNK_INTERVAL,
                MIN_CHUNK_INTERVAL..=MAX_CHUNK_INTERVAL,
                region,
            )?,
        },
        worker,
    ))
}

/// The checks before anything fires, in every region of the plan; each refusal names the region and what
/// to change, and nothing has started.
/// - The target, by the region's workers' own guard: their deployed `ALLOWED_TARGETS` and `DNS_SERVERS`,
///   and the region's domain registry.
/// - The organisation's limits there, with its tests running now (a result within two chunk periods and
///   [`RUNNING_SLACK`]).
/// - Its workers at once against the concurrency Lambda gives the worker there.
pub async fn preflight(stack: &Stack, plan: &ValidPlan, fleet: &Fleet) -> Result<Preflight, CliError> {
    let org = &plan.plan.organisation_id;
    // Every region's stack stops and starts the test through one orchestrator: the stack's home region's.
    let home = stack.home()?;
    if plan.plan.home_region != home {
        return Err(usage(format!(
            "homeRegion {}: the stack's orchestrator is in {home}, which every region's workers and archivers \
             answer to. Make it the plan's homeRegion (the first of --regions). Nothing was started",
            plan.plan.home_region
        )));
    }
    let mut checks = Vec::new();
    let mut limits = Vec::new();
    let mut running = std::collections::BTreeSet::new();
    for region in plan.plan.regions.iter().map(|r| r.region.as_str()) {
        let config = stack.in_region(region);
        let functions = Functions::new(&config);
        let worker = stack.output("WorkerFunctionName", Some(region))?;
        let (region_stack, deployed) = region_stack(stack, region).await?;
        let chunk_interval = region_stack.chunk_interval;
        let domains = Arc::new(DynamoDomainStore::new(
            &config,
            stack.output("DomainsTableName", Some(region))?,
        ));
        let mut env = EnvReader::from_map(deployed.environment.clone());
        let settings = volley_core::config::guard_settings(&mut env);
        env.finish().map_err(|e| {
            CliError::Stack(format!(
                "{region}: the worker's configuration: {e}: its workers would not start"
            ))
        })?;
        let guard = settings
            .guard(Arc::clone(&domains) as _)
            .map_err(|e| CliError::Stack(format!("{region}: the workers' DNS servers: {e}")))?;
        for (_, request) in &plan.requests {
            guard.vet(org, &request.url).await.map_err(|refusal| {
                usage(format!(
                    "{region}: the workers there would refuse {}: {refusal}. Nothing was started",
                    request.url
                ))
            })?;
        }
        limits.push((
            region,
            domains
                .limits(org)
                .await
                .map_err(stack_error(&format!("reading {org}'s limits in {region}")))?,
        ));
        let activity = DynamoTestActivity::new(&config, stack.output("TestsTableName", Some(region))?);
        let now = now_s();
        for active in activity
            .active_since(now - (2 * chunk_interval + RUNNING_SLACK).as_secs() as i64, now)
            .await
            .map_err(stack_error(&format!("reading the tests running in {region}")))?
        {
            if active.test.organisation_id == *org && active.test.test_id != plan.plan.test_id {
                running.insert(active.test.test_id);
            }
        }
        let concurrency = functions
            .concurrency(&worker)
            .await
            .map_err(stack_error(&format!("reading the worker's concurrency in {region}")))?;
        let at_once = workers_at_once(plan, fleet, region);
        if at_once > concurrency.limit() {
            return Err(usage(format!(
                "{region}: the plan runs up to {at_once} workers at once there, beyond {concurrency}: Lambda would \
                 throttle them. Lower the rate or raise maxWorkerRate, or ask AWS for more concurrency. Nothing was started"
            )));
        }
        checks.push(RegionCheck {
            stack: region_stack,
            workers_at_once: at_once,
            concurrency,
        });
    }
    for (region, limits) in limits {
        limits
            .check_plan(plan, fleet, running.len() as u64)
            .map_err(|e| usage(format!("{region}: {e}. Nothing was started")))?;
    }
    Ok(Preflight {
        regions: checks,
        home: home_stack(stack).await?,
    })
}

/// The bytes the plan's requests in `region` are expected to send: its share of the requests, each of the
/// weighted mean size.
pub fn expected_bytes_out(plan: &ValidPlan, fleet: &Fleet, region: &str) -> u64 {
    let p = &plan.plan;
    let shares: u64 = p.regions.iter().map(|r| r.share).sum();
    let share = p.regions.iter().find(|r| r.region == region).map_or(0, |r| r.share);
    (fleet.total as f64 * share as f64 / shares.max(1) as f64 * mean_request_bytes(plan)).round() as u64
}

/// The plan's requests' size on the wire, weighted as they are sent.
fn mean_request_bytes(plan: &ValidPlan) -> f64 {
    let weights: u64 = plan.requests.iter().map(|(w, _)| w).sum();
    plan.requests
        .iter()
        .map(|(w, r)| *w as f64 / weights.max(1) as f64 * request_bytes(r) as f64)
        .sum()
}

/// About how many bytes `request` puts on the wire: its request line, Host, its headers as written (a
/// secret's reference, not its value), Content-Length and its body.
pub fn request_bytes(request: &volley_core::model::call::CallRequest) -> u64 {
    let uri = request.url.parse::<http::Uri>().ok();
    let path = uri
        .as_ref()
        .and_then(|u| u.path_and_query())
        .map_or(1, |p| p.as_str().len());
    let host = uri.as_ref().and_then(|u| u.authority()).map_or(0, |a| a.as_str().len());
    let line = request.method.len() + 1 + path + " HTTP/1.1\r\n".len();
    let headers: usize = request.headers.iter().map(|(n, v)| n.len() + 2 + v.len() + 2).sum();
    let body = request.body.as_ref().map_or(0, |b| {
        "content-length: \r\n".len() + b.len().to_string().len() + b.len()
    });
    (line + "host: \r\n".len() + host + headers + body + 2) as u64
}

/// The plan as it will run, before anything fires: calls and segments, then each region's workers, rate
/// per worker and what Lambda allows there, then requests and the bytes expected out and in.
pub fn describe(given: &RunPlan, fleet: &Fleet, checks: &[RegionCheck]) -> String {
    use std::fmt::Write as _;
    let plan = &given.plan;
    let p = &plan.plan;
    let segments = plan.segments();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan {}/{}: {} requests over {}, {} calls ({} segment{} of up to {}), home region {}",
        p.organisation_id,
        p.test_id,
        fleet.total,
        humantime::format_duration(plan.schedule.duration()),
        fleet.calls.len(),
        segments.len(),
        if segments.len() == 1 { "" } else { "s" },
        humantime::format_duration(plan.segment_length),
        p.home_region
    );
    let share: u64 = p.regions.iter().map(|r| r.share).sum();
    for region in &p.regions {
        let workers = fleet
            .calls
            .iter()
            .filter(|c| c.region == region.region && c.segment == 0)
            .count();
        let peak = plan.schedule.peak_rate() * region.share as f64 / share.max(1) as f64;
        let _ = write!(
            out,
            "  {:<16} {workers} worker{}, {:.1} requests a second each at the peak",
            region.region,
            if workers == 1 { "" } else { "s" },
            peak / workers.max(1) as f64
        );
        if let Some(check) = checks.iter().find(|c| c.stack.region == region.region) {
            let _ = write!(
                out,
                "; up to {} at once, within {}",
                check.workers_at_once, check.concurrency
            );
        }
        let _ = writeln!(out);
    }
    let out_bytes: u64 = p
        .regions
        .iter()
        .map(|r| expected_bytes_out(plan, fleet, &r.region))
        .sum();
    let _ = writeln!(
        out,
        "  bytes out      about {} ({} requests of their headers and bodies)",
        crate::report::bytes(out_bytes),
        fleet.total
    );
    let _ = match given.response_bytes {
        Some(each) => writeln!(
            out,
            "  bytes in       about {} ({each} B an answer, as the plan's responseBytes says)",
            crate::report::bytes(fleet.total * each)
        ),
        None => writeln!(
            out,
            "  bytes in       not estimated: say how big an answer is with responseBytes (or --response-bytes)"
        ),
    };
    out
}

/// Why a plan needs a yes before it starts, if it does: more than [`CONFIRM_ABOVE`] requests, or an
/// estimate above [`CONFIRM_ABOVE_USD`].
fn needs_yes(fleet: &Fleet, estimate: &cost::Cost) -> Option<String> {
    if fleet.total > CONFIRM_ABOVE {
        Some(format!(
            "the plan fires {} requests, more than {CONFIRM_ABOVE}",
            fleet.total
        ))
    } else if estimate.usd > CONFIRM_ABOVE_USD {
        Some(format!(
            "the plan is estimated at {}, more than {}",
            cost::usd(estimate.usd),
            cost::usd(CONFIRM_ABOVE_USD)
        ))
    } else {
        None
    }
}

/// Refuses a plan estimated above `--max-cost`; a big one starts on a yes: `--yes`, or the answer in a
/// terminal.
fn confirm(fleet: &Fleet, estimate: &cost::Cost, args: &RunArgs) -> Result<(), CliError> {
    if let Some(max) = args.max_cost
        && estimate.usd > max
    {
        return Err(usage(format!(
            "the plan is estimated at {}, above --max-cost {}. Nothing was started",
            cost::usd(estimate.usd),
            cost::usd(max)
        )));
    }
    let Some(why) = needs_yes(fleet, estimate) else {
        return Ok(());
    };
    if args.yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(usage(format!(
            "{why}: it starts on a yes, and with no terminal nothing can answer. Pass --yes. Nothing was started"
        )));
    }
    if ask(&format!("{why}. Start it? [y/N] ")) {
        Ok(())
    } else {
        Err(usage("not started: the answer was not yes"))
    }
}

/// Asks `question` on the terminal: true on y or yes.
fn ask(question: &str) -> bool {
    use std::io::Write as _;
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Every expected call's result, or after `patience` the chunks of those that never reported.
async fn collect(
    stack: &Stack,
    test: &TestScope,
    fleet: &Fleet,
    patience: Duration,
) -> Result<(Vec<CallResult>, Vec<ResultChunk>), CliError> {
    let give_up = tokio::time::Instant::now() + patience;
    // A client per region, made once for all the reads below.
    let mut archives: BTreeMap<&str, S3ResultArchive> = BTreeMap::new();
    for call in &fleet.calls {
        if !archives.contains_key(call.region.as_str()) {
            archives.insert(&call.region, stack.archive(&call.region)?);
        }
    }
    let archive = |region: &str| &archives[region];
    let mut results: BTreeMap<String, CallResult> = BTreeMap::new();
    loop {
        for call in &fleet.calls {
            let id = &call.call.call_id;
            if results.contains_key(id) {
                continue;
            }
            let key = archive_key(&test.organisation_id, &test.test_id, id);
            if let Some(bytes) = archive(&call.region)
                .get(&key)
                .await
                .map_err(stack_error("reading a result"))?
            {
                let result: CallResult = serde_json::from_slice(&bytes)
                    .map_err(|e| CliError::Stack(format!("{key} is not a result: {e}")))?;
                results.insert(id.clone(), result);
            }
        }
        if results.len() == fleet.calls.len() || tokio::time::Instant::now() >= give_up {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut chunks = Vec::new();
    for call in fleet.calls.iter().filter(|c| !results.contains_key(&c.call.call_id)) {
        let archive = archive(&call.region);
        for n in 0.. {
            let key = chunk_key(&test.organisation_id, &test.test_id, &call.call.call_id, n);
            match archive.get(&key).await.map_err(stack_error("reading a chunk"))? {
                Some(bytes) => chunks.push(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| CliError::Stack(format!("{key} is not a chunk: {e}")))?,
                ),
                None => break,
            }
        }
    }
    Ok((results.into_values().collect(), chunks))
}

/// The test's result from what its regions stored, held to `thresholds`.
async fn report(
    stack: &Stack,
    plan: &ValidPlan,
    fleet: &Fleet,
    thresholds: &[Threshold],
    patience: Duration,
) -> Result<RunOutput, CliError> {
    let test = TestScope::new(&plan.plan.organisation_id, &plan.plan.test_id);
    let (results, chunks) = collect(stack, &test, fleet, patience).await?;
    let expected: Vec<String> = fleet.calls.iter().map(|c| c.call.call_id.clone()).collect();
    let merge = |expected: &[String], results: &[CallResult], chunks: &[ResultChunk]| {
        TestResult::merge(&test, expected, results, chunks)
            .map_err(|e| CliError::Stack(format!("the results do not merge: {}", volley_core::error_chain(&e))))
    };
    let region_of: BTreeMap<&str, &str> = fleet
        .calls
        .iter()
        .map(|c| (c.call.call_id.as_str(), c.region.as_str()))
        .collect();
    let mut skews: Vec<(String, String, f64)> = results
        .iter()
        .filter_map(|r| {
            let skew = r.report.start_skew.as_ref()?.first_sent_ms;
            Some((r.call_id.clone(), region_of.get(r.call_id.as_str())?.to_string(), skew))
        })
        .collect();
    skews.sort_by(|a, b| a.2.abs().total_cmp(&b.2.abs()));
    // Each region's own seconds, merged the same way from its calls alone; then the whole test from them all.
    #[derive(Default)]
    struct Parts {
        expected: Vec<String>,
        results: Vec<CallResult>,
        chunks: Vec<ResultChunk>,
    }
    let mut by_region: BTreeMap<&str, Parts> = BTreeMap::new();
    let region = |call: &str| region_of.get(call).copied().unwrap_or_default();
    for call in expected {
        by_region.entry(region(&call)).or_default().expected.push(call);
    }
    for result in results {
        by_region
            .entry(region(&result.call_id))
            .or_default()
            .results
            .push(result);
    }
    for chunk in chunks {
        by_region.entry(region(&chunk.call_id)).or_default().chunks.push(chunk);
    }
    let mut region_seconds = BTreeMap::new();
    for (region, parts) in &by_region {
        let seconds = merge(&parts.expected, &parts.results, &parts.chunks)?
            .report
            .decode_seconds()
            .map_err(|e| CliError::Stack(format!("{region}'s seconds do not decode: {e}")))?;
        region_seconds.insert((*region).to_owned(), seconds);
    }
    let (mut expected, mut results, mut chunks) = (Vec::new(), Vec::new(), Vec::new());
    for parts in by_region.into_values() {
        expected.extend(parts.expected);
        results.extend(parts.results);
        chunks.extend(parts.chunks);
    }
    let result = merge(&expected, &results, &chunks)?;
    let thresholds = thresholds.iter().map(|t| t.check(&result.report)).collect();
    let state = stack
        .orchestrate(serde_json::json!({"type": "status",
            "organisationId": test.organisation_id, "testId": test.test_id}))
        .await?;
    let segments = plan
        .segments()
        .into_iter()
        .enumerate()
        .map(|(k, window)| {
            let mut calls = BTreeMap::new();
            for call in fleet.calls.iter().filter(|c| c.segment == k) {
                *calls.entry(call.region.clone()).or_insert(0) += 1;
            }
            (window, calls)
        })
        .collect();
    Ok(RunOutput {
        result,
        thresholds,
        estimate: None,
        cost: None,
        facts: TestFacts {
            start_ms: fleet
                .start_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            region_seconds,
            skews,
            segments,
            stop_reason: state["stopReason"].as_str().map(str::to_owned),
        },
    })
}

/// What the test's page draws besides the merged result.
#[derive(Debug, Clone, Default)]
pub struct TestFacts {
    /// The test's start, Unix ms.
    pub start_ms: i64,
    /// Each region's seconds, merged from its calls alone.
    pub region_seconds: BTreeMap<String, Vec<volley_engine::load::stats::SecondStats>>,
    /// Each reporting call's start skew: its id, its region, ms (smallest first).
    pub skews: Vec<(String, String, f64)>,
    /// Each segment's window from the start, and its calls by region.
    pub segments: Vec<(std::ops::Range<Duration>, BTreeMap<String, usize>)>,
    /// Why the test was stopped, when an abort rule stopped it.
    pub stop_reason: Option<String>,
}

/// The live view: each call's chunks as they arrive (and, once its segment is over, the seconds its result
/// alone carries), merged by region and second. A region's second is shown once every call running in it
/// has delivered it, so what is shown is whole: the view runs one chunk period behind.
struct Live<'a> {
    plan: &'a ValidPlan,
    fleet: &'a Fleet,
    start_ms: i64,
    archives: BTreeMap<String, S3ResultArchive>,
    /// Per call: the next chunk to look for, the last second delivered, and whether all of it is in.
    next: Vec<u32>,
    covered: Vec<Option<i64>>,
    done: Vec<bool>,
    seconds: BTreeMap<String, BTreeMap<i64, Stats>>,
}

impl<'a> Live<'a> {
    fn new(stack: &Stack, plan: &'a ValidPlan, fleet: &'a Fleet) -> Result<Self, CliError> {
        let mut archives = BTreeMap::new();
        for region in &plan.plan.regions {
            archives.insert(region.region.clone(), stack.archive(&region.region)?);
        }
        let n = fleet.calls.len();
        Ok(Self {
            plan,
            fleet,
            start_ms: fleet
                .start_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            archives,
            next: vec![0; n],
            covered: vec![None; n],
            done: vec![false; n],
            seconds: BTreeMap::new(),
        })
    }

    /// Call `i`'s window, Unix ms.
    fn window(&self, i: usize, segments: &[std::ops::Range<Duration>]) -> (i64, i64) {
        let segment = &segments[self.fleet.calls[i].segment];
        (
            self.start_ms + segment.start.as_millis() as i64,
            self.start_ms + segment.end.as_millis() as i64,
        )
    }

    /// Reads what arrived since the last poll, every call at once.
    async fn poll(&mut self, now_ms: i64) {
        let segments = self.plan.segments();
        let test = &self.plan.plan;
        let mut reads = tokio::task::JoinSet::new();
        for i in 0..self.fleet.calls.len() {
            let (from, to) = self.window(i, &segments);
            if self.done[i] || now_ms < from {
                continue;
            }
            let call = &self.fleet.calls[i];
            let archive = self.archives[&call.region].clone();
            let (org, id, first) = (test.organisation_id.clone(), test.test_id.clone(), self.next[i]);
            let call_id = call.call.call_id.clone();
            let ended = now_ms >= to;
            reads.spawn(async move {
                let mut chunks = Vec::new();
                for n in first.. {
                    match archive.get(&chunk_key(&org, &id, &call_id, n)).await {
                        Ok(Some(bytes)) => match serde_json::from_slice::<ResultChunk>(&bytes) {
                            Ok(chunk) => chunks.push(chunk.decode_seconds().unwrap_or_default()),
                            Err(_) => break,
                        },
                        _ => break,
                    }
                }
                // Its segment over: the seconds after its last chunk come with its result, once every chunk
                // it lists is in (a chunk and the result travel apart, and may arrive in either order).
                let rest = if ended {
                    match archive.get(&archive_key(&org, &id, &call_id)).await {
                        Ok(Some(bytes)) => serde_json::from_slice::<CallResult>(&bytes).ok().and_then(|r| {
                            let listed = r.chunked.as_ref().map_or(0, |c| c.chunks);
                            let seen = first + chunks.len() as u32;
                            (seen >= listed).then(|| r.unchunked_seconds().ok()).flatten()
                        }),
                        _ => None,
                    }
                } else {
                    None
                };
                (i, chunks, rest)
            });
        }
        while let Some(read) = reads.join_next().await {
            let Ok((i, chunks, rest)) = read else { continue };
            let region = self.seconds.entry(self.fleet.calls[i].region.clone()).or_default();
            self.next[i] += chunks.len() as u32;
            for second in chunks.iter().flatten().chain(rest.iter().flatten()) {
                region.entry(second.second).or_default().merge(&second.stats);
                self.covered[i] = self.covered[i].max(Some(second.second));
            }
            if rest.is_some() {
                self.done[i] = true;
            }
        }
    }

    /// The newest second of `region` that every call running in it has delivered.
    fn complete_through(&self, region: &str, now_ms: i64) -> Option<i64> {
        let segments = self.plan.segments();
        let mut through = now_ms.div_euclid(1000) - 1;
        for i in (0..self.fleet.calls.len()).filter(|&i| self.fleet.calls[i].region == region) {
            let (from, _) = self.window(i, &segments);
            if self.done[i] || now_ms < from {
                continue;
            }
            through = through.min(self.covered[i].unwrap_or(from.div_euclid(1000) - 1));
        }
        (through >= self.start_ms.div_euclid(1000)).then_some(through)
    }

    /// Requests the plan asks of `region` in Unix second `second`.
    fn asked(&self, region: &str, second: i64) -> f64 {
        let p = &self.plan.plan;
        let share: u64 = p.regions.iter().map(|r| r.share).sum();
        let mine = p.regions.iter().find(|r| r.region == region).map_or(0, |r| r.share);
        let offset = |ms: i64| Duration::from_millis((ms - self.start_ms).max(0) as u64);
        let schedule = &self.plan.schedule;
        let due = schedule.first_at(offset((second + 1) * 1000)) - schedule.first_at(offset(second * 1000));
        due as f64 * mine as f64 / share.max(1) as f64
    }

    /// One line: elapsed and remaining, then for each region its newest whole second (requests against
    /// those asked, errors, p99) and its counters so far.
    async fn line(&self, ledgers: &[(String, DynamoResultLedger)], now_ms: i64) -> String {
        let test = TestScope::new(&self.plan.plan.organisation_id, &self.plan.plan.test_id);
        let whole = self.plan.schedule.duration();
        let elapsed = Duration::from_secs(((now_ms - self.start_ms).max(0) / 1000) as u64);
        let mut parts = Vec::new();
        for (region, ledger) in ledgers {
            let counted = ledger.counters(&test).await.ok().flatten();
            let (requests, errors) = counted.map_or((0, 0), |c| (c.requests, c.errors));
            let second = self.complete_through(region, now_ms).map(|s| {
                let stats = self
                    .seconds
                    .get(region)
                    .and_then(|m| m.get(&s))
                    .cloned()
                    .unwrap_or_default();
                // Dropped sends are not requests: said apart, when there are any.
                let dropped = if stats.dropped > 0 {
                    format!(", {} dropped", stats.dropped)
                } else {
                    String::new()
                };
                format!(
                    "[{}s] {}/{:.0} rps, {} err, p99 {}{dropped}",
                    s - self.start_ms.div_euclid(1000),
                    stats.requests,
                    self.asked(region, s),
                    stats.failures(),
                    crate::report::duration(stats.latency.quantile(0.99))
                )
            });
            parts.push(format!(
                "{region}: {} ({requests} requests, {errors} errors so far)",
                second.unwrap_or_else(|| "no whole second yet".into())
            ));
        }
        format!(
            "{:>6} of {} ({} left)  {}",
            humantime::format_duration(elapsed).to_string(),
            humantime::format_duration(whole),
            humantime::format_duration(whole.saturating_sub(elapsed)),
            parts.join("; ")
        )
    }
}

/// `volley run`: checks the plan against the stack, prints it, starts it, follows it, and reports it
/// exactly.
pub async fn run(args: &RunArgs) -> Result<RunOutput, CliError> {
    let given = read_plan(args)?;
    let stack = Stack::open(&args.stack).await?;
    let shape = given.plan.fleet(SystemTime::now()).map_err(|e| usage(e.to_string()))?;
    let checks = preflight(&stack, &given.plan, &shape).await?;
    eprint!("{}", describe(&given, &shape, &checks.regions));
    let estimate = checks.cost(&given.plan, &shape, None);
    eprint!("{}", estimate.text());
    confirm(&shape, &estimate, args)?;
    // From here a signal stops the test rather than the command alone.
    let mut signals = Signals::new()?;
    let started = stack
        .orchestrate(serde_json::json!({"type": "test-start", "plan": given.written}))
        .await?;
    let start_ms = started["startAt"]
        .as_u64()
        .ok_or_else(|| CliError::Stack(format!("test-start answered no startAt: {started}")))?;
    let start_at = UNIX_EPOCH + Duration::from_millis(start_ms);
    let fleet = given.plan.fleet(start_at).map_err(|e| usage(e.to_string()))?;
    let test = TestScope::new(&given.plan.plan.organisation_id, &given.plan.plan.test_id);
    let whole = given.plan.schedule.duration();
    // Each region's counters, through a client per region made once.
    let ledgers = given
        .plan
        .plan
        .regions
        .iter()
        .map(|r| Ok((r.region.clone(), stack.ledger(&r.region)?)))
        .collect::<Result<Vec<_>, CliError>>()?;
    let lag = checks
        .regions
        .iter()
        .map(|c| c.stack.chunk_interval)
        .max()
        .unwrap_or(DEFAULT_CHUNK_INTERVAL);
    eprintln!(
        "started: {} (in {} s); stop it with `volley stop {} --org {}`. A second shows once every worker's \
         chunk holding it is in: about one chunk period ({}) behind",
        humantime::format_rfc3339_millis(start_at),
        start_at.duration_since(SystemTime::now()).map_or(0, |d| d.as_secs()),
        test.test_id,
        test.organisation_id,
        humantime::format_duration(lag)
    );
    let mut live = Live::new(&stack, &given.plan, &fleet)?;
    let stop = || {
        stack.orchestrate(serde_json::json!({"type": "test-stop",
            "organisationId": test.organisation_id, "testId": test.test_id}))
    };
    // Follows until the load's end, a line a second; SIGTERM, or SIGINT without a terminal, stops the test.
    let end = start_at + whole;
    loop {
        let now = SystemTime::now();
        if now >= end {
            break;
        }
        if now >= start_at {
            let now_ms = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            live.poll(now_ms).await;
            eprintln!("{}", live.line(&ledgers, now_ms).await);
        }
        // Stopped elsewhere (`volley stop`, an abort rule): the workers have stopped; on to the report.
        let state = stack
            .orchestrate(serde_json::json!({"type": "status",
                "organisationId": test.organisation_id, "testId": test.test_id}))
            .await?;
        if state["stopped"] == true {
            let why = state["stopReason"]
                .as_str()
                .unwrap_or("stopped by `volley stop` or test-stop");
            eprintln!("volley: the test was stopped: {why}");
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            signal = signals.next() => {
                if signal == Interrupt::Asked && !signals.ask_to_stop().await {
                    eprintln!("volley: the test goes on");
                    continue;
                }
                eprintln!("volley: stopping the test");
                stop().await?;
                break;
            }
        }
    }
    // Each call delivers after its last answer (at most its timeout) and a chunk period. A signal while
    // waiting ends the wait: the load is over, and `volley report` rebuilds the report later.
    let output = tokio::select! {
        output = report(&stack, &given.plan, &fleet, &given.thresholds, Duration::from_secs(120)) => output,
        _ = signals.next() => Err(CliError::Stack(format!(
            "interrupted while collecting the results; the load is over. `volley report {} --org {}` rebuilds the report",
            test.test_id, test.organisation_id
        ))),
    };
    output.map(|mut output| {
        output.cost = Some(checks.cost(
            &given.plan,
            &fleet,
            Some(&output.measured(&given.plan, start_ms as i64)),
        ));
        output.estimate = Some(estimate);
        output
    })
}

/// A signal to the follow loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    /// SIGTERM, or SIGINT with no terminal to ask on: stop.
    Stop,
    /// SIGINT in a terminal: ask first.
    Asked,
}

/// SIGINT and SIGTERM, listened to from before the test starts until the command ends, so none is missed
/// between two waits (a stream keeps a signal that arrives while nobody waits).
struct Signals {
    terminal: bool,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, CliError> {
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind| signal(kind).map_err(|e| CliError::Stack(format!("listening for signals: {e}")));
            Ok(Self {
                terminal,
                int: listen(SignalKind::interrupt())?,
                term: listen(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self { terminal })
    }

    async fn next(&mut self) -> Interrupt {
        let int = if self.terminal {
            Interrupt::Asked
        } else {
            Interrupt::Stop
        };
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => int,
                _ = self.term.recv() => Interrupt::Stop,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            int
        }
    }

    /// Asks in the terminal whether to stop the test; another signal while asking is a yes.
    async fn ask_to_stop(&mut self) -> bool {
        // A thread of its own, not the runtime's blocking pool: when a signal answers instead, its read of
        // the terminal is left behind, and the runtime's shutdown would wait for it.
        let (answer, asked) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = answer.send(ask("\nStop the test for every worker? [y/N] "));
        });
        tokio::select! {
            answer = asked => answer.unwrap_or(true),
            _ = self.next() => true,
        }
    }
}

/// `volley stop`: the orchestrator's `test-stop`; every worker stops within 2 s.
pub async fn stop(args: &TestArgs) -> Result<serde_json::Value, CliError> {
    let stack = Stack::open(&args.stack).await?;
    stack
        .orchestrate(serde_json::json!({"type": "test-stop", "organisationId": args.org, "testId": args.test_id}))
        .await
}

/// `volley status`: the test's state in its home region.
pub async fn status(args: &TestArgs) -> Result<serde_json::Value, CliError> {
    let stack = Stack::open(&args.stack).await?;
    stack
        .orchestrate(serde_json::json!({"type": "status", "organisationId": args.org, "testId": args.test_id}))
        .await
}

/// `volley report`: the report rebuilt from what the regions stored, from the plan and start the test
/// keeps (thresholds are the run's business: none here).
pub async fn report_of(args: &TestArgs) -> Result<RunOutput, CliError> {
    let stack = Stack::open(&args.stack).await?;
    let state = stack
        .orchestrate(serde_json::json!({"type": "status", "organisationId": args.org, "testId": args.test_id}))
        .await?;
    let plan = TestPlan::from_json(&state["plan"])
        .and_then(TestPlan::validate)
        .map_err(|e| {
            CliError::Stack(format!(
                "the test keeps no plan it can read ({e}): was it started by `volley run`?"
            ))
        })?;
    let start_ms = state["startAt"]
        .as_u64()
        .ok_or_else(|| CliError::Stack("the test has no start".into()))?;
    let fleet = plan
        .fleet(UNIX_EPOCH + Duration::from_millis(start_ms))
        .map_err(|e| usage(e.to_string()))?;
    let mut output = report(&stack, &plan, &fleet, &[], Duration::ZERO).await?;
    // The cost from what was measured, on the stack as deployed now.
    let mut regions = Vec::new();
    for region in &plan.plan.regions {
        regions.push(region_stack(&stack, &region.region).await?.0);
    }
    let measured = output.measured(&plan, start_ms as i64);
    output.cost = Some(cost_of(
        &plan,
        &fleet,
        &regions,
        home_stack(&stack).await?,
        Some(&measured),
    ));
    Ok(output)
}

/// The report people read: the whole test in vegeta's shape, then a row per region, the start skew, and
/// the calls that never reported.
pub fn text(output: &RunOutput, url: &str) -> String {
    use std::fmt::Write as _;
    let result = &output.result;
    let mut out = crate::report::text(&output.as_attack(url));
    let _ = writeln!(out, "Regions:");
    for (region, stats) in &result.regions {
        let _ = writeln!(
            out,
            "  {region:<16} {} requests, {:.2}% success, p99 {}",
            stats.requests,
            stats.success_ratio() * 100.0,
            crate::report::duration(stats.latency.quantile(0.99))
        );
    }
    if let Some(skew) = &result.start_skew {
        let _ = writeln!(
            out,
            "Start skew    [p50, p99, max] across {} calls  {:.2}ms, {:.2}ms, {:.2}ms",
            skew.calls, skew.p50_ms, skew.p99_ms, skew.max_ms
        );
    }
    for short in &result.short {
        let _ = writeln!(
            out,
            "Short: {} never reported; its chunks {:?} carried {} requests",
            short.call_id, short.chunks, short.requests
        );
    }
    if !result.missing.is_empty() {
        let _ = writeln!(out, "Missing: {}", result.missing.join(", "));
    }
    if let Some(cost) = &output.cost {
        out.push_str(&cost.text());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: serde_json::Value) -> ValidPlan {
        TestPlan::from_json(&json)
            .and_then(TestPlan::validate)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn two_regions(rate: u64, duration: &str, extra: serde_json::Value) -> ValidPlan {
        let mut json = serde_json::json!({
            "organisationId": "acme", "testId": "t1", "homeRegion": "eu-west-1",
            "request": {"url": "http://example.com/"},
            "rate": rate, "duration": duration, "maxWorkerRate": 10,
            "regions": [{"region": "eu-west-1", "share": 3}, {"region": "us-east-1", "share": 1}]
        });
        if let (Some(json), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
            json.extend(extra.clone());
        }
        plan(json)
    }

    #[test]
    fn a_request_is_counted_as_it_goes_on_the_wire() {
        let request: volley_core::model::call::CallRequest = serde_json::from_value(serde_json::json!({
            "method": "POST", "url": "https://api.acme.example:8443/orders?id=7",
            "headers": {"x-k": "v"}, "body": "hello"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let wire =
            "POST /orders?id=7 HTTP/1.1\r\nhost: api.acme.example:8443\r\nx-k: v\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(request_bytes(&request), wire.len() as u64);
        assert_eq!(crate::report::bytes(999), "999 B");
        assert_eq!(crate::report::bytes(1_500), "1.5 kB");
        assert_eq!(crate::report::bytes(2_340_000), "2.34 MB");
        assert_eq!(crate::report::bytes(7_000_000_000), "7.00 GB");
    }

    #[test]
    fn workers_at_once_count_a_segment_and_the_next_while_they_hand_over() {
        let single = two_regions(40, "30s", serde_json::json!({}));
        let fleet = single.fleet(UNIX_EPOCH).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            workers_at_once(&single, &fleet, "eu-west-1"),
            3,
            "30 rps at 10 a worker"
        );
        assert_eq!(workers_at_once(&single, &fleet, "us-east-1"), 1);
        let long = two_regions(40, "25m", serde_json::json!({}));
        let fleet = long.fleet(UNIX_EPOCH).unwrap_or_else(|e| panic!("{e}"));
        assert!(long.segments().len() >= 2, "{:?}", long.segments());
        assert_eq!(workers_at_once(&long, &fleet, "eu-west-1"), 6, "two segments' workers");
        assert_eq!(workers_at_once(&long, &fleet, "ap-south-1"), 0);
    }

    #[test]
    fn a_regions_second_is_whole_once_every_worker_running_there_delivered_it() {
        let plan = two_regions(40, "30s", serde_json::json!({}));
        let start_ms = 1_000_000_000_500;
        let fleet = plan
            .fleet(UNIX_EPOCH + Duration::from_millis(start_ms as u64))
            .unwrap_or_else(|e| panic!("{e}"));
        let n = fleet.calls.len();
        let mut live = Live {
            plan: &plan,
            fleet: &fleet,
            start_ms,
            archives: BTreeMap::new(),
            next: vec![0; n],
            covered: vec![None; n],
            done: vec![false; n],
            seconds: BTreeMap::new(),
        };
        let start_s = start_ms / 1000;
        let now = start_ms + 8_000;
        assert_eq!(live.complete_through("eu-west-1", now), None, "nothing delivered");
        let ours: Vec<usize> = (0..n).filter(|&i| fleet.calls[i].region == "eu-west-1").collect();
        for (k, &i) in ours.iter().enumerate() {
            live.covered[i] = Some(start_s + 3 + k as i64);
        }
        assert_eq!(
            live.complete_through("eu-west-1", now),
            Some(start_s + 3),
            "the slowest worker's last second"
        );
        live.done[ours[0]] = true;
        assert_eq!(live.complete_through("eu-west-1", now), Some(start_s + 4));
        // The second starts half-way through: 20 of the test's 40 a second are due in the first, 3/4 ours.
        assert_eq!(live.asked("eu-west-1", start_s), 15.0);
        assert_eq!(live.asked("eu-west-1", start_s + 1), 30.0);
        assert_eq!(live.asked("us-east-1", start_s + 1), 10.0);
    }

    fn run_args(args: &[&str]) -> RunArgs {
        use clap::Parser as _;
        let cli = crate::Cli::try_parse_from([&["volley", "run"], args, &["--outputs", "outputs.json"]].concat())
            .unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            crate::Command::Run(args) => *args,
            other => panic!("{other:?}"),
        }
    }

    /// Flags replace a plan file's fields (the same plan run again, elsewhere), and one that cannot is
    /// refused naming why.
    #[test]
    fn flags_replace_a_plan_files_fields() {
        let dir = std::env::temp_dir().join(format!("volley-override-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("plan.toml");
        std::fs::write(
            &path,
            "organisationId = \"acme\"\ntestId = \"t1\"\nhomeRegion = \"eu-west-1\"\nrate = 10\nduration = \"30s\"\n\
             [request]\nurl = \"https://api.acme.example/\"\n[[regions]]\nregion = \"eu-west-1\"\nshare = 3\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let plan = path.to_string_lossy().into_owned();
        let given = read_plan(&run_args(&[
            &plan,
            "--org",
            "beta",
            "--test-id",
            "t2",
            "--rate",
            "40",
            "--duration",
            "1m",
            "--regions",
            "us-east-1,ap-south-1",
            "--url",
            "https://staging.acme.example/",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let p = &given.plan.plan;
        assert_eq!((p.organisation_id.as_str(), p.test_id.as_str()), ("beta", "t2"));
        assert_eq!(p.home_region, "us-east-1");
        assert_eq!(
            p.regions
                .iter()
                .map(|r| (r.region.as_str(), r.share))
                .collect::<Vec<_>>(),
            [("us-east-1", 1), ("ap-south-1", 1)]
        );
        assert_eq!(given.plan.schedule.peak_rate(), 40.0);
        assert_eq!(given.plan.schedule.duration(), Duration::from_secs(60));
        assert_eq!(given.plan.requests[0].1.url, "https://staging.acme.example/");
        let untouched = read_plan(&run_args(&[&plan])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(untouched.plan.plan.regions[0].share, 3);

        std::fs::write(
            &path,
            "organisationId = \"acme\"\ntestId = \"t1\"\nhomeRegion = \"eu-west-1\"\n\
             stages = [{duration = \"10s\", rate = 5}]\n[request]\nurl = \"https://api.acme.example/\"\n\
             [[regions]]\nregion = \"eu-west-1\"\nshare = 1\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let refused = read_plan(&run_args(&[&plan, "--rate", "5"]));
        assert!(
            matches!(&refused, Err(CliError::Usage(m)) if m.contains("--rate") && m.contains("stages")),
            "{refused:?}"
        );
        let refused = read_plan(&run_args(&["https://api.acme.example/", "--url", "https://x.example/"]));
        assert!(
            matches!(&refused, Err(CliError::Usage(m)) if m.contains("--url")),
            "{refused:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn deploy_names_are_derived_from_the_prefix_the_account_and_the_region() {
        let name = |output| deployed_name("acme", "123456789012", "eu-west-1", output);
        assert_eq!(name("OrchestratorFunctionName").as_deref(), Some("acme-orchestrator"));
        assert_eq!(
            name("ResultsBucketName").as_deref(),
            Some("acme-results-123456789012-eu-west-1")
        );
        assert_eq!(name("EventBusName").as_deref(), Some("acme"));
        assert_eq!(name("GreeterApiUrl"), None);
        for output in DERIVED_OUTPUTS {
            assert!(name(output).is_some(), "{output}");
        }
    }
}
