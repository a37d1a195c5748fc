//! Suites: declarative TOML files in `functions/run-load/suites/`, compiled into the binary (so the package
//! carries them). A suite has weighted tasks (method, path, headers, a body template), a task each user runs
//! once on start, a wait range between tasks, a failure limit and the compare thresholds.
//!
//! Templates know three variables: `{{username}}` (letters, fixed per simulated user), `{{letters}}` (fresh
//! random letters) and `{{past_date}}` (a random date between 1 and 80 years ago, `YYYY-MM-DD`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;
use thiserror::Error;

/// The longest wait between a user's tasks (`wait.max`): a think time, not a pause; a run lasts at most 15
/// minutes.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// The most tasks a suite may have.
pub const MAX_TASKS: usize = 100;
/// The largest weight of one task: with at most [`MAX_TASKS`] tasks, the weights' sum stays far inside a
/// `u32`.
pub const MAX_WEIGHT: u32 = 1000;
/// The largest threshold, in percent (percentage points for the failure ratio): a rise of ten times the
/// baseline.
pub const MAX_THRESHOLD: f64 = 1000.0;

/// Every suite packaged with the function: (name, TOML).
pub const PACKAGED: &[(&str, &str)] = &[("greeter", include_str!("../suites/greeter.toml"))];

/// Why a suite cannot be used.
#[derive(Debug, Error)]
pub enum SuiteError {
    #[error("suite {name:?} is unknown; the packaged suites are: {known}")]
    Unknown { name: String, known: String },
    #[error("suite {name:?} is invalid: {reason}")]
    Invalid { name: String, reason: String },
}

/// Warn and fail limits of one comparison, in percent (percentage points for the failure ratio).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub warn: f64,
    pub fail: f64,
}

/// How much worse than the baseline a run may be.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Rise of p95 latency, percent.
    pub p95: Limits,
    /// Rise of p99 latency, percent.
    pub p99: Limits,
    /// Rise of the failure ratio, percentage points (a baseline often has none, so a relative rise would
    /// say nothing).
    pub failure_ratio: Limits,
    /// Fall of requests per second, percent.
    pub rps: Limits,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            p95: Limits { warn: 10.0, fail: 25.0 },
            p99: Limits { warn: 15.0, fail: 50.0 },
            failure_ratio: Limits { warn: 0.5, fail: 1.0 },
            rps: Limits { warn: 10.0, fail: 25.0 },
        }
    }
}

/// One kind of request a simulated user makes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub name: String,
    #[serde(default = "one")]
    pub weight: u32,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitText {
    min: String,
    max: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    description: String,
    wait: WaitText,
    #[serde(default)]
    on_start: Option<String>,
    #[serde(default = "default_failure_limit")]
    failure_limit_percent: f64,
    #[serde(default)]
    thresholds: Thresholds,
    tasks: Vec<Task>,
}

fn default_failure_limit() -> f64 {
    1.0
}

/// A suite, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    pub name: String,
    pub description: String,
    pub wait_min: Duration,
    pub wait_max: Duration,
    /// The index of the task each user runs once before the others.
    pub on_start: Option<usize>,
    /// A failure ratio above this (percent) fails the run.
    pub failure_limit_percent: f64,
    pub thresholds: Thresholds,
    pub tasks: Vec<Task>,
}

impl Suite {
    /// A packaged suite by name.
    pub fn packaged(name: &str) -> Result<Self, SuiteError> {
        let (_, text) = PACKAGED
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| SuiteError::Unknown {
                name: name.to_owned(),
                known: PACKAGED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            })?;
        Self::parse(name, text)
    }

    /// Reads and checks a suite's TOML.
    pub fn parse(name: &str, text: &str) -> Result<Self, SuiteError> {
        let invalid = |reason: String| SuiteError::Invalid {
            name: name.to_owned(),
            reason,
        };
        let file: SuiteFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let duration = |field: &str, text: &str| {
            humantime::parse_duration(text).map_err(|e| invalid(format!("wait.{field}: {text:?}: {e}")))
        };
        let (wait_min, wait_max) = (duration("min", &file.wait.min)?, duration("max", &file.wait.max)?);
        if wait_min > wait_max {
            return Err(invalid("wait.min is above wait.max".into()));
        }
        if wait_max > MAX_WAIT {
            return Err(invalid(format!(
                "wait.max: {:?} is above {}",
                file.wait.max,
                humantime::format_duration(MAX_WAIT)
            )));
        }
        if file.tasks.is_empty() || file.tasks.iter().all(|t| t.weight == 0) {
            return Err(invalid("it needs at least one task with a weight above 0".into()));
        }
        if file.tasks.len() > MAX_TASKS {
            return Err(invalid(format!(
                "tasks: {} tasks is more than {MAX_TASKS}",
                file.tasks.len()
            )));
        }
        if !(0.0..=100.0).contains(&file.failure_limit_percent) {
            return Err(invalid(format!(
                "failure_limit_percent: {} must be from 0 to 100",
                file.failure_limit_percent
            )));
        }
        let t = &file.thresholds;
        for (field, limits) in [
            ("p95", t.p95),
            ("p99", t.p99),
            ("failure_ratio", t.failure_ratio),
            ("rps", t.rps),
        ] {
            for (end, value) in [("warn", limits.warn), ("fail", limits.fail)] {
                if !(0.0..=MAX_THRESHOLD).contains(&value) {
                    return Err(invalid(format!(
                        "thresholds.{field}.{end}: {value} must be from 0 to {MAX_THRESHOLD}"
                    )));
                }
            }
        }
        for task in &file.tasks {
            if task.weight > MAX_WEIGHT {
                return Err(invalid(format!(
                    "task {:?}: weight {} is above {MAX_WEIGHT}",
                    task.name, task.weight
                )));
            }
            http::Method::from_bytes(task.method.as_bytes())
                .map_err(|_| invalid(format!("task {:?}: {:?} is not an HTTP method", task.name, task.method)))?;
            if !task.path.starts_with('/') {
                return Err(invalid(format!("task {:?}: the path must start with '/'", task.name)));
            }
        }
        let on_start = match &file.on_start {
            None => None,
            Some(start) => Some(
                file.tasks
                    .iter()
                    .position(|t| &t.name == start)
                    .ok_or_else(|| invalid(format!("on_start names {start:?}, which is not a task")))?,
            ),
        };
        Ok(Self {
            name: name.to_owned(),
            description: file.description,
            wait_min,
            wait_max,
            on_start,
            failure_limit_percent: file.failure_limit_percent,
            thresholds: file.thresholds,
            tasks: file.tasks,
        })
    }

    /// A task index drawn by weight.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> usize {
        let total: u32 = self.tasks.iter().map(|t| t.weight).sum();
        let mut ticket = rng.u32(0..total.max(1));
        for (i, task) in self.tasks.iter().enumerate() {
            if ticket < task.weight {
                return i;
            }
            ticket -= task.weight;
        }
        0
    }

    /// A wait drawn from the suite's range.
    pub fn wait(&self, rng: &mut fastrand::Rng) -> Duration {
        let (min, max) = (self.wait_min.as_millis() as u64, self.wait_max.as_millis() as u64);
        Duration::from_millis(rng.u64(min..=max))
    }
}

/// Random letters.
pub fn letters(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| rng.alphabetic()).collect()
}

/// Fills a template's variables for one request of a user called `username`, on `today`.
pub fn render(template: &str, username: &str, today: NaiveDate, rng: &mut fastrand::Rng) -> String {
    let mut out = template.replace("{{username}}", username);
    while let Some(at) = out.find("{{letters}}") {
        out.replace_range(at..at + "{{letters}}".len(), &letters(rng, 10));
    }
    while let Some(at) = out.find("{{past_date}}") {
        let days = rng.u64(365..=80 * 365);
        let date = today - chrono::Days::new(days);
        out.replace_range(at..at + "{{past_date}}".len(), &date.format("%Y-%m-%d").to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_greeter_suite_reads() {
        let suite = Suite::packaged("greeter").unwrap_or_else(|e| panic!("{e}"));
        assert!(suite.tasks.len() >= 2);
        assert_eq!(suite.on_start.map(|i| suite.tasks[i].method.as_str()), Some("PUT"));
        assert_eq!(suite.failure_limit_percent, 1.0);
    }

    #[test]
    fn unknown_and_invalid_suites_say_why() {
        let unknown = Suite::packaged("nope").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            unknown.contains("\"nope\" is unknown") && unknown.contains("greeter"),
            "{unknown}"
        );
        for (text, needle) in [
            (
                "description = 'x'\nwait = {min = '1s', max = '2s'}\ntasks = []",
                "at least one task",
            ),
            (
                "description = 'x'\nwait = {min = '3s', max = '2s'}\n[[tasks]]\nname='a'\nmethod='GET'\npath='/'",
                "above wait.max",
            ),
            (
                "description = 'x'\nwait = {min = '1s', max = '2s'}\n[[tasks]]\nname='a'\nmethod='G T'\npath='/'",
                "not an HTTP method",
            ),
            (
                "description = 'x'\nwait = {min = '1s', max = '2s'}\non_start = 'b'\n[[tasks]]\nname='a'\nmethod='GET'\npath='/'",
                "not a task",
            ),
            (
                "description = 'x'\nwait = {min = '1s', max = '2s'}\n[[tasks]]\nname='a'\nmethod='GET'\npath='x'",
                "start with '/'",
            ),
            (
                "description = 'x'\nwait = {min = 'soon', max = '2s'}\n[[tasks]]\nname='a'\nmethod='GET'\npath='/'",
                "wait.min",
            ),
            (
                "description = 'x'\nwait = {min = '1s', max = '100000000h'}\n[[tasks]]\nname='a'\nmethod='GET'\npath='/'",
                "wait.max: \"100000000h\" is above 1m",
            ),
            (
                "description = 'x'\nwait = {min = '1s', max = '2s'}\n[[tasks]]\nname='a'\nweight=4294967295\nmethod='GET'\npath='/'\n[[tasks]]\nname='b'\nweight=1\nmethod='GET'\npath='/'",
                "weight 4294967295 is above 1000",
            ),
            (
                "description = 'x'\nwait = {min = '1s', max = '2s'}\nfailure_limit_percent = 101\n[[tasks]]\nname='a'\nmethod='GET'\npath='/'",
                "failure_limit_percent: 101 must be from 0 to 100",
            ),
            (
                "description = 'x'\nwait = {min = '1s', max = '2s'}\nthresholds = {p99 = {warn = 10, fail = inf}}\n[[tasks]]\nname='a'\nmethod='GET'\npath='/'",
                "thresholds.p99.fail: inf must be from 0 to 1000",
            ),
            (
                "description = 'x'\nwait = {min = '1s', max = '2s'}\nthresholds = {rps = {warn = nan, fail = 25}}\n[[tasks]]\nname='a'\nmethod='GET'\npath='/'",
                "thresholds.rps.warn: NaN must be from 0 to 1000",
            ),
        ] {
            let error = Suite::parse("t", text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(needle), "{error:?} should say {needle:?}");
        }
    }

    #[test]
    fn a_suite_of_more_tasks_than_the_bound_is_refused() {
        let task = "[[tasks]]\nname='a'\nmethod='GET'\npath='/'\n";
        let text = |n: usize| {
            format!(
                "description = 'x'\nwait = {{min = '1s', max = '1m'}}\n{}",
                task.repeat(n)
            )
        };
        assert!(Suite::parse("t", &text(MAX_TASKS)).is_ok());
        let error = Suite::parse("t", &text(MAX_TASKS + 1))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("tasks: 101 tasks is more than 100"), "{error:?}");
    }

    #[test]
    fn templates_fill_their_variables() {
        let mut rng = fastrand::Rng::with_seed(7);
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        let out = render(
            r#"/hello/{{username}} {"dateOfBirth": "{{past_date}}"} {{letters}}"#,
            "Zoe",
            today,
            &mut rng,
        );
        assert!(out.starts_with("/hello/Zoe {\"dateOfBirth\": \""), "{out}");
        let date = &out[out.find("\": \"").map_or(0, |i| i + 4)..][..10];
        let parsed = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap_or_default();
        assert!(parsed < today && parsed > today - chrono::Days::new(81 * 365), "{date}");
        assert!(!out.contains("{{"), "{out}");
    }

    #[test]
    fn tasks_are_picked_by_weight() {
        let suite = Suite::packaged("greeter").unwrap_or_else(|e| panic!("{e}"));
        let mut rng = fastrand::Rng::with_seed(1);
        let mut counts = vec![0u32; suite.tasks.len()];
        for _ in 0..10_000 {
            counts[suite.pick(&mut rng)] += 1;
        }
        let total: u32 = suite.tasks.iter().map(|t| t.weight).sum();
        for (task, count) in suite.tasks.iter().zip(&counts) {
            let expected = 10_000.0 * f64::from(task.weight) / f64::from(total);
            assert!(
                (f64::from(*count) - expected).abs() < expected * 0.1 + 50.0,
                "{task:?}: {count}"
            );
        }
    }
}
