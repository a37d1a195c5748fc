//! The demo against the deployed local stack, twice, as `make demo` runs it (shorter, under a tag of its own):
//! every function plays its part, the second run compares with the first, and the HTML report's three charts
//! render (resvg, no browser) with every series drawn.

use std::path::{Path, PathBuf};
use std::time::Duration;

use volley::html;
use volley_core::model::run::{Level, Metric, RunAnswer, RunResult};
use volley_demo::{Options, Outcome, Stack, StackOutputs, phases::Phases};
use volley_testkit::emulator;
use volley_testkit::svg::rendered_pixels;

fn outputs_path() -> PathBuf {
    std::env::var("VOLLEY_STACK_OUTPUTS").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/local-stack/outputs.json"),
        PathBuf::from,
    )
}

fn options(organisation: &str, tag: &str, out_dir: &Path) -> Options {
    Options {
        rate: 5,
        duration: Duration::from_secs(6),
        organisation: organisation.to_owned(),
        users: 2,
        spawn_rate: 2,
        runtime: Duration::from_secs(3),
        tag: tag.to_owned(),
        out_dir: out_dir.to_owned(),
        ..Options::default()
    }
}

fn check_outcome(outcome: &Outcome, options: &Options) {
    let expected = u64::from(options.rate) * options.duration.as_secs() * outcome.regions.len() as u64;
    assert_eq!(
        outcome.regions.len(),
        2,
        "both of the stack's regions: {:?}",
        outcome.regions
    );
    assert_eq!(outcome.domain.status, "validated", "{:?}", outcome.domain);
    assert_eq!(outcome.counters.results_archived, 2, "{:?}", outcome.counters);
    assert_eq!(outcome.counters.requests, expected, "{:?}", outcome.counters);
    assert_eq!(outcome.attack.report.total.requests, expected);
    assert_eq!(outcome.attack.report.total.statuses.get(&200), Some(&expected));
    // What the metrics-saver kept matches what the workers measured, second by second.
    let saved = outcome.saved_requests();
    for second in &outcome.seconds {
        assert_eq!(
            saved.get(&second.second),
            Some(&second.stats.requests),
            "second {}",
            second.second
        );
    }
    assert!(outcome.run_load.summary.total.requests > 0);
    assert_eq!(outcome.run_load.summary.total.failures, 0, "{:?}", outcome.run_load);
}

/// The second run's verdict follows from its comparison with the first: it fails exactly when a finding is
/// at the fail level, and every finding holds the first run's own figure as its baseline. (Whether a p95
/// over a few dozen requests through the emulator moved by 25 % is the machine's noise, not the demo's
/// wiring: the regression rules themselves are run-load's handler tests.)
fn check_comparison(second: &RunAnswer, first: &RunAnswer) {
    let failed = second.findings.iter().any(|f| f.level == Level::Fail);
    let expected = if failed { RunResult::Failed } else { RunResult::Success };
    assert_eq!(second.result, expected, "{second:?}");
    let first_total = &first.summary.total;
    for finding in &second.findings {
        let first_figure = match finding.metric {
            Metric::P95 => first_total.p95_ms,
            Metric::P99 => first_total.p99_ms,
            Metric::RequestsPerSecond => first_total.rps,
            Metric::FailureRatio => continue,
        };
        assert!(
            (finding.baseline - first_figure).abs() < 1e-3,
            "{finding} against the first run's {first_total:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_through_every_function_and_its_second_run_compares_with_the_first() {
    let _ = emulator::sdk_config().await; // a loud failure if the stack is not up
    let stack = Stack::connect(StackOutputs::load(&outputs_path()).unwrap_or_else(|e| panic!("{e}"))).await;
    let tag = emulator::unique("demo-test-");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/tmp")
        .join(&tag);

    // One organisation for both runs: run-load compares runs within an organisation.
    let organisation = emulator::unique("demo");
    let first_options = options(&organisation, &tag, &dir.join("first"));
    let first = volley_demo::run(&first_options, &stack, &Phases::new())
        .await
        .unwrap_or_else(|e| panic!("first run: {e}"));
    check_outcome(&first, &first_options);
    assert_eq!(first.run_load.result, RunResult::Success, "{:?}", first.run_load);
    assert!(first.run_load.baseline.is_none(), "nothing to compare with yet");
    assert!(
        first.run_load.message.contains("no baseline"),
        "{}",
        first.run_load.message
    );

    let second_options = options(&organisation, &tag, &dir.join("second"));
    let second = volley_demo::run(&second_options, &stack, &Phases::new())
        .await
        .unwrap_or_else(|e| panic!("second run: {e}"));
    check_outcome(&second, &second_options);
    let baseline = second
        .run_load
        .baseline
        .as_ref()
        .unwrap_or_else(|| panic!("the second run compares: {:?}", second.run_load));
    assert_eq!(baseline.runs, vec![first.run_load.run_id.clone()]);
    assert_eq!(baseline.tag, tag);
    assert_eq!(baseline.total.requests, first.run_load.summary.total.requests);
    assert!((baseline.total.p95_ms - first.run_load.summary.total.p95_ms).abs() < 1e-3);
    check_comparison(&second.run_load, &first.run_load);
    let names: Vec<&str> = second.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 6, "{names:?}");

    // The text report has vegeta's lines, the per-second table and the verdict.
    let text = volley_demo::text::render(&second);
    let verdict = format!("verdict: {}", second.run_load.result.as_str().to_uppercase());
    for needle in [
        "Requests      [total, rate, throughput]",
        "Latencies",
        "Per second",
        verdict.as_str(),
        "compared with run(s)",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }

    // The page: self-contained, and drawn.
    let page = volley_demo::write_reports(&second, &second_options.out_dir).unwrap_or_else(|e| panic!("{e}"));
    let body = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body.matches("<svg").count(), 3, "three charts");
    for external in ["src=\"http", "href=\"http", "<script", "@import", "url("] {
        assert!(!body.contains(external), "the page fetches nothing: {external}");
    }
    let series = [
        ("p50", html::P50),
        ("p95", html::P95),
        ("p99", html::P99),
        ("requests", html::REQUESTS),
    ];
    let counts = rendered_pixels(&body, &series.map(|(_, colour)| (colour.0, colour.1, colour.2)));
    for ((name, _), n) in series.iter().zip(&counts) {
        assert!(*n >= 30, "the {name} series is drawn: {n} pixels of its colour");
    }
    // `make test` shows this line (.config/nextest.toml): which renderer checked the page.
    println!(
        "the report's 3 charts rendered without a browser (resvg): {}",
        series
            .iter()
            .zip(&counts)
            .map(|((name, _), n)| format!("{name} {n} px"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
