//! `volley run`, `volley stop`, `volley status` and `volley report`: a whole distributed test, driven through
//! a deployed stack (`stack.rs`) as a user drives it: the plan (`plans.rs`) checked before anything fires
//! (`preflight.rs`), started by the orchestrator's `test-start`, followed a line a second (`live.rs`) until
//! its end, a stop or a signal, and reported exactly from every region's stored results. Behind the
//! `stack` feature, with the AWS SDK; `attack` and `vet` never need it.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use volley_core::adapters::s3::S3ResultArchive;
use volley_core::model::plan::{Fleet, TestPlan, ValidPlan};
use volley_core::model::result::{CallResult, DEFAULT_CHUNK_INTERVAL, ResultChunk, archive_key, chunk_key};
use volley_core::model::scope::TestScope;
use volley_core::model::test_result::TestResult;
use volley_core::ports::ResultArchive;
use volley_engine::load::threshold::{self, Threshold};

use crate::live::Live;
use crate::plans::read_plan;
use crate::preflight::{ask, confirm, cost_of, describe, home_stack, mean_request_bytes, preflight, region_stack};
use crate::stack::{Stack, stack_error, usage};
use crate::{CliError, RunArgs, TestArgs, cost};

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
