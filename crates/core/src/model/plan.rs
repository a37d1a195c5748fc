//! The test plan: one whole test, at a target rate, across regions and workers; and [`ValidPlan::fleet`],
//! the pure function that makes it the workers' User Calls.
//!
//! ```json
//! {"organisationId": "acme", "testId": "checkout-2026-12-01", "homeRegion": "eu-west-1",
//!  "request": {"method": "GET", "url": "https://api.acme.example/health"},
//!  "rate": 12000, "duration": "10m",
//!  "regions": [{"region": "eu-west-1", "share": 3}, {"region": "us-east-1", "share": 2}],
//!  "expectedLatency": "150ms", "maxWorkerRate": 5000, "maxInFlight": 900, "timeout": "10s"}
//! ```
//! The load is written as a User Call writes it (`rate` or `ramp` with `duration`, or `stages`); the
//! request as `request`, or as `requests`, each with a `weight` (`[{"weight": 3, "request": {...}}, ...]`).
//! A region's `share` is its weight among the regions.
//!
//! The fleet deals the plan's single schedule (`volley_engine::load::share::deal`): each (request, region)
//! pair is a lane weighted by the request's weight times the region's share, with enough workers that none
//! fires above `maxWorkerRate` at the schedule's peak nor needs more requests in flight than `maxInFlight`
//! (Little's law: its rate times `expectedLatency`, doubled for headroom). Every worker fires its requests at
//! the plan's own intended times from one shared start, so the fleet together is exactly the schedule one
//! generator would fire.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use volley_engine::load::schedule::Schedule;
use volley_engine::load::share::deal;

use crate::model::abort::AbortRule;
use crate::model::call::{
    CallError, CallRequest, CallSegment, CallStage, DEFAULT_TIMEOUT, MAX_IN_FLIGHT, MAX_RATE, MAX_TEST_DURATION, Ramp,
    UserCall, load_schedule,
};
use crate::model::identifier::check_identifier;
use crate::model::payload;

/// The default expected latency of the target, which sizes each worker's requests in flight.
pub const DEFAULT_EXPECTED_LATENCY: Duration = Duration::from_millis(100);
/// The default most one worker fires, in requests a second: the engine's measured ceiling in the deployed
/// worker's CPU (512 MB, 0.29 of a vCPU, under a cgroup quota, 1,024 open files) held 1,250 against targets
/// answering in 20 ms and in 100 ms (p99 within 10 ms of the target's own); this leaves a fifth of it spare
/// (docs/benchmarks.md, "The worker's ceiling"). A plan's `maxWorkerRate` raises or lowers it.
pub const DEFAULT_MAX_WORKER_RATE: f64 = 1_000.0;
/// Little's law gives the requests in flight at a rate and latency; a worker gets twice that.
pub const IN_FLIGHT_HEADROOM: f64 = 2.0;
/// The highest rate a plan may ask, in requests a second, whatever an organisation's own limit.
pub const MAX_PLAN_RATE: f64 = 2_000_000.0;
/// The most workers one plan may need.
pub const MAX_WORKERS: u64 = 2_000;
/// The worker's Lambda timeout (deploy/ and template.yaml: 900 s, Lambda's longest).
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(900);
/// The longest before its start a segment's calls are put: the orchestrator's `SEGMENT_LEAD` is at most
/// this (EventBridge Scheduler fires a one-time schedule within a minute of its time, so AWS needs over a
/// minute; the local stack's Scheduler looks every 10 s).
pub const SEGMENT_LEAD: Duration = Duration::from_secs(120);
/// The shortest `SEGMENT_LEAD`: the local stack's Scheduler looks at its schedules every 10 s.
pub const MIN_SEGMENT_LEAD: Duration = Duration::from_secs(15);
/// The longest `SEGMENT_LEAD` an orchestrator may be deployed with: a segment whose schedule would fire
/// within [`SCHEDULE_MARGIN`] is put at once, and its workers wait up to the lead and the margin, which must
/// stay within [`SEGMENT_LEAD`].
pub const MAX_SEGMENT_LEAD: Duration = SEGMENT_LEAD.saturating_sub(SCHEDULE_MARGIN);
/// The orchestrator's `SEGMENT_LEAD` when its deployment does not say: Scheduler's minute, then EventBridge's
/// delivery and a worker's cold start.
pub const DEFAULT_SEGMENT_LEAD: Duration = Duration::from_secs(90);
/// How long after `test-start` the test starts when the orchestrator's `START_LEAD` does not say. The first
/// segment's calls are put at once, so no schedule is waited for: only EventBridge's delivery to every
/// region and the workers' cold starts (Lambda adds up to 1,000 executions of a function every 10 s; a larger
/// first segment deploys a longer `START_LEAD`).
pub const DEFAULT_START_LEAD: Duration = Duration::from_secs(15);
/// The shortest `START_LEAD`: a delivery and a cold start in the local stack take about a second.
pub const MIN_START_LEAD: Duration = Duration::from_secs(2);
/// A segment due so soon that its schedule would fire less than this from now is not scheduled: its calls
/// are put at once.
pub const SCHEDULE_MARGIN: Duration = Duration::from_secs(5);

/// Whether `test-start` puts the calls of the segment beginning `segment_start` into the test at once, the
/// test starting `start_in` from now, rather than making a schedule `segment_lead` before the segment: true
/// when that schedule would fire within [`SCHEDULE_MARGIN`].
pub fn put_at_once(segment_start: Duration, start_in: Duration, segment_lead: Duration) -> bool {
    (start_in + segment_start).saturating_sub(segment_lead) <= SCHEDULE_MARGIN
}

/// How long a worker of the segment beginning `segment_start` waits between its invocation and the segment:
/// from `test-start` for a segment put at once, else its schedule's `segment_lead` (Scheduler may add some).
pub fn worker_wait(segment_start: Duration, start_lead: Duration, segment_lead: Duration) -> Duration {
    if put_at_once(segment_start, start_lead, segment_lead) {
        start_lead + segment_start
    } else {
        segment_lead
    }
}

/// The time a worker keeps to deliver its result after its last request's answer.
pub const DELIVERY_TIME: Duration = Duration::from_secs(30);
/// The shortest segment a plan may ask.
pub const MIN_SEGMENT: Duration = Duration::from_secs(10);

/// The longest segment a worker runs whole: its timeout less the lead it waits before the segment's start,
/// the last request's timeout and the time to deliver, rounded down to a whole minute, so no worker's
/// deadline cuts a segment's last second short. 12 minutes with the default 30 s request timeout.
pub fn segment_length(request_timeout: Duration) -> Duration {
    let room = WORKER_TIMEOUT
        .saturating_sub(SEGMENT_LEAD)
        .saturating_sub(request_timeout)
        .saturating_sub(DELIVERY_TIME);
    Duration::from_secs(room.as_secs() / 60 * 60).max(MIN_SEGMENT)
}

/// The most regions, and the most weighted requests, in a plan.
pub const MAX_REGIONS: usize = 20;
pub const MAX_REQUESTS: usize = 20;

/// A request and its weight among the plan's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedRequest {
    pub weight: u64,
    pub request: CallRequest,
}

/// A region and its weight among the plan's regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionShare {
    pub region: String,
    pub share: u64,
}

/// A test plan as it arrives, before validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestPlan {
    pub organisation_id: String,
    pub test_id: String,
    pub home_region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<CallRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Vec<WeightedRequest>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Ramp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<CallStage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    pub regions: Vec<RegionShare>,
    /// humantime; default 100ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_latency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_worker_rate: Option<f64>,
    /// Per worker; default (and at most) what a worker's 1,024 open files allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u64>,
    /// humantime; per request, as a User Call's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// humantime; a test longer than this runs in segments of it, each a call per worker. Default, and at
    /// most, [`segment_length`] for the request timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_length: Option<String>,
    /// Rules that stop the test when they hold (`model::abort`); every call carries them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort: Vec<AbortRule>,
}

/// A plan that failed validation, or that an organisation's limits refuse: the field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid test plan: {field}: {problem}")]
pub struct PlanError {
    pub field: String,
    pub problem: String,
}

pub(crate) fn bad(field: &str, problem: impl Into<String>) -> PlanError {
    PlanError {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

impl From<CallError> for PlanError {
    fn from(e: CallError) -> Self {
        Self {
            field: e.field,
            problem: e.problem,
        }
    }
}

/// A validated plan, ready to become a fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPlan {
    pub plan: TestPlan,
    pub schedule: Schedule,
    /// Each request with its weight.
    pub requests: Vec<(u64, CallRequest)>,
    pub expected_latency: Duration,
    pub max_worker_rate: f64,
    pub max_in_flight: u64,
    pub segment_length: Duration,
}

/// One worker of a fleet: where it runs, which request it fires, and its User Call (with its share).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetCall {
    pub region: String,
    /// The index of its request among the plan's requests.
    pub request: usize,
    /// Its place among the workers of its region and request, from 0.
    pub worker: u64,
    /// Which segment of the test it runs, from 0.
    pub segment: usize,
    pub call: UserCall,
}

/// The whole fleet: every worker's call, all starting at `start_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub calls: Vec<FleetCall>,
    /// The test's start, to the millisecond (as the calls write it).
    pub start_at: SystemTime,
    /// Requests the plan fires, all workers together.
    pub total: u64,
}

impl Fleet {
    /// How many workers run in `region`.
    pub fn workers_in(&self, region: &str) -> usize {
        self.calls.iter().filter(|c| c.region == region).count()
    }
}

fn identifier(field: &str, value: &str) -> Result<(), PlanError> {
    check_identifier(value).map_err(|e| bad(field, e.to_string()))
}

impl TestPlan {
    /// Parses a plan, naming the field at fault.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, PlanError> {
        payload::parse(value).map_err(|e| bad(&e.field, e.problem))
    }

    /// Checks every field.
    pub fn validate(self) -> Result<ValidPlan, PlanError> {
        identifier("organisationId", &self.organisation_id)?;
        identifier("testId", &self.test_id)?;
        crate::model::abort::checked(&self.abort).map_err(|(field, problem)| bad(&field, problem))?;
        if !crate::model::orchestration::is_region_name(&self.home_region) {
            return Err(bad(
                "homeRegion",
                format!("{:?} is not a region name such as \"eu-west-1\"", self.home_region),
            ));
        }
        let requests: Vec<(u64, CallRequest)> = match (&self.request, &self.requests) {
            (Some(request), None) => vec![(1, request.clone())],
            (None, Some(requests)) if !requests.is_empty() && requests.len() <= MAX_REQUESTS => requests
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if r.weight == 0 || r.weight > 1000 {
                        Err(bad(&format!("requests[{i}].weight"), "must be from 1 to 1000"))
                    } else {
                        Ok((r.weight, r.request.clone()))
                    }
                })
                .collect::<Result<_, _>>()?,
            (None, Some(_)) => return Err(bad("requests", format!("give from 1 to {MAX_REQUESTS} requests"))),
            (Some(_), Some(_)) => return Err(bad("request", "give request or requests, not both")),
            (None, None) => return Err(bad("request", "give the request (or weighted requests)")),
        };
        // Each request must make a valid User Call: the worker will check it the same way.
        for (i, (_, request)) in requests.iter().enumerate() {
            let field = if self.request.is_some() {
                String::new()
            } else {
                format!("requests[{i}].")
            };
            let probe = UserCall {
                test_id: self.test_id.clone(),
                organisation_id: self.organisation_id.clone(),
                call_id: "probe".into(),
                request: request.clone(),
                rate: Some(1.0),
                ramp: None,
                stages: None,
                duration: Some("1s".into()),
                timeout: self.timeout.clone(),
                max_in_flight: None,
                start_at: None,
                region: None,
                share: None,
                home_region: None,
                segment: None,
                abort: Vec::new(),
            };
            probe
                .validate()
                .map_err(|e| bad(&format!("{field}{}", e.field), e.problem))?;
        }
        let limit = |field: &str, rate: f64| -> Result<(), CallError> {
            if rate > MAX_PLAN_RATE {
                Err(CallError {
                    field: field.to_owned(),
                    problem: format!("{rate} is above {MAX_PLAN_RATE} requests a second, the most a plan may ask"),
                })
            } else {
                Ok(())
            }
        };
        let schedule = load_schedule(
            self.rate,
            self.ramp,
            self.stages.as_deref(),
            self.duration.as_deref(),
            MAX_TEST_DURATION,
            &limit,
        )?;
        if self.regions.is_empty() || self.regions.len() > MAX_REGIONS {
            return Err(bad("regions", format!("give from 1 to {MAX_REGIONS} regions")));
        }
        for (i, r) in self.regions.iter().enumerate() {
            identifier(&format!("regions[{i}].region"), &r.region)?;
            if r.share == 0 || r.share > 1000 {
                return Err(bad(&format!("regions[{i}].share"), "must be from 1 to 1000"));
            }
            if self.regions[..i].iter().any(|other| other.region == r.region) {
                return Err(bad(
                    &format!("regions[{i}].region"),
                    format!("{:?} is named twice", r.region),
                ));
            }
        }
        let expected_latency = match &self.expected_latency {
            None => DEFAULT_EXPECTED_LATENCY,
            Some(text) => humantime::parse_duration(text)
                .ok()
                .filter(|d| !d.is_zero() && *d <= Duration::from_secs(120))
                .ok_or_else(|| bad("expectedLatency", format!("{text:?} is not a duration from 1ms to 2m")))?,
        };
        let max_worker_rate = match self.max_worker_rate {
            None => DEFAULT_MAX_WORKER_RATE,
            Some(rate) if (1.0..=MAX_RATE).contains(&rate) => rate,
            Some(rate) => {
                return Err(bad(
                    "maxWorkerRate",
                    format!("{rate} must be from 1 to {MAX_RATE} requests a second"),
                ));
            }
        };
        let max_in_flight = match self.max_in_flight {
            None => MAX_IN_FLIGHT,
            Some(n) if (1..=MAX_IN_FLIGHT).contains(&n) => n,
            Some(n) => {
                return Err(bad(
                    "maxInFlight",
                    format!("{n} must be from 1 to {MAX_IN_FLIGHT}, the connections a worker's 1,024 open files allow"),
                ));
            }
        };
        let request_timeout = match &self.timeout {
            None => DEFAULT_TIMEOUT,
            Some(text) => humantime::parse_duration(text).unwrap_or(DEFAULT_TIMEOUT),
        };
        let longest = segment_length(request_timeout);
        let segment_length = match &self.segment_length {
            None => longest,
            Some(text) => humantime::parse_duration(text)
                .ok()
                .filter(|d| (MIN_SEGMENT..=longest).contains(d))
                .ok_or_else(|| {
                    bad(
                        "segmentLength",
                        format!(
                            "{text:?} is not a duration from {} to {} (a worker's 15 minutes less the lead, the request timeout and the delivery)",
                            humantime::format_duration(MIN_SEGMENT),
                            humantime::format_duration(longest)
                        ),
                    )
                })?,
        };
        Ok(ValidPlan {
            plan: self,
            schedule,
            requests,
            expected_latency,
            max_worker_rate,
            max_in_flight,
            segment_length,
        })
    }
}

impl ValidPlan {
    /// The test's segments, as offsets from its start: consecutive, from 0 to its end, each at most
    /// `segment_length` (whole milliseconds, as the calls write them).
    pub fn segments(&self) -> Vec<std::ops::Range<Duration>> {
        let (whole, step) = (self.schedule.duration(), self.segment_length);
        let mut segments = Vec::new();
        let mut from = Duration::ZERO;
        while from < whole {
            let to = (from + step).min(whole);
            segments.push(from..to);
            from = to;
        }
        segments
    }

    /// Workers a lane needs at `peak` requests a second: none above the rate limit, none needing more in
    /// flight than its cap.
    fn workers_for(&self, peak: f64) -> u64 {
        let by_rate = (peak / self.max_worker_rate).ceil();
        let in_flight = peak * self.expected_latency.as_secs_f64() * IN_FLIGHT_HEADROOM;
        let by_in_flight = (in_flight / self.max_in_flight as f64).ceil();
        by_rate.max(by_in_flight).max(1.0) as u64
    }

    /// The fleet: every worker's User Call, region by region, request by request, all starting at
    /// `start_at`. Refused when it would need more than [`MAX_WORKERS`] workers.
    pub fn fleet(&self, start_at: SystemTime) -> Result<Fleet, PlanError> {
        // To the millisecond, as the calls write it: `Fleet::start_at` is the start every worker keeps.
        let since = start_at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let start_at = std::time::UNIX_EPOCH + Duration::from_millis(since.as_millis() as u64);
        let region_weights: u64 = self.plan.regions.iter().map(|r| r.share).sum();
        let request_weights: u64 = self.requests.iter().map(|r| r.0).sum();
        let peak = self.schedule.peak_rate();
        // Lanes: every (region, request) pair, weighted by the product of their weights.
        let mut lanes = Vec::new();
        for (r, region) in self.plan.regions.iter().enumerate() {
            for (q, (weight, _)) in self.requests.iter().enumerate() {
                let lane_weight = region.share * weight;
                let fraction = lane_weight as f64 / (region_weights * request_weights) as f64;
                lanes.push((r, q, lane_weight, self.workers_for(peak * fraction)));
            }
        }
        let workers: u64 = lanes.iter().map(|l| l.3).sum();
        if workers > MAX_WORKERS {
            return Err(bad(
                "rate",
                format!(
                    "the plan needs {workers} workers, more than {MAX_WORKERS}: lower the rate or the expected latency, or raise maxWorkerRate"
                ),
            ));
        }
        let dealt = deal(&lanes.iter().map(|l| (l.2, l.3)).collect::<Vec<_>>()).map_err(|e| {
            bad(
                "regions",
                format!("{e} (the regions' shares and the requests' weights)"),
            )
        })?;
        let segments = self.segments();
        let mut calls = Vec::with_capacity(workers as usize * segments.len());
        for (s, segment) in segments.iter().enumerate() {
            let start = humantime::format_rfc3339_millis(start_at + segment.start).to_string();
            // One segment is the whole test: its calls name none, as a plain call's.
            let (call_segment, suffix) = if segments.len() == 1 {
                (None, String::new())
            } else {
                let offset = |d: Duration| humantime::format_duration(d).to_string();
                (
                    Some(CallSegment {
                        from: offset(segment.start),
                        to: offset(segment.end),
                    }),
                    format!(".s{s}"),
                )
            };
            for (&(r, q, _, _), shares) in lanes.iter().zip(&dealt) {
                let region = &self.plan.regions[r].region;
                for (worker, share) in shares.iter().enumerate() {
                    let p = &self.plan;
                    calls.push(FleetCall {
                        region: region.clone(),
                        request: q,
                        worker: worker as u64,
                        segment: s,
                        call: UserCall {
                            test_id: p.test_id.clone(),
                            organisation_id: p.organisation_id.clone(),
                            call_id: format!("{region}.{q}.{worker}{suffix}"),
                            request: self.requests[q].1.clone(),
                            rate: p.rate,
                            ramp: p.ramp,
                            stages: p.stages.clone(),
                            duration: p.duration.clone(),
                            timeout: p.timeout.clone(),
                            max_in_flight: Some(self.max_in_flight),
                            start_at: Some(start.clone()),
                            region: Some(region.clone()),
                            share: Some(share.clone()),
                            home_region: Some(p.home_region.clone()),
                            segment: call_segment.clone(),
                            abort: p.abort.clone(),
                        },
                    });
                }
            }
        }
        Ok(Fleet {
            calls,
            start_at,
            total: self.schedule.total(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> serde_json::Value {
        serde_json::json!({
            "organisationId": "acme", "testId": "t1", "homeRegion": "eu-west-1",
            "request": {"url": "http://example.com/"},
            "rate": 60, "duration": "3s",
            "regions": [{"region": "eu-west-1", "share": 3}, {"region": "us-east-1", "share": 2}]
        })
    }

    fn valid(value: serde_json::Value) -> ValidPlan {
        TestPlan::from_json(&value)
            .and_then(TestPlan::validate)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(value: serde_json::Value) -> PlanError {
        match TestPlan::from_json(&value).and_then(TestPlan::validate) {
            Ok(v) => panic!("accepted {v:?}"),
            Err(e) => e,
        }
    }

    fn start() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_430_000)
    }

    #[test]
    fn a_plan_becomes_calls_that_each_validate_and_together_fire_the_whole_schedule() {
        let mut value = plan();
        value["maxWorkerRate"] = 15.into();
        let plan = valid(value);
        let fleet = plan.fleet(start()).unwrap_or_else(|e| panic!("{e}"));
        // 36 rps in eu-west-1 at 15 per worker: 3 workers; 24 in us-east-1: 2.
        assert_eq!((fleet.workers_in("eu-west-1"), fleet.workers_in("us-east-1")), (3, 2));
        let mut fired = Vec::new();
        for c in &fleet.calls {
            let call = c
                .call
                .clone()
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", c.call.call_id));
            assert_eq!(call.start_at, Some(start()));
            assert!(call.schedule.peak_rate() * call.share.fraction() <= 15.0 + 1e-9);
            fired.extend(call.share.positions(call.schedule.total()));
        }
        fired.sort_unstable();
        assert_eq!(fired, (0..180).collect::<Vec<_>>());
        let ids: std::collections::BTreeSet<_> = fleet.calls.iter().map(|c| c.call.call_id.clone()).collect();
        assert_eq!(ids.len(), 5, "every call id differs");
    }

    /// README's example, "A test plan, dealt to a fleet of workers".
    #[test]
    fn the_readmes_plan_is_three_workers_and_two() {
        let plan = valid(serde_json::json!({
            "organisationId": "acme", "testId": "checkout-2026-12-01", "homeRegion": "eu-west-1",
            "request": {"url": "https://api.acme.example/health"},
            "stages": [{"duration": "1m", "ramp": {"from": 0, "to": 12000}}, {"duration": "8m", "rate": 12000}],
            "regions": [{"region": "eu-west-1", "share": 3}, {"region": "us-east-1", "share": 2}],
            "expectedLatency": "150ms", "maxWorkerRate": 5000, "maxInFlight": 960, "timeout": "10s"
        }));
        let fleet = plan.fleet(start()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((fleet.workers_in("eu-west-1"), fleet.workers_in("us-east-1")), (3, 2));
    }

    /// A test longer than a segment becomes a call per worker per segment: the segments tile it, each call
    /// starts when its segment is due and validates, and together they fire the schedule exactly once.
    #[test]
    fn a_long_test_runs_in_segments_that_tile_it() {
        let mut value = plan();
        value["duration"] = "40s".into();
        value["segmentLength"] = "15s".into();
        let plan = valid(value);
        assert_eq!(
            plan.segments(),
            vec![
                Duration::ZERO..Duration::from_secs(15),
                Duration::from_secs(15)..Duration::from_secs(30),
                Duration::from_secs(30)..Duration::from_secs(40)
            ]
        );
        let fleet = plan.fleet(start()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fleet.calls.len(), 2 * 3, "a worker per region, three segments");
        let mut fired = Vec::new();
        for c in &fleet.calls {
            let call = c
                .call
                .clone()
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", c.call.call_id));
            let segment = call
                .segment
                .clone()
                .unwrap_or_else(|| panic!("{} has its segment", c.call.call_id));
            assert_eq!(call.start_at, Some(start() + segment.start));
            let window = call.schedule.first_at(segment.start)..call.schedule.first_at(segment.end);
            fired.extend(call.share.positions_in(window));
        }
        fired.sort_unstable();
        assert_eq!(fired, (0..2400).collect::<Vec<_>>());
        assert!(fleet.calls.iter().any(|c| c.call.call_id == "eu-west-1.0.0.s2"));
    }

    /// The longest segment: a worker's 15 minutes less the longest lead (2 minutes), the request timeout and
    /// 30 s to deliver, in whole minutes.
    #[test]
    fn the_segment_length_leaves_room_for_the_lead_the_last_request_and_the_delivery() {
        assert_eq!(segment_length(Duration::from_secs(30)), Duration::from_secs(12 * 60));
        assert_eq!(segment_length(Duration::from_secs(120)), Duration::from_secs(10 * 60));
        let mut value = plan();
        value["duration"] = "2h".into();
        let plan = valid(value);
        assert_eq!(plan.segment_length, Duration::from_secs(12 * 60));
        assert_eq!(plan.segments().len(), 10, "2 h in 12-minute segments");
        for (bad_length, field) in [("5s", "segmentLength"), ("13m", "segmentLength")] {
            let mut value = super::tests::plan();
            value["segmentLength"] = bad_length.into();
            assert_eq!(error(value).field, field);
        }
    }

    /// The local stack's leads (5 s to the start, 20 s ahead of a later segment) and AWS's defaults: which
    /// segments `test-start` puts at once, and how long their workers wait.
    #[test]
    fn segments_due_within_the_lead_are_put_at_once_and_their_workers_wait_at_most_the_lead_and_the_margin() {
        let s = Duration::from_secs;
        let (start, lead) = (s(5), s(20));
        assert!(put_at_once(s(0), start, lead));
        // The second of 15 s segments begins 20 s from now: its schedule would fire now.
        assert!(put_at_once(s(15), start, lead));
        assert_eq!(worker_wait(s(15), start, lead), s(20));
        // 20 s segments: 25 s from now, a schedule 5 s from now is too soon to make.
        assert!(put_at_once(s(20), start, lead));
        assert_eq!(worker_wait(s(20), start, lead), s(25));
        // 21 s: the schedule fires 6 s from now, and its workers wait the lead.
        assert!(!put_at_once(s(21), start, lead));
        assert_eq!(worker_wait(s(21), start, lead), lead);
        assert_eq!(worker_wait(s(0), start, lead), start);
        // AWS's defaults: the first segment at once, a 10-minute segment's successor by schedule.
        assert!(put_at_once(s(0), DEFAULT_START_LEAD, DEFAULT_SEGMENT_LEAD));
        assert!(!put_at_once(s(600), DEFAULT_START_LEAD, DEFAULT_SEGMENT_LEAD));
        assert_eq!(
            worker_wait(s(600), DEFAULT_START_LEAD, DEFAULT_SEGMENT_LEAD),
            DEFAULT_SEGMENT_LEAD
        );
        // Whatever the start lead, a worker put at once waits at most the longest lead with the margin.
        for start in [MIN_START_LEAD, DEFAULT_START_LEAD, MAX_SEGMENT_LEAD] {
            for k in 0..200 {
                assert!(
                    worker_wait(s(k), start, MAX_SEGMENT_LEAD) <= SEGMENT_LEAD,
                    "{start:?} {k}"
                );
            }
        }
    }

    #[test]
    fn weighted_requests_each_get_their_part() {
        let mut value = plan();
        value.as_object_mut().map(|o| o.remove("request"));
        value["requests"] = serde_json::json!([
            {"weight": 1, "request": {"url": "http://example.com/a"}},
            {"weight": 2, "request": {"method": "POST", "url": "http://example.com/b", "body": "{}"}}
        ]);
        let plan = valid(value);
        let fleet = plan.fleet(start()).unwrap_or_else(|e| panic!("{e}"));
        let total = plan.schedule.total();
        let per_request = |q: usize| -> u64 {
            fleet
                .calls
                .iter()
                .filter(|c| c.request == q)
                .map(|c| c.call.share.as_ref().map_or(0, |s| s.count(total)))
                .sum()
        };
        assert_eq!((per_request(0), per_request(1)), (60, 120));
    }

    #[test]
    fn workers_are_sized_by_littles_law_too() {
        let mut value = plan();
        value["rate"] = 1000.into();
        value["expectedLatency"] = "1s".into();
        value["maxInFlight"] = 500.into();
        let fleet = valid(value).fleet(start()).unwrap_or_else(|e| panic!("{e}"));
        // eu-west-1: 600 rps for 1 s, doubled: 1,200 in flight, 500 per worker: 3 workers.
        assert_eq!(fleet.workers_in("eu-west-1"), 3);
        assert_eq!(fleet.workers_in("us-east-1"), 2);
    }

    #[test]
    fn each_bad_field_is_named() {
        type Mutation = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("organisationId", Box::new(|p| p["organisationId"] = "a b".into())),
            ("homeRegion", Box::new(|p| p["homeRegion"] = "".into())),
            ("surprise", Box::new(|p| p["surprise"] = 1.into())),
            ("request", Box::new(|p| p["requests"] = serde_json::json!([]))),
            ("request.url", Box::new(|p| p["request"]["url"] = "nope".into())),
            ("rate", Box::new(|p| p["rate"] = (MAX_PLAN_RATE * 2.0).into())),
            ("duration", Box::new(|p| p["duration"] = "25h".into())),
            ("regions", Box::new(|p| p["regions"] = serde_json::json!([]))),
            ("regions[1].share", Box::new(|p| p["regions"][1]["share"] = 0.into())),
            (
                "regions[1].region",
                Box::new(|p| p["regions"][1]["region"] = "eu-west-1".into()),
            ),
            ("expectedLatency", Box::new(|p| p["expectedLatency"] = "0s".into())),
            ("maxWorkerRate", Box::new(|p| p["maxWorkerRate"] = 0.into())),
            ("maxInFlight", Box::new(|p| p["maxInFlight"] = 5000.into())),
            ("timeout", Box::new(|p| p["timeout"] = "1h".into())),
        ];
        for (field, mutate) in cases {
            let mut value = plan();
            mutate(&mut value);
            assert_eq!(error(value).field, field);
        }
        let mut weighted = plan();
        weighted.as_object_mut().map(|o| o.remove("request"));
        weighted["requests"] = serde_json::json!([{"weight": 0, "request": {"url": "http://example.com/"}}]);
        assert_eq!(error(weighted.clone()).field, "requests[0].weight");
        weighted["requests"][0]["weight"] = 1.into();
        weighted["requests"][0]["request"]["method"] = "NO PE".into();
        assert_eq!(error(weighted).field, "requests[0].request.method");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn stage() -> impl Strategy<Value = serde_json::Value> {
            (0.0..300.0_f64, 0.0..300.0_f64, 1_u64..4, any::<bool>()).prop_map(|(from, to, s, ramp)| {
                if ramp {
                    serde_json::json!({"duration": format!("{s}s"), "ramp": {"from": from, "to": to}})
                } else {
                    serde_json::json!({"duration": format!("{s}s"), "rate": from})
                }
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Whatever the load, the regions' shares, the requests' weights and the per-worker limits, the
            /// fleet's calls each validate as a worker will check them, and together fire every request of
            /// the plan's schedule exactly once.
            #[test]
            fn the_fleet_is_exactly_the_plans_schedule(
                stages in prop::collection::vec(stage(), 1..4),
                shares in prop::collection::vec(1_u64..10, 1..4),
                weights in prop::collection::vec(1_u64..5, 1..3),
                max_worker_rate in 10.0..400.0_f64,
                latency_ms in 1_u64..500,
                max_in_flight in 1_u64..200,
            ) {
                let value = serde_json::json!({
                    "organisationId": "acme", "testId": "t1", "homeRegion": "r0",
                    "requests": weights.iter().enumerate().map(|(i, w)| serde_json::json!(
                        {"weight": w, "request": {"url": format!("http://example.com/{i}")}})).collect::<Vec<_>>(),
                    "stages": stages,
                    "regions": shares.iter().enumerate().map(|(i, s)| serde_json::json!(
                        {"region": format!("r{i}"), "share": s})).collect::<Vec<_>>(),
                    "maxWorkerRate": max_worker_rate,
                    "expectedLatency": format!("{latency_ms}ms"),
                    "maxInFlight": max_in_flight,
                });
                let Ok(plan) = TestPlan::from_json(&value).and_then(TestPlan::validate) else {
                    // Only a load that sends nothing is refused here.
                    return Ok(());
                };
                let fleet = plan.fleet(start()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let total = plan.schedule.total();
                let mut fired = Vec::new();
                for c in &fleet.calls {
                    let call = c.call.clone().validate().map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let part = call.schedule.peak_rate() * call.share.fraction();
                    prop_assert!(part <= max_worker_rate * (1.0 + 1e-9), "{part} above {max_worker_rate}");
                    let in_flight = part * latency_ms as f64 / 1000.0 * IN_FLIGHT_HEADROOM;
                    prop_assert!(in_flight <= max_in_flight as f64 * (1.0 + 1e-9), "{in_flight} in flight");
                    fired.extend(call.share.positions(total).map(|i| (i, call.schedule.offset(i))));
                }
                fired.sort_unstable();
                let single: Vec<_> = (0..total).map(|i| (i, plan.schedule.offset(i))).collect();
                prop_assert_eq!(fired, single);
            }
        }
    }

    #[test]
    fn a_plan_needing_too_many_workers_is_refused() {
        let mut value = plan();
        value["rate"] = 1_000_000.into();
        value["maxWorkerRate"] = 100.into();
        let e = valid(value).fleet(start()).err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.field, "rate");
        assert!(e.problem.contains("10000 workers"), "{e}");
    }
}
