//! The `User Call` event: what a worker is asked to fire. Defined once, here; the worker parses it, and
//! whoever puts events on the bus (the demo, run-load, a CI job) writes it.
//!
//! ```json
//! {"testId": "checkout-2026-11-23", "organisationId": "acme", "callId": "checkout-2026-11-23-eu-1",
//!  "request": {"method": "GET", "url": "https://api.acme.example/health", "headers": {"accept": "application/json"}},
//!  "rate": 100, "duration": "30s", "timeout": "10s", "maxInFlight": 500,
//!  "startAt": "2026-11-23T09:00:00Z", "region": "eu-west-1"}
//! ```
//! The load is one of `rate` (requests per second), `ramp` (`{"from": 10, "to": 200}`), both with `duration`,
//! or `stages` (`[{"duration": "30s", "ramp": {"from": 0, "to": 100}}, {"duration": "1m", "rate": 100}]`,
//! each with its own duration, no top-level one). A worker of a fleet also gets its `share`
//! (`{"period": 5, "offsets": [0, 2]}`): of the load's requests it fires those whose index modulo `period`
//! is in `offsets`, each at the load's own intended time (`volley_engine::load::share`); without it, it
//! fires them all.
//!
//! Every number has an upper bound, checked before the worker claims the call: the rates this worker fires
//! (the load's rates times its share) at most [`MAX_RATE`], the whole duration at most [`MAX_CALL_DURATION`],
//! at most [`MAX_STAGES`] stages, `timeout` at most [`MAX_TIMEOUT`],
//! `maxInFlight` at most [`MAX_IN_FLIGHT`], and `startAt` ([`ValidCall::check_start`]) no more than
//! [`START_TOLERANCE`] past, with the call's end within [`MAX_CALL_REACH`] of its event's time and before
//! the worker's deadline.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::abort::{AbortRule, ValidAbortRule};
use crate::model::identifier::check_identifier;
use crate::model::payload;
use crate::model::scope::{CallScope, TestScope};
use volley_engine::load::schedule::Schedule;
use volley_engine::load::share::Share;

/// The detail-type of the EventBridge events that start a worker.
pub const USER_CALL_DETAIL_TYPE: &str = "User Call";
/// The event source Volley's own tools use.
pub const USER_CALL_SOURCE: &str = "volley";

/// The longest a single call may run: a Lambda function runs at most 15 minutes.
pub const MAX_CALL_DURATION: Duration = Duration::from_secs(15 * 60);
/// The longest a whole test may run, segment after segment.
pub const MAX_TEST_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// The most stages a call's load may have.
pub const MAX_STAGES: usize = 100;
/// The largest request body a call may carry.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The highest arrival rate a call may ask, in requests a second (both ends of a ramp too). One worker paces
/// its requests on one thread, and docs/benchmarks.md measures 20,000 a second held on one core; this
/// leaves room for a bigger function. More load is more calls.
pub const MAX_RATE: f64 = 50_000.0;
/// The longest per-request timeout: a request unanswered after two minutes is a failure worth counting, and
/// every request must end well inside the worker's 15 minutes.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);
/// The most requests a call keeps in flight, and the default: each holds a connection, so a file
/// descriptor, and Lambda allows 1,024 open files; 64 are kept for the runtime, the AWS clients and DNS.
pub const MAX_IN_FLIGHT: u64 = 1024 - 64;
/// How late past its `startAt` a call may still start. Events reach the worker asynchronously (EventBridge,
/// then Lambda's own queue, then a cold start): ordinarily within a second or two, so 10 s leaves room for
/// a slow delivery, while staying well under a minute, the least Lambda waits before retrying a failed
/// invocation, so a retry of a synchronised call is refused rather than fired a minute late.
pub const START_TOLERANCE: Duration = Duration::from_secs(10);
/// The furthest a call's end (`startAt` plus `duration`) may lie from its event's time: a worker runs at
/// most 15 minutes (Lambda's longest timeout), within which it must wait for the start and then run.
/// Measured from the event's time, not the clock, so a call refused once is refused on every retry.
pub const MAX_CALL_REACH: Duration = Duration::from_secs(15 * 60);

/// The request to fire. Its `Debug` redacts the values of sensitive headers
/// (`volley_engine::load::request::SENSITIVE_HEADERS`), so no log of a call shows a credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

impl std::fmt::Debug for CallRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sensitive = volley_engine::load::request::Sensitive::default();
        let headers: BTreeMap<&str, &str> = self
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), sensitive.shown(name, value)))
            .collect();
        f.debug_struct("CallRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

fn default_method() -> String {
    "GET".into()
}

/// A linear ramp of the arrival rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ramp {
    pub from: f64,
    pub to: f64,
}

/// One stage of a call's load: a constant `rate` or a `ramp`, for `duration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallStage {
    /// humantime: "30s", "1m30s".
    pub duration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Ramp>,
}

/// The `User Call` detail as it arrives, before validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserCall {
    pub test_id: String,
    pub organisation_id: String,
    pub call_id: String,
    pub request: CallRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Ramp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<CallStage>>,
    /// humantime: "30s", "1m30s". With `rate` or `ramp`; not with `stages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// humantime; default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u64>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// This worker's part of the load, when a fleet fires it together; absent, all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Share>,
    /// Where the test's state (its stop) lives: the home region's orchestration table; absent, this region's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
    /// The part of a longer load this call runs: the requests due from `from` to `to` (offsets from the
    /// load's start; `startAt` is when `from` is due). Absent, all of it, at most 15m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<CallSegment>,
    /// The test's abort rules (`model::abort`), sent on with the call's chunks to the archiver, which
    /// holds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort: Vec<AbortRule>,
}

/// A segment of a load, as offsets from its start (humantime).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSegment {
    pub from: String,
    pub to: String,
}

/// A `User Call` that failed validation: the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid User Call: {field}: {problem}")]
pub struct CallError {
    pub field: String,
    pub problem: String,
}

fn bad(field: &str, problem: impl Into<String>) -> CallError {
    CallError {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

/// A validated call, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCall {
    pub call: UserCall,
    pub method: http::Method,
    pub headers: http::HeaderMap,
    pub schedule: Schedule,
    /// Which of the schedule's requests this worker fires.
    pub share: Share,
    /// The part of the schedule it runs (offsets from its start), when it runs a segment.
    pub segment: Option<std::ops::Range<Duration>>,
    pub timeout: Duration,
    pub start_at: Option<SystemTime>,
    /// The abort rules, checked.
    pub abort: Vec<ValidAbortRule>,
}

/// The default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn identifier(field: &str, value: &str) -> Result<(), CallError> {
    check_identifier(value).map_err(|e| bad(field, e.to_string()))
}

/// The rate this worker fires, `rate` times its share's fraction, is at most [`MAX_RATE`].
fn at_most_max_rate(field: &str, rate: f64, fraction: f64) -> Result<(), CallError> {
    if rate * fraction > MAX_RATE {
        let of = if fraction < 1.0 {
            format!(" ({:.1} for this worker's share)", rate * fraction)
        } else {
            String::new()
        };
        Err(bad(
            field,
            format!(
                "{rate}{of} is above {MAX_RATE} requests a second, the most one call sends: split the load over more calls"
            ),
        ))
    } else {
        Ok(())
    }
}

/// A duration above 0 and at most `max`.
fn call_duration(field: &str, text: &str, max: Duration) -> Result<Duration, CallError> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| bad(field, format!("{text:?} is not a duration such as \"30s\": {e}")))?;
    if duration.is_zero() || duration > max {
        return Err(bad(
            field,
            format!(
                "{text:?} must be above 0 and at most {}",
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(duration)
}

/// A check of one rate, naming its field: the most a worker or a plan may ask.
pub type RateLimit<'a> = &'a dyn Fn(&str, f64) -> Result<(), CallError>;

/// One load's rates: a constant `rate` or a `ramp`, not both; `prefix` goes in front of the names in errors.
fn rates(prefix: &str, rate: Option<f64>, ramp: Option<Ramp>, limit: RateLimit<'_>) -> Result<(f64, f64), CallError> {
    let name = |field: &str| format!("{prefix}{field}");
    match (rate, ramp) {
        (Some(rate), None) => {
            limit(&name("rate"), rate)?;
            Ok((rate, rate))
        }
        (None, Some(ramp)) => {
            limit(&name("ramp.from"), ramp.from)?;
            limit(&name("ramp.to"), ramp.to)?;
            Ok((ramp.from, ramp.to))
        }
        (Some(_), Some(_)) => Err(bad(&name("rate"), "give rate or ramp, not both")),
        (None, None) => Err(bad(&name("rate"), "give rate (requests per second) or ramp")),
    }
}

/// A time as RFC 3339, where humantime can write it (from the epoch to the end of year 9999; it would fail
/// or panic outside), else as seconds from the epoch.
fn rfc3339(time: SystemTime) -> String {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) if since.as_secs() < 253_402_300_800 => humantime::format_rfc3339_seconds(time).to_string(),
        Ok(since) => format!("{} s after the Unix epoch", since.as_secs()),
        Err(before) => format!("{} s before the Unix epoch", before.duration().as_secs()),
    }
}

/// The schedule of a load written as a User Call (or a test plan) writes it: `rate` or `ramp` with
/// `duration`, or `stages`; each rate held to `limit`, the whole at most `max` long. Errors name the field
/// (`stages[1].ramp.to`).
pub fn load_schedule(
    rate: Option<f64>,
    ramp: Option<Ramp>,
    stages: Option<&[CallStage]>,
    duration: Option<&str>,
    max: Duration,
    limit: RateLimit<'_>,
) -> Result<Schedule, CallError> {
    match stages {
        None => {
            let text = duration.ok_or_else(|| bad("duration", "give the duration, such as \"30s\""))?;
            let duration = call_duration("duration", text, max)?;
            let (from, to) = rates("", rate, ramp, limit)?;
            let field = if rate.is_some() { "rate" } else { "ramp" };
            Schedule::ramp(from, to, duration).map_err(|e| bad(field, e.to_string()))
        }
        Some(stages) => {
            if rate.is_some() || ramp.is_some() {
                return Err(bad("stages", "give rate, ramp or stages, only one"));
            }
            if duration.is_some() {
                return Err(bad("duration", "not with stages: each stage has its own"));
            }
            if stages.is_empty() || stages.len() > MAX_STAGES {
                return Err(bad("stages", format!("give from 1 to {MAX_STAGES} stages")));
            }
            let mut parts = Vec::with_capacity(stages.len());
            let mut whole = Duration::ZERO;
            for (i, stage) in stages.iter().enumerate() {
                let prefix = format!("stages[{i}].");
                let duration = call_duration(&format!("{prefix}duration"), &stage.duration, max)?;
                let (from, to) = rates(&prefix, stage.rate, stage.ramp, limit)?;
                whole += duration;
                parts.push((from, to, duration));
            }
            if whole > max {
                return Err(bad(
                    "stages",
                    format!(
                        "together {} long, above the {} it may run",
                        humantime::format_duration(whole),
                        humantime::format_duration(max)
                    ),
                ));
            }
            Schedule::stages(parts).map_err(|e| bad("stages", e.to_string()))
        }
    }
}

impl UserCall {
    /// The call's scope: its organisation, test and call id (every key of its data is scoped by it).
    pub fn scope(&self) -> CallScope {
        TestScope::new(&self.organisation_id, &self.test_id).call(&self.call_id)
    }

    /// Parses an event detail, naming the field at fault.
    pub fn from_json(detail: &serde_json::Value) -> Result<Self, CallError> {
        payload::parse(detail).map_err(|e| CallError {
            field: e.field,
            problem: e.problem,
        })
    }

    /// Checks every field and turns the call into what the engine needs.
    pub fn validate(self) -> Result<ValidCall, CallError> {
        identifier("testId", &self.test_id)?;
        identifier("organisationId", &self.organisation_id)?;
        identifier("callId", &self.call_id)?;
        let abort = crate::model::abort::checked(&self.abort).map_err(|(field, problem)| bad(&field, problem))?;
        if let Some(region) = &self.home_region
            && !crate::model::orchestration::is_region_name(region)
        {
            return Err(bad(
                "homeRegion",
                format!("{region:?} is not a region name such as \"eu-west-1\""),
            ));
        }
        let share = match &self.share {
            None => Share::whole(),
            Some(share) => share.clone().checked().map_err(|e| bad("share", e.to_string()))?,
        };
        let fraction = share.fraction();
        let limit = |field: &str, rate: f64| at_most_max_rate(field, rate, fraction);
        let longest = if self.segment.is_some() {
            MAX_TEST_DURATION
        } else {
            MAX_CALL_DURATION
        };
        let schedule = load_schedule(
            self.rate,
            self.ramp,
            self.stages.as_deref(),
            self.duration.as_deref(),
            longest,
            &limit,
        )?;
        let segment = match &self.segment {
            None => None,
            Some(segment) => {
                let offset = |field: &str, text: &str| {
                    humantime::parse_duration(text)
                        .map_err(|e| bad(field, format!("{text:?} is not a duration such as \"15m\": {e}")))
                };
                let (from, to) = (
                    offset("segment.from", &segment.from)?,
                    offset("segment.to", &segment.to)?,
                );
                if to <= from || to > schedule.duration() {
                    return Err(bad(
                        "segment.to",
                        format!(
                            "{:?} must be after segment.from and at most the load's {}",
                            segment.to,
                            humantime::format_duration(schedule.duration())
                        ),
                    ));
                }
                if to - from > MAX_CALL_DURATION {
                    return Err(bad("segment", "at most 15m long (Lambda's longest run)"));
                }
                Some(from..to)
            }
        };
        let timeout = match &self.timeout {
            None => DEFAULT_TIMEOUT,
            Some(text) => humantime::parse_duration(text)
                .ok()
                .filter(|t| !t.is_zero())
                .ok_or_else(|| bad("timeout", format!("{text:?} is not a duration above 0 such as \"10s\"")))?,
        };
        if timeout > MAX_TIMEOUT {
            return Err(bad(
                "timeout",
                format!(
                    "{:?} is above the longest per-request timeout, {}",
                    self.timeout.as_deref().unwrap_or_default(),
                    humantime::format_duration(MAX_TIMEOUT)
                ),
            ));
        }
        match self.max_in_flight {
            Some(0) => return Err(bad("maxInFlight", "must be at least 1")),
            Some(n) if n > MAX_IN_FLIGHT => {
                return Err(bad(
                    "maxInFlight",
                    format!(
                        "{n} is above {MAX_IN_FLIGHT}, the connections a worker's 1,024 open files allow: \
                         split the load over more calls"
                    ),
                ));
            }
            _ => {}
        }
        let method = http::Method::from_bytes(self.request.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            bad(
                "request.method",
                format!("{:?} is not an HTTP method", self.request.method),
            )
        })?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in &self.request.headers {
            let header_name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad("request.headers", format!("{name:?} is not a header name")))?;
            let header_value = http::HeaderValue::from_str(value).map_err(|_| {
                bad(
                    "request.headers",
                    format!("the value of {name:?} is not a valid header value"),
                )
            })?;
            headers.append(header_name, header_value);
        }
        // Credentials are never printed, even in a Debug of the call (the worker marks its configured list
        // again once references are resolved).
        volley_engine::load::request::Sensitive::default().mark(&mut headers);
        if self.request.body.as_ref().is_some_and(|b| b.len() > MAX_BODY_BYTES) {
            return Err(bad("request.body", format!("must be at most {MAX_BODY_BYTES} bytes")));
        }
        if url::Url::parse(&self.request.url).is_err() {
            return Err(bad("request.url", format!("{:?} is not a URL", self.request.url)));
        }
        let start_at = match &self.start_at {
            None => None,
            Some(text) => Some(
                humantime::parse_rfc3339_weak(text)
                    .map_err(|e| bad("startAt", format!("{text:?} is not an RFC 3339 time: {e}")))?,
            ),
        };
        Ok(ValidCall {
            call: self,
            method,
            headers,
            schedule,
            share,
            segment,
            timeout,
            start_at,
            abort,
        })
    }
}

impl ValidCall {
    /// How long the call runs: its segment, or the whole load.
    pub fn run_length(&self) -> Duration {
        self.segment
            .as_ref()
            .map_or_else(|| self.schedule.duration(), |segment| segment.end - segment.start)
    }

    /// Checks `startAt` against time, before anything is claimed: the call may start at most
    /// [`START_TOLERANCE`] late at `now`, and must end (start plus duration) within [`MAX_CALL_REACH`] of
    /// `sent` (its event's time) and by `stop_by` (the worker's deadline less its margin), so the worker can
    /// wait for the start and then run the whole call. A call without `startAt` starts at once.
    pub fn check_start(&self, sent: SystemTime, now: SystemTime, stop_by: SystemTime) -> Result<(), CallError> {
        let Some(start) = self.start_at else {
            return Ok(());
        };
        let text = self.call.start_at.as_deref().unwrap_or_default();
        if let Ok(late) = now.duration_since(start)
            && late > START_TOLERANCE
        {
            return Err(bad(
                "startAt",
                format!(
                    "{text:?} passed {} ago, more than the {} a call may start late: it is refused, not fired late",
                    humantime::format_duration(Duration::from_secs(late.as_secs())),
                    humantime::format_duration(START_TOLERANCE)
                ),
            ));
        }
        let duration = self.run_length();
        let end = start.checked_add(duration);
        let reach = sent.checked_add(MAX_CALL_REACH);
        if end.is_none() || reach.is_none_or(|reach| end.is_some_and(|end| end > reach)) {
            return Err(bad(
                "startAt",
                format!(
                    "{text:?} plus the duration ({}) ends more than {} after the event's time ({}): a worker \
                     cannot wait that long; put the event closer to the start",
                    humantime::format_duration(duration),
                    humantime::format_duration(MAX_CALL_REACH),
                    rfc3339(sent)
                ),
            ));
        }
        if end.is_some_and(|end| end > stop_by) {
            let latest = stop_by.checked_sub(duration).unwrap_or(stop_by);
            return Err(bad(
                "startAt",
                format!(
                    "{text:?} is too late for this worker: it must stop by {}, so a call of {} must start by {}",
                    rfc3339(stop_by),
                    humantime::format_duration(duration),
                    rfc3339(latest)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> serde_json::Value {
        serde_json::json!({
            "testId": "t1", "organisationId": "acme", "callId": "c1",
            "request": {"method": "GET", "url": "http://example.com/"},
            "rate": 10, "duration": "2s"
        })
    }

    fn error(detail: serde_json::Value) -> CallError {
        match UserCall::from_json(&detail).and_then(UserCall::validate) {
            Ok(v) => panic!("accepted {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_good_call_validates_with_defaults() {
        let valid = UserCall::from_json(&call())
            .and_then(UserCall::validate)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(valid.timeout, DEFAULT_TIMEOUT);
        assert_eq!(valid.schedule.total(), 20);
        assert_eq!(valid.method, http::Method::GET);
    }

    #[test]
    fn each_bad_field_is_named() {
        type Mutation = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "testId",
                Box::new(|c| {
                    c.as_object_mut().map(|o| o.remove("testId"));
                }),
            ),
            ("testId", Box::new(|c| c["testId"] = "has space".into())),
            ("callId", Box::new(|c| c["callId"] = "".into())),
            ("duration", Box::new(|c| c["duration"] = "10x".into())),
            ("duration", Box::new(|c| c["duration"] = "16m".into())),
            ("rate", Box::new(|c| c["rate"] = (-1).into())),
            (
                "rate",
                Box::new(|c| {
                    c.as_object_mut().map(|o| o.remove("rate"));
                }),
            ),
            (
                "rate",
                Box::new(|c| c["ramp"] = serde_json::json!({"from": 1, "to": 2})),
            ),
            ("timeout", Box::new(|c| c["timeout"] = "0s".into())),
            ("maxInFlight", Box::new(|c| c["maxInFlight"] = 0.into())),
            ("request.method", Box::new(|c| c["request"]["method"] = "GE T".into())),
            ("request.url", Box::new(|c| c["request"]["url"] = "not a url".into())),
            (
                "request.headers",
                Box::new(|c| c["request"]["headers"] = serde_json::json!({"bad name": "v"})),
            ),
            ("startAt", Box::new(|c| c["startAt"] = "tomorrow".into())),
            ("surprise", Box::new(|c| c["surprise"] = true.into())),
            ("rate", Box::new(|c| c["rate"] = "fast".into())),
            ("rate", Box::new(|c| c["rate"] = 1e308.into())),
            ("rate", Box::new(|c| c["rate"] = (MAX_RATE + 1.0).into())),
            (
                "ramp.to",
                Box::new(|c| {
                    c.as_object_mut().map(|o| o.remove("rate"));
                    c["ramp"] = serde_json::json!({"from": 1, "to": 1e9});
                }),
            ),
            (
                "ramp.from",
                Box::new(|c| {
                    c.as_object_mut().map(|o| o.remove("rate"));
                    c["ramp"] = serde_json::json!({"from": 60000, "to": 1});
                }),
            ),
            ("timeout", Box::new(|c| c["timeout"] = "100000000h".into())),
            ("timeout", Box::new(|c| c["timeout"] = "121s".into())),
            (
                "maxInFlight",
                Box::new(|c| c["maxInFlight"] = (MAX_IN_FLIGHT + 1).into()),
            ),
            ("maxInFlight", Box::new(|c| c["maxInFlight"] = (1u64 << 61).into())),
            ("maxInFlight", Box::new(|c| c["maxInFlight"] = (1u64 << 32).into())),
            (
                "request.url",
                Box::new(|c| {
                    c["request"].as_object_mut().map(|o| o.remove("url"));
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut detail = call();
            mutate(&mut detail);
            let e = error(detail);
            assert_eq!(e.field, field, "{e}");
        }
    }

    #[test]
    fn stages_and_a_share_validate_and_their_faults_are_named() {
        let mut detail = call();
        detail.as_object_mut().map(|o| (o.remove("rate"), o.remove("duration")));
        detail["stages"] = serde_json::json!([
            {"duration": "2s", "ramp": {"from": 0, "to": 10}},
            {"duration": "1s", "rate": 0},
            {"duration": "1s", "rate": 20}
        ]);
        detail["share"] = serde_json::json!({"period": 5, "offsets": [0, 2, 4]});
        let valid = UserCall::from_json(&detail)
            .and_then(UserCall::validate)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(valid.schedule.total(), 30);
        assert_eq!(valid.schedule.duration(), Duration::from_secs(4));
        assert_eq!(valid.share.count(30), 18);

        type Mutation = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("duration", Box::new(|c| c["duration"] = "4s".into())),
            ("stages", Box::new(|c| c["rate"] = 5.into())),
            ("stages", Box::new(|c| c["stages"] = serde_json::json!([]))),
            (
                "stages[1].duration",
                Box::new(|c| c["stages"][1]["duration"] = "soon".into()),
            ),
            (
                "stages[2].rate",
                Box::new(|c| c["stages"][2]["ramp"] = serde_json::json!({"from": 1, "to": 2})),
            ),
            (
                "stages[0].ramp.to",
                Box::new(|c| c["stages"][0]["ramp"]["to"] = 1e9.into()),
            ),
            ("stages", Box::new(|c| c["stages"][0]["duration"] = "15m".into())),
            (
                "stages",
                Box::new(|c| c["stages"] = serde_json::json!([{"duration": "1s", "rate": 0}])),
            ),
            (
                "stages[0].surprise",
                Box::new(|c| c["stages"][0]["surprise"] = true.into()),
            ),
            ("share", Box::new(|c| c["share"]["offsets"] = serde_json::json!([0, 5]))),
            ("share", Box::new(|c| c["share"]["period"] = 0.into())),
            ("share.surprise", Box::new(|c| c["share"]["surprise"] = 1.into())),
        ];
        for (field, mutate) in cases {
            let mut bad = detail.clone();
            mutate(&mut bad);
            let e = error(bad);
            assert_eq!(e.field, field, "{e}");
        }
    }

    /// A segment lets the load run longer than 15 minutes; the call runs its segment, at most 15 minutes.
    #[test]
    fn a_segment_of_a_longer_load_validates_and_its_faults_are_named() {
        let mut detail = call();
        detail["duration"] = "1h".into();
        assert_eq!(
            error(detail.clone()).field,
            "duration",
            "a load above 15m needs a segment"
        );
        detail["segment"] = serde_json::json!({"from": "30m", "to": "40m"});
        let valid = UserCall::from_json(&detail)
            .and_then(UserCall::validate)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            valid.segment,
            Some(Duration::from_secs(1800)..Duration::from_secs(2400))
        );
        assert_eq!(valid.run_length(), Duration::from_secs(600));
        for (segment, field) in [
            (serde_json::json!({"from": "30m", "to": "61m"}), "segment.to"),
            (serde_json::json!({"from": "30m", "to": "30m"}), "segment.to"),
            (serde_json::json!({"from": "10m", "to": "26m"}), "segment"),
            (serde_json::json!({"from": "soon", "to": "26m"}), "segment.from"),
            (serde_json::json!({"from": "1m", "to": "2m", "by": "me"}), "segment.by"),
        ] {
            let mut bad = detail.clone();
            bad["segment"] = segment;
            assert_eq!(error(bad).field, field);
        }
    }

    /// A worker's share lets the load's rate go beyond what one worker sends: the limit is on its part.
    #[test]
    fn the_rate_limit_holds_for_the_workers_part_of_the_load() {
        let mut detail = call();
        detail["rate"] = (MAX_RATE * 4.0).into();
        assert_eq!(error(detail.clone()).field, "rate");
        detail["share"] = serde_json::json!({"period": 4, "offsets": [1]});
        let valid = UserCall::from_json(&detail)
            .and_then(UserCall::validate)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(valid.share.fraction(), 0.25);
        detail["share"] = serde_json::json!({"period": 4, "offsets": [1, 2]});
        let e = error(detail);
        assert!(e.problem.contains("100000.0 for this worker's share"), "{e}");
    }

    #[test]
    fn each_bound_itself_is_accepted() {
        let mut detail = call();
        detail["rate"] = MAX_RATE.into();
        detail["timeout"] = "2m".into();
        detail["maxInFlight"] = MAX_IN_FLIGHT.into();
        detail["duration"] = "15m".into();
        let valid = UserCall::from_json(&detail)
            .and_then(UserCall::validate)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(valid.timeout, MAX_TIMEOUT);
        assert_eq!(valid.call.max_in_flight, Some(MAX_IN_FLIGHT));
    }

    const SENT: u64 = 1_795_430_000; // 2026-11-23T09:53:20Z

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn starting(start_at: &str, duration: &str) -> ValidCall {
        let mut detail = call();
        detail["startAt"] = start_at.into();
        detail["duration"] = duration.into();
        UserCall::from_json(&detail)
            .and_then(UserCall::validate)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn rfc(seconds: u64) -> String {
        rfc3339(at(seconds))
    }

    #[test]
    fn a_start_more_than_the_tolerance_past_is_refused_not_fired_late() {
        let far = at(SENT + 3600);
        let late = starting(&rfc(SENT), "2s").check_start(at(SENT), at(SENT + 11), far);
        let problem = late.err().map(|e| (e.field, e.problem)).unwrap_or_default();
        assert_eq!(problem.0, "startAt");
        assert!(problem.1.contains("passed 11s ago, more than the 10s"), "{}", problem.1);
        assert_eq!(
            starting(&rfc(SENT), "2s").check_start(at(SENT), at(SENT + 10), far),
            Ok(()),
            "within the tolerance an event that arrived late still runs"
        );
        assert_eq!(call_without_start().check_start(at(SENT), at(SENT + 999), far), Ok(()));
    }

    fn call_without_start() -> ValidCall {
        UserCall::from_json(&call())
            .and_then(UserCall::validate)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_call_must_end_within_a_workers_reach_of_its_event() {
        let (sent, now, far) = (at(SENT), at(SENT), at(SENT + 3600));
        // 14 minutes ahead: a minute of run fits in 15 minutes, a minute and a second does not.
        assert_eq!(starting(&rfc(SENT + 840), "1m").check_start(sent, now, far), Ok(()));
        let beyond = starting(&rfc(SENT + 840), "61s").check_start(sent, now, far);
        let problem = beyond.err().map(|e| (e.field, e.problem)).unwrap_or_default();
        assert_eq!(problem.0, "startAt");
        assert!(
            problem.1.contains("ends more than 15m after the event's time"),
            "{}",
            problem.1
        );
        // The same call, delivered again later (a retry), is refused the same way: the bound is the event's.
        let retried = starting(&rfc(SENT + 840), "61s").check_start(sent, at(SENT + 180), far);
        assert_eq!(retried.err().map(|e| e.field), Some("startAt".into()));
        let year_9999 = starting("9999-12-31T23:59:59Z", "1s").check_start(sent, now, far);
        assert_eq!(year_9999.err().map(|e| e.field), Some("startAt".into()));
    }

    #[test]
    fn a_call_must_end_before_the_workers_deadline() {
        let (sent, now) = (at(SENT), at(SENT));
        let call = starting(&rfc(SENT + 60), "2s");
        assert_eq!(call.check_start(sent, now, at(SENT + 62)), Ok(()));
        let problem = call
            .check_start(sent, now, at(SENT + 61))
            .err()
            .map(|e| (e.field, e.problem))
            .unwrap_or_default();
        assert_eq!(problem.0, "startAt");
        assert!(
            problem.1.contains(&format!("must start by {}", rfc(SENT + 59))),
            "{}",
            problem.1
        );
    }
}
