//! Suites: declarative TOML. A suite has weighted tasks (method, path, headers, a body template), a task each
//! user runs once on start, a wait range between tasks, a failure limit and the compare thresholds.
//!
//! A suite comes from one of three places ([`Source`]): packaged (`functions/run-load/suites/`, compiled into
//! the binary: the examples), stored (a key in the results bucket under `suites/<organisation>/`, or its
//! `s3://` URL), or inline (the request's `suite` object, the TOML file's fields as JSON). All three are read
//! by the one [`Suite::from_file`] check, so the rules and the errors are the same.
//!
//! Templates (paths, header values and bodies) know `{{username}}` (letters, fixed per simulated user),
//! `{{letters}}` (fresh random letters), `{{past_date}}` (a random date between 1 and 80 years ago,
//! `YYYY-MM-DD`) and, when the suite names a CSV file (`data = "users.csv"`, beside the suite), `{{data.<column>}}`:
//! a feeder, as k6 and Locust users know them. Each simulated user walks its own rows: user `u` of `U` takes
//! rows `u`, `u + U`, `u + 2U`, … (starting again at its first), the next one at each task; with fewer rows
//! than users, user `u` keeps row `u mod rows`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;
use thiserror::Error;
use volley_core::model::payload;
use volley_core::model::run::SuiteRef;
use volley_core::ports::ResultArchive;

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
pub const PACKAGED: &[(&str, &str)] = &[
    ("greeter", include_str!("../suites/greeter.toml")),
    ("greeter-feeder", include_str!("../suites/greeter-feeder.toml")),
];
/// The data files packaged beside them: (file name, CSV).
pub const PACKAGED_DATA: &[(&str, &str)] = &[("greeter-users.csv", include_str!("../suites/greeter-users.csv"))];
/// The largest suite or data file read from the bucket.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The most rows a data file may have.
pub const MAX_ROWS: usize = 100_000;
/// Where an organisation's stored suites live in the results bucket.
pub fn stored_prefix(organisation: &str) -> String {
    format!("suites/{organisation}/")
}

/// Why a suite cannot be used. Each names the suite, and the field at fault.
#[derive(Debug, Error)]
pub enum SuiteError {
    #[error(
        "suite: {name:?} is unknown; the packaged suites are {known}, or name a key under {prefix} in the results bucket"
    )]
    Unknown {
        name: String,
        known: String,
        prefix: String,
    },
    #[error("suite {name:?} is invalid: {reason}")]
    Invalid { name: String, reason: String },
    #[error("suite: {reference:?} is not {expected}")]
    Elsewhere { reference: String, expected: String },
    #[error("suite: {key:?} is not in the results bucket")]
    Missing { key: String },
    #[error("suite: reading {key:?} failed")]
    Store {
        key: String,
        #[source]
        source: volley_core::ports::StoreError,
    },
}

/// Where a suite comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Compiled in: `functions/run-load/suites/<name>.toml`.
    Packaged(String),
    /// A key in the results bucket, under `suites/<organisation>/`.
    Stored(String),
    /// The request's own object.
    Inline(serde_json::Map<String, serde_json::Value>),
}

impl Source {
    /// Where `suite` names, for `organisation`, whose stored suites are under [`stored_prefix`] in `bucket`.
    pub fn of(suite: &SuiteRef, organisation: &str, bucket: &str) -> Result<Self, SuiteError> {
        let prefix = stored_prefix(organisation);
        let text = match suite {
            SuiteRef::Inline(fields) => return Ok(Self::Inline(fields.clone())),
            SuiteRef::Named(text) => text,
        };
        let key = match text.strip_prefix("s3://") {
            Some(rest) => {
                let (named, key) = rest.split_once('/').unwrap_or((rest, ""));
                if named != bucket {
                    return Err(SuiteError::Elsewhere {
                        reference: text.clone(),
                        expected: format!("in the results bucket, s3://{bucket}/{prefix}..."),
                    });
                }
                key
            }
            None if !text.contains('/') => return Ok(Self::Packaged(text.clone())),
            None => text.as_str(),
        };
        if !key.starts_with(&prefix) || key.len() == prefix.len() || key.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(SuiteError::Elsewhere {
                reference: text.clone(),
                expected: format!("a key under {prefix} (the organisation's own suites)"),
            });
        }
        Ok(Self::Stored(key.to_owned()))
    }

    /// The suite's name, as runs are compared by it: the packaged name, the key, or `inline-` and the first
    /// 12 hex digits of the inline suite's fingerprint (the same inline suite compares with itself).
    pub fn name(&self) -> String {
        match self {
            Self::Packaged(name) => name.clone(),
            Self::Stored(key) => key.clone(),
            Self::Inline(fields) => {
                let print = volley_core::model::run::fingerprint(&serde_json::Value::Object(fields.clone()));
                format!("inline-{}", &print[..12])
            }
        }
    }

    /// Reads the suite and the data file it names, and checks both.
    pub async fn load(&self, archive: &dyn ResultArchive) -> Result<Suite, SuiteError> {
        let name = self.name();
        let invalid = |reason: String| SuiteError::Invalid {
            name: name.clone(),
            reason,
        };
        let (file, beside): (SuiteFile, Option<String>) = match self {
            Self::Packaged(packaged) => return Suite::packaged(packaged),
            Self::Stored(key) => {
                let text = read(archive, key).await?;
                let dir = key.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned();
                (toml::from_str(&text).map_err(|e| invalid(e.to_string()))?, Some(dir))
            }
            Self::Inline(fields) => {
                let value = serde_json::Value::Object(fields.clone());
                let file: SuiteFile = payload::parse(&value).map_err(|e| invalid(e.to_string()))?;
                (file, None)
            }
        };
        let data = match &file.data {
            None => None,
            Some(data_file) => {
                let text = match (self, &beside) {
                    (_, Some(dir)) if !data_file.contains('/') => read(archive, &format!("{dir}/{data_file}")).await?,
                    (Self::Inline(_), _) if data_file.starts_with("suites/") => read(archive, data_file).await?,
                    _ => {
                        return Err(invalid(format!(
                            "data: {data_file:?} must be a file name beside the suite (an inline suite names a key \
                             under suites/<organisation>/)"
                        )));
                    }
                };
                Some(Data::parse(&text).map_err(|e| invalid(format!("data: {data_file}: {e}")))?)
            }
        };
        Suite::from_file(&name, file, data)
    }
}

/// A file of the bucket as text, at most [`MAX_FILE_BYTES`].
async fn read(archive: &dyn ResultArchive, key: &str) -> Result<String, SuiteError> {
    let bytes = archive
        .get(key)
        .await
        .map_err(|source| SuiteError::Store {
            key: key.to_owned(),
            source,
        })?
        .ok_or_else(|| SuiteError::Missing { key: key.to_owned() })?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(SuiteError::Invalid {
            name: key.to_owned(),
            reason: format!("{} bytes is more than {MAX_FILE_BYTES}", bytes.len()),
        });
    }
    String::from_utf8(bytes).map_err(|_| SuiteError::Invalid {
        name: key.to_owned(),
        reason: "it is not UTF-8 text".into(),
    })
}

/// A feeder's rows: the header's column names, and each row's values in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Data {
    /// Reads CSV with a header row: at least one row, at most [`MAX_ROWS`], every row as wide as the header.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|c| c.trim().to_owned())
            .collect();
        if let Some(bad) = columns.iter().find(|c| !is_column(c)) {
            return Err(format!(
                "column {bad:?}: a column name is 1 to 64 letters, digits or '_'"
            ));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| e.to_string())?;
            if rows.len() == MAX_ROWS {
                return Err(format!("more than {MAX_ROWS} rows"));
            }
            rows.push(record.iter().map(str::to_owned).collect());
        }
        if rows.is_empty() {
            return Err("it has a header and no rows".into());
        }
        Ok(Self { columns, rows })
    }

    /// The row user `user` of `users` takes at its `step`-th task: its own rows in turn.
    pub fn row_of(&self, user: usize, users: usize, step: usize) -> &[String] {
        let (rows, users) = (self.rows.len(), users.max(1));
        let index = if rows >= users {
            let own = (rows - user % users).div_ceil(users);
            user % users + (step % own.max(1)) * users
        } else {
            user % rows
        };
        &self.rows[index.min(rows - 1)]
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

fn is_column(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
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
    /// A CSV file beside the suite, for `{{data.<column>}}`.
    #[serde(default)]
    data: Option<String>,
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
    /// The feeder's rows, when the suite names a data file.
    pub data: Option<Data>,
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
                prefix: "suites/<organisation>/".into(),
            })?;
        Self::parse(name, text)
    }

    /// Reads and checks a packaged suite's TOML (its data file, if any, packaged beside it).
    pub fn parse(name: &str, text: &str) -> Result<Self, SuiteError> {
        let invalid = |reason: String| SuiteError::Invalid {
            name: name.to_owned(),
            reason,
        };
        let file: SuiteFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let data = match &file.data {
            None => None,
            Some(data_file) => {
                let (_, text) = PACKAGED_DATA
                    .iter()
                    .find(|(n, _)| n == data_file)
                    .ok_or_else(|| invalid(format!("data: {data_file:?} is not a packaged data file")))?;
                Some(Data::parse(text).map_err(|e| invalid(format!("data: {data_file}: {e}")))?)
            }
        };
        Self::from_file(name, file, data)
    }

    /// Checks a suite file (and its data): the one check of every suite, whatever its source.
    fn from_file(name: &str, file: SuiteFile, data: Option<Data>) -> Result<Self, SuiteError> {
        let invalid = |reason: String| SuiteError::Invalid {
            name: name.to_owned(),
            reason,
        };
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
            for (name, value) in &task.headers {
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() || http::HeaderValue::from_str(value).is_err()
                {
                    return Err(invalid(format!(
                        "task {:?}: headers.{name}: not a valid HTTP header name and value",
                        task.name
                    )));
                }
            }
            let templates = std::iter::once(("path", task.path.as_str()))
                .chain(task.body.as_deref().map(|b| ("body", b)))
                .chain(task.headers.iter().map(|(name, value)| (name.as_str(), value.as_str())));
            for (field, template) in templates {
                for column in data_columns(template) {
                    match &data {
                        Some(data) if data.column(column).is_some() => {}
                        Some(data) => {
                            return Err(invalid(format!(
                                "task {:?}: {field}: {{{{data.{column}}}}} names no column of the data file (it has {})",
                                task.name,
                                data.columns.join(", ")
                            )));
                        }
                        None => {
                            return Err(invalid(format!(
                                "task {:?}: {field}: {{{{data.{column}}}}} needs a data file (data = \"<file>.csv\")",
                                task.name
                            )));
                        }
                    }
                }
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
            data,
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

/// The columns a template names as `{{data.<column>}}`.
fn data_columns(template: &str) -> impl Iterator<Item = &str> {
    template
        .split("{{data.")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(column, _)| column))
}

/// What one request's template is filled with: the user's name, the day, and the user's current data row.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    pub username: &'a str,
    pub today: NaiveDate,
    pub row: Option<(&'a Data, &'a [String])>,
}

/// Fills a template's variables for one request.
pub fn render(template: &str, vars: &Vars<'_>, rng: &mut fastrand::Rng) -> String {
    let mut out = template.replace("{{username}}", vars.username);
    if let Some((data, row)) = vars.row {
        for (column, value) in data.columns.iter().zip(row) {
            out = out.replace(&format!("{{{{data.{column}}}}}"), value);
        }
    }
    let today = vars.today;
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
                "description = 'x'\nwait = {min = '1s', max = '2s'}\n[[tasks]]\nname='a'\nmethod='GET'\npath='/'\nheaders = {'a b' = 'x'}",
                "headers.a b: not a valid HTTP header",
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
        let vars = Vars {
            username: "Zoe",
            today,
            row: None,
        };
        let out = render(
            r#"/hello/{{username}} {"dateOfBirth": "{{past_date}}"} {{letters}}"#,
            &vars,
            &mut rng,
        );
        assert!(out.starts_with("/hello/Zoe {\"dateOfBirth\": \""), "{out}");
        let date = &out[out.find("\": \"").map_or(0, |i| i + 4)..][..10];
        let parsed = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap_or_default();
        assert!(parsed < today && parsed > today - chrono::Days::new(81 * 365), "{date}");
        assert!(!out.contains("{{"), "{out}");
    }

    #[test]
    fn data_columns_fill_from_the_users_row() {
        let data = Data::parse("name,token\nAda,t-1\nGrace,t-2\n").unwrap_or_else(|e| panic!("{e}"));
        let vars = Vars {
            username: "u",
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
            row: Some((&data, data.row_of(1, 2, 0))),
        };
        let out = render(
            "/hello/{{data.name}}?t={{data.token}}",
            &vars,
            &mut fastrand::Rng::with_seed(1),
        );
        assert_eq!(out, "/hello/Grace?t=t-2");
    }

    #[test]
    fn each_user_walks_its_own_rows_in_turn() {
        let text: String = std::iter::once("n\n".to_owned())
            .chain((0..7).map(|i| format!("{i}\n")))
            .collect();
        let data = Data::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let walk = |user: usize, users: usize| -> Vec<String> {
            (0..6).map(|step| data.row_of(user, users, step)[0].clone()).collect()
        };
        // Seven rows, three users: 0, 3, 6 / 1, 4 / 2, 5.
        assert_eq!(walk(0, 3), ["0", "3", "6", "0", "3", "6"]);
        assert_eq!(walk(1, 3), ["1", "4", "1", "4", "1", "4"]);
        assert_eq!(walk(2, 3), ["2", "5", "2", "5", "2", "5"]);
        // More users than rows: each keeps one row.
        assert_eq!(walk(9, 10), ["2"; 6]);
    }

    #[test]
    fn a_data_file_is_read_with_its_bounds() {
        for (text, says) in [
            ("name\n", "no rows"),
            ("na me\nx\n", "column \"na me\""),
            ("a,b\n1\n", "found record with 1 field"),
        ] {
            let error = Data::parse(text).err().unwrap_or_default();
            assert!(error.contains(says), "{text:?}: {error:?} should say {says:?}");
        }
    }

    #[test]
    fn a_template_naming_no_column_or_no_data_is_refused() {
        let suite = |data: &str, path: &str| {
            format!(
                "description = 'x'\n{data}wait = {{min = '1s', max = '2s'}}\n[[tasks]]\nname='a'\nmethod='GET'\npath='{path}'"
            )
        };
        let error = Suite::parse("t", &suite("", "/{{data.name}}"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("task \"a\": path: {{data.name}} needs a data file"),
            "{error}"
        );
        let error = Suite::parse("t", &suite("data = 'greeter-users.csv'\n", "/{{data.nope}}"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("{{data.nope}} names no column of the data file (it has name, born)"),
            "{error}"
        );
        let error = Suite::parse("t", &suite("data = 'missing.csv'\n", "/"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("data: \"missing.csv\" is not a packaged data file"),
            "{error}"
        );
    }

    #[test]
    fn a_suite_is_named_by_a_packaged_name_a_key_of_its_organisation_or_a_url_in_the_bucket() {
        let of = |text: &str| Source::of(&SuiteRef::Named(text.into()), "acme", "results");
        assert_eq!(of("greeter").ok(), Some(Source::Packaged("greeter".into())));
        assert_eq!(
            of("suites/acme/checkout.toml").ok(),
            Some(Source::Stored("suites/acme/checkout.toml".into()))
        );
        assert_eq!(
            of("s3://results/suites/acme/a/b.toml").ok(),
            Some(Source::Stored("suites/acme/a/b.toml".into()))
        );
        for (text, says) in [
            (
                "s3://other/suites/acme/x.toml",
                "in the results bucket, s3://results/suites/acme/",
            ),
            ("suites/globex/x.toml", "a key under suites/acme/"),
            ("suites/acme/../globex/x.toml", "a key under suites/acme/"),
            ("suites/acme/", "a key under suites/acme/"),
            ("runs/x.toml", "a key under suites/acme/"),
        ] {
            let error = of(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(says), "{text}: {error:?} should say {says:?}");
        }
        let inline = Source::of(&SuiteRef::Inline(serde_json::Map::new()), "acme", "results")
            .map(|s| s.name())
            .unwrap_or_default();
        assert!(inline.starts_with("inline-") && inline.len() == 19, "{inline}");
    }

    #[test]
    fn the_packaged_feeder_suite_reads_with_its_data() {
        let suite = Suite::packaged("greeter-feeder").unwrap_or_else(|e| panic!("{e}"));
        let data = suite.data.unwrap_or_else(|| panic!("no data"));
        assert_eq!(data.columns, ["name", "born"]);
        assert_eq!(data.rows.len(), 8);
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
