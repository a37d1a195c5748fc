//! The test's page (`volley run --html`, `volley report --html`): one self-contained file, as `volley attack
//! --html`'s is and from the same parts (`html.rs`), over the exact merge of every region: the figures and
//! the thresholds' verdict, p99 over time by region, the whole test's latency, throughput and histogram,
//! the start skew across workers, the segments and any stop, the cost before and after, the text report
//! and the per-second table.

use std::fmt::Write as _;

use crate::cost::{self, Cost};
use crate::html::{self, card, escape, ms};
use crate::run::RunOutput;

/// A cost table under its heading.
fn cost_table(out: &mut String, heading: &str, id: &str, cost: &Cost) {
    let _ = write!(
        out,
        "<h3>{}: {}</h3><p>AWS list prices for {}, as of {}; not the bill (no free tier, savings plan or tax).</p><table id=\"{id}\"><tr><th>region</th><th>what</th><th>USD</th></tr>",
        escape(heading),
        escape(&cost::usd(cost.usd)),
        escape(cost.prices.region),
        escape(cost.prices.as_of)
    );
    for region in &cost.regions {
        for line in &region.lines {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&region.region),
                escape(&line.what),
                escape(&cost::usd(line.usd))
            );
        }
    }
    out.push_str("</table>");
}

/// The page of `output`, the test at `url` (its plan's target, or its id when rebuilt).
pub fn test_page(output: &RunOutput, url: &str) -> Result<String, serde_json::Error> {
    let result = &output.result;
    let facts = &output.facts;
    let seconds = result.report.decode_seconds()?;
    let total = &result.report.total;
    let latency = &total.latency;
    let mut body = String::new();
    let started = u64::try_from(facts.start_ms).map_or_else(
        |_| String::from("before 1970"),
        |ms| {
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
        },
    );
    let _ = write!(
        body,
        "<h1>volley run: {}/{}</h1><p>{}: {} region{}, started {}, {} calls.</p>",
        escape(&result.test.organisation_id),
        escape(&result.test.test_id),
        escape(url),
        result.regions.len(),
        if result.regions.len() == 1 { "" } else { "s" },
        escape(&started),
        result.calls.len() + result.short.len() + result.missing.len()
    );
    body.push_str("<div class=\"cards\">");
    card(&mut body, "requests", &total.requests.to_string());
    card(&mut body, "success", &format!("{:.2}%", total.success_ratio() * 100.0));
    card(&mut body, "p50", &format!("{:.1} ms", ms(latency.quantile(0.5))));
    card(&mut body, "p99", &format!("{:.1} ms", ms(latency.quantile(0.99))));
    card(&mut body, "errors", &total.failures().to_string());
    if let Some(skew) = &result.start_skew {
        card(&mut body, "start skew p99", &format!("{:.2} ms", skew.p99_ms));
    }
    if let Some(cost) = &output.cost {
        card(&mut body, "cost", &cost::usd(cost.usd));
    }
    body.push_str("</div>");
    html::thresholds(&mut body, &output.thresholds);

    body.push_str("<h2>Regions</h2><table id=\"regions\"><tr><th>region</th><th>requests</th><th>success</th><th>p50 ms</th><th>p99 ms</th><th>errors</th></tr>");
    for (region, stats) in &result.regions {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{:.2}%</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            escape(region),
            stats.requests,
            stats.success_ratio() * 100.0,
            ms(stats.latency.quantile(0.5)),
            ms(stats.latency.quantile(0.99)),
            stats.failures()
        );
    }
    body.push_str("</table>");
    let regions: Vec<_> = facts
        .region_seconds
        .iter()
        .map(|(region, seconds)| (region.clone(), seconds.clone()))
        .collect();
    let first = seconds.first().map_or(facts.start_ms.div_euclid(1000), |s| s.second);
    body.push_str("<figure id=\"region-latency\">");
    body.push_str(&html::region_chart(&regions, first));
    body.push_str("</figure>");
    html::charts(&mut body, &seconds, latency);

    body.push_str("<h2>Start skew</h2>");
    match &result.start_skew {
        Some(skew) => {
            let _ = write!(
                body,
                "<p>Across {} workers: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, from each one's intended first send.</p>",
                skew.calls, skew.p50_ms, skew.p99_ms, skew.max_ms
            );
        }
        None => body.push_str("<p>No worker reported its start.</p>"),
    }
    body.push_str("<figure id=\"skew\">");
    body.push_str(&html::skew_chart(
        &facts.skews.iter().map(|(_, _, ms)| *ms).collect::<Vec<_>>(),
    ));
    body.push_str("</figure>");

    body.push_str(
        "<h2>Segments</h2><table id=\"segments\"><tr><th>segment</th><th>from</th><th>to</th><th>workers</th></tr>",
    );
    for (k, (window, calls)) in facts.segments.iter().enumerate() {
        let workers: Vec<String> = calls.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        let _ = write!(
            body,
            "<tr><td>{k}</td><td>+{}</td><td>+{}</td><td>{}</td></tr>",
            humantime::format_duration(window.start),
            humantime::format_duration(window.end),
            escape(&workers.join(", "))
        );
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        "<p id=\"stop\">{}</p>",
        escape(&match (result.report.stopped, &facts.stop_reason) {
            (_, Some(reason)) => format!("Stopped by an abort rule: {reason}."),
            (true, None) => "Stopped (volley stop, a signal or test-stop) before its end.".to_owned(),
            (false, None) => "Ran to its end.".to_owned(),
        })
    );
    if !result.short.is_empty() || !result.missing.is_empty() {
        let _ = write!(
            body,
            "<p>Short: {}. Never reported: {}.</p>",
            escape(
                &result
                    .short
                    .iter()
                    .map(|s| format!("{} ({} requests)", s.call_id, s.requests))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            escape(&result.missing.join(", "))
        );
    }

    if output.estimate.is_some() || output.cost.is_some() {
        body.push_str("<h2 id=\"cost\">Cost</h2>");
        if let Some(estimate) = &output.estimate {
            cost_table(&mut body, "Estimated before the run", "cost-estimate", estimate);
        }
        if let Some(cost) = &output.cost {
            cost_table(&mut body, "From what Volley measured", "cost-measured", cost);
        }
    }
    let _ = write!(
        body,
        "<h2>Report</h2><pre>{}</pre>",
        escape(&crate::run::text(output, url))
    );
    html::seconds_table(&mut body, &seconds, None);
    Ok(html::document(
        &format!("volley run {}/{}", result.test.organisation_id, result.test.test_id),
        &body,
    ))
}

/// Writes the test's page to `path`, when one is asked for.
pub fn write(path: Option<&std::path::Path>, output: &RunOutput, url: &str) -> Result<(), crate::CliError> {
    let Some(path) = path else { return Ok(()) };
    html::save(path, &test_page(output, url)?)
}
