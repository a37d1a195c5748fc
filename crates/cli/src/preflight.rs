//! Before anything fires ([`preflight`]), in every region of the plan: the target vetted by the rules of
//! that region's workers (their deployed `ALLOWED_TARGETS` and `DNS_SERVERS`, the region's domain registry),
//! the organisation's limits with its tests running now, and each region's workers against the concurrency
//! Lambda gives them. Then the plan as it will run ([`describe`]), its cost (`cost.rs`, on the stack as
//! deployed), and a yes for a big one ([`CONFIRM_ABOVE`], [`CONFIRM_ABOVE_USD`], `--max-cost`).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use volley_core::adapters::driver::{self, Functions};
use volley_core::adapters::dynamodb::domains::DynamoDomainStore;
use volley_core::adapters::dynamodb::tests::DynamoTestActivity;
use volley_core::config::EnvReader;
use volley_core::model::plan::{Fleet, ValidPlan};
use volley_core::model::result::{DEFAULT_CHUNK_INTERVAL, MAX_CHUNK_INTERVAL, MIN_CHUNK_INTERVAL};
use volley_core::ports::{OrganisationLimitsStore, TestActivity};

use crate::plans::RunPlan;
use crate::stack::{Stack, stack_error, usage};
use crate::{CliError, RunArgs, cost};

/// A plan firing more requests than this needs a yes: asked in a terminal, `--yes` without one.
pub const CONFIRM_ABOVE: u64 = 1_000_000;

/// A plan estimated above this many dollars needs a yes too.
pub const CONFIRM_ABOVE_USD: f64 = 5.0;

/// A test counts as running for `maxConcurrentTests` while its last result arrived within two of the
/// region's chunk periods and this (a running test's workers send a chunk every period).
const RUNNING_SLACK: Duration = Duration::from_secs(10);

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
pub(crate) fn cost_of(
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

pub(crate) fn now_s() -> i64 {
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

/// The home region's orchestrator as deployed: its size, its `SEGMENT_LEAD` and its `START_LEAD`.
pub(crate) async fn home_stack(stack: &Stack) -> Result<cost::HomeStack, CliError> {
    use volley_core::model::plan::{
        DEFAULT_SEGMENT_LEAD, DEFAULT_START_LEAD, MAX_SEGMENT_LEAD, MIN_SEGMENT_LEAD, MIN_START_LEAD,
    };
    let home = stack.home()?;
    let orchestrator = Functions::new(&stack.in_region(&home))
        .configuration(&stack.output("OrchestratorFunctionName", None)?)
        .await
        .map_err(stack_error("reading the orchestrator's configuration"))?;
    let lead = setting(
        &orchestrator,
        "SEGMENT_LEAD",
        DEFAULT_SEGMENT_LEAD,
        MIN_SEGMENT_LEAD..=MAX_SEGMENT_LEAD,
        &home,
    )?;
    Ok(cost::HomeStack {
        orchestrator: size(&orchestrator),
        lead,
        start_lead: setting(
            &orchestrator,
            "START_LEAD",
            DEFAULT_START_LEAD.min(lead),
            MIN_START_LEAD..=lead,
            &home,
        )?,
    })
}

/// `region`'s stack as deployed, and its worker's deployment (whose environment its guard is built from).
pub(crate) async fn region_stack(
    stack: &Stack,
    region: &str,
) -> Result<(cost::RegionStack, driver::Deployment), CliError> {
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
pub(crate) fn mean_request_bytes(plan: &ValidPlan) -> f64 {
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
pub(crate) fn confirm(fleet: &Fleet, estimate: &cost::Cost, args: &RunArgs) -> Result<(), CliError> {
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
pub(crate) fn ask(question: &str) -> bool {
    use std::io::Write as _;
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::tests::two_regions;

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
}
