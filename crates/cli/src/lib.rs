//! `volley`: the load engine in one process (`volley attack`), and the target guard on its own
//! (`volley vet`). Both go through the same guard as the Lambda worker: nothing is allowed by default.

#[cfg(feature = "stack")]
pub mod cost;
pub mod html;
pub mod knee;
#[cfg(feature = "stack")]
pub mod live;
#[cfg(feature = "stack")]
pub mod page;
#[cfg(feature = "stack")]
pub mod plans;
#[cfg(feature = "stack")]
pub mod preflight;
pub mod report;
#[cfg(feature = "stack")]
pub mod run;
#[cfg(feature = "stack")]
pub mod stack;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Serialize;
use thiserror::Error;
use volley_engine::guard::{
    AllowList, DnsResolver, Refusal, Resolve, TargetGuard, ValidatedList, VettedTarget, runtime_api_from_env,
};
use volley_engine::load::attack::{Attack, AttackError, Load, Progress};
use volley_engine::load::engine;
use volley_engine::load::report::Report;
use volley_engine::load::request::{RequestSpec, Sensitive};
use volley_engine::load::schedule::Schedule;
use volley_engine::load::threshold::{self, Threshold};

/// Files kept open besides connections (stdio, the runtime, DNS sockets, log files).
pub const FD_RESERVE: u64 = 64;
/// The default cap on requests in flight, before the open-file limit lowers it.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 10_000;

#[derive(Debug, Parser)]
#[command(
    name = "volley",
    version,
    about = "Load-test an HTTP API at an exact rate, and measure it truthfully"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Threads that send and measure requests. Default: the CPUs this process may run on. With 1, everything
    /// runs on one thread (no hand-offs between threads: the least CPU per request).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

impl Cli {
    /// The Tokio runtime `--threads` asks for.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let threads = self.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            usize::from,
        );
        let mut builder = if threads == 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads);
            builder
        };
        builder.enable_all().build()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send requests at an exact rate (or, with --closed, over N busy connections) and report what happened.
    Attack(Box<AttackArgs>),
    /// Say whether the target guard allows a URL, and why, without sending it any request.
    Vet(VetArgs),
    /// Run a whole distributed test through a deployed stack: print its plan, start it, follow it, report it
    /// exactly (exit 3 when a threshold fails).
    #[cfg(feature = "stack")]
    Run(Box<RunArgs>),
    /// Stop a running test: every worker stops within 2 s.
    #[cfg(feature = "stack")]
    Stop(TestArgs),
    /// A test's state in its home region.
    #[cfg(feature = "stack")]
    Status(TestArgs),
    /// A test's report, rebuilt from what its regions stored.
    #[cfg(feature = "stack")]
    Report(TestArgs),
    /// The names the stack commands use, as an outputs file (JSON): with --stack aws, deploy/'s names.
    #[cfg(feature = "stack")]
    Outputs(OutputsArgs),
}

/// Which targets may be tested. Nothing is allowed by default.
#[derive(Debug, Clone, Args)]
pub struct GuardArgs {
    /// The organisation whose validated domains apply.
    #[arg(long, default_value = "local")]
    pub org: String,
    /// Domains validated for the organisation, comma-separated (subdomains are included), in Unicode or
    /// punycode: normalised as the domain-validator stores them (UTS #46, nontransitional).
    #[arg(long, value_delimiter = ',')]
    pub validated: Vec<String>,
    /// Exact address:port pairs allowed although their range is refused (local use), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub allow: Vec<SocketAddr>,
    /// DNS servers to ask (address:port), comma-separated; default: the system's, without the hosts file.
    #[arg(long, value_delimiter = ',')]
    pub dns: Vec<SocketAddr>,
    /// DNS timeout per query.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub dns_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct AttackArgs {
    /// The target URL.
    pub url: String,
    /// Requests per second (the open model); with --find-max, the first step's.
    #[arg(long, required_unless_present = "closed", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Ramp linearly from --rate to this rate over the duration.
    #[arg(long, conflicts_with = "closed", allow_negative_numbers = true)]
    pub ramp_to: Option<f64>,
    /// How long to attack ("30s", "1m30s"); with --find-max, the whole search.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Most requests outstanding at once; sends beyond it are counted as dropped. Default: 10,000, or the
    /// open-file limit less a reserve when that is lower.
    #[arg(long)]
    pub max_in_flight: Option<u64>,
    /// Per-request timeout, from send to last byte.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// A request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// The request method.
    #[arg(short = 'X', long = "method", default_value = "GET")]
    pub method: String,
    /// The request body, or @file to read it from a file.
    #[arg(long)]
    pub body: Option<String>,
    /// Run a closed loop over N connections instead (each sends when its last answer is in), like wrk.
    #[arg(long, requires = "connections")]
    pub closed: bool,
    /// Connections for --closed.
    #[arg(long, requires = "closed")]
    pub connections: Option<usize>,
    /// A PEM file of CA certificates to trust for an HTTPS target, besides the system's (a private CA).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Print the report as JSON: the summary as numbers (vegeta's shape: latencies in ns under `latencies`,
    /// `rate`, `throughput`, `success`, `statusCodes`, ...) beside the serialised histograms, so runs merge
    /// and compare.
    #[arg(long)]
    pub json: bool,
    /// A threshold the run must meet (repeatable), such as `p99<300ms`, `success>=99.9%`, `rate>=4.9`,
    /// `errors==0`, `dropped==0`, `late<1%`, `service.p99<200ms`: exit status 3 when any fails.
    #[arg(long = "fail-if", value_name = "EXPR", conflicts_with = "find_max")]
    pub fail_if: Vec<String>,
    /// Find the highest rate the target holds its --slo at: steps at a constant rate from --rate, doubling
    /// up to --max-rate until one fails, then halving the gap to within 10 %, all within --duration. Prints
    /// the curve (rate against p50, p99 and errors) and the answer; exit status 3 when even --rate failed.
    #[arg(long, requires = "max_rate", conflicts_with_all = ["closed", "ramp_to"])]
    pub find_max: bool,
    /// An objective each --find-max step must meet to hold (repeatable; the --fail-if grammar), such as
    /// `p99<200ms` or `success>=99.9%`. A step whose sends were dropped (over --max-in-flight) fails too.
    #[arg(long, value_name = "EXPR", requires = "find_max")]
    pub slo: Vec<String>,
    /// With --find-max: the highest rate it may try.
    #[arg(long, requires = "find_max")]
    pub max_rate: Option<f64>,
    /// With --find-max: how long each step runs (at least 1s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub step_duration: Duration,
    /// Also write the run's HTML page to FILE: latency over time (p50, p95, p99 each second, like `vegeta
    /// plot`), requests and errors per second, the latency histogram, the thresholds and the report. One
    /// self-contained file: no script, nothing fetched.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub guard: GuardArgs,
}

#[derive(Debug, Clone, Args)]
pub struct VetArgs {
    /// The target URL.
    pub url: String,
    /// Print the verdict, the reason and the addresses vetted as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub guard: GuardArgs,
}

/// Which deployed stack: its outputs file, or deploy/'s names.
#[cfg(feature = "stack")]
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// The stack's outputs as JSON: `make stack-deploy` writes target/local-stack/outputs.json for the local
    /// stack, `make outputs` target/aws/outputs.json for AWS (each region's outputs, merged).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "stack",
        conflicts_with = "stack"
    )]
    pub outputs: Option<PathBuf>,
    /// `aws`: name everything the way deploy/ does, from --region, --prefix and the account the credentials
    /// belong to (STS).
    #[arg(long, value_name = "aws", value_parser = ["aws"], requires = "region")]
    pub stack: Option<String>,
    /// With --stack aws: the stack's home region, where its orchestrator runs.
    #[arg(long, requires = "stack")]
    pub region: Option<String>,
    /// With --stack aws: the prefix of every name (deploy/'s `prefix` variable).
    #[arg(long, default_value = "volley")]
    pub prefix: String,
}

/// `volley outputs`.
#[cfg(feature = "stack")]
#[derive(Debug, Clone, Args)]
pub struct OutputsArgs {
    /// Other regions the stack is deployed in, comma-separated: their outputs as `<Name>@<region>`.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `volley run`.
#[cfg(feature = "stack")]
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// A plan file (TOML: the test plan's fields as the orchestrator reads them, `organisationId`,
    /// `testId`, `homeRegion`, `request`, `rate`, `duration`, `regions`..., and `thresholds`; see
    /// testdata/plans/), or the target URL for the quick form (with --org, --rate, --duration, --regions).
    pub plan: String,
    /// The organisation (the quick form's; with a plan file, in place of its `organisationId`).
    #[arg(long)]
    pub org: Option<String>,
    /// The test's id (quick form: default `run-<unix seconds>`; with a plan file, in place of its `testId`,
    /// to run the same plan again).
    #[arg(long)]
    pub test_id: Option<String>,
    /// Requests per second, all regions together (quick form; with a plan file, in place of its `rate`).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long ("30m", "90s"; quick form; with a plan file, in place of its `duration`).
    #[arg(long)]
    pub duration: Option<String>,
    /// The regions, comma-separated, each an equal share; the first is the home region (quick form; with a
    /// plan file, in place of its `regions` and `homeRegion`).
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// With a plan file: the target URL in place of its `request.url` (the same plan against another
    /// environment).
    #[arg(long)]
    pub url: Option<String>,
    /// A threshold the whole test must meet (repeatable, as `volley attack --fail-if`): exit status 3 when any
    /// fails. Added to the plan file's `thresholds`.
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Start a plan of more than 1,000,000 requests, or estimated above $5, without asking (required when
    /// there is no terminal).
    #[arg(long)]
    pub yes: bool,
    /// Refuse, before anything fires, a plan whose cost estimate is above this many US dollars.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// The bytes an answer is expected to carry, for the estimate printed before firing (the plan file's
    /// `responseBytes`).
    #[arg(long, value_name = "BYTES")]
    pub response_bytes: Option<u64>,
    /// Also write the test's HTML page to FILE: one self-contained file over the exact merge (thresholds,
    /// p99 by region, latency, throughput, the histogram, the start skew, the segments and any stop, the
    /// cost before and after).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `volley stop`, `volley status` and `volley report`: one test of one organisation.
#[cfg(feature = "stack")]
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The test's id.
    pub test_id: String,
    /// Its organisation.
    #[arg(long)]
    pub org: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// `volley report`: also write the test's HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub stack: StackArgs,
}

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// Bad usage (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// The guard refused the target (exit status 1).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the attack failed")]
    Attack(#[from] AttackError),
    #[error("could not print the report")]
    Output(#[from] serde_json::Error),
    /// The deployed stack could not do what was asked (exit status 1).
    #[error("{0}")]
    Stack(String),
    #[error("could not write the HTML page to {path}")]
    Html {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// The guard the flags describe.
pub fn guard(args: &GuardArgs) -> Result<TargetGuard, CliError> {
    let domains = ValidatedList::new(&args.org, args.validated.iter().map(String::as_str))
        .map_err(|e| CliError::Usage(format!("--validated: {e}")))?;
    let resolver: Arc<dyn Resolve> = Arc::new(
        if args.dns.is_empty() {
            DnsResolver::system(args.dns_timeout)
        } else {
            DnsResolver::with_nameservers(&args.dns, args.dns_timeout)
        }
        .map_err(|e| CliError::Usage(format!("DNS: {e}")))?,
    );
    Ok(TargetGuard::new(
        Arc::new(domains),
        resolver,
        AllowList::new(args.allow.iter().copied()),
        runtime_api_from_env(),
    ))
}

/// The verdict `volley vet --json` prints.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub url: String,
    pub allowed: bool,
    pub reason: String,
    pub addresses: Vec<SocketAddr>,
}

/// `volley vet`: the verdict, and whether it allowed the target.
pub async fn vet(args: &VetArgs) -> Result<Verdict, CliError> {
    let guard = guard(&args.guard)?;
    Ok(match guard.vet(&args.guard.org, &args.url).await {
        Ok(target) => Verdict {
            url: args.url.clone(),
            allowed: true,
            reason: target.reason,
            addresses: target.addresses,
        },
        Err(refusal) => Verdict {
            url: args.url.clone(),
            allowed: false,
            reason: refusal.to_string(),
            addresses: vec![],
        },
    })
}

/// The open-file limit's share for connections: the soft limit (raised to the hard limit where allowed)
/// less [`FD_RESERVE`].
pub fn connection_budget() -> u64 {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    limit.saturating_sub(FD_RESERVE).max(1)
}

fn request(args: &AttackArgs) -> Result<RequestSpec, CliError> {
    let method = http::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| CliError::Usage(format!("-X {:?} is not an HTTP method", args.method)))?;
    let mut headers = http::HeaderMap::new();
    // Errors name the header, never a credential's value (`Sensitive`).
    let sensitive = Sensitive::default();
    for (i, header) in args.headers.iter().enumerate() {
        // Not echoed: without its ':' there is no telling which part is a credential.
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| CliError::Usage(format!("-H (the {}. one) must be \"Name: value\"", i + 1)))?;
        let shown = format!("{}: {}", name.trim(), sensitive.shown(name, value.trim()));
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| CliError::Usage(format!("-H {shown:?}: {:?} is not a header name", name.trim())))?;
        let value = http::HeaderValue::from_str(value.trim())
            .map_err(|_| CliError::Usage(format!("-H {shown:?}: the value is not a valid header value")))?;
        headers.append(name, value);
    }
    sensitive.mark(&mut headers);
    let body = match args.body.as_deref() {
        None => Bytes::new(),
        Some(text) => match text.strip_prefix('@') {
            Some(path) => Bytes::from(
                std::fs::read(PathBuf::from(path)).map_err(|e| CliError::Usage(format!("--body @{path}: {e}")))?,
            ),
            None => Bytes::from(text.to_owned()),
        },
    };
    Ok(RequestSpec { method, headers, body })
}

/// The certificates of `--cacert`: at least one, or a usage error naming the file.
fn tls_roots(path: Option<&std::path::Path>) -> Result<Vec<CertificateDer<'static>>, CliError> {
    let Some(path) = path else { return Ok(Vec::new()) };
    let bad = |why: String| CliError::Usage(format!("--cacert {}: {why}", path.display()));
    let roots = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if roots.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(roots)
}

fn load(args: &AttackArgs) -> Result<(Load, u64), CliError> {
    if args.closed {
        let connections = args.connections.unwrap_or(1);
        if connections == 0 {
            return Err(CliError::Usage("--connections must be at least 1".into()));
        }
        return Ok((
            Load::Closed {
                connections,
                duration: args.duration,
            },
            connections as u64,
        ));
    }
    let rate = args
        .rate
        .ok_or_else(|| CliError::Usage("--rate is required (or --closed --connections N)".into()))?;
    let schedule = match args.ramp_to {
        Some(to) => Schedule::ramp(rate, to, args.duration),
        None => Schedule::constant(rate, args.duration),
    }
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let budget = connection_budget();
    let max_in_flight = match args.max_in_flight {
        Some(0) => return Err(CliError::Usage("--max-in-flight must be at least 1".into())),
        Some(n) if n > budget => {
            return Err(CliError::Usage(format!(
                "--max-in-flight {n} is above the open-file limit's share for connections ({budget}); raise `ulimit -n` or lower it"
            )));
        }
        Some(n) => n,
        None => DEFAULT_MAX_IN_FLIGHT.min(budget),
    };
    let max_in_flight_usize = usize::try_from(max_in_flight).unwrap_or(usize::MAX);
    Ok((
        Load::Open {
            schedule,
            share: volley_engine::load::share::Share::whole(),
            segment: None,
            max_in_flight: max_in_flight_usize,
        },
        max_in_flight,
    ))
}

/// What `volley attack --json` prints: the target, the summary as numbers, the thresholds held, and the
/// report with its histograms.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttackOutput {
    pub url: String,
    pub addresses: Vec<SocketAddr>,
    pub max_in_flight: Option<u64>,
    pub connections: Option<u64>,
    #[serde(flatten)]
    pub summary: Summary,
    /// Each `--fail-if`, held against the run.
    pub thresholds: Vec<threshold::Verdict>,
    #[serde(flatten)]
    pub report: Report,
}

impl AttackOutput {
    /// The output of `report`, its summary computed, no threshold held.
    pub fn new(
        url: String,
        addresses: Vec<SocketAddr>,
        max_in_flight: Option<u64>,
        connections: Option<u64>,
        report: Report,
    ) -> Self {
        Self {
            url,
            addresses,
            max_in_flight,
            connections,
            summary: Summary::of(&report),
            thresholds: Vec::new(),
            report,
        }
    }

    /// Whether every threshold held.
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|v| v.passed)
    }
}

/// Latency figures in nanoseconds, as vegeta's JSON report writes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    pub min: u128,
    pub mean: u128,
    #[serde(rename = "50th")]
    pub p50: u128,
    #[serde(rename = "90th")]
    pub p90: u128,
    #[serde(rename = "95th")]
    pub p95: u128,
    #[serde(rename = "99th")]
    pub p99: u128,
    pub max: u128,
}

impl LatencySummary {
    fn of(latencies: &volley_engine::load::stats::Latencies) -> Self {
        Self {
            min: latencies.min().as_nanos(),
            mean: latencies.mean().as_nanos(),
            p50: latencies.quantile(0.5).as_nanos(),
            p90: latencies.quantile(0.9).as_nanos(),
            p95: latencies.quantile(0.95).as_nanos(),
            p99: latencies.quantile(0.99).as_nanos(),
            max: latencies.max().as_nanos(),
        }
    }
}

/// The run's figures as numbers: `jq '.latencies["99th"]'` reads the p99 in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub requests: u64,
    /// Requests sent per second of attack.
    pub rate: f64,
    /// Successful requests per second, counting the wait for the last answers.
    pub throughput: f64,
    /// 2xx and 3xx over all requests, 0 to 1 (vegeta's `success`).
    pub success: f64,
    /// From the intended send time (free of coordinated omission), ns.
    pub latencies: LatencySummary,
    /// From the actual send, ns.
    pub service_times: LatencySummary,
    pub status_codes: std::collections::BTreeMap<String, u64>,
    /// Requests that failed: a transport error, or a 4xx or 5xx status.
    pub errors: u64,
    pub dropped: u64,
    pub late: u64,
}

impl Summary {
    pub fn of(report: &Report) -> Self {
        let total = &report.total;
        Self {
            requests: total.requests,
            rate: report.rate(),
            throughput: report.throughput(),
            success: total.success_ratio(),
            latencies: LatencySummary::of(&total.latency),
            service_times: LatencySummary::of(&total.service_time),
            status_codes: total.statuses.iter().map(|(code, n)| (code.to_string(), *n)).collect(),
            errors: total.failures(),
            dropped: total.dropped,
            late: total.late,
        }
    }
}

/// Reads every `--fail-if` before anything is sent: a bad one is a usage error.
fn thresholds(args: &AttackArgs) -> Result<Vec<Threshold>, CliError> {
    args.fail_if
        .iter()
        .map(|expression| Threshold::parse(expression).map_err(|e| CliError::Usage(format!("--fail-if {e}"))))
        .collect()
}

fn progress_bar(load: &Load) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match load {
        Load::Open { schedule, .. } => indicatif::ProgressBar::new(schedule.total()),
        Load::Closed { .. } => indicatif::ProgressBar::new_spinner(),
    };
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} sent  {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// `--html FILE` is checked before anything is sent: its folder must exist, so a long run is not lost to a
/// typo in the path.
fn html_path(args: &AttackArgs) -> Result<(), CliError> {
    let Some(path) = &args.html else { return Ok(()) };
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => std::path::Path::new("."),
    };
    if path.is_dir() {
        return Err(CliError::Usage(format!(
            "--html {}: is a folder, not a file",
            path.display()
        )));
    }
    if !folder.is_dir() {
        return Err(CliError::Usage(format!(
            "--html {}: the folder {} does not exist",
            path.display(),
            folder.display()
        )));
    }
    Ok(())
}

/// `volley attack`: vets the target, runs the attack with a progress bar, and returns the output.
pub async fn attack(args: &AttackArgs) -> Result<AttackOutput, CliError> {
    let thresholds = thresholds(args)?;
    html_path(args)?;
    let spec = request(args)?;
    let (load, cap) = load(args)?;
    let bar = progress_bar(&load);
    let open = matches!(load, Load::Open { .. });
    let guard = guard(&args.guard)?;
    let target: VettedTarget = guard.vet(&args.guard.org, &args.url).await?;
    let attack = Attack {
        target: target.clone(),
        request: spec,
        load,
        timeout: args.timeout,
        deadline: None,
        start_at: None,
        tls_roots: tls_roots(args.cacert.as_deref())?,
    };
    let progress = Arc::new(Progress::default());
    let ticker = {
        let progress = Arc::clone(&progress);
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.sent.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{} answered, {} dropped",
                    progress.answered.load(Ordering::Relaxed),
                    progress.dropped.load(Ordering::Relaxed)
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let result = engine::run(&attack, Arc::clone(&progress)).await;
    ticker.abort();
    bar.finish_and_clear();
    let report = result?;
    let (max_in_flight, connections) = if open { (Some(cap), None) } else { (None, Some(cap)) };
    let mut output = AttackOutput::new(
        target.url.to_string(),
        target.addresses,
        max_in_flight,
        connections,
        report,
    );
    output.thresholds = thresholds.iter().map(|t| t.check(&output.report)).collect();
    Ok(output)
}
