//! `volley attack --find-max`: the highest rate a target holds its service-level objectives at. Steps of the
//! open model at a constant rate, from `--rate` doubling up to `--max-rate` until one fails, then halving the
//! gap between the highest that held and the lowest that failed until it is within [`TOLERANCE`] of the
//! rate that held; all within `--duration`. A step holds when every `--slo` (the `--fail-if` grammar) holds
//! over its requests and no send was dropped (a rate the engine could not offer was not tested).
//!
//! The search ([`Search`]) is pure, so its rules are tested without a target; [`find_max`] runs it with one
//! `volley attack` per step.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;
use volley_engine::load::threshold::{Threshold, Verdict};

use crate::html::{self, ms};
use crate::report::duration as shown;
use crate::{AttackArgs, AttackOutput, CliError};

/// The search ends when the gap between the highest rate that held and the lowest that failed is at most
/// this fraction of the one that held.
pub const TOLERANCE: f64 = 0.10;
/// The shortest step: below a second, a step's percentiles rest on too few requests and its start.
pub const MIN_STEP: Duration = Duration::from_secs(1);

/// Why the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Ended {
    /// The gap between held and failed is within the tolerance.
    Converged,
    /// `--max-rate` held.
    MaxRateHeld,
    /// The first step, at `--rate`, failed: nothing held.
    StartFailed,
    /// `--duration` left no room for another step.
    OutOfTime,
}

impl Ended {
    fn says(self) -> &'static str {
        match self {
            Self::Converged => "found within 10 %",
            Self::MaxRateHeld => "--max-rate held: the target may hold more",
            Self::StartFailed => "the first step, at --rate, failed: nothing held",
            Self::OutOfTime => "--duration ran out before the search closed in",
        }
    }
}

/// Where the search stands: the rates that held and failed so far, and the next rate to try.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    start: f64,
    max: f64,
    /// The highest rate that held, and the lowest that failed.
    pub held: Option<f64>,
    pub failed: Option<f64>,
}

impl Search {
    pub fn new(start: f64, max: f64) -> Self {
        Self {
            start,
            max,
            held: None,
            failed: None,
        }
    }

    /// The next rate to step at, or why the search is over.
    pub fn next(&self) -> Result<f64, Ended> {
        match (self.held, self.failed) {
            (None, None) => Ok(self.start),
            (None, Some(_)) => Err(Ended::StartFailed),
            (Some(held), None) if held >= self.max => Err(Ended::MaxRateHeld),
            (Some(held), None) => Ok((held * 2.0).min(self.max)),
            (Some(held), Some(failed)) => {
                let middle = between(held, failed);
                if failed - held <= held * TOLERANCE || middle <= held || middle >= failed {
                    Err(Ended::Converged)
                } else {
                    Ok(middle)
                }
            }
        }
    }

    /// Records a step's verdict.
    pub fn record(&mut self, rate: f64, held: bool) {
        if held {
            self.held = Some(self.held.map_or(rate, |h| h.max(rate)));
        } else {
            self.failed = Some(self.failed.map_or(rate, |f| f.min(rate)));
        }
    }
}

/// The middle of `low` and `high`, in whole requests a second once they are that far apart.
fn between(low: f64, high: f64) -> f64 {
    let middle = (low + high) / 2.0;
    if high - low >= 2.0 { middle.round() } else { middle }
}

/// One step of the search: its rate and what it measured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The rate asked, requests a second.
    pub rate: f64,
    /// The rate sent.
    pub achieved: f64,
    pub requests: u64,
    pub p50_ns: u128,
    pub p99_ns: u128,
    pub errors: u64,
    pub dropped: u64,
    /// Sends more than 1 ms after their time.
    pub late: u64,
    pub held: bool,
    /// Each SLO, held against the step.
    pub slos: Vec<Verdict>,
}

impl Step {
    fn of(rate: f64, output: &AttackOutput) -> Self {
        let summary = &output.summary;
        Self {
            rate,
            achieved: summary.rate,
            requests: summary.requests,
            p50_ns: summary.latencies.p50,
            p99_ns: summary.latencies.p99,
            errors: summary.errors,
            dropped: summary.dropped,
            late: summary.late,
            held: output.passed() && summary.dropped == 0,
            slos: output.thresholds.clone(),
        }
    }

    /// Its p50 and p99, as the report shows durations.
    fn percentiles(&self) -> [String; 2] {
        [self.p50_ns, self.p99_ns].map(|ns| shown(Duration::from_nanos(ns as u64)))
    }

    /// "held", or "failed: " and why.
    fn verdict(&self) -> String {
        if self.held {
            "held".to_owned()
        } else {
            format!("failed: {}", self.why())
        }
    }

    /// Why the step failed, in a few words.
    fn why(&self) -> String {
        let mut reasons: Vec<String> = self.slos.iter().filter(|v| !v.passed).map(Verdict::line).collect();
        if self.dropped > 0 {
            reasons.push(format!("{} sends dropped (over --max-in-flight)", self.dropped));
        }
        reasons.join("; ")
    }
}

/// What `volley attack --find-max` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindMax {
    pub url: String,
    pub slos: Vec<String>,
    pub step_duration_ns: u128,
    /// Every step, in the order run.
    pub steps: Vec<Step>,
    /// The highest rate that held, and the lowest that failed.
    pub highest_held: Option<f64>,
    pub lowest_failed: Option<f64>,
    pub ended: Ended,
}

impl FindMax {
    /// The steps by rate: the curve.
    pub fn curve(&self) -> Vec<&Step> {
        let mut steps: Vec<&Step> = self.steps.iter().collect();
        steps.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        steps
    }
}

/// Checks `--find-max`'s settings before anything is sent: a bad one is a usage error.
fn checked(args: &AttackArgs) -> Result<(f64, f64, Duration), CliError> {
    let usage = |text: String| Err(CliError::Usage(text));
    let start = args.rate.unwrap_or(0.0);
    let Some(max) = args.max_rate else {
        return usage("--find-max needs --max-rate: the highest rate it may try".into());
    };
    if !(start.is_finite() && start > 0.0) {
        return usage(format!("--rate {start}: the first step's rate must be above 0"));
    }
    if !(max.is_finite() && max > start) {
        return usage(format!("--max-rate {max}: must be above --rate {start}"));
    }
    let step = args.step_duration;
    if step < MIN_STEP {
        return usage(format!(
            "--step-duration {}: at least {}",
            humantime::format_duration(step),
            humantime::format_duration(MIN_STEP)
        ));
    }
    if args.duration < step {
        return usage(format!(
            "--duration {} (the whole search) is shorter than one step of {}",
            humantime::format_duration(args.duration),
            humantime::format_duration(step)
        ));
    }
    if args.slo.is_empty() {
        return usage("--find-max needs at least one --slo, such as 'p99<200ms'".into());
    }
    for expression in &args.slo {
        Threshold::parse(expression).map_err(|e| CliError::Usage(format!("--slo {e}")))?;
    }
    Ok((start, max, step))
}

/// Runs the search: one attack of `--step-duration` per step, each through the same guard as `volley attack`.
/// Says each step on stderr as it ends.
pub async fn find_max(args: &AttackArgs) -> Result<FindMax, CliError> {
    let (start, max, step_duration) = checked(args)?;
    crate::html_path(args)?;
    let began = Instant::now();
    let mut search = Search::new(start, max);
    let mut steps = Vec::new();
    let ended = loop {
        let rate = match search.next() {
            Ok(rate) => rate,
            Err(ended) => break ended,
        };
        if began.elapsed() + step_duration > args.duration {
            break Ended::OutOfTime;
        }
        let mut one = args.clone();
        one.find_max = false;
        one.rate = Some(rate);
        one.duration = step_duration;
        one.fail_if = args.slo.clone();
        one.slo = Vec::new();
        one.html = None;
        let step = Step::of(rate, &crate::attack(&one).await?);
        let [p50, p99] = step.percentiles();
        eprintln!(
            "find-max: {rate} rps for {}: p50 {p50}, p99 {p99}, {} errors: {}",
            humantime::format_duration(step_duration),
            step.errors,
            step.verdict()
        );
        search.record(rate, step.held);
        steps.push(step);
    };
    Ok(FindMax {
        url: args.url.clone(),
        slos: args.slo.clone(),
        step_duration_ns: step_duration.as_nanos(),
        steps,
        highest_held: search.held,
        lowest_failed: search.failed,
        ended,
    })
}

/// The result as text: the curve, then the answer.
pub fn text(found: &FindMax) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "find-max {}: SLOs {}; steps of {}",
        found.url,
        found.slos.join(", "),
        humantime::format_duration(Duration::from_nanos(found.step_duration_ns as u64))
    );
    let _ = writeln!(
        out,
        "  {:>10}  {:>10}  {:>9}  {:>12}  {:>12}  {:>7}  verdict",
        "rate", "achieved", "requests", "p50", "p99", "errors"
    );
    for step in found.curve() {
        let [p50, p99] = step.percentiles();
        let _ = writeln!(
            out,
            "  {:>10}  {:>10.1}  {:>9}  {p50:>12}  {p99:>12}  {:>7}  {}",
            step.rate,
            step.achieved,
            step.requests,
            step.errors,
            step.verdict()
        );
    }
    let _ = match (found.highest_held, found.lowest_failed) {
        (Some(held), Some(failed)) => writeln!(
            out,
            "highest rate that held: {held} requests a second ({failed} failed); {}",
            found.ended.says()
        ),
        (Some(held), None) => writeln!(
            out,
            "highest rate that held: {held} requests a second; {}",
            found.ended.says()
        ),
        (None, _) => writeln!(out, "no rate held: {}", found.ended.says()),
    };
    out
}

/// The search's page: the answer, the curve (p50 and p99 against the rate, and the errors), and the steps.
pub fn page(found: &FindMax) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>volley attack --find-max: {}</h1><p>SLOs: {}. {}.</p>",
        html::escape(&found.url),
        html::escape(&found.slos.join(", ")),
        html::escape(found.ended.says())
    );
    body.push_str("<div class=\"cards\">");
    let rate = |r: Option<f64>| r.map_or_else(|| "none".to_owned(), |r| format!("{r}/s"));
    html::card(&mut body, "highest rate that held", &rate(found.highest_held));
    html::card(&mut body, "lowest that failed", &rate(found.lowest_failed));
    html::card(&mut body, "steps", &found.steps.len().to_string());
    body.push_str("</div>");
    let curve = found.curve();
    let points = |f: &dyn Fn(&Step) -> f64| curve.iter().map(|s| (s.rate, f(s))).collect::<Vec<_>>();
    let x_max = curve.last().map_or(1.0, |s| s.rate) * 1.05;
    body.push_str(&html::curve_chart(
        "Latency against the rate asked",
        vec![
            (
                "p50".into(),
                points(&|s| ms(Duration::from_nanos(s.p50_ns as u64))),
                html::P50,
            ),
            (
                "p99".into(),
                points(&|s| ms(Duration::from_nanos(s.p99_ns as u64))),
                html::P99,
            ),
        ],
        x_max,
        "ms",
    ));
    body.push_str(&html::curve_chart(
        "Errors against the rate asked",
        vec![("errors".into(), points(&|s| s.errors as f64), html::ERRORS)],
        x_max,
        "errors",
    ));
    let _ = write!(body, "<h2>Steps</h2><pre>{}</pre>", html::escape(&text(found)));
    html::document(&format!("volley attack --find-max {}", found.url), &body)
}

/// Writes the page where `--html` says, when it says.
pub fn write(args: &AttackArgs, found: &FindMax) -> Result<(), CliError> {
    let Some(path) = &args.html else { return Ok(()) };
    html::save(path, &page(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search against a target that holds every rate up to `knee`.
    fn run(start: f64, max: f64, knee: f64) -> (Vec<f64>, Search, Ended) {
        let mut search = Search::new(start, max);
        let mut tried = Vec::new();
        loop {
            match search.next() {
                Ok(rate) => {
                    tried.push(rate);
                    search.record(rate, rate <= knee);
                }
                Err(ended) => return (tried, search, ended),
            }
        }
    }

    #[test]
    fn it_doubles_until_a_step_fails_then_halves_the_gap_to_within_ten_percent() {
        let (tried, search, ended) = run(100.0, 10_000.0, 1_000.0);
        assert_eq!(tried, vec![100.0, 200.0, 400.0, 800.0, 1600.0, 1200.0, 1000.0, 1100.0]);
        assert_eq!(
            (search.held, search.failed, ended),
            (Some(1000.0), Some(1100.0), Ended::Converged)
        );
    }

    #[test]
    fn whatever_the_knee_the_answer_is_within_ten_percent_below_it() {
        for knee in [101.0, 150.0, 377.0, 999.0, 1_000.0, 4_321.0, 9_999.0] {
            let (tried, search, ended) = run(100.0, 10_000.0, knee);
            let (held, failed) = (search.held.unwrap_or(0.0), search.failed.unwrap_or(f64::MAX));
            assert_eq!(ended, Ended::Converged, "{knee}: {tried:?}");
            assert!(held <= knee && failed > knee, "{knee}: held {held}, failed {failed}");
            assert!(failed - held <= held * TOLERANCE, "{knee}: {tried:?}");
            assert!(tried.len() <= 12, "{knee}: {tried:?}");
        }
    }

    #[test]
    fn the_bounds_end_it_the_max_rate_included_and_a_failed_start_holds_nothing() {
        let (tried, search, ended) = run(100.0, 500.0, 1_000.0);
        assert_eq!(tried, vec![100.0, 200.0, 400.0, 500.0]);
        assert_eq!((search.held, ended), (Some(500.0), Ended::MaxRateHeld));
        let (tried, search, ended) = run(100.0, 500.0, 50.0);
        assert_eq!(tried, vec![100.0]);
        assert_eq!((search.held, ended), (None, Ended::StartFailed));
        // Fractional rates bisect without rounding to a rate outside the gap.
        let (_, search, ended) = run(0.5, 8.0, 1.3);
        assert_eq!(ended, Ended::Converged);
        assert!(
            search.held.is_some_and(|h| (1.3 / 1.1..=1.3).contains(&h)),
            "{search:?}"
        );
    }
}
