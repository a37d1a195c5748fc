//! The report printed at the end: the load test in vegeta's shape (`volley attack`'s report), a per-second
//! table, run-load's summary and verdict, the phases' wall times, and where each thing was stored.

use std::fmt::Write as _;
use std::time::Duration;

use volley::report::duration;

use volley_core::model::run::Summary;

use crate::outcome::Outcome;

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n\x1b[1m{title}\x1b[0m");
}

/// The whole text report.
pub fn render(outcome: &Outcome) -> String {
    let mut out = String::new();
    heading(
        &mut out,
        &format!(
            "Load test {} — {} rps from each of {} ({}) against {}",
            outcome.test_id,
            outcome.rate_per_region,
            outcome.regions.len(),
            outcome.regions.join(", "),
            outcome.target
        ),
    );
    out.push_str(&volley::report::text(&outcome.attack));
    let c = &outcome.counters;
    let _ = writeln!(
        out,
        "{:<14}{:<42}{}, {}, {}, {}",
        "Counted", "[results, requests, errors, dropped]", c.results_archived, c.requests, c.errors, c.dropped
    );

    heading(
        &mut out,
        "Per second (both regions merged; saved = what the metrics-saver kept)",
    );
    out.push_str(&per_second(outcome));

    heading(&mut out, "run-load: the greeter suite");
    out.push_str(&run_load(outcome));

    heading(&mut out, "Phases (wall time)");
    let total: f64 = outcome.phases.iter().map(|p| p.seconds).sum();
    for p in &outcome.phases {
        let _ = writeln!(out, "  {:<60} {:>7.1} s", p.name, p.seconds);
    }
    let _ = writeln!(out, "  {:<60} {:>7.1} s", "total", total);

    heading(&mut out, "Stored");
    let _ = writeln!(
        out,
        "  {:<16} {} {} ({})",
        "domain", outcome.domain.domain, outcome.domain.status, outcome.organisation
    );
    for (what, place) in &outcome.stored {
        let _ = writeln!(out, "  {what:<16} {place}");
    }
    out
}

fn per_second(outcome: &Outcome) -> String {
    let saved = outcome.saved_requests();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<10} {:>8} {:>6} {:>7} {:>9} {:>9} {:>9} {:>9} {:>6}",
        "second", "requests", "ok", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "saved"
    );
    let first = outcome.seconds.first().map_or(0, |s| s.second);
    for s in &outcome.seconds {
        let st = &s.stats;
        let ok = st.successes();
        let errors = st.failures();
        let _ = writeln!(
            out,
            "  {:<10} {:>8} {:>6} {:>7} {:>9} {:>9} {:>9} {:>9} {:>6}",
            format!("+{}s", s.second - first),
            st.requests,
            ok,
            errors,
            ms(st.latency.quantile(0.5)),
            ms(st.latency.quantile(0.95)),
            ms(st.latency.quantile(0.99)),
            ms(st.latency.max()),
            saved.get(&s.second).map_or_else(|| "-".into(), u64::to_string)
        );
    }
    out
}

fn summary_line(out: &mut String, name: &str, s: &Summary) {
    let _ = writeln!(
        out,
        "  {:<22} {:>8} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
        name, s.requests, s.failures, s.rps, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms
    );
}

fn run_load(outcome: &Outcome) -> String {
    let r = &outcome.run_load;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<22} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "task", "requests", "failures", "rps", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for task in &r.summary.tasks {
        summary_line(&mut out, &task.name, &task.summary);
    }
    summary_line(&mut out, "total", &r.summary.total);
    match &r.baseline {
        Some(b) => {
            summary_line(&mut out, &format!("baseline ({})", b.kind), &b.total);
            let _ = writeln!(out, "  compared with run(s) {} under tag {}", b.runs.join(", "), b.tag);
        }
        None => {
            let _ = writeln!(
                out,
                "  no baseline yet under this tag: the next run compares with this one"
            );
        }
    }
    let _ = writeln!(out, "  verdict: {} — {}", r.result.as_str().to_uppercase(), r.message);
    let _ = writeln!(
        out,
        "  run {} (took {})",
        r.run_id,
        duration(Duration::from_secs_f64(r.summary.elapsed_s.max(0.0)))
    );
    out
}
