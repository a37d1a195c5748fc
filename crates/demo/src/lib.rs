//! `make demo`: one whole load test through the seven functions deployed in the local stack, driven from
//! outside as a user would (`aws lambda invoke`, `aws events put-events`), then read back from where each
//! function stored its part, and reported as text and as a self-contained HTML page.
//!
//! The phases, in order: register the demo organisation's domain with the domain-validator (its challenge
//! record served from a loopback DNS server, as the organisation's DNS would); a two-region synchronised start
//! through the orchestrator; `User Call` events for the workers, which load the greeter through the
//! emulator's API Gateway; the archiver's counters; the metrics-saver; the archived results; run-load with
//! the greeter suite, compared with the previous demo run.

pub mod html;
pub mod outcome;
pub mod phases;
pub mod text;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use thiserror::Error;
use volley_core::adapters::driver::{EventBus, FunctionError, Functions};
use volley_core::adapters::dynamodb::metrics::DynamoSavedMetrics;
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::model::result::{CallResult, archive_key};
use volley_core::model::run::{CompareRequest, CompareType, RunAnswer, RunRequest, StoreRequest};
use volley_core::model::saved_metrics::{SavedSecond, Series};
use volley_core::model::scope::TestScope;
use volley_core::model::test_result::TestResult;
use volley_core::ports::{ResultArchive, ResultLedger, SavedMetricsStore, StoreError, TestCounters};
use volley_engine::load::report::Report;
use volley_engine::load::stats::SecondStats;
use volley_localdns::LocalDns;

pub use crate::outcome::{CountersOutcome, DomainOutcome, Outcome, PhaseTime};
use crate::phases::Phases;

/// What the demo runs; the defaults are what `make demo` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests per second from each region's worker.
    pub rate: u32,
    pub duration: Duration,
    pub regions: Vec<String>,
    /// The orchestrator's start buffer: time for the events to reach the workers.
    pub buffer_seconds: u32,
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
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            buffer_seconds: 5,
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
}

fn aws(what: impl Into<String>) -> impl FnOnce(StoreError) -> DemoError {
    let what = what.into();
    move |source| DemoError::Aws { what, source }
}

/// The outputs `make stack-deploy` wrote (target/local-stack/outputs.json).
#[derive(Debug, Clone)]
pub struct StackOutputs(serde_json::Map<String, Value>);

impl StackOutputs {
    pub fn load(path: &Path) -> Result<Self, DemoError> {
        let text = std::fs::read_to_string(path).map_err(|source| DemoError::Outputs {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text)
            .map(Self)
            .map_err(|source| DemoError::OutputsFormat {
                path: path.to_owned(),
                source,
            })
    }

    pub fn get(&self, name: &str) -> Result<&str, DemoError> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| DemoError::MissingOutput(name.into()))
    }
}

/// The clients and names the demo needs, from the stack's outputs.
#[derive(Debug)]
pub struct Stack {
    pub outputs: StackOutputs,
    pub functions: Functions,
    pub sdk_config: volley_core::aws::SdkConfig,
    /// The demo organisations' DNS, on the validator's nameserver address: started when first needed, then
    /// serving every later run in this process (its socket lives as long as the process).
    dns: tokio::sync::OnceCell<LocalDns>,
}

impl Stack {
    pub async fn connect(outputs: StackOutputs) -> Self {
        let sdk_config = volley_core::aws::sdk_config().await;
        Self {
            functions: Functions::new(&sdk_config),
            outputs,
            sdk_config,
            dns: tokio::sync::OnceCell::new(),
        }
    }

    fn function(&self, output: &str) -> Result<String, DemoError> {
        self.outputs.get(output).map(str::to_owned)
    }

    /// Invokes a deployed function and expects an answer, not an error.
    async fn invoke(&self, output: &str, payload: Value) -> Result<Value, DemoError> {
        let function = self.function(output)?;
        let what = payload.to_string();
        self.functions
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

fn unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs the whole demo.
pub async fn run(options: &Options, stack: &Stack, phases: &Phases) -> Result<Outcome, DemoError> {
    let test_id = format!("demo-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));

    let phase = phases.start("register the demo organisation (domain-validator)");
    let domain = register(options, stack).await?;
    phase.finish(format!("{} is {}", domain.domain, domain.status));

    let phase = phases.start("synchronised start for two regions (orchestrator)");
    let start_at_ms = orchestrate(options, stack, &test_id).await?;
    phase.finish(format!(
        "{} regions start at {}",
        options.regions.len(),
        chrono::DateTime::from_timestamp_millis(start_at_ms).map_or_else(String::new, |t| t.to_rfc3339())
    ));

    let phase = phases.start_bar(
        "workers load the greeter through API Gateway (worker)",
        options.duration.as_secs() + u64::from(options.buffer_seconds),
    );
    let target = fire(options, stack, &test_id, start_at_ms, &phase).await?;
    phase.finish(format!(
        "{} rps from each of {} regions for {}",
        options.rate,
        options.regions.len(),
        humantime::format_duration(options.duration)
    ));

    let phase = phases.start("results archived (archiver: S3, CloudWatch, DynamoDB)");
    let counters = archived(options, stack, &test_id, &phase).await?;
    for region in &options.regions {
        stack
            .invoke(
                "OrchestratorFunctionName",
                json!({"type": "test-end", "organisationId": options.organisation, "testId": test_id,
                       "region": region}),
            )
            .await?;
    }
    phase.finish(format!(
        "{} results, {} requests counted",
        counters.results_archived, counters.requests
    ));

    let phase = phases.start("results read back from S3");
    let calls = read_results(options, stack, &test_id).await?;
    let (report, seconds) = merge(&options.organisation, &test_id, &calls)?;
    phase.finish(format!("{} results, {} seconds", calls.len(), seconds.len()));

    let phase = phases.start("1-second metrics saved for good (metrics-saver)");
    let (seconds_saved, saved) = save_metrics(options, stack, &test_id, &seconds).await?;
    phase.finish(format!("{seconds_saved} series-seconds saved"));

    let phase = phases.start("the greeter suite, compared with the last demo run (run-load)");
    let run_load = run_load(options, stack).await?;
    phase.finish(format!("{}: {}", run_load.result, first_line(&run_load.message)));

    let bucket = stack.outputs.get("ResultsBucketName")?;
    let mut stored: Vec<(String, String)> = calls
        .iter()
        .map(|c| {
            (
                format!("result of {}", c.region.as_deref().unwrap_or("-")),
                format!("s3://{bucket}/{}", c.archive_key()),
            )
        })
        .collect();
    stored.push((
        "live counters".into(),
        format!(
            "DynamoDB {} (testKey {})",
            stack.outputs.get("TestsTableName")?,
            TestScope::new(&options.organisation, &test_id).key()
        ),
    ));
    stored.push((
        "1-second metrics".into(),
        format!(
            "CloudWatch Volley/ResponseTime (OrganisationId {}, TestId {test_id}); DynamoDB {} (series {}#{test_id}#<region>)",
            options.organisation,
            stack.outputs.get("MetricsTableName")?,
            options.organisation
        ),
    ));
    stored.push((
        "start state".into(),
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
        regions: options.regions.clone(),
        start_at_ms,
        attack: volley::AttackOutput::new(
            target.clone(),
            calls.first().map(|c| c.addresses.clone()).unwrap_or_default(),
            None,
            None,
            report,
        ),
        target,
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

/// test-reset, agg-record from every region, test-init from every region: the one start time.
async fn orchestrate(options: &Options, stack: &Stack, test_id: &str) -> Result<i64, DemoError> {
    stack
        .invoke(
            "OrchestratorFunctionName",
            json!({"type": "test-reset", "organisationId": options.organisation, "testId": test_id,
                   "regions": options.regions, "bufferSeconds": options.buffer_seconds}),
        )
        .await?;
    for region in &options.regions {
        stack
            .invoke(
                "OrchestratorFunctionName",
                json!({"type": "agg-record", "organisationId": options.organisation, "testId": test_id,
                       "region": region}),
            )
            .await?;
    }
    // Each region asks for the start time, as its runner would; all must hear the same one.
    let mut starts = Vec::new();
    for _region in &options.regions {
        let answer = stack
            .invoke(
                "OrchestratorFunctionName",
                json!({"type": "test-init", "organisationId": options.organisation, "testId": test_id}),
            )
            .await?;
        starts.push(answer["timestamp"].as_i64().ok_or_else(|| {
            DemoError::Unexpected(format!("the orchestrator's test-init answered no timestamp: {answer}"))
        })?);
    }
    starts.dedup();
    match starts.as_slice() {
        [one] => Ok(*one),
        many => Err(DemoError::Unexpected(format!(
            "the regions were given different start times: {many:?}"
        ))),
    }
}

/// Stores the demo user in the greeter, then puts one `User Call` per region; waits out the load.
async fn fire(
    options: &Options,
    stack: &Stack,
    test_id: &str,
    start_at_ms: i64,
    phase: &phases::Phase,
) -> Result<String, DemoError> {
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
    let start_at = chrono::DateTime::from_timestamp_millis(start_at_ms)
        .ok_or_else(|| DemoError::Unexpected(format!("start time {start_at_ms} is out of range")))?;
    let details: Vec<Value> = options
        .regions
        .iter()
        .map(|region| {
            json!({
                "testId": test_id, "organisationId": options.organisation,
                "callId": format!("{test_id}-{region}"),
                "request": {"method": "GET", "url": url, "headers": {"accept": "application/json"}},
                "rate": options.rate, "duration": humantime::format_duration(options.duration).to_string(),
                "timeout": "10s", "startAt": start_at.to_rfc3339(), "region": region
            })
        })
        .collect();
    EventBus::new(&stack.sdk_config, stack.outputs.get("EventBusName")?)
        .put_user_calls(&details)
        .await
        .map_err(aws("putting the User Call events"))?;
    let end = start_at_ms + i64::try_from(options.duration.as_millis()).unwrap_or(i64::MAX);
    let began = unix_ms();
    loop {
        let now = unix_ms();
        phase.set_position(u64::try_from((now - began) / 1000).unwrap_or(0));
        if now >= end {
            return Ok(url);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the archiver has counted a result from every region.
async fn archived(
    options: &Options,
    stack: &Stack,
    test_id: &str,
    phase: &phases::Phase,
) -> Result<TestCounters, DemoError> {
    let ledger = DynamoResultLedger::new(
        &stack.sdk_config,
        stack.outputs.get("CallsTableName")?,
        stack.outputs.get("TestsTableName")?,
    );
    let began = std::time::Instant::now();
    let expected = options.regions.len() as u64;
    let test = TestScope::new(&options.organisation, test_id);
    loop {
        let counters = ledger
            .counters(&test)
            .await
            .map_err(aws("reading the test's counters"))?;
        if let Some(c) = &counters {
            phase.message(format!("{}/{expected} results archived", c.results_archived));
        }
        match counters {
            Some(c) if c.results_archived >= expected => return Ok(c),
            _ if began.elapsed() > options.archive_timeout => {
                return Err(DemoError::Timeout {
                    what: format!(
                        "{expected} results archived for {test_id} (look in the worker and results dead-letter queues)"
                    ),
                    waited: options.archive_timeout,
                });
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

async fn read_results(options: &Options, stack: &Stack, test_id: &str) -> Result<Vec<CallResult>, DemoError> {
    let archive = S3ResultArchive::new(&stack.sdk_config, stack.outputs.get("ResultsBucketName")?);
    let mut calls = Vec::new();
    for region in &options.regions {
        let key = archive_key(&options.organisation, test_id, &format!("{test_id}-{region}"));
        let body = archive
            .get(&key)
            .await
            .map_err(aws(format!("reading {key}")))?
            .ok_or_else(|| DemoError::Unexpected(format!("{key} is counted as archived but not in S3")))?;
        let result: CallResult =
            serde_json::from_slice(&body).map_err(|e| DemoError::Unexpected(format!("{key} is not a result: {e}")))?;
        calls.push(result);
    }
    Ok(calls)
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
    let answer = stack
        .invoke(
            "MetricsSaverFunctionName",
            json!({"organisationId": options.organisation, "testId": test_id, "from": from, "to": to}),
        )
        .await?;
    let seconds_saved = answer["secondsSaved"].as_u64().unwrap_or_default();
    let store = DynamoSavedMetrics::new(&stack.sdk_config, stack.outputs.get("MetricsTableName")?);
    let mut saved = Vec::new();
    let test = TestScope::new(&options.organisation, test_id);
    for region in &options.regions {
        let series = Series::new(&test, Some(region));
        saved.extend(
            store
                .read(&series, from, to)
                .await
                .map_err(aws("reading the saved metrics"))?,
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
