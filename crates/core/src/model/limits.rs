//! An organisation's guardrails: the most load it may put on its targets. They live with the organisation's
//! record in the domains table (`adapters::dynamodb::domains`); an organisation with none set gets
//! [`OrganisationLimits::default`]. A plan beyond them is refused before anything fires
//! ([`OrganisationLimits::check_plan`]), and the worker refuses a call beyond them too
//! ([`OrganisationLimits::check_call`]): whoever may put events on the bus can act for any organisation,
//! so the worker is the last line (README, "Trust").
//!
//! ```json
//! {"maxRate": 10000, "maxWorkers": 50, "maxDuration": "15m", "maxConcurrentTests": 3}
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::call::{CallError, MAX_CALL_DURATION, ValidCall};
use crate::model::plan::{Fleet, PlanError, ValidPlan, bad};

/// The default most requests a second an organisation's tests may fire, all workers together.
pub const DEFAULT_MAX_RATE: f64 = 10_000.0;
/// The default most workers one of its tests may use.
pub const DEFAULT_MAX_WORKERS: u64 = 50;
/// The default most tests it may run at once.
pub const DEFAULT_MAX_CONCURRENT_TESTS: u64 = 3;

/// An organisation's limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrganisationLimits {
    /// Requests a second, all workers of a test together, at the schedule's peak.
    pub max_rate: f64,
    pub max_workers: u64,
    /// A test's whole duration.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    pub max_concurrent_tests: u64,
}

impl Default for OrganisationLimits {
    fn default() -> Self {
        Self {
            max_rate: DEFAULT_MAX_RATE,
            max_workers: DEFAULT_MAX_WORKERS,
            max_duration: MAX_CALL_DURATION,
            max_concurrent_tests: DEFAULT_MAX_CONCURRENT_TESTS,
        }
    }
}

/// Durations as humantime text ("15m") in JSON. Three lines: not worth a crate.
mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| D::Error::custom(format!("{text:?} is not a duration: {e}")))
    }
}

impl OrganisationLimits {
    /// Checks limits as an administrator sets them: each at least 1 (a duration above 0), a rate finite.
    pub fn checked(self) -> Result<Self, PlanError> {
        if !self.max_rate.is_finite() || self.max_rate < 1.0 {
            return Err(bad(
                "maxRate",
                format!("{} must be at least 1 request a second", self.max_rate),
            ));
        }
        if self.max_workers == 0 {
            return Err(bad("maxWorkers", "must be at least 1"));
        }
        if self.max_duration.is_zero() {
            return Err(bad("maxDuration", "must be above 0"));
        }
        if self.max_concurrent_tests == 0 {
            return Err(bad("maxConcurrentTests", "must be at least 1"));
        }
        Ok(self)
    }

    fn beyond(
        &self,
        field: &str,
        limit: &str,
        asked: impl std::fmt::Display,
        allowed: impl std::fmt::Display,
    ) -> PlanError {
        bad(
            field,
            format!(
                "{asked} is beyond the organisation's limit {limit} ({allowed}): ask its administrator to raise it"
            ),
        )
    }

    /// A plan and its fleet against the limits, with `running` the organisation's tests already running.
    pub fn check_plan(&self, plan: &ValidPlan, fleet: &Fleet, running: u64) -> Result<(), PlanError> {
        let peak = plan.schedule.peak_rate();
        if peak > self.max_rate {
            return Err(self.beyond("rate", "maxRate", format!("{peak} requests a second"), self.max_rate));
        }
        let duration = plan.schedule.duration();
        if duration > self.max_duration {
            return Err(self.beyond(
                "duration",
                "maxDuration",
                humantime::format_duration(duration),
                humantime::format_duration(self.max_duration),
            ));
        }
        let workers = fleet.calls.len() as u64;
        if workers > self.max_workers {
            return Err(self.beyond("regions", "maxWorkers", format!("{workers} workers"), self.max_workers));
        }
        if running >= self.max_concurrent_tests {
            return Err(self.beyond(
                "testId",
                "maxConcurrentTests",
                format!("a test beside the {running} running"),
                self.max_concurrent_tests,
            ));
        }
        Ok(())
    }

    /// A User Call against the limits, as the worker checks it: the load it belongs to (its whole schedule,
    /// which every worker of a fleet carries) at most `maxRate` at its peak, and at most `maxDuration` long.
    pub fn check_call(&self, call: &ValidCall) -> Result<(), CallError> {
        let beyond = |field: &str, e: PlanError| CallError {
            field: field.to_owned(),
            problem: e.problem,
        };
        let peak = call.schedule.peak_rate();
        if peak > self.max_rate {
            let field = if call.call.stages.is_some() {
                "stages"
            } else if call.call.ramp.is_some() {
                "ramp"
            } else {
                "rate"
            };
            return Err(beyond(
                field,
                self.beyond(field, "maxRate", format!("{peak} requests a second"), self.max_rate),
            ));
        }
        let duration = call.schedule.duration();
        if duration > self.max_duration {
            let field = if call.call.stages.is_some() {
                "stages"
            } else {
                "duration"
            };
            return Err(beyond(
                field,
                self.beyond(
                    field,
                    "maxDuration",
                    humantime::format_duration(duration),
                    humantime::format_duration(self.max_duration),
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::model::call::UserCall;
    use crate::model::plan::TestPlan;

    fn plan(rate: u64, duration: &str) -> (ValidPlan, Fleet) {
        let plan = TestPlan::from_json(&serde_json::json!({
            "organisationId": "acme", "testId": "t1", "homeRegion": "eu-west-1",
            "request": {"url": "http://example.com/"},
            "rate": rate, "duration": duration, "maxWorkerRate": 100,
            "regions": [{"region": "eu-west-1", "share": 1}, {"region": "us-east-1", "share": 1}]
        }))
        .and_then(TestPlan::validate)
        .unwrap_or_else(|e| panic!("{e}"));
        let fleet = plan.fleet(SystemTime::UNIX_EPOCH).unwrap_or_else(|e| panic!("{e}"));
        (plan, fleet)
    }

    fn limits() -> OrganisationLimits {
        OrganisationLimits {
            max_rate: 1000.0,
            max_workers: 6,
            max_duration: Duration::from_secs(60),
            max_concurrent_tests: 2,
        }
    }

    #[test]
    fn a_plan_within_the_limits_passes_and_each_beyond_one_is_refused_naming_it() {
        let (p, f) = plan(600, "1m");
        assert_eq!(limits().check_plan(&p, &f, 1), Ok(()));
        for ((rate, duration, running), field, limit) in [
            ((1001, "1m", 0), "rate", "maxRate (1000)"),
            ((600, "61s", 0), "duration", "maxDuration (1m)"),
            ((800, "1m", 0), "regions", "maxWorkers (6)"),
            ((600, "1m", 2), "testId", "maxConcurrentTests (2)"),
        ] {
            let (p, f) = plan(rate, duration);
            let e = limits()
                .check_plan(&p, &f, running)
                .err()
                .unwrap_or_else(|| panic!("{rate} {duration} passed"));
            assert_eq!(e.field, field, "{e}");
            assert!(e.problem.contains(limit), "{e}");
        }
    }

    #[test]
    fn the_worker_refuses_a_call_whose_load_is_beyond_the_limits() {
        let call = |detail: serde_json::Value| {
            UserCall::from_json(&detail)
                .and_then(UserCall::validate)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let base = serde_json::json!({"testId": "t1", "organisationId": "acme", "callId": "c1",
            "request": {"url": "http://example.com/"}, "rate": 1000, "duration": "1m"});
        assert_eq!(limits().check_call(&call(base.clone())), Ok(()));
        let mut fast = base.clone();
        fast["rate"] = 4000.into();
        // A share does not hide the load it belongs to.
        fast["share"] = serde_json::json!({"period": 4, "offsets": [0]});
        let e = limits()
            .check_call(&call(fast))
            .err()
            .unwrap_or_else(|| panic!("passed"));
        assert_eq!(e.field, "rate");
        assert!(e.problem.contains("maxRate (1000)"), "{e}");
        let mut long = base;
        long["duration"] = "2m".into();
        let e = limits()
            .check_call(&call(long))
            .err()
            .unwrap_or_else(|| panic!("passed"));
        assert_eq!(e.field, "duration");
    }

    #[test]
    fn limits_read_as_json_and_bad_ones_are_named() {
        let read: OrganisationLimits = serde_json::from_value(serde_json::json!(
            {"maxRate": 500, "maxWorkers": 4, "maxDuration": "5m", "maxConcurrentTests": 1}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.max_duration, Duration::from_secs(300));
        let round: OrganisationLimits = serde_json::to_value(&read)
            .and_then(serde_json::from_value)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(round, read);
        for (limits, field) in [
            (
                OrganisationLimits {
                    max_rate: 0.0,
                    ..limits()
                },
                "maxRate",
            ),
            (
                OrganisationLimits {
                    max_rate: f64::NAN,
                    ..limits()
                },
                "maxRate",
            ),
            (
                OrganisationLimits {
                    max_workers: 0,
                    ..limits()
                },
                "maxWorkers",
            ),
            (
                OrganisationLimits {
                    max_duration: Duration::ZERO,
                    ..limits()
                },
                "maxDuration",
            ),
            (
                OrganisationLimits {
                    max_concurrent_tests: 0,
                    ..limits()
                },
                "maxConcurrentTests",
            ),
        ] {
            assert_eq!(limits.checked().err().map(|e| e.field), Some(field.to_owned()));
        }
    }
}
