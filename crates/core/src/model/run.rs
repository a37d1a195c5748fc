//! run-load's contract: the request it reads from a synchronous invoke and the answer it returns. Defined
//! once, here; functions/run-load reads the one and writes the other, and the demo driver (or anyone who
//! invokes run-load) writes the one and reads the other.
//!
//! The request is snake case, as people type it into `aws lambda invoke`:
//!
//! ```json
//! {"suite": "greeter", "host": "https://api.acme.example", "users": 10, "spawn_rate": 5,
//!  "spawned_runtime": "1m", "only_summary": true,
//!  "compare": {"type": "previous", "tag": "nightly", "load_limit": 5}, "store": {"tags": ["nightly"]},
//!  "organisation_id": "acme", "run_id": "nightly-2026-11-23"}
//! ```
//!
//! Unknown fields are refused (read it with [`crate::model::payload::parse`]); the answer's readers accept
//! fields they do not know, so the answer can grow.

use serde::{Deserialize, Serialize};

/// What a synchronous invoke asks run-load to do: the payload as written, before run-load checks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Which suite to run: a packaged suite's name (`greeter`), a key in the results bucket under
    /// `suites/<organisation>/` (or its `s3://<bucket>/...` URL), or the suite itself, inline, as a JSON
    /// object with the TOML file's fields.
    pub suite: SuiteRef,
    /// The base URL the suite's paths are joined to.
    pub host: String,
    /// Users started a second.
    pub spawn_rate: f64,
    pub users: i64,
    /// humantime, after the last user started: "1m30s".
    pub spawned_runtime: String,
    /// Log a summary only, not a stats line every few seconds.
    #[serde(default)]
    pub only_summary: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreRequest>,
    /// Whose validated domains the host must belong to; run-load's `ORGANISATION_ID` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<String>,
    /// The caller's id for this run (an identifier): a retry with the same id answers the first run's
    /// answer (or that it is running) and never runs again. Without one, every invoke is a new run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// A request's fingerprint: the SHA-256 (hex) of its payload as JSON with its keys in order, so the same
/// request written in another order has the same fingerprint, and a run id reused for another request is
/// told apart.
pub fn fingerprint(payload: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    // serde_json's maps keep their keys sorted (no `preserve_order`), so this text is canonical.
    hex::encode(Sha256::digest(payload.to_string().as_bytes()))
}

/// A suite, as a request names it: by name, key or URL (text), or inline (an object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SuiteRef {
    Named(String),
    Inline(serde_json::Map<String, serde_json::Value>),
}

impl From<&str> for SuiteRef {
    fn from(name: &str) -> Self {
        Self::Named(name.to_owned())
    }
}

/// Which baseline to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CompareType {
    /// The latest stored run.
    Previous,
    /// The last `load_limit` runs, histograms merged.
    Average,
}

impl CompareType {
    /// As it is written in the request: `previous` or `average`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Previous => "previous",
            Self::Average => "average",
        }
    }
}

impl std::fmt::Display for CompareType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compare the run with stored runs of `tag` and the same shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareRequest {
    #[serde(rename = "type")]
    pub kind: CompareType,
    pub tag: String,
    /// How many runs `average` merges; absent or `null` means [`DEFAULT_LOAD_LIMIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_limit: Option<i64>,
}

impl CompareRequest {
    /// How many runs `average` merges: the request's number, or the default.
    pub fn load_limit(&self) -> i64 {
        self.load_limit.unwrap_or(DEFAULT_LOAD_LIMIT)
    }
}

/// The number of runs `average` merges when the request does not say (or says `null`).
pub const DEFAULT_LOAD_LIMIT: i64 = 5;

/// Store the run under each tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRequest {
    pub tags: Vec<String>,
}

/// The numbers people read: per task and in total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub avg_ms: f64,
}

impl Summary {
    /// Failures per request, in percent.
    pub fn failure_percent(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 * 100.0 / self.requests as f64
        }
    }
}

/// One task's summary: its name beside the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedSummary {
    pub name: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// The run's summary in the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub total: Summary,
    pub tasks: Vec<NamedSummary>,
    pub elapsed_s: f64,
}

/// What the run was compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    #[serde(rename = "type")]
    pub kind: CompareType,
    pub tag: String,
    /// The stored runs merged into the baseline, newest first.
    pub runs: Vec<String>,
    pub total: Summary,
}

/// A figure a threshold holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    #[serde(rename = "p95")]
    P95,
    #[serde(rename = "p99")]
    P99,
    #[serde(rename = "failure ratio")]
    FailureRatio,
    #[serde(rename = "requests per second")]
    RequestsPerSecond,
}

impl Metric {
    /// As it is written in the answer and the message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::FailureRatio => "failure ratio",
            Self::RequestsPerSecond => "requests per second",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warn,
    Fail,
}

/// One threshold crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub metric: Metric,
    pub level: Level,
    pub baseline: f64,
    pub current: f64,
    /// Percent change (percentage points for the failure ratio); positive is worse.
    pub worse_by: f64,
    pub limit: f64,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = if self.metric == Metric::FailureRatio {
            " points"
        } else {
            "%"
        };
        write!(
            f,
            "{} {}: {:.2} against a baseline of {:.2} ({:+.1}{unit}, limit {}{unit})",
            self.metric,
            match self.level {
                Level::Warn => "warning",
                Level::Fail => "regression",
            },
            self.current,
            self.baseline,
            self.worse_by,
            self.limit,
        )
    }
}

/// The verdict: `failed` when a finding is at the fail level or the suite's failure limit was crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunResult {
    Success,
    Failed,
}

impl RunResult {
    /// As it is written in the answer: `success` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RunResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// run-load's answer to a synchronous invoke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunAnswer {
    pub result: RunResult,
    /// One line: the headline figures, then every problem, then every note.
    pub message: String,
    /// Where the run's logs are.
    pub log_stream_name: String,
    pub log_group_name: String,
    pub run_id: String,
    pub summary: RunSummary,
    pub baseline: Option<Baseline>,
    pub findings: Vec<Finding>,
    /// The keys the run was stored under, one per tag.
    pub stored: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::payload;

    fn summary(requests: u64) -> Summary {
        Summary {
            requests,
            failures: 1,
            rps: 2.5,
            p50_ms: 1.0,
            p95_ms: 2.0,
            p99_ms: 3.0,
            max_ms: 4.0,
            avg_ms: 1.5,
        }
    }

    #[test]
    fn the_answer_is_written_field_for_field_as_run_load_has_always_answered() {
        let answer = RunAnswer {
            result: RunResult::Failed,
            message: "m".into(),
            log_stream_name: "s".into(),
            log_group_name: "g".into(),
            run_id: "r".into(),
            summary: RunSummary {
                total: summary(4),
                tasks: vec![NamedSummary {
                    name: "get".into(),
                    summary: summary(4),
                }],
                elapsed_s: 1.6,
            },
            baseline: Some(Baseline {
                kind: CompareType::Previous,
                tag: "ci".into(),
                runs: vec!["r0".into()],
                total: summary(2),
            }),
            findings: vec![Finding {
                metric: Metric::RequestsPerSecond,
                level: Level::Fail,
                baseline: 2.0,
                current: 1.0,
                worse_by: 50.0,
                limit: 30.0,
            }],
            stored: vec!["runs/tag=ci/dt=2026-11-23/r.json".into()],
        };
        let numbers = r#""failures":1,"rps":2.5,"p50_ms":1.0,"p95_ms":2.0,"p99_ms":3.0,"max_ms":4.0,"avg_ms":1.5"#;
        let expected = format!(
            concat!(
                r#"{{"result":"failed","message":"m","log_stream_name":"s","log_group_name":"g","run_id":"r","#,
                r#""summary":{{"total":{{"requests":4,{n}}},"tasks":[{{"name":"get","requests":4,{n}}}],"elapsed_s":1.6}},"#,
                r#""baseline":{{"type":"previous","tag":"ci","runs":["r0"],"total":{{"requests":2,{n}}}}},"#,
                r#""findings":[{{"metric":"requests per second","level":"fail","baseline":2.0,"current":1.0,"worse_by":50.0,"limit":30.0}}],"#,
                r#""stored":["runs/tag=ci/dt=2026-11-23/r.json"]}}"#
            ),
            n = numbers
        );
        assert_eq!(serde_json::to_string(&answer).ok(), Some(expected.clone()));
        let read: Option<RunAnswer> = serde_json::from_str(&expected).ok();
        assert_eq!(
            read.as_ref(),
            Some(&answer),
            "what run-load writes, a reader reads back"
        );
        let first = RunAnswer {
            result: RunResult::Success,
            baseline: None,
            findings: Vec::new(),
            ..answer
        };
        let written = serde_json::to_string(&first).unwrap_or_default();
        assert!(
            written.starts_with(r#"{"result":"success","#) && written.contains(r#""baseline":null,"findings":[]"#),
            "no baseline is written as null: {written}"
        );
    }

    #[test]
    fn the_words_printed_are_the_words_written() {
        for kind in [CompareType::Previous, CompareType::Average] {
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
        for result in [RunResult::Success, RunResult::Failed] {
            assert_eq!(serde_json::to_value(result).ok(), Some(json!(result.to_string())));
        }
        for metric in [
            Metric::P95,
            Metric::P99,
            Metric::FailureRatio,
            Metric::RequestsPerSecond,
        ] {
            assert_eq!(serde_json::to_value(metric).ok(), Some(json!(metric.as_str())));
        }
    }

    #[test]
    fn a_stored_answer_reads_back_exactly() {
        // A retried run answers its stored answer: every float must survive the round trip (serde_json's
        // `float_roundtrip`; without it this rate came back one unit in the last place off).
        let mut total = summary(60);
        total.rps = 27.898708721797686;
        let text = serde_json::to_string(&total).unwrap_or_default();
        let back: Summary = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.rps.to_bits(), total.rps.to_bits(), "{text}");
    }

    #[test]
    fn the_fingerprint_is_the_requests_whatever_the_order_of_its_fields() {
        let one = json!({"suite": "greeter", "users": 2, "compare": {"type": "previous", "tag": "ci"}});
        let same: serde_json::Value =
            serde_json::from_str(r#"{"compare": {"tag": "ci", "type": "previous"}, "users": 2, "suite": "greeter"}"#)
                .unwrap_or_default();
        assert_eq!(fingerprint(&one), fingerprint(&same));
        assert_ne!(
            fingerprint(&one),
            fingerprint(&json!({"suite": "greeter", "users": 3, "compare": {"type": "previous", "tag": "ci"}}))
        );
        assert_eq!(fingerprint(&one).len(), 64);
    }

    #[test]
    fn a_request_is_read_with_its_defaults_and_written_back_without_them() {
        let typed = json!({"suite": "greeter", "host": "http://h/", "spawn_rate": 5, "users": 10,
            "spawned_runtime": "30s", "compare": {"type": "average", "tag": "ci"}});
        let request: Result<RunRequest, _> = payload::parse(&typed);
        let request = request.unwrap_or_else(|e| panic!("{e}"));
        assert!(!request.only_summary && request.store.is_none() && request.organisation_id.is_none());
        assert_eq!(
            request.compare.as_ref().map(CompareRequest::load_limit),
            Some(DEFAULT_LOAD_LIMIT)
        );
        let null: Result<RunRequest, _> = payload::parse(&json!({"suite": "greeter", "host": "http://h/",
            "spawn_rate": 5, "users": 10, "spawned_runtime": "30s",
            "compare": {"type": "average", "tag": "ci", "load_limit": null}}));
        assert_eq!(
            null.ok().and_then(|r| r.compare).map(|c| c.load_limit()),
            Some(DEFAULT_LOAD_LIMIT),
            "null is the default, as the contract says"
        );
        let written = serde_json::to_value(&request).unwrap_or_default();
        assert_eq!(written.get("store"), None, "an absent option is not written as null");
        assert_eq!(payload::parse::<RunRequest>(&written).ok(), Some(request));
    }

    #[test]
    fn a_request_with_an_unknown_field_is_refused_naming_it() {
        let cases = [
            (json!({"colour": "red"}), "colour"),
            (
                json!({"compare": {"type": "previous", "tag": "x", "limit": 3}}),
                "compare.limit",
            ),
            (json!({"store": {"tags": [], "bucket": "b"}}), "store.bucket"),
        ];
        for (extra, field) in cases {
            let mut typed = json!({"suite": "greeter", "host": "http://h/", "spawn_rate": 5, "users": 10,
                "spawned_runtime": "30s"});
            if let (Some(o), Some(e)) = (typed.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            let error = payload::parse::<RunRequest>(&typed).err();
            assert!(
                error
                    .as_ref()
                    .is_some_and(|e| e.field == field && e.problem.starts_with("unknown field")),
                "{extra}: {error:?}"
            );
        }
    }
}
