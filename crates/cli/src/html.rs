//! HTML reports: one self-contained file (inline CSS, charts as inline SVG drawn by plotters, no script, no
//! font or image fetched) that opens in a browser with no network. `volley attack --html FILE` writes
//! [`attack_page`]; the demo's page (`volley-demo`) is built from the same charts and parts.

use std::fmt::Write as _;
use std::time::Duration;

use plotters::prelude::*;

use volley_engine::load::stats::{Latencies, SecondStats};

use crate::{AttackArgs, AttackOutput, CliError};

/// The series colours; the tests that render a page look for them in its pixels.
pub const P50: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
pub const P95: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
pub const P99: RGBColor = RGBColor(0xd6, 0x27, 0x28);
pub const REQUESTS: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
pub const ERRORS: RGBColor = RGBColor(0x94, 0x67, 0xbd);

/// Each region's colour on a test's page, in the order the page lists the regions (by name; then again
/// from the first).
pub const REGION_COLOURS: [RGBColor; 4] = [
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
];
/// The start skew's bars.
pub const SKEW: RGBColor = RGBColor(0x7f, 0x7f, 0x7f);

const WIDTH: u32 = 900;
const HEIGHT: u32 = 320;

/// Escapes text for HTML element content and attribute values. Five replacements: not worth a crate.
pub fn escape(text: &str) -> String {
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

/// A duration in milliseconds, for charts and tables.
pub fn ms(d: Duration) -> f64 {
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

/// A chart's line: its name, its points and its colour.
pub type Series = (String, Vec<(f64, f64)>, RGBColor);

/// The `q` quantile of each second's latency (ms) that has requests, at its offset from `first`.
fn quantile_points(seconds: &[SecondStats], first: i64, q: f64) -> Vec<(f64, f64)> {
    seconds
        .iter()
        .filter(|s| s.stats.latency.count() > 0)
        .map(|s| ((s.second - first) as f64, ms(s.stats.latency.quantile(q))))
        .collect()
}

/// Lines over time in ms, each with its legend, up to `x_max` seconds since the start.
fn lines_chart(caption: &str, lines: Vec<Series>, x_max: f64) -> String {
    curve_chart_of(caption, lines, (x_max, "seconds since the start"), "ms")
}

/// Lines against the rate asked (`volley attack --find-max`'s curve), each with its legend, in `unit`.
pub fn curve_chart(caption: &str, lines: Vec<Series>, x_max: f64, unit: &str) -> String {
    curve_chart_of(caption, lines, (x_max, "requests a second asked"), unit)
}

/// Lines of (x, y) points up to `x_max`, the axes named.
fn curve_chart_of(caption: &str, lines: Vec<Series>, (x_max, x_label): (f64, &str), y_label: &str) -> String {
    let y_max = lines
        .iter()
        .flat_map(|(_, points, _)| points.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max)
        * 1.15;
    svg(|root| {
        let mut chart = frame(root, caption, (0.0..x_max, x_label), (0.0..y_max, y_label))?;
        for (name, points, colour) in lines {
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
        }
        legend(&mut chart)
    })
}

/// Latency over time (vegeta plot's chart, per second): p50, p95 and p99 of each second's requests, by
/// their intended send time.
pub fn latency_chart(seconds: &[SecondStats]) -> String {
    let first = seconds.first().map_or(0, |s| s.second);
    let lines = [("p50", 0.5, P50), ("p95", 0.95, P95), ("p99", 0.99, P99)]
        .map(|(name, q, colour)| (name.to_owned(), quantile_points(seconds, first, q), colour))
        .into();
    lines_chart(
        "Latency over time (from the intended send time)",
        lines,
        (seconds.len().max(2) - 1) as f64,
    )
}

/// Requests and errors (transport errors, 4xx and 5xx) per second.
pub fn throughput_chart(seconds: &[SecondStats]) -> String {
    let first = seconds.first().map_or(0, |s| s.second);
    let x_max = seconds.len().max(1) as f64;
    let y_max = seconds.iter().map(|s| s.stats.requests).max().unwrap_or(1).max(1) as f64 * 1.2;
    svg(|root| {
        let mut chart = frame(
            root,
            "Requests and errors per second",
            (0.0..x_max, "seconds since the start"),
            (0.0..y_max, "requests"),
        )?;
        let bar = |s: &SecondStats, value: u64, colour: RGBColor| {
            let x = (s.second - first) as f64;
            Rectangle::new([(x + 0.1, 0.0), (x + 0.9, value as f64)], colour.filled())
        };
        chart
            .draw_series(seconds.iter().map(|s| bar(s, s.stats.requests, REQUESTS)))?
            .label("requests")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], REQUESTS.filled()));
        chart
            .draw_series(seconds.iter().map(|s| bar(s, s.stats.failures(), ERRORS)))?
            .label("errors")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], ERRORS.filled()));
        legend(&mut chart)
    })
}

/// 40 equal bins from the fastest to the slowest request, counted from the run's histogram.
pub fn histogram_chart(latency: &Latencies) -> String {
    const BINS: usize = 40;
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

/// p99 over time, a line per region (each region's own seconds, on the same clock from `first`).
pub fn region_chart(regions: &[(String, Vec<SecondStats>)], first: i64) -> String {
    let lines: Vec<Series> = regions
        .iter()
        .enumerate()
        .map(|(i, (region, seconds))| {
            (
                region.clone(),
                quantile_points(seconds, first, 0.99),
                REGION_COLOURS[i % REGION_COLOURS.len()],
            )
        })
        .collect();
    let x_max = lines
        .iter()
        .flat_map(|(_, points, _)| points.iter().map(|p| p.0))
        .fold(1.0_f64, f64::max);
    lines_chart("p99 over time, by region", lines, x_max)
}

/// Each worker's start skew (ms from its intended first send), smallest first: a bar each.
pub fn skew_chart(skews_ms: &[f64]) -> String {
    let y_max = skews_ms.iter().map(|s| s.abs()).fold(0.1_f64, f64::max) * 1.15;
    svg(|root| {
        let mut chart = frame(
            root,
            "Start skew across workers",
            (0.0..skews_ms.len().max(1) as f64, "workers, smallest skew first"),
            (0.0..y_max, "ms"),
        )?;
        chart.draw_series(skews_ms.iter().enumerate().map(|(i, skew)| {
            let x = i as f64;
            Rectangle::new([(x + 0.1, 0.0), (x + 0.9, skew.abs())], SKEW.filled())
        }))?;
        Ok(())
    })
}

/// The thresholds and their verdict, under their heading.
pub fn thresholds(out: &mut String, verdicts: &[volley_engine::load::threshold::Verdict]) {
    if verdicts.is_empty() {
        return;
    }
    let (class, verdict) = if verdicts.iter().all(|v| v.passed) {
        ("success", "PASSED")
    } else {
        ("failed", "FAILED")
    };
    let _ = write!(
        out,
        "<h2>Thresholds</h2><p><span class=\"verdict {class}\">{verdict}</span></p><table id=\"thresholds\">"
    );
    for v in verdicts {
        let _ = write!(out, "<tr><td><code>{}</code></td></tr>", escape(&v.line()));
    }
    out.push_str("</table>");
}

/// One figure of the cards row at the top of a page.
pub fn card(out: &mut String, label: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>",
        escape(label),
        escape(value)
    );
}

/// The three charts, each under its heading: latency over time, throughput, distribution.
pub fn charts(out: &mut String, seconds: &[SecondStats], latency: &Latencies) {
    out.push_str("<h2>Latency</h2><figure id=\"latency\">");
    out.push_str(&latency_chart(seconds));
    out.push_str("</figure><h2>Throughput</h2><figure id=\"throughput\">");
    out.push_str(&throughput_chart(seconds));
    out.push_str("</figure><h2>Distribution</h2><figure id=\"histogram\">");
    out.push_str(&histogram_chart(latency));
    out.push_str("</figure>");
}

/// The per-second table; `extra` adds one last column (its heading, and each second's cell).
pub fn seconds_table(out: &mut String, seconds: &[SecondStats], extra: Option<(&str, &dyn Fn(i64) -> String)>) {
    let _ = write!(
        out,
        "<h2>Per second</h2><table id=\"seconds\"><tr><th>second</th><th>requests</th><th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th>{}</tr>",
        extra.map_or_else(String::new, |(heading, _)| format!("<th>{}</th>", escape(heading)))
    );
    let first = seconds.first().map_or(0, |s| s.second);
    for s in seconds {
        let l = &s.stats.latency;
        let _ = write!(
            out,
            "<tr><td>+{}s</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td>{}</tr>",
            s.second - first,
            s.stats.requests,
            s.stats.failures(),
            ms(l.quantile(0.5)),
            ms(l.quantile(0.95)),
            ms(l.quantile(0.99)),
            ms(l.max()),
            extra.map_or_else(String::new, |(_, cell)| format!("<td>{}</td>", escape(&cell(s.second))))
        );
    }
    out.push_str("</table>");
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

/// A whole page around `body`, titled `title` (escaped here).
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

/// The page of one `volley attack`: its figures, the thresholds' verdict, the three charts, the text
/// report and the per-second table. Fails only when the report's own per-second buckets do not decode.
pub fn attack_page(output: &AttackOutput) -> Result<String, serde_json::Error> {
    let seconds = output.report.decode_seconds()?;
    let total = &output.report.total;
    let latency = &total.latency;
    let mut body = String::new();
    let started = u64::try_from(output.report.started_at_ms).map_or_else(
        |_| String::from("before 1970"),
        |ms| humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string(),
    );
    let _ = write!(
        body,
        "<h1>volley attack: {}</h1><p>Started {} ({}), {} requests.</p>",
        escape(&output.url),
        escape(&started),
        escape(&match (output.max_in_flight, output.connections) {
            (_, Some(connections)) => format!("a closed loop over {connections} connections"),
            _ => format!("open model, {:.2} requests a second", output.report.rate()),
        }),
        total.requests
    );
    body.push_str("<div class=\"cards\">");
    card(&mut body, "requests", &total.requests.to_string());
    card(&mut body, "success", &format!("{:.2}%", total.success_ratio() * 100.0));
    card(&mut body, "rate", &format!("{:.1}/s", output.report.rate()));
    card(&mut body, "p50", &format!("{:.1} ms", ms(latency.quantile(0.5))));
    card(&mut body, "p95", &format!("{:.1} ms", ms(latency.quantile(0.95))));
    card(&mut body, "p99", &format!("{:.1} ms", ms(latency.quantile(0.99))));
    card(&mut body, "errors", &total.failures().to_string());
    body.push_str("</div>");
    thresholds(&mut body, &output.thresholds);
    charts(&mut body, &seconds, latency);
    let _ = write!(
        body,
        "<h2>Report</h2><pre>{}</pre>",
        escape(&crate::report::text(output))
    );
    seconds_table(&mut body, &seconds, None);
    Ok(document(&format!("volley attack {}", output.url), &body))
}

/// Writes the run's page where `--html` says, when it says.
pub fn write(args: &AttackArgs, output: &AttackOutput) -> Result<(), CliError> {
    write_to(args.html.as_deref(), output)
}

/// Writes `output`'s page to `path`, if one is asked for.
pub fn write_to(path: Option<&std::path::Path>, output: &AttackOutput) -> Result<(), CliError> {
    let Some(path) = path else { return Ok(()) };
    save(path, &attack_page(output)?)
}

/// Writes a page to `path`: the one way `--html` pages reach the disk (the attack's, the test's, the knee's).
pub fn save(path: &std::path::Path, page: &str) -> Result<(), CliError> {
    std::fs::write(path, page).map_err(|source| CliError::Html {
        path: path.to_owned(),
        source,
    })
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
