//! What a test costs in AWS: before it runs, from its plan and the stack as deployed (each function's memory
//! and architecture, the workers' chunk period, the orchestrator's lead), and after, from the time its load
//! really ran and the bytes its workers really sent. One dated table of list prices ([`PRICES`]) times what
//! each region's part of the test uses, line by line. An estimate, not the bill: free tiers, savings plans,
//! taxes and other tests sharing the stack are left out, and where Volley cannot know a figure (how long the
//! archiver takes over a message) the line says what it assumed.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use volley_core::model::plan::{Fleet, ValidPlan, worker_wait};

/// Prices in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    /// When they were read, and where they apply.
    pub as_of: &'static str,
    pub region: &'static str,
    pub lambda_request: f64,
    pub lambda_gb_second_arm64: f64,
    pub lambda_gb_second_x86_64: f64,
    /// Data transfer out of AWS to the internet, a GB (10^9 bytes).
    pub egress_gb: f64,
    /// An SQS standard queue request (each 64 KB of a message is one).
    pub sqs_request: f64,
    pub s3_put: f64,
    pub s3_get: f64,
    /// A DynamoDB on-demand write request unit, and a read request unit.
    pub dynamodb_write_unit: f64,
    pub dynamodb_read_unit: f64,
    pub cloudwatch_put_metric_data: f64,
    /// A custom metric for an hour (its monthly price over 730 hours).
    pub cloudwatch_metric_hour: f64,
    /// An EventBridge custom event (each 64 KB of an entry is one).
    pub eventbridge_event: f64,
    pub scheduler_invocation: f64,
}

/// AWS's public list prices for us-east-1 as published on these pages in January 2025 (DynamoDB's after its
/// November 2024 on-demand cut). The machine this table was written on cannot reach them, so they were not
/// read again on the day: check them there before trusting a figure to the cent. Other regions differ by a
/// few percent.
/// - Lambda, requests and the first tier of GB-seconds: <https://aws.amazon.com/lambda/pricing/>
/// - data transfer out to the internet, the first 10 TB a month: <https://aws.amazon.com/ec2/pricing/on-demand/>
/// - SQS, standard queues: <https://aws.amazon.com/sqs/pricing/>
/// - S3 Standard, PUT and GET: <https://aws.amazon.com/s3/pricing/>
/// - DynamoDB on-demand: <https://aws.amazon.com/dynamodb/pricing/on-demand/>
/// - CloudWatch, PutMetricData and the first 10,000 custom metrics: <https://aws.amazon.com/cloudwatch/pricing/>
/// - EventBridge custom events and Scheduler invocations: <https://aws.amazon.com/eventbridge/pricing/>
pub const PRICES: Prices = Prices {
    as_of: "2025-01",
    region: "us-east-1",
    lambda_request: 0.20 / 1e6,
    lambda_gb_second_arm64: 0.000_013_333_4,
    lambda_gb_second_x86_64: 0.000_016_666_7,
    egress_gb: 0.09,
    sqs_request: 0.40 / 1e6,
    s3_put: 0.005 / 1e3,
    s3_get: 0.0004 / 1e3,
    dynamodb_write_unit: 0.625 / 1e6,
    dynamodb_read_unit: 0.125 / 1e6,
    cloudwatch_put_metric_data: 0.01 / 1e3,
    cloudwatch_metric_hour: 0.30 / 730.0,
    eventbridge_event: 1.00 / 1e6,
    scheduler_invocation: 1.00 / 1e6,
};

/// How long the archiver is assumed to take over one message (a chunk or a result): Volley does not
/// measure its own functions' durations.
pub const ARCHIVER_SECONDS_PER_MESSAGE: f64 = 0.1;
/// How long the orchestrator is assumed to take over one request.
pub const ORCHESTRATOR_SECONDS_PER_REQUEST: f64 = 0.05;
/// The metrics each test publishes per region: ResponseTime, Requests, Errors, Dropped.
pub const METRICS_PER_SERIES: u64 = 4;

/// A function as deployed, for its price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FunctionSize {
    pub memory_mb: u32,
    pub arm64: bool,
}

impl FunctionSize {
    fn gb(self) -> f64 {
        f64::from(self.memory_mb) / 1024.0
    }

    fn name(self) -> &'static str {
        if self.arm64 { "arm64" } else { "x86_64" }
    }
}

/// One region's stack, as the checks before firing read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionStack {
    pub region: String,
    pub worker: FunctionSize,
    pub archiver: FunctionSize,
    pub chunk_interval: Duration,
}

/// The home region's orchestrator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HomeStack {
    pub orchestrator: FunctionSize,
    /// Its `SEGMENT_LEAD`: how long before its start a later segment's workers are invoked (and wait).
    pub lead: Duration,
    /// Its `START_LEAD`: how long after `test-start` the test starts (the first segment's workers wait it).
    pub start_lead: Duration,
}

/// What Volley measured of a test that ran, for the cost after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// How long the load ran: the whole plan, or until it was stopped.
    pub ran: Duration,
    /// The bytes the workers sent, by region: the requests they sent, each the size of the plan's on the
    /// wire.
    pub bytes_out: Vec<(String, u64)>,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub what: String,
    pub usd: f64,
}

/// One region's lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionCost {
    pub region: String,
    pub lines: Vec<Line>,
    pub usd: f64,
}

/// The table: every region's lines and the total.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub prices: Prices,
    /// Before the run (false) or from what was measured after it (true).
    pub measured: bool,
    pub regions: Vec<RegionCost>,
    pub usd: f64,
}

/// A region's part of the test.
#[derive(Debug, Default)]
struct Use {
    worker_invocations: u64,
    worker_seconds: f64,
    messages: u64,
    stop_polls: f64,
    write_units: f64,
    events: u64,
    follow_gets: u64,
}

/// The cost of `plan` (its `fleet`) on the stacks `regions` and `home`: before it runs (`measured` None) or
/// after. `follow`: `volley run` follows it (its S3 and DynamoDB reads, its status polls); `bytes_out`: the
/// bytes each request is expected to send, by the plan's request.
pub fn estimate(
    plan: &ValidPlan,
    fleet: &Fleet,
    regions: &[RegionStack],
    home: HomeStack,
    bytes_out: &dyn Fn(&str) -> u64,
    follow: bool,
    measured: Option<&Measured>,
) -> Cost {
    let p = PRICES;
    let segments = plan.segments();
    let planned = plan.schedule.duration();
    let ran = measured.map_or(planned, |m| m.ran.min(planned));
    let drain = plan.expected_latency.as_secs_f64();
    let mut out = Vec::new();
    for stack in regions {
        let chunk = stack.chunk_interval.as_secs_f64().max(1.0);
        let mut used = Use::default();
        for call in fleet.calls.iter().filter(|c| c.region == stack.region) {
            let segment = &segments[call.segment];
            // The part of its segment the load ran: none for a segment a stop came before.
            let active = ran.min(segment.end).saturating_sub(segment.start).as_secs_f64();
            if active <= 0.0 {
                continue;
            }
            let messages = (active / chunk).floor() as u64 + 1;
            used.worker_invocations += 1;
            let wait = worker_wait(segment.start, home.start_lead, home.lead);
            used.worker_seconds += wait.as_secs_f64() + active + drain;
            used.messages += messages;
            used.stop_polls += active.ceil();
            // Its claim; each message's transaction (its mark, the counters, a live item a second, each a
            // transactional write of two units), and its metrics batch's claim and finish.
            used.write_units += 1.0 + messages as f64 * (2.0 * (2.0 + chunk) + 2.0);
            used.events += 1;
            used.follow_gets += active.ceil() as u64 + messages;
        }
        let mut lines = Vec::new();
        let mut line = |what: String, usd: f64| lines.push(Line { what, usd });
        lambda_lines(
            &mut line,
            "worker",
            used.worker_invocations,
            used.worker_seconds,
            stack.worker,
            &format!(
                "the load, the wait for the start ({} s for the first segment, {} s a later one), the last answers",
                home.start_lead.as_secs(),
                home.lead.as_secs()
            ),
        );
        let sent = measured
            .and_then(|m| m.bytes_out.iter().find(|(r, _)| *r == stack.region).map(|(_, b)| *b))
            .unwrap_or_else(|| bytes_out(&stack.region));
        line(
            format!("data out to the target: {}", crate::report::bytes(sent)),
            sent as f64 / 1e9 * p.egress_gb,
        );
        line(
            format!("EventBridge: {} events (the calls)", used.events),
            used.events as f64 * p.eventbridge_event,
        );
        line(
            format!(
                "SQS: {} requests (send, receive and delete of {} chunks and results)",
                3 * used.messages,
                used.messages
            ),
            (3 * used.messages) as f64 * p.sqs_request,
        );
        lambda_lines(
            &mut line,
            "archiver",
            used.messages,
            used.messages as f64 * ARCHIVER_SECONDS_PER_MESSAGE,
            stack.archiver,
            &format!(
                "{} ms a message, assumed",
                (ARCHIVER_SECONDS_PER_MESSAGE * 1000.0) as u64
            ),
        );
        line(
            format!("S3: {} PUT (chunks and results)", used.messages),
            used.messages as f64 * p.s3_put,
        );
        line(
            format!(
                "DynamoDB: {:.0} write units (claims, each message's transaction)",
                used.write_units
            ),
            used.write_units * p.dynamodb_write_unit,
        );
        // Each worker's stop poll a second (eventually consistent: half a unit); `volley run`'s counters a
        // second.
        let follow_reads = if follow { ran.as_secs_f64().ceil() } else { 0.0 };
        let read_units = used.stop_polls * 0.5 + follow_reads;
        line(
            format!("DynamoDB: {read_units:.0} read units (the workers' stop polls each second, the live counters)"),
            read_units * p.dynamodb_read_unit,
        );
        line(
            format!("CloudWatch: {} PutMetricData (a message's seconds each)", used.messages),
            used.messages as f64 * p.cloudwatch_put_metric_data,
        );
        let metric_hours = METRICS_PER_SERIES * ran.as_secs().div_ceil(3600).max(1);
        line(
            format!("CloudWatch: {metric_hours} custom metric-hours"),
            metric_hours as f64 * p.cloudwatch_metric_hour,
        );
        if follow {
            line(
                format!("S3: {} GET (volley run's live view and report)", used.follow_gets),
                used.follow_gets as f64 * p.s3_get,
            );
        }
        if stack.region == plan.plan.home_region {
            // test-start, a segment-start per schedule, and `volley run`'s status poll a second, from the
            // test's start (a lead before the load's) to the load's end.
            let schedules = segments.iter().filter(|s| !s.start.is_zero() && s.start < ran).count() as u64;
            let polls = if follow {
                home.start_lead.as_secs() + ran.as_secs()
            } else {
                0
            };
            let requests = 1 + schedules + polls;
            line(
                format!("Scheduler: {schedules} invocations (the later segments)"),
                schedules as f64 * p.scheduler_invocation,
            );
            lambda_lines(
                &mut line,
                "orchestrator",
                requests,
                requests as f64 * ORCHESTRATOR_SECONDS_PER_REQUEST,
                home.orchestrator,
                &format!(
                    "start, segments, status polls; {} ms a request, assumed",
                    (ORCHESTRATOR_SECONDS_PER_REQUEST * 1000.0) as u64
                ),
            );
        }
        let usd = lines.iter().map(|l| l.usd).sum();
        out.push(RegionCost {
            region: stack.region.clone(),
            lines,
            usd,
        });
    }
    Cost {
        prices: p,
        measured: measured.is_some(),
        usd: out.iter().map(|r| r.usd).sum(),
        regions: out,
    }
}

/// A function's two lines: its invocations, and its GB-seconds (`seconds` of its time, at its size), with
/// what that time is.
fn lambda_lines(
    line: &mut impl FnMut(String, f64),
    function: &str,
    invocations: u64,
    seconds: f64,
    size: FunctionSize,
    time: &str,
) {
    line(
        format!("{function}: {invocations} invocations"),
        invocations as f64 * PRICES.lambda_request,
    );
    let gb_seconds = seconds * size.gb();
    line(
        format!(
            "{function}: {gb_seconds:.1} GB-s at {} MB {} ({time})",
            size.memory_mb,
            size.name()
        ),
        gb_seconds * gb_second(size),
    );
}

fn gb_second(size: FunctionSize) -> f64 {
    if size.arm64 {
        PRICES.lambda_gb_second_arm64
    } else {
        PRICES.lambda_gb_second_x86_64
    }
}

/// Dollars for people: to the cent, finer below a cent.
pub fn usd(amount: f64) -> String {
    if amount >= 0.01 || amount == 0.0 {
        format!("${amount:.2}")
    } else {
        format!("${amount:.6}")
    }
}

impl Cost {
    /// The table as text, a line each.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Cost {} (AWS list prices for {}, as of {}; not the bill: no free tier, savings plan or tax): {}",
            if self.measured {
                "from what Volley measured"
            } else {
                "estimate"
            },
            self.prices.region,
            self.prices.as_of,
            usd(self.usd)
        );
        for region in &self.regions {
            let _ = writeln!(out, "  {}: {}", region.region, usd(region.usd));
            for line in &region.lines {
                let _ = writeln!(out, "    {:<96} {:>12}", line.what, usd(line.usd));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use volley_core::model::plan::TestPlan;

    const ARM: f64 = 0.000_013_333_4;

    fn plan(duration: &str) -> ValidPlan {
        TestPlan::from_json(&serde_json::json!({
            "organisationId": "acme", "testId": "t1", "homeRegion": "eu-west-1",
            "request": {"url": "http://example.com/"},
            "rate": 100, "duration": duration, "maxWorkerRate": 50, "expectedLatency": "1s",
            "regions": [{"region": "eu-west-1", "share": 1}, {"region": "us-east-1", "share": 1}]
        }))
        .and_then(TestPlan::validate)
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn stacks() -> (Vec<RegionStack>, HomeStack) {
        let region = |name: &str| RegionStack {
            region: name.into(),
            worker: FunctionSize {
                memory_mb: 512,
                arm64: true,
            },
            archiver: FunctionSize {
                memory_mb: 256,
                arm64: true,
            },
            chunk_interval: Duration::from_secs(10),
        };
        let home = HomeStack {
            orchestrator: FunctionSize {
                memory_mb: 128,
                arm64: false,
            },
            lead: Duration::from_secs(90),
            start_lead: Duration::from_secs(15),
        };
        (vec![region("eu-west-1"), region("us-east-1")], home)
    }

    fn close(line: &Line, usd: f64) {
        assert!(
            (line.usd - usd).abs() <= usd.abs() * 1e-9,
            "{}: {} computed, {usd} by hand",
            line.what,
            line.usd
        );
    }

    /// 100 requests a second for 30 s in two regions, a worker in each at 50: every line of the home
    /// region's table against the same figures worked out by hand.
    #[test]
    fn each_line_is_the_hand_computation() {
        let plan = plan("30s");
        let fleet = plan.fleet(UNIX_EPOCH).unwrap_or_else(|e| panic!("{e}"));
        let (regions, home) = stacks();
        let cost = estimate(&plan, &fleet, &regions, home, &|_| 1_000_000, true, None);
        let lines = &cost.regions[0].lines;
        let expect = [
            // The worker: one invocation; 15 s to the start, 30 s of load, 1 s of last answers, at 0.5 GB.
            ("worker: 1 invocations", 0.20 / 1e6),
            ("worker: 23.0 GB-s at 512 MB arm64", 46.0 * 0.5 * ARM),
            // 1 MB out at $0.09 a GB.
            ("data out to the target: 1.00 MB", 0.001 * 0.09),
            ("EventBridge: 1 events", 1.0 / 1e6),
            // Three 10 s chunks and the result: four messages, three SQS requests each.
            ("SQS: 12 requests", 12.0 * 0.40 / 1e6),
            ("archiver: 4 invocations", 4.0 * 0.20 / 1e6),
            ("archiver: 0.1 GB-s at 256 MB arm64", 4.0 * 0.1 * 0.25 * ARM),
            ("S3: 4 PUT", 4.0 * 0.005 / 1e3),
            // The claim, and per message 2 units for each of its 12 transactional items and 2 for metrics.
            ("DynamoDB: 105 write units", 105.0 * 0.625 / 1e6),
            // 30 stop polls at half a unit, 30 counter reads.
            ("DynamoDB: 45 read units", 45.0 * 0.125 / 1e6),
            ("CloudWatch: 4 PutMetricData", 4.0 * 0.01 / 1e3),
            ("CloudWatch: 4 custom metric-hours", 4.0 * 0.30 / 730.0),
            // A probe a second and each chunk found.
            ("S3: 34 GET", 34.0 * 0.0004 / 1e3),
            ("Scheduler: 0 invocations", 0.0),
            // test-start and 45 status polls (15 s to the start, 30 s of load), 50 ms each at 0.125 GB on
            // x86_64.
            ("orchestrator: 46 invocations", 46.0 * 0.20 / 1e6),
            (
                "orchestrator: 0.3 GB-s at 128 MB x86_64",
                46.0 * 0.05 * 0.125 * 0.000_016_666_7,
            ),
        ];
        assert_eq!(lines.len(), expect.len(), "{lines:#?}");
        for (line, (what, usd)) in lines.iter().zip(expect) {
            assert!(line.what.starts_with(what), "{:?} is not {what:?}", line.what);
            close(line, usd);
        }
        assert_eq!(
            cost.regions[1].lines.len(),
            expect.len() - 3,
            "no orchestrator away from home"
        );
        let total: f64 = cost.regions.iter().flat_map(|r| &r.lines).map(|l| l.usd).sum();
        assert!((cost.usd - total).abs() < 1e-12);
    }

    /// After a 25-minute test stopped 13 minutes in: the first segment ran whole, the second a minute, the
    /// third never started (no invocation, no schedule fired for it); the bytes are the ones measured.
    #[test]
    fn after_the_run_only_what_ran_is_counted() {
        let plan = plan("25m");
        let fleet = plan.fleet(UNIX_EPOCH).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.segments().len(), 3, "{:?}", plan.segments());
        let (regions, home) = stacks();
        let measured = Measured {
            ran: Duration::from_secs(13 * 60),
            bytes_out: vec![("eu-west-1".into(), 2_000_000_000)],
        };
        let cost = estimate(&plan, &fleet, &regions, home, &|_| 0, true, Some(&measured));
        assert!(cost.measured);
        let home_lines = &cost.regions[0].lines;
        assert_eq!(home_lines[0].what, "worker: 2 invocations");
        // 720 s of load after 15 s to the start, then 60 s after the second segment's 90 s lead; each with 1 s
        // of last answers.
        close(&home_lines[1], (15.0 + 720.0 + 1.0 + 90.0 + 60.0 + 1.0) * 0.5 * ARM);
        assert_eq!(home_lines[2].what, "data out to the target: 2.00 GB");
        close(&home_lines[2], 2.0 * 0.09);
        let scheduler = home_lines
            .iter()
            .find(|l| l.what.starts_with("Scheduler"))
            .unwrap_or_else(|| panic!("{home_lines:#?}"));
        assert!(
            scheduler.what.starts_with("Scheduler: 1 invocations"),
            "{}",
            scheduler.what
        );
        assert_eq!(
            cost.regions[1].lines[2].what, "data out to the target: 0 B",
            "measured nothing there"
        );
    }

    #[test]
    fn dollars_read_to_the_cent_and_finer_below_it() {
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(0.000_123), "$0.000123");
    }
}
