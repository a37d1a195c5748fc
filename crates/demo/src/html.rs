//! The HTML report, `target/volley-report/index.html`: one self-contained file (inline CSS, charts as
//! inline SVG drawn by plotters, no script, no font or image fetched) that opens in a browser with no
//! network. Charts: latency over time (p50, p95, p99), requests and errors per second, the latency
//! histogram.

use std::fmt::Write as _;

use volley::html::{card, charts, document, escape, ms, seconds_table};
use volley_core::model::run::Summary;

use crate::outcome::Outcome;

fn task_row(out: &mut String, name: &str, s: &Summary) {
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
        escape(name),
        s.requests,
        s.failures,
        s.rps,
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        s.max_ms
    );
}

/// The whole page.
pub fn render(outcome: &Outcome) -> String {
    let total = &outcome.attack.report.total;
    let latency = &total.latency;
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Volley demo: load test {}</h1><p>{} rps from each of {} regions ({}) against <code>{}</code>, run by <code>volley run</code> and started together by the orchestrator at {}. Its own page: <a href=\"{}\">{}</a>.</p>",
        escape(&outcome.test_id),
        outcome.rate_per_region,
        outcome.regions.len(),
        escape(&outcome.regions.join(", ")),
        escape(&outcome.target),
        escape(
            &chrono::DateTime::from_timestamp_millis(outcome.start_at_ms).map_or_else(String::new, |t| t.to_rfc3339())
        ),
        crate::outcome::RUN_PAGE,
        crate::outcome::RUN_PAGE
    );
    body.push_str("<div class=\"cards\">");
    card(&mut body, "requests", &total.requests.to_string());
    card(&mut body, "success", &format!("{:.2}%", total.success_ratio() * 100.0));
    card(&mut body, "rate", &format!("{:.1}/s", outcome.attack.report.rate()));
    card(&mut body, "p50", &format!("{:.1} ms", ms(latency.quantile(0.5))));
    card(&mut body, "p95", &format!("{:.1} ms", ms(latency.quantile(0.95))));
    card(&mut body, "p99", &format!("{:.1} ms", ms(latency.quantile(0.99))));
    card(&mut body, "run-load", outcome.run_load.result.as_str());
    body.push_str("</div>");

    charts(&mut body, &outcome.seconds, latency);

    let _ = write!(
        body,
        "<h2>Report</h2><pre>{}</pre>",
        escape(&volley::report::text(&outcome.attack))
    );

    let saved = outcome.saved_requests();
    seconds_table(
        &mut body,
        &outcome.seconds,
        Some(("saved", &|second| {
            saved.get(&second).map_or_else(|| "-".into(), u64::to_string)
        })),
    );

    let r = &outcome.run_load;
    let _ = write!(
        body,
        "<h2>run-load: the greeter suite</h2><p><span class=\"verdict {}\">{}</span> {}</p>",
        r.result.as_str(),
        escape(&r.result.as_str().to_uppercase()),
        escape(&r.message)
    );
    body.push_str("<table id=\"run-load\"><tr><th>task</th><th>requests</th><th>failures</th><th>rps</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>");
    for task in &r.summary.tasks {
        task_row(&mut body, &task.name, &task.summary);
    }
    task_row(&mut body, "total", &r.summary.total);
    if let Some(b) = &r.baseline {
        task_row(
            &mut body,
            &format!("baseline ({}, {} run)", b.kind, b.runs.len()),
            &b.total,
        );
    }
    body.push_str("</table>");

    body.push_str("<h2>Phases</h2><table id=\"phases\"><tr><th>phase</th><th>wall time</th></tr>");
    for p in &outcome.phases {
        let _ = write!(body, "<tr><td>{}</td><td>{:.1} s</td></tr>", escape(&p.name), p.seconds);
    }
    body.push_str("</table><h2>Stored</h2><table id=\"stored\">");
    let _ = write!(
        body,
        "<tr><td>domain</td><td>{} {} ({})</td></tr>",
        escape(&outcome.domain.domain),
        escape(&outcome.domain.status),
        escape(&outcome.organisation)
    );
    for (what, place) in &outcome.stored {
        let _ = write!(body, "<tr><td>{}</td><td>{}</td></tr>", escape(what), escape(place));
    }
    body.push_str("</table>");

    document(&format!("Volley demo {}", outcome.test_id), &body)
}
