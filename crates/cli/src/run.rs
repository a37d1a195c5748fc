//! `volley run`, `volley stop`, `volley status` and `volley report`: a whole distributed test, driven through
//! a deployed stack as a user drives it (its orchestrator's `test-start`, `test-stop` and `status`, its
//! results in each region's bucket). Behind the `stack` feature, with the AWS SDK; `attack` and `vet` never
//! need it.
//!
//! Which stack: `--outputs FILE`, a stack's outputs as JSON (what `make stack-deploy` writes for the local
//! stack: each output by name, a second region's as `<Name>@<region>`). The command reads names from it and
//! reaches AWS through the standard SDK configuration; it does not know whether an emulator answers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use volley_core::adapters::driver::{FunctionError, Functions};
use volley_core::adapters::dynamodb::tests::DynamoResultLedger;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::model::plan::{Fleet, TestPlan, ValidPlan};
use volley_core::model::result::{CallResult, ResultChunk, archive_key, chunk_key};
use volley_core::model::scope::TestScope;
use volley_core::model::test_result::TestResult;
use volley_core::ports::{ResultArchive, ResultLedger, StoreError};
use volley_engine::load::threshold::{self, Threshold};

use crate::{CliError, RunArgs, StackArgs, TestArgs};

/// A plan as `volley run` was given it: the plan and the thresholds it is held to.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub plan: ValidPlan,
    pub written: serde_json::Value,
    pub thresholds: Vec<Threshold>,
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
    let (written, mut thresholds) = if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
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
        let written = serde_json::to_value(&table).map_err(|e| usage(format!("{}: {e}", args.plan)))?;
        (written, thresholds)
    } else if args.plan.starts_with("http://") || args.plan.starts_with("https://") {
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
    })
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

/// A deployed stack, by its outputs.
#[derive(Debug, Clone)]
pub struct Stack {
    outputs: BTreeMap<String, serde_json::Value>,
    config: volley_core::aws::SdkConfig,
}

impl Stack {
    pub async fn open(args: &StackArgs) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(&args.outputs)
            .map_err(|e| usage(format!("--outputs {}: {e}", args.outputs.display())))?;
        let outputs = serde_json::from_str(&text).map_err(|e| {
            usage(format!(
                "--outputs {}: not a stack's outputs: {e}",
                args.outputs.display()
            ))
        })?;
        Ok(Self {
            outputs,
            config: volley_core::aws::sdk_config().await,
        })
    }

    /// The output `name` of `region`'s stack (None: the stack's own region).
    fn output(&self, name: &str, region: Option<&str>) -> Result<String, CliError> {
        let own = self.outputs.get("StackRegion").and_then(|v| v.as_str());
        let key = match region {
            Some(region) if Some(region) != own => format!("{name}@{region}"),
            _ => name.to_owned(),
        };
        self.outputs
            .get(&key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| usage(format!("--outputs has no {key}: is the stack deployed in that region?")))
    }

    fn in_region(&self, region: Option<&str>) -> volley_core::aws::SdkConfig {
        match region {
            None => self.config.clone(),
            Some(region) => volley_core::aws::in_region(&self.config, region),
        }
    }

    /// Invokes the orchestrator (in the stack's region: the home region) with `request`.
    pub async fn orchestrate(&self, request: serde_json::Value) -> Result<serde_json::Value, CliError> {
        let function = self.output("OrchestratorFunctionName", None)?;
        match Functions::new(&self.config)
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
            &self.in_region(Some(region)),
            self.output("ResultsBucketName", Some(region))?,
        ))
    }

    fn ledger(&self, region: &str) -> Result<DynamoResultLedger, CliError> {
        Ok(DynamoResultLedger::new(
            &self.in_region(Some(region)),
            self.output("CallsTableName", Some(region))?,
            self.output("TestsTableName", Some(region))?,
        ))
    }
}

/// What `volley run` and `volley report` print.
#[derive(Debug, Serialize)]
pub struct RunOutput {
    #[serde(flatten)]
    pub result: TestResult,
    pub thresholds: Vec<threshold::Verdict>,
}

impl RunOutput {
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|v| v.passed)
    }
}

/// The plan as it will run, before anything fires.
pub fn describe(plan: &ValidPlan, fleet: &Fleet) -> String {
    use std::fmt::Write as _;
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
    for region in &p.regions {
        let workers = fleet
            .calls
            .iter()
            .filter(|c| c.region == region.region && c.segment == 0)
            .count();
        let share: u64 = p.regions.iter().map(|r| r.share).sum();
        let peak = plan.schedule.peak_rate() * region.share as f64 / share.max(1) as f64;
        let _ = writeln!(
            out,
            "  {:<16} {workers} worker{}, {:.1} requests a second each at the peak",
            region.region,
            if workers == 1 { "" } else { "s" },
            peak / workers.max(1) as f64
        );
    }
    out
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
    let result = TestResult::merge(&test, &expected, &results, &chunks)
        .map_err(|e| CliError::Stack(format!("the results do not merge: {}", volley_core::error_chain(&e))))?;
    let thresholds = thresholds.iter().map(|t| t.check(&result.report)).collect();
    Ok(RunOutput { result, thresholds })
}

/// One line of the live view: each region's counters (`ledgers`, by region), elapsed and remaining.
async fn progress_line(
    ledgers: &[(String, DynamoResultLedger)],
    test: &TestScope,
    elapsed: Duration,
    whole: Duration,
) -> String {
    let mut parts = Vec::new();
    for (region, ledger) in ledgers {
        let counted = ledger.counters(test).await.ok().flatten();
        let (requests, errors) = counted.map_or((0, 0), |c| (c.requests, c.errors));
        parts.push(format!("{region}: {requests} requests, {errors} errors"));
    }
    format!(
        "{:>6} of {}  {}  (counted one chunk period behind)",
        humantime::format_duration(Duration::from_secs(elapsed.as_secs())).to_string(),
        humantime::format_duration(whole),
        parts.join("; ")
    )
}

/// `volley run`: prints the plan, starts it, follows it, and reports it exactly.
pub async fn run(args: &RunArgs) -> Result<RunOutput, CliError> {
    let given = read_plan(args)?;
    let stack = Stack::open(&args.stack).await?;
    let started = stack
        .orchestrate(serde_json::json!({"type": "test-start", "plan": given.written}))
        .await?;
    let start_ms = started["startAt"]
        .as_u64()
        .ok_or_else(|| CliError::Stack(format!("test-start answered no startAt: {started}")))?;
    let start_at = UNIX_EPOCH + Duration::from_millis(start_ms);
    let fleet = given.plan.fleet(start_at).map_err(|e| usage(e.to_string()))?;
    eprint!("{}", describe(&given.plan, &fleet));
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
    eprintln!(
        "started: {} (in {} s); stop it with `volley stop {} --org {}`",
        humantime::format_rfc3339_millis(start_at),
        start_at.duration_since(SystemTime::now()).map_or(0, |d| d.as_secs()),
        test.test_id,
        test.organisation_id
    );
    // Follows until the load's end, a line a second; SIGINT or SIGTERM stops the test.
    let end = start_at + whole;
    loop {
        let now = SystemTime::now();
        if now >= end {
            break;
        }
        let elapsed = now.duration_since(start_at).unwrap_or_default();
        if now >= start_at {
            eprintln!("{}", progress_line(&ledgers, &test, elapsed, whole).await);
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
            () = interrupted() => {
                eprintln!("volley: stopping the test");
                stack.orchestrate(serde_json::json!({"type": "test-stop",
                    "organisationId": test.organisation_id, "testId": test.test_id})).await?;
                break;
            }
        }
    }
    // Each call delivers after its last answer (at most its timeout) and a chunk period.
    report(&stack, &given.plan, &fleet, &given.thresholds, Duration::from_secs(120)).await
}

/// SIGINT or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
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
    report(&stack, &plan, &fleet, &[], Duration::ZERO).await
}

/// The report people read: the whole test in vegeta's shape, then a row per region, the start skew, and
/// the calls that never reported.
pub fn text(output: &RunOutput, url: &str) -> String {
    use std::fmt::Write as _;
    let result = &output.result;
    let mut attack = crate::AttackOutput::new(url.to_owned(), Vec::new(), None, None, result.report.clone());
    attack.thresholds = output.thresholds.clone();
    let mut out = crate::report::text(&attack);
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
    out
}
