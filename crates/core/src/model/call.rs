//! The `User Call` event: what a worker is asked to fire. Defined once, here; the worker parses it, and
//! whoever puts events on the bus (the demo, run-load, a CI job) writes it.
//!
//! ```json
//! {"testId": "checkout-2026-11-23", "organisationId": "acme", "callId": "checkout-2026-11-23-eu-1",
//!  "request": {"method": "GET", "url": "https://api.acme.example/health", "headers": {"accept": "application/json"}},
//!  "rate": 100, "duration": "30s", "timeout": "10s", "maxInFlight": 500,
//!  "startAt": "2026-11-23T09:00:00Z", "region": "eu-west-1"}
//! ```
//! `rate` (requests per second) or `ramp` (`{"from": 10, "to": 200}`), not both.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::identifier::check_identifier;
use crate::model::payload;
use volley_engine::load::schedule::Schedule;

/// The detail-type of the EventBridge events that start a worker.
pub const USER_CALL_DETAIL_TYPE: &str = "User Call";
/// The event source Volley's own tools use.
pub const USER_CALL_SOURCE: &str = "volley";

/// The longest a single call may run: a Lambda function runs at most 15 minutes.
pub const MAX_CALL_DURATION: Duration = Duration::from_secs(15 * 60);
/// The largest request body a call may carry.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The request to fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// humantime: "30s", "1m30s".
    pub duration: String,
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
    pub timeout: Duration,
    pub start_at: Option<SystemTime>,
}

/// The default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn identifier(field: &str, value: &str) -> Result<(), CallError> {
    check_identifier(value).map_err(|e| bad(field, e.to_string()))
}

impl UserCall {
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
        let duration = humantime::parse_duration(&self.duration).map_err(|e| {
            bad(
                "duration",
                format!("{:?} is not a duration such as \"30s\": {e}", self.duration),
            )
        })?;
        if duration.is_zero() || duration > MAX_CALL_DURATION {
            return Err(bad(
                "duration",
                format!("{:?} must be above 0 and at most 15m", self.duration),
            ));
        }
        let schedule = match (self.rate, self.ramp) {
            (Some(rate), None) => Schedule::constant(rate, duration).map_err(|e| bad("rate", e.to_string()))?,
            (None, Some(ramp)) => {
                Schedule::ramp(ramp.from, ramp.to, duration).map_err(|e| bad("ramp", e.to_string()))?
            }
            (Some(_), Some(_)) => return Err(bad("rate", "give rate or ramp, not both")),
            (None, None) => return Err(bad("rate", "give rate (requests per second) or ramp")),
        };
        let timeout = match &self.timeout {
            None => DEFAULT_TIMEOUT,
            Some(text) => humantime::parse_duration(text)
                .ok()
                .filter(|t| !t.is_zero())
                .ok_or_else(|| bad("timeout", format!("{text:?} is not a duration above 0 such as \"10s\"")))?,
        };
        if self.max_in_flight == Some(0) {
            return Err(bad("maxInFlight", "must be at least 1"));
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
            timeout,
            start_at,
        })
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
}
