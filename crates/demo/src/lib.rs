//! `make demo`: one whole load test through the seven functions deployed in the local stack, driven from
//! outside as a user would (`aws lambda invoke`, and `volley run` for the load), then read back from where
//! each function stored its part, and reported as text and as a self-contained HTML page.
//!
//! The phases, in order: register the demo organisation's domain with the domain-validator (its challenge
//! record served from a loopback DNS server, as the organisation's DNS would); the load test, the plan
//! testdata/plans/demo.toml run by `volley run` in both of the stack's regions (the orchestrator's
//! test-start, the workers loading the greeter through the emulator's API Gateway, `volley run`'s report and
//! page); each region's archiver's counters; the archived results, read back and merged; each region's
//! metrics-saver; run-load with the greeter suite, compared with the previous demo run.

pub mod html;
pub mod outcome;
pub mod phases;
pub mod text;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use thiserror::Error;
use volley_core::adapters::driver::{FunctionError, Functions};
use volley_core::adapters::dynamodb::metrics::DynamoSavedMetrics;
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::model::plan::TestPlan;
use volley_core::model::result::{CallResult, archive_key};
use volley_core::model::run::{CompareRequest, CompareType, RunAnswer, RunRequest, StoreRequest};
use volley_core::model::saved_metrics::{SavedSecond, Series};
use volley_core::model::scope::TestScope;
use volley_core::model::test_result::TestResult;
use volley_core::ports::{ResultArchive, ResultLedger, SavedMetricsStore, StoreError, TestCounters};
use volley_engine::load::report::Report;
use volley_engine::load::stats::SecondStats;
use volley_localdns::LocalDns;

pub use crate::outcome::{CountersOutcome, DomainOutcome, Outcome, PhaseTime, RUN_PAGE};
use crate::phases::Phases;

/// The demo's plan, which `volley run` runs: the greeter from both of the local stack's regions.
pub const PLAN: &str = "testdata/plans/demo.toml";

/// What the demo runs; the defaults are what `make demo` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests per second from each region (in place of the plan's rate, which is all regions together).
    pub rate: u32,
    pub duration: Duration,
    /// The regions, the home region first; none: the stack's (StackRegion, then SecondRegion).
    pub regions: Vec<String>,
    pub organisation: String,
    /// run-load: simulated users, spawned per second, and how long all of them run.
    pub users: u32,
    pub spawn_rate: u32,
    pub runtime: Duration,
    /// run-load stores its result under this tag and compares with the previous run under it.
    pub tag: String,
    /// Where the HTML report and the outcome's JSON go.
    pub out_dir: PathBuf,
    /// Phases timed before this program started (by scripts/demo.sh): name and wall time.
    pub setup: Vec<(String, Duration)>,
    /// How long to wait for the archiver before giving up.
    pub archive_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rate: 15,
            duration: Duration::from_secs(30),
            regions: Vec::new(),
            organisation: "volley-demo".into(),
            users: 4,
            spawn_rate: 4,
            runtime: Duration::from_secs(10),
            tag: "demo".into(),
            out_dir: PathBuf::from("target/volley-report"),
            setup: Vec::new(),
            archive_timeout: Duration::from_secs(180),
        }
    }
}

#[derive(Debug, Error)]
pub enum DemoError {
    #[error("{path}: {source}. Deploy the local stack first: `make stack-deploy` (`make demo` does)")]
    Outputs { path: PathBuf, source: std::io::Error },
    #[error("{path} is not the stack's outputs: {source}")]
    OutputsFormat { path: PathBuf, source: serde_json::Error },
    #[error("the stack outputs have no {0}: redeploy with `make stack-deploy`")]
    MissingOutput(String),
    #[error("{what}: the local stack failed (run through `make demo`, or export what `make env` prints)")]
    Aws { what: String, source: StoreError },
    #[error("{function} refused {what}: {source}")]
    Refused {
        function: String,
        what: String,
        source: Box<FunctionError>,
    },
    #[error("{0}")]
    Unexpected(String),
    #[error("waited {waited:?} for {what}")]
    Timeout { what: String, waited: Duration },
    #[error(
        "binding the demo organisation's DNS server at {address} (ValidatorDnsServers): {source}. Is a test run using it?"
    )]
    Dns {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the greeter at {url}: {source}")]
    Greeter { url: String, source: reqwest::Error },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("running {command}: {source}")]
    Volley { command: String, source: std::io::Error },
}

fn aws(what: impl Into<String>) -> impl FnOnce(StoreError) -> DemoError {
    let what = what.into();
    move |source| DemoError::Aws { what, source }
}

/// The outputs `make stack-deploy` wrote (target/local-stack/outputs.json), and where.
#[derive(Debug, Clone)]
pub struct StackOutputs {
    outputs: serde_json::Map<String, Value>,
    pub path: PathBuf,
}

impl StackOutputs {
    pub fn load(path: &Path) -> Result<Self, DemoError> {
        let text = std::fs::read_to_string(path).map_err(|source| DemoError::Outputs {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text)
            .map(|outputs| Self {
                outputs,
                path: path.to_owned(),
            })
            .map_err(|source| DemoError::OutputsFormat {
                path: path.to_owned(),
                source,
            })
    }

    pub fn get(&self, name: &str) -> Result<&str, DemoError> {
        self.outputs
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| DemoError::MissingOutput(name.into()))
    }

    /// The output `name` of `region`'s stack: a second region's is `<name>@<region>`.
    pub fn get_in(&self, region: &str, name: &str) -> Result<&str, DemoError> {
        if self.get("StackRegion")? == region {
            self.get(name)
        } else {
            self.get(&format!("{name}@{region}"))
        }
    }

    /// The regions the stack is deployed in: its own, then the second region's, if any.
    pub fn regions(&self) -> Result<Vec<String>, DemoError> {
        let mut regions = vec![self.get("StackRegion")?.to_owned()];
        if let Ok(second) = self.get("SecondRegion") {
            regions.push(second.to_owned());
        }
        Ok(regions)
    }
}

/// The names the demo needs, from the stack's outputs, and the SDK's configuration (a client per region is
/// made where it is used: the demo makes a handful of calls in each).
#[derive(Debug)]
pub struct Stack {
    pub outputs: StackOutputs,
    pub sdk_config: volley_core::aws::SdkConfig,
    /// The demo organisations' DNS, on the validator's nameserver address: started when first needed, then
    /// serving every later run in this process (its socket lives as long as the process).
    dns: tokio::sync::OnceCell<LocalDns>,
}

impl Stack {
    pub async fn connect(outputs: StackOutputs) -> Self {
        let sdk_config = volley_core::aws::sdk_config().await;
        Self {
            outputs,
            sdk_config,
            dns: tokio::sync::OnceCell::new(),
        }
    }

    /// Invokes a deployed function and expects an answer, not an error.
    async fn invoke(&self, output: &str, payload: Value) -> Result<Value, DemoError> {
        let region = self.outputs.get("StackRegion")?.to_owned();
        self.invoke_in(&region, output, payload).await
    }

    /// Invokes `region`'s deployed function and expects an answer, not an error.
    async fn invoke_in(&self, region: &str, output: &str, payload: Value) -> Result<Value, DemoError> {
        let function = self.outputs.get_in(region, output)?.to_owned();
        let what = payload.to_string();
        Functions::new(&self.in_region(region))
            .invoke(&function, &payload)
            .await
            .map_err(aws(format!("invoking {function}")))?
            .map_err(|source| DemoError::Refused {
                function,
                what,
                source: Box::new(source),
            })
    }
}

impl Stack {
    fn in_region(&self, region: &str) -> volley_core::aws::SdkConfig {
        volley_core::aws::in_region(&self.sdk_config, region)
    }
}

fn unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs the whole demo.
pub async fn run(options: &Options, stack: &Stack, phases: &Phases) -> Result<Outcome, DemoError> {
    let test_id = format!("demo-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    let regions = if options.regions.is_empty() {
        stack.outputs.regions()?
    } else {
        options.regions.clone()
    };

    let phase = phases.start("register the demo organisation (domain-validator)");
    let domain = register(options, stack).await?;
    phase.finish(format!("{} is {}", domain.domain, domain.status));

    // `volley run` prints its own plan, cost, live lines and report: the phase draws no bar over them.
    let phase = phases.start_quiet("the load test in both regions (volley run)");
    let load = load(options, stack, &test_id, &regions).await?;
    phase.finish(format!(
        "{} rps from each of {} regions for {}: {}",
        options.rate,
        regions.len(),
        humantime::format_duration(options.duration),
        if load.passed {
            "every threshold held"
        } else {
            "a threshold failed"
        }
    ));

    let phase = phases.start("results archived in each region (archiver)");
    let counters = archived(options, stack, &test_id, &load.calls, &phase).await?;
    phase.finish(format!(
        "{} results, {} requests counted",
        counters.results_archived, counters.requests
    ));

    let phase = phases.start("results read back from each region's S3");
    let calls = read_results(options, stack, &test_id, &load.calls).await?;
    let (report, seconds) = merge(&options.organisation, &test_id, &calls)?;
    phase.finish(format!("{} results, {} seconds", calls.len(), seconds.len()));

    let phase = phases.start("1-second metrics saved for good (metrics-saver)");
    let (seconds_saved, saved) = save_metrics(options, stack, &test_id, &regions, &seconds).await?;
    phase.finish(format!("{seconds_saved} series-seconds saved"));

    let phase = phases.start("the greeter suite, compared with the last demo run (run-load)");
    let run_load = run_load(options, stack).await?;
    phase.finish(format!("{}: {}", run_load.result, first_line(&run_load.message)));

    let mut stored: Vec<(String, String)> = Vec::new();
    for c in &calls {
        let region = c.region.as_deref().unwrap_or("-");
        let bucket = stack.outputs.get_in(region, "ResultsBucketName")?;
        stored.push((
            format!("result of {region}"),
            format!("s3://{bucket}/{}", c.archive_key()),
        ));
    }
    for region in &regions {
        stored.push((
            format!("live counters in {region}"),
            format!(
                "DynamoDB {} (testKey {})",
                stack.outputs.get_in(region, "TestsTableName")?,
                TestScope::new(&options.organisation, &test_id).key()
            ),
        ));
    }
    stored.push((
        "1-second metrics".into(),
        format!(
            "CloudWatch Volley/ResponseTime (OrganisationId {}, TestId {test_id}); DynamoDB {} (series {}#{test_id}#<region>): in each region",
            options.organisation,
            stack.outputs.get("MetricsTableName")?,
            options.organisation
        ),
    ));
    stored.push((
        "the test's plan and start".into(),
        format!(
            "DynamoDB {} (testKey {}#{test_id})",
            stack.outputs.get("OrchestrationTableName")?,
            options.organisation
        ),
    ));
    stored.push((
        "domain".into(),
        format!(
            "DynamoDB {} ({} / {})",
            stack.outputs.get("DomainsTableName")?,
            options.organisation,
            domain.domain
        ),
    ));
    stored.push((
        "volley run's page".into(),
        options.out_dir.join(RUN_PAGE).display().to_string(),
    ));
    for key in &run_load.stored {
        stored.push(("run-load run".into(), key.clone()));
    }

    let mut all_phases: Vec<PhaseTime> = options
        .setup
        .iter()
        .map(|(name, took)| PhaseTime {
            name: name.clone(),
            seconds: took.as_secs_f64(),
        })
        .collect();
    all_phases.extend(phases.times());

    Ok(Outcome {
        test_id,
        organisation: options.organisation.clone(),
        domain,
        regions,
        start_at_ms: load.start_at_ms,
        attack: volley::AttackOutput::new(
            load.target.clone(),
            calls.first().map(|c| c.addresses.clone()).unwrap_or_default(),
            None,
            None,
            report,
        ),
        target: load.target,
        rate_per_region: options.rate,
        seconds,
        counters: counters.into(),
        saved,
        seconds_saved,
        run_load,
        phases: all_phases,
        stored,
    })
}

/// What the load test left: its target, start, calls (id and region) and verdict.
#[derive(Debug)]
struct Load {
    target: String,
    start_at_ms: i64,
    calls: Vec<(String, String)>,
    passed: bool,
}

/// The `volley` binary: `VOLLEY` when set, else beside this program (or one folder up, from a test's
/// deps/ folder).
fn volley_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("VOLLEY") {
        return PathBuf::from(path);
    }
    let here = std::env::current_exe().unwrap_or_default();
    let beside = here.with_file_name("volley");
    if beside.is_file() {
        return beside;
    }
    here.parent()
        .and_then(Path::parent)
        .map_or(beside.clone(), |up| up.join("volley"))
}

/// Stores the demo user in the greeter, then runs the demo's plan with `volley run` against it, in
/// `regions`: the plan's own fields replaced by the demo's (its organisation, a test id of its own, the
/// rate and duration, the regions, the greeter's address). Its report and live lines go where this
/// program's do; its page into the out dir. Then the test's start and calls, from the orchestrator.
async fn load(options: &Options, stack: &Stack, test_id: &str, regions: &[String]) -> Result<Load, DemoError> {
    let greeter = stack.outputs.get("GreeterLocalUrl")?.trim_end_matches('/');
    let url = format!("{greeter}/hello/Zoe");
    reqwest::Client::new()
        .put(&url)
        .header("content-type", "application/json")
        .body(r#"{"dateOfBirth": "1996-02-29"}"#)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|source| DemoError::Greeter {
            url: url.clone(),
            source,
        })?;
    std::fs::create_dir_all(&options.out_dir).map_err(|source| DemoError::Write {
        path: options.out_dir.clone(),
        source,
    })?;
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(PLAN);
    let page = options.out_dir.join(RUN_PAGE);
    let binary = volley_binary();
    let mut command = std::process::Command::new(&binary);
    command
        .arg("run")
        .arg(&plan)
        .args(["--org", &options.organisation, "--test-id", test_id])
        .args(["--rate", &(options.rate as usize * regions.len()).to_string()])
        .args(["--duration", &humantime::format_duration(options.duration).to_string()])
        .args(["--regions", &regions.join(","), "--url", &url])
        .arg("--outputs")
        .arg(&stack.outputs.path)
        .arg("--html")
        .arg(&page);
    let described = format!("{} run {} ... --test-id {test_id}", binary.display(), plan.display());
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .map_err(|e| DemoError::Unexpected(format!("waiting for {described}: {e}")))?
        .map_err(|source| DemoError::Volley {
            command: described.clone(),
            source,
        })?;
    // 0: every threshold held; 3: one failed, which the report says. Anything else is a failure.
    let passed = match status.code() {
        Some(0) => true,
        Some(3) => false,
        _ => return Err(DemoError::Unexpected(format!("{described} ended with {status}"))),
    };
    let state = stack
        .invoke(
            "OrchestratorFunctionName",
            json!({"type": "status", "organisationId": options.organisation, "testId": test_id}),
        )
        .await?;
    let start_at_ms = state["startAt"]
        .as_i64()
        .ok_or_else(|| DemoError::Unexpected(format!("the test's state has no start: {state}")))?;
    let plan = TestPlan::from_json(&state["plan"])
        .and_then(TestPlan::validate)
        .map_err(|e| DemoError::Unexpected(format!("the test's stored plan: {e}")))?;
    let fleet = plan
        .fleet(std::time::UNIX_EPOCH + Duration::from_millis(start_at_ms.unsigned_abs()))
        .map_err(|e| DemoError::Unexpected(format!("the test's fleet: {e}")))?;
    Ok(Load {
        target: url,
        start_at_ms,
        calls: fleet.calls.into_iter().map(|c| (c.call.call_id, c.region)).collect(),
        passed,
    })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The demo organisation's domain: registered, its challenge served, checked.
async fn register(options: &Options, stack: &Stack) -> Result<DomainOutcome, DemoError> {
    let domain = format!("{}.example", options.organisation);
    let answer = stack
        .invoke(
            "DomainValidatorFunctionName",
            json!({"action": "register", "organisationId": options.organisation, "domain": domain}),
        )
        .await?;
    let name = answer["txtRecord"]["name"].as_str().unwrap_or_default().to_owned();
    let value = answer["txtRecord"]["value"].as_str().unwrap_or_default().to_owned();
    if answer["status"] != "pending" || name.is_empty() {
        // Validated by an earlier demo run: nothing to prove again.
        return Ok(DomainOutcome {
            domain,
            status: answer["status"].as_str().unwrap_or("unknown").to_owned(),
            txt_record: String::new(),
        });
    }
    let address: SocketAddr = stack
        .outputs
        .get("ValidatorDnsServers")?
        .split(',')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|e| DemoError::Unexpected(format!("ValidatorDnsServers: {e}")))?;
    let dns = stack
        .dns
        .get_or_try_init(|| LocalDns::start_on(address))
        .await
        .map_err(|source| DemoError::Dns { address, source })?;
    dns.txt(&name, &[&[value.as_str()]]);
    let checked = stack
        .invoke(
            "DomainValidatorFunctionName",
            json!({"action": "check", "organisationId": options.organisation, "domain": domain}),
        )
        .await?;
    Ok(DomainOutcome {
        domain,
        status: checked["status"].as_str().unwrap_or("unknown").to_owned(),
        txt_record: format!("{name} TXT \"{value}\""),
    })
}

/// Waits until each region's archiver has counted the results of that region's calls; answers the regions'
/// counters added up.
async fn archived(
    options: &Options,
    stack: &Stack,
    test_id: &str,
    calls: &[(String, String)],
    phase: &phases::Phase,
) -> Result<TestCounters, DemoError> {
    let began = std::time::Instant::now();
    let test = TestScope::new(&options.organisation, test_id);
    let mut regions: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, region) in calls {
        *regions.entry(region.as_str()).or_default() += 1;
    }
    let mut total = TestCounters::new(test.clone());
    for (region, expected) in regions {
        let ledger = DynamoResultLedger::new(
            &stack.in_region(region),
            stack.outputs.get_in(region, "CallsTableName")?,
            stack.outputs.get_in(region, "TestsTableName")?,
        );
        let counters = loop {
            let counters = ledger
                .counters(&test)
                .await
                .map_err(aws(format!("reading the test's counters in {region}")))?;
            if let Some(c) = &counters {
                phase.message(format!("{region}: {}/{expected} results archived", c.results_archived));
            }
            match counters {
                Some(c) if c.results_archived >= expected => break c,
                _ if began.elapsed() > options.archive_timeout => {
                    return Err(DemoError::Timeout {
                        what: format!(
                            "{expected} results archived in {region} for {test_id} (look in its worker and results dead-letter queues)"
                        ),
                        waited: options.archive_timeout,
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        };
        total.requests += counters.requests;
        total.errors += counters.errors;
        total.dropped += counters.dropped;
        total.results_archived += counters.results_archived;
    }
    Ok(total)
}

/// Every call's result, from its region's bucket.
async fn read_results(
    options: &Options,
    stack: &Stack,
    test_id: &str,
    calls: &[(String, String)],
) -> Result<Vec<CallResult>, DemoError> {
    let mut results = Vec::new();
    for (call_id, region) in calls {
        let archive = S3ResultArchive::new(
            &stack.in_region(region),
            stack.outputs.get_in(region, "ResultsBucketName")?,
        );
        let key = archive_key(&options.organisation, test_id, call_id);
        let body = archive
            .get(&key)
            .await
            .map_err(aws(format!("reading {key} in {region}")))?
            .ok_or_else(|| DemoError::Unexpected(format!("{key} is counted as archived but not in {region}'s S3")))?;
        let result: CallResult =
            serde_json::from_slice(&body).map_err(|e| DemoError::Unexpected(format!("{key} is not a result: {e}")))?;
        results.push(result);
    }
    Ok(results)
}

/// The workers' results as one (`model::test_result`, the merge every reader of a test's results uses):
/// every second's histograms added, the totals added, the run's time the longest of them; and the seconds
/// decoded, for the report's table and charts.
pub fn merge(organisation: &str, test_id: &str, calls: &[CallResult]) -> Result<(Report, Vec<SecondStats>), DemoError> {
    let test = TestScope::new(organisation, test_id);
    let expected: Vec<String> = calls.iter().map(|c| c.call_id.clone()).collect();
    let mut merged = TestResult::merge(&test, &expected, calls, &[])
        .map_err(|e| DemoError::Unexpected(format!("the results do not merge: {}", volley_core::error_chain(&e))))?;
    let seconds = merged
        .report
        .decode_seconds()
        .map_err(|e| DemoError::Unexpected(format!("the merged seconds do not decode: {e}")))?;
    merged.report.seconds.clear();
    Ok((merged.report, seconds))
}

/// Invokes the metrics-saver for the test's window, then reads what it saved for every region.
async fn save_metrics(
    options: &Options,
    stack: &Stack,
    test_id: &str,
    regions: &[String],
    seconds: &[SecondStats],
) -> Result<(u64, Vec<SavedSecond>), DemoError> {
    let (Some(first), Some(last)) = (seconds.first(), seconds.last()) else {
        return Ok((0, Vec::new()));
    };
    let (from, to) = (first.second, last.second + 1);
    // The local stack's ingestion delay is 2 s: the window is readable once `to` is that far behind.
    let readable = (to + 3) * 1000 - unix_ms();
    if readable > 0 {
        tokio::time::sleep(Duration::from_millis(readable.unsigned_abs())).await;
    }
    let (mut seconds_saved, mut saved) = (0, Vec::new());
    let test = TestScope::new(&options.organisation, test_id);
    for region in regions {
        let answer = stack
            .invoke_in(
                region,
                "MetricsSaverFunctionName",
                json!({"organisationId": options.organisation, "testId": test_id, "from": from, "to": to}),
            )
            .await?;
        seconds_saved += answer["secondsSaved"].as_u64().unwrap_or_default();
        let store = DynamoSavedMetrics::new(
            &stack.in_region(region),
            stack.outputs.get_in(region, "MetricsTableName")?,
        );
        let series = Series::new(&test, Some(region));
        saved.extend(
            store
                .read(&series, from, to)
                .await
                .map_err(aws(format!("reading the saved metrics in {region}")))?,
        );
    }
    saved.sort_by_key(|s| (s.second, s.series.region.clone()));
    Ok((seconds_saved, saved))
}

async fn run_load(options: &Options, stack: &Stack) -> Result<RunAnswer, DemoError> {
    let request = RunRequest {
        suite: "greeter".into(),
        host: stack.outputs.get("GreeterLocalUrl")?.to_owned(),
        users: options.users.into(),
        spawn_rate: options.spawn_rate.into(),
        spawned_runtime: humantime::format_duration(options.runtime).to_string(),
        only_summary: true,
        compare: Some(CompareRequest {
            kind: CompareType::Previous,
            tag: options.tag.clone(),
            load_limit: None,
        }),
        store: Some(StoreRequest {
            tags: vec![options.tag.clone()],
        }),
        organisation_id: Some(options.organisation.clone()),
        run_id: None,
    };
    let payload = serde_json::to_value(&request).map_err(|e| DemoError::Unexpected(e.to_string()))?;
    let answer = stack.invoke("RunLoadFunctionName", payload).await?;
    serde_json::from_value(answer.clone())
        .map_err(|e| DemoError::Unexpected(format!("run-load answered something else ({e}): {answer}")))
}

/// Writes index.html and outcome.json into `dir`; answers the page's path.
pub fn write_reports(outcome: &Outcome, dir: &Path) -> Result<PathBuf, DemoError> {
    let write = |path: PathBuf, body: String| {
        std::fs::write(&path, body)
            .map(|()| path.clone())
            .map_err(|source| DemoError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| DemoError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let json = serde_json::to_string_pretty(outcome).map_err(|e| DemoError::Unexpected(e.to_string()))?;
    write(dir.join("outcome.json"), json)?;
    write(dir.join("index.html"), html::render(outcome))
}
