//! The HTML report, `target/volley-report/index.html`: one self-contained file (inline CSS, charts as
//! inline SVG drawn by plotters, no script, no font or image fetched) that opens in a browser with no
//! network. Charts: latency over time (p50, p95, p99), requests and errors per second, the latency
//! histogram.

use std::fmt::Write as _;
use std::time::Duration;

use plotters::prelude::*;

use volley_core::model::run::Summary;

use crate::outcome::Outcome;

/// The series colours; the screenshot test looks for them in the rendered page.
pub const P50: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
pub const P95: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
pub const P99: RGBColor = RGBColor(0xd6, 0x27, 0x28);
pub const REQUESTS: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
pub const ERRORS: RGBColor = RGBColor(0x94, 0x67, 0xbd);

const WIDTH: u32 = 900;
const HEIGHT: u32 = 320;

/// Escapes text for HTML element content and attribute values. Five replacements: not worth a crate.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

type ChartResult = Result<(), Box<dyn std::error::Error>>;
type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Every chart's frame: its caption, margins, axes and their descriptions, no minor grid lines.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
    (x, x_desc): (std::ops::Range<f64>, &str),
    (y, y_desc): (std::ops::Range<f64>, &str),
) -> Result<Chart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    Ok(chart)
}

/// The legend, upper right.
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> ChartResult {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// Draws into an SVG string; a chart that cannot be drawn becomes a visible message instead.
fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> ChartResult) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| Box::new(e) as Box<dyn std::error::Error>))
    };
    match result {
        Ok(()) => out,
        Err(e) => format!(
            "<p class=\"error\">this chart could not be drawn: {}</p>",
            escape(&e.to_string())
        ),
    }
}

fn latency_chart(outcome: &Outcome) -> String {
    let first = outcome.seconds.first().map_or(0, |s| s.second);
    let line = |q: f64| -> Vec<(f64, f64)> {
        outcome
            .seconds
            .iter()
            .filter(|s| s.stats.latency.count() > 0)
            .map(|s| ((s.second - first) as f64, ms(s.stats.latency.quantile(q))))
            .collect()
    };
    let series = [("p50", 0.5, P50), ("p95", 0.95, P95), ("p99", 0.99, P99)].map(|(n, q, c)| (n, line(q), c));
    let x_max = (outcome.seconds.len().max(2) - 1) as f64;
    let y_max = series
        .iter()
        .flat_map(|(_, points, _)| points.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max)
        * 1.15;
    svg(|root| {
        let mut chart = frame(
            root,
            "Latency over time (from the intended send time)",
            (0.0..x_max, "seconds since the start"),
            (0.0..y_max, "ms"),
        )?;
        for (name, points, colour) in series {
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
        }
        legend(&mut chart)
    })
}

fn throughput_chart(outcome: &Outcome) -> String {
    let first = outcome.seconds.first().map_or(0, |s| s.second);
    let x_max = outcome.seconds.len().max(1) as f64;
    let y_max = outcome
        .seconds
        .iter()
        .map(|s| s.stats.requests)
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.2;
    svg(|root| {
        let mut chart = frame(
            root,
            "Requests and errors per second",
            (0.0..x_max, "seconds since the start"),
            (0.0..y_max, "requests"),
        )?;
        let bar = |s: &volley_engine::load::stats::SecondStats, value: u64, colour: RGBColor| {
            let x = (s.second - first) as f64;
            Rectangle::new([(x + 0.1, 0.0), (x + 0.9, value as f64)], colour.filled())
        };
        chart
            .draw_series(outcome.seconds.iter().map(|s| bar(s, s.stats.requests, REQUESTS)))?
            .label("requests")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], REQUESTS.filled()));
        chart
            .draw_series(outcome.seconds.iter().map(|s| bar(s, s.stats.failures(), ERRORS)))?
            .label("errors")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], ERRORS.filled()));
        legend(&mut chart)
    })
}

/// 40 equal bins from the fastest to the slowest request, counted from the merged histogram.
fn histogram_chart(outcome: &Outcome) -> String {
    const BINS: usize = 40;
    let latency = &outcome.attack.report.total.latency;
    let (low, high) = (ms(latency.min()), ms(latency.max()));
    let width = ((high - low) / BINS as f64).max(0.001);
    let mut counts = [0_u64; BINS];
    for value in latency.histogram().iter_recorded() {
        let at = value.value_iterated_to() as f64 / 1000.0;
        let bin = (((at - low) / width) as usize).min(BINS - 1);
        counts[bin] += value.count_at_value();
    }
    let y_max = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.15;
    svg(|root| {
        let mut chart = frame(
            root,
            "Latency histogram (all requests)",
            (low..(low + width * BINS as f64), "ms"),
            (0.0..y_max, "requests"),
        )?;
        chart.draw_series(counts.iter().enumerate().map(|(i, n)| {
            let x = low + width * i as f64;
            Rectangle::new([(x, 0.0), (x + width * 0.9, *n as f64)], P50.filled())
        }))?;
        Ok(())
    })
}

fn card(out: &mut String, label: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>",
        escape(label),
        escape(value)
    );
}

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

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.cards { display: flex; flex-wrap: wrap; gap: .75rem; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .9rem; min-width: 7rem; }
.card .label { font-size: .8rem; color: #666; } .card .value { font-size: 1.3rem; font-weight: 600; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .85rem; }
table { border-collapse: collapse; font-size: .85rem; } td, th { padding: .2rem .6rem; text-align: right; }
td:first-child, th:first-child { text-align: left; } tr:nth-child(even) { background: #f6f8fa; }
.verdict { display: inline-block; padding: .2rem .6rem; border-radius: 4px; color: white; font-weight: 600; }
.success { background: #1a7f37; } .failed { background: #d62728; } .error { color: #d62728; }
figure { margin: 1rem 0; } svg { max-width: 100%; height: auto; }
";

/// The whole page.
pub fn render(outcome: &Outcome) -> String {
    let total = &outcome.attack.report.total;
    let latency = &total.latency;
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Volley demo: load test {}</h1><p>{} rps from each of {} regions ({}) against <code>{}</code>, started together by the orchestrator at {}.</p>",
        escape(&outcome.test_id),
        outcome.rate_per_region,
        outcome.regions.len(),
        escape(&outcome.regions.join(", ")),
        escape(&outcome.target),
        escape(
            &chrono::DateTime::from_timestamp_millis(outcome.start_at_ms).map_or_else(String::new, |t| t.to_rfc3339())
        )
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

    body.push_str("<h2>Latency</h2><figure id=\"latency\">");
    body.push_str(&latency_chart(outcome));
    body.push_str("</figure><h2>Throughput</h2><figure id=\"throughput\">");
    body.push_str(&throughput_chart(outcome));
    body.push_str("</figure><h2>Distribution</h2><figure id=\"histogram\">");
    body.push_str(&histogram_chart(outcome));
    body.push_str("</figure>");

    let _ = write!(
        body,
        "<h2>Report</h2><pre>{}</pre>",
        escape(&volley::report::text(&outcome.attack))
    );

    body.push_str("<h2>Per second</h2><table id=\"seconds\"><tr><th>second</th><th>requests</th><th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>saved</th></tr>");
    let saved = outcome.saved_requests();
    let first = outcome.seconds.first().map_or(0, |s| s.second);
    for s in &outcome.seconds {
        let l = &s.stats.latency;
        let _ = write!(
            body,
            "<tr><td>+{}s</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            s.second - first,
            s.stats.requests,
            s.stats.failures(),
            ms(l.quantile(0.5)),
            ms(l.quantile(0.95)),
            ms(l.quantile(0.99)),
            ms(l.max()),
            saved.get(&s.second).map_or_else(|| "-".into(), u64::to_string)
        );
    }
    body.push_str("</table>");

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

    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Volley demo {}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(&outcome.test_id)
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
