//! The text report, in vegeta's shape, with Volley's additions (service time, dropped, late).

use std::fmt::Write as _;
use std::time::Duration;

use volley_engine::load::stats::{Latencies, Stats};

use crate::AttackOutput;

/// Bytes for people: kB, MB, GB (powers of 1000, as transfer is priced).
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} GB", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.2} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

/// A duration as vegeta prints it: µs, ms or s with enough digits to read.
pub fn duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1e6 {
        format!("{:.3}ms", micros / 1e3)
    } else {
        format!("{:.3}s", micros / 1e6)
    }
}

fn latencies(l: &Latencies) -> String {
    [
        l.min(),
        l.mean(),
        l.quantile(0.5),
        l.quantile(0.9),
        l.quantile(0.95),
        l.quantile(0.99),
        l.max(),
    ]
    .map(duration)
    .join(", ")
}

fn mean(total: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { total as f64 / n as f64 }
}

fn line(out: &mut String, label: &str, fields: &str, values: impl std::fmt::Display) {
    let _ = writeln!(out, "{label:<14}{fields:<42}{values}");
}

/// The report people read.
pub fn text(output: &AttackOutput) -> String {
    let report = &output.report;
    let total: &Stats = &report.total;
    let mut out = String::new();
    line(
        &mut out,
        "Requests",
        "[total, rate, throughput]",
        format!("{}, {:.2}, {:.2}", total.requests, report.rate(), report.throughput()),
    );
    line(
        &mut out,
        "Duration",
        "[total, attack, wait]",
        format!(
            "{}, {}, {}",
            duration(report.duration + report.wait),
            duration(report.duration),
            duration(report.wait)
        ),
    );
    line(
        &mut out,
        "Latencies",
        "[min, mean, 50, 90, 95, 99, max]",
        latencies(&total.latency),
    );
    line(
        &mut out,
        "Service time",
        "[min, mean, 50, 90, 95, 99, max]",
        latencies(&total.service_time),
    );
    line(
        &mut out,
        "Bytes In",
        "[total, mean]",
        format!("{}, {:.2}", total.bytes_in, mean(total.bytes_in, total.requests)),
    );
    line(
        &mut out,
        "Bytes Out",
        "[total, mean]",
        format!("{}, {:.2}", total.bytes_out, mean(total.bytes_out, total.requests)),
    );
    line(
        &mut out,
        "Success",
        "[ratio]",
        format!("{:.2}%", total.success_ratio() * 100.0),
    );
    let codes: Vec<String> = total.statuses.iter().map(|(code, n)| format!("{code}:{n}")).collect();
    line(&mut out, "Status Codes", "[code:count]", codes.join("  "));
    match (output.max_in_flight, output.connections) {
        (Some(cap), _) => line(
            &mut out,
            "Dropped",
            "[total, max in flight]",
            format!("{}, {cap}", total.dropped),
        ),
        (_, Some(connections)) => line(&mut out, "Closed loop", "[connections]", connections),
        _ => {}
    }
    line(
        &mut out,
        "Late",
        "[total, send lag 50, 99, max]",
        format!(
            "{}, {}, {}, {}",
            total.late,
            duration(total.send_lag.quantile(0.5)),
            duration(total.send_lag.quantile(0.99)),
            duration(total.send_lag.max())
        ),
    );
    if report.truncated {
        let _ = writeln!(out, "Truncated: the run was cut short by its deadline");
    }
    let _ = writeln!(out, "Error Set:");
    for (kind, n) in &total.errors {
        let _ = writeln!(out, "{kind}: {n}");
    }
    if !output.thresholds.is_empty() {
        let _ = writeln!(out, "Thresholds:");
        for verdict in &output.thresholds {
            let _ = writeln!(out, "{}", verdict.line());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_vegeta() {
        assert_eq!(duration(Duration::from_micros(950)), "950µs");
        assert_eq!(duration(Duration::from_micros(20_345)), "20.345ms");
        assert_eq!(duration(Duration::from_millis(2500)), "2.500s");
    }
}
