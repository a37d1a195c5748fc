//! Thresholds: one small language for what a run must achieve, `volley attack --fail-if` now and SLOs and
//! plan thresholds later. An expression is `<operand><operator><value>`, without spaces needed:
//!
//! | operand | what | value |
//! |---|---|---|
//! | `p50`, `p90`, `p95`, `p99`, `p99.9`, `min`, `mean`, `max` | latency from the intended send time (free of coordinated omission) | a duration: `300ms`, `1.5s`, `250us`, `800ns` |
//! | `service.p99` (any of the above after `service.`) | service time, from the actual send | a duration |
//! | `success` | 2xx and 3xx over all requests sent | a percentage: `99.9%` |
//! | `rate` | requests sent per second, achieved | a number |
//! | `errors` | requests that failed (a transport error, or a 4xx or 5xx status) | a count |
//! | `dropped` | sends skipped at the in-flight cap | a count |
//! | `late` | requests sent more than 1 ms after their intended time | a percentage (`1%`) or a count |
//!
//! Operators: `<`, `<=`, `>`, `>=`, `==`. A bad expression is refused naming what is wrong.

use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use crate::load::report::Report;
use crate::load::stats::Latencies;

/// A threshold that cannot be read: the expression, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{expression:?}: {why}")]
pub struct ThresholdError {
    pub expression: String,
    pub why: String,
}

/// How a figure is compared with the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
}

impl Operator {
    const ALL: [(&'static str, Operator); 5] = [
        ("<=", Self::LessOrEqual),
        (">=", Self::GreaterOrEqual),
        ("==", Self::Equal),
        ("<", Self::Less),
        (">", Self::Greater),
    ];

    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Self::Less => actual < limit,
            Self::LessOrEqual => actual <= limit,
            Self::Greater => actual > limit,
            Self::GreaterOrEqual => actual >= limit,
            Self::Equal => actual == limit,
        }
    }
}

/// Which latency figure.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Statistic {
    Quantile(f64),
    Min,
    Mean,
    Max,
}

impl Statistic {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "min" => Self::Min,
            "mean" => Self::Mean,
            "max" => Self::Max,
            _ => {
                let q: f64 = name.strip_prefix('p')?.parse().ok()?;
                if !(0.0..100.0).contains(&q) || q == 0.0 {
                    return None;
                }
                Self::Quantile(q / 100.0)
            }
        })
    }

    fn of(self, latencies: &Latencies) -> Duration {
        match self {
            Self::Quantile(q) => latencies.quantile(q),
            Self::Min => latencies.min(),
            Self::Mean => latencies.mean(),
            Self::Max => latencies.max(),
        }
    }
}

/// What an expression measures.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Operand {
    Latency(Statistic),
    ServiceTime(Statistic),
    Success,
    Rate,
    Errors,
    Dropped,
    /// Late requests: as a share of the requests sent (`percent`), or a count.
    Late {
        percent: bool,
    },
}

/// How a figure is written, in the report and in a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Unit {
    /// Nanoseconds, written as a duration.
    Duration,
    Percent,
    PerSecond,
    Count,
}

/// One threshold, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As it was written.
    pub expression: String,
    operand: Operand,
    operator: Operator,
    /// In the operand's unit: nanoseconds, percent, per second or a count.
    limit: f64,
}

/// A threshold held against a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub expression: String,
    pub passed: bool,
    /// The figure the run achieved, in `unit`.
    pub actual: f64,
    pub limit: f64,
    pub unit: Unit,
}

impl Verdict {
    /// The figure, written in its unit.
    pub fn shown(&self, value: f64) -> String {
        match self.unit {
            Unit::Duration => format!("{:?}", Duration::from_nanos(value.max(0.0) as u64)),
            Unit::Percent => format!("{value:.3}%"),
            Unit::PerSecond => format!("{value:.2}/s"),
            Unit::Count => format!("{value:.0}"),
        }
    }

    /// One line: the expression, passed or failed, the figure, and by how much it missed.
    pub fn line(&self) -> String {
        if self.passed {
            format!("pass  {}: {}", self.expression, self.shown(self.actual))
        } else {
            let by = (self.actual - self.limit).abs();
            format!(
                "FAIL  {}: {}, off by {}",
                self.expression,
                self.shown(self.actual),
                self.shown(by)
            )
        }
    }
}

fn bad(expression: &str, why: impl Into<String>) -> ThresholdError {
    ThresholdError {
        expression: expression.to_owned(),
        why: why.into(),
    }
}

impl Threshold {
    /// Reads one expression.
    pub fn parse(expression: &str) -> Result<Self, ThresholdError> {
        let text: String = expression.chars().filter(|c| !c.is_whitespace()).collect();
        let (at, symbol, operator) = Operator::ALL
            .iter()
            .filter_map(|(symbol, operator)| text.find(symbol).map(|at| (at, *symbol, *operator)))
            .min_by_key(|(at, symbol, _)| (*at, std::cmp::Reverse(symbol.len())))
            .ok_or_else(|| {
                bad(
                    expression,
                    "no operator: write <operand><op><value> with <, <=, >, >= or ==",
                )
            })?;
        let (name, value) = (&text[..at], &text[at + symbol.len()..]);
        let operand = match name {
            "success" => Operand::Success,
            "rate" => Operand::Rate,
            "errors" => Operand::Errors,
            "dropped" => Operand::Dropped,
            "late" => Operand::Late {
                percent: value.ends_with('%'),
            },
            _ => match name.strip_prefix("service.") {
                Some(statistic) => {
                    Operand::ServiceTime(Statistic::parse(statistic).ok_or_else(|| bad(expression, unknown(name)))?)
                }
                None => Operand::Latency(Statistic::parse(name).ok_or_else(|| bad(expression, unknown(name)))?),
            },
        };
        let limit = match operand {
            Operand::Latency(_) | Operand::ServiceTime(_) => duration_nanos(value)
                .ok_or_else(|| bad(expression, format!("{value:?} is not a duration such as 300ms or 1.5s")))?,
            Operand::Success | Operand::Late { percent: true } => value
                .strip_suffix('%')
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| (0.0..=100.0).contains(v))
                .ok_or_else(|| bad(expression, format!("{value:?} is not a percentage from 0% to 100%")))?,
            Operand::Rate => value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| bad(expression, format!("{value:?} is not a rate in requests per second")))?,
            Operand::Errors | Operand::Dropped | Operand::Late { percent: false } => value
                .parse::<u64>()
                .map(|v| v as f64)
                .map_err(|_| bad(expression, format!("{value:?} is not a count")))?,
        };
        Ok(Self {
            expression: expression.to_owned(),
            operand,
            operator,
            limit,
        })
    }

    /// Holds the threshold against `report`.
    pub fn check(&self, report: &Report) -> Verdict {
        let total = &report.total;
        let share = |n: u64| {
            if total.requests == 0 {
                0.0
            } else {
                n as f64 * 100.0 / total.requests as f64
            }
        };
        let nanos = |d: Duration| d.as_nanos() as f64;
        let (actual, unit) = match self.operand {
            Operand::Latency(statistic) => (nanos(statistic.of(&total.latency)), Unit::Duration),
            Operand::ServiceTime(statistic) => (nanos(statistic.of(&total.service_time)), Unit::Duration),
            Operand::Success => (total.success_ratio() * 100.0, Unit::Percent),
            Operand::Rate => (report.rate(), Unit::PerSecond),
            Operand::Errors => (total.failures() as f64, Unit::Count),
            Operand::Dropped => (total.dropped as f64, Unit::Count),
            Operand::Late { percent: true } => (share(total.late), Unit::Percent),
            Operand::Late { percent: false } => (total.late as f64, Unit::Count),
        };
        Verdict {
            expression: self.expression.clone(),
            passed: self.operator.holds(actual, self.limit),
            actual,
            limit: self.limit,
            unit,
        }
    }
}

impl Threshold {
    /// Holds the threshold against counts alone (one second's requests, errors and dropped sends, as live
    /// counters keep them): `success`, `errors` and `dropped` can be; None for an operand that needs more
    /// (latency, rate, late).
    pub fn check_counts(&self, requests: u64, errors: u64, dropped: u64) -> Option<Verdict> {
        let (actual, unit) = match self.operand {
            Operand::Success => {
                let ok = requests.saturating_sub(errors);
                let percent = if requests == 0 {
                    0.0
                } else {
                    ok as f64 * 100.0 / requests as f64
                };
                (percent, Unit::Percent)
            }
            Operand::Errors => (errors as f64, Unit::Count),
            Operand::Dropped => (dropped as f64, Unit::Count),
            Operand::Latency(_) | Operand::ServiceTime(_) | Operand::Rate | Operand::Late { .. } => return None,
        };
        Some(Verdict {
            expression: self.expression.clone(),
            passed: self.operator.holds(actual, self.limit),
            actual,
            limit: self.limit,
            unit,
        })
    }
}

fn unknown(name: &str) -> String {
    format!(
        "{name:?} is not an operand: p50, p90, p95, p99, p99.9, min, mean, max (latency), service.<same> \
         (service time), success, rate, errors, dropped, late"
    )
}

/// A duration with its unit (`ns`, `us`, `µs`, `ms`, `s`, `m`), fractions allowed, in nanoseconds.
fn duration_nanos(text: &str) -> Option<f64> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok().filter(|n: &f64| n.is_finite())?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    #[test]
    fn counts_alone_answer_success_errors_and_dropped_and_nothing_else() {
        let parse = |e: &str| Threshold::parse(e).unwrap_or_else(|e| panic!("{e}"));
        let held = |e: &str, r, er, d| parse(e).check_counts(r, er, d).map(|v| (v.passed, v.actual));
        assert_eq!(held("success<95%", 100, 10, 0), Some((true, 90.0)));
        assert_eq!(held("success<95%", 100, 1, 0), Some((false, 99.0)));
        assert_eq!(held("errors>5", 100, 6, 0), Some((true, 6.0)));
        assert_eq!(held("dropped>0", 100, 0, 0), Some((false, 0.0)));
        for needs_more in ["p99>300ms", "rate<10", "late>1%", "service.max>1s"] {
            assert_eq!(parse(needs_more).check_counts(100, 0, 0), None, "{needs_more}");
        }
    }

    use super::*;
    use crate::load::stats::{Outcome, Sample, Stats};

    /// 100 requests: 98 answered 200 in 10 ms, 2 answered 503 in 500 ms; 3 sent late; 4 dropped; 10 s long.
    fn report() -> Report {
        let mut total = Stats::default();
        for i in 0..100 {
            total.record(&Sample {
                outcome: Outcome::Status(if i < 98 { 200 } else { 503 }),
                send_lag: if i < 3 {
                    Duration::from_millis(5)
                } else {
                    Duration::ZERO
                },
                service_time: Duration::from_millis(if i < 98 { 10 } else { 500 }),
                bytes_in: 0,
                bytes_out: 0,
            });
        }
        for _ in 0..4 {
            total.record_dropped();
        }
        Report {
            seconds: Vec::new(),
            total,
            started_at_ms: 0,
            duration: Duration::from_secs(10),
            wait: Duration::ZERO,
            planned: 104,
            truncated: false,
            stopped: false,
            start_skew: None,
        }
    }

    fn holds(expression: &str) -> bool {
        Threshold::parse(expression)
            .unwrap_or_else(|e| panic!("{e}"))
            .check(&report())
            .passed
    }

    #[test]
    fn every_operand_reads_its_figure() {
        for (expression, passes) in [
            ("p50<20ms", true),
            ("p50<5ms", false),
            ("p99<100ms", false),
            ("p99.9<=600ms", true),
            ("max>=500ms", true),
            ("min>=10ms", true),
            ("mean<50ms", true),
            ("service.p50<11ms", true),
            ("service.p99<400ms", false),
            ("success>=98%", true),
            ("success>=99.9%", false),
            ("rate>=9.9", true),
            ("rate>=10.1", false),
            ("errors==2", true),
            ("errors==0", false),
            ("dropped==4", true),
            ("dropped<4", false),
            ("late<5%", true),
            ("late<1%", false),
            ("late==3", true),
        ] {
            assert_eq!(holds(expression), passes, "{expression}");
        }
    }

    #[test]
    fn every_operator_compares() {
        for (expression, passes) in [
            ("errors<2", false),
            ("errors<3", true),
            ("errors<=2", true),
            ("errors>2", false),
            ("errors>1", true),
            ("errors>=2", true),
            ("errors==2", true),
            ("errors == 2", true),
        ] {
            assert_eq!(holds(expression), passes, "{expression}");
        }
    }

    #[test]
    fn a_failure_says_the_figure_and_by_how_much() {
        let verdict = Threshold::parse("p50<5ms")
            .unwrap_or_else(|e| panic!("{e}"))
            .check(&report());
        let line = verdict.line();
        assert!(line.starts_with("FAIL  p50<5ms: 10."), "{line}");
        assert!(line.contains("off by 5."), "{line}");
        let pass = Threshold::parse("success>=90%")
            .unwrap_or_else(|e| panic!("{e}"))
            .check(&report());
        assert_eq!(pass.line(), "pass  success>=90%: 98.000%");
    }

    #[test]
    fn bad_expressions_say_why() {
        let says: BTreeMap<&str, &str> = BTreeMap::from([
            ("p99", "no operator"),
            ("p100<1s", "not an operand"),
            ("latency<1s", "not an operand"),
            ("p99<300", "not a duration"),
            ("p99<3 parsecs", "not a duration"),
            ("success>=99.9", "not a percentage"),
            ("success>=120%", "not a percentage"),
            ("rate>=fast", "not a rate"),
            ("errors==-1", "not a count"),
            ("late<x%", "not a percentage"),
        ]);
        for (expression, why) in says {
            let error = Threshold::parse(expression)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(why), "{expression}: {error:?} should say {why:?}");
        }
    }
}
