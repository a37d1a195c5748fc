//! The demo against the deployed local stack, twice, as `make demo` runs it (shorter, under a tag of its own):
//! every function plays its part, the second run compares with the first, and the HTML report renders in
//! headless Chromium (Debian's `chromium`; `.ci/run` installs it) with its three charts drawn.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use volley_core::contract::emulator;
use volley_demo::{Options, Outcome, Stack, StackOutputs, html, phases::Phases};

fn outputs_path() -> PathBuf {
    std::env::var("VOLLEY_STACK_OUTPUTS").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/local-stack/outputs.json"),
        PathBuf::from,
    )
}

fn options(tag: &str, out_dir: &Path) -> Options {
    Options {
        rate: 5,
        duration: Duration::from_secs(6),
        buffer_seconds: 3,
        organisation: emulator::unique("demo"),
        users: 2,
        spawn_rate: 2,
        runtime: Duration::from_secs(3),
        tag: tag.to_owned(),
        out_dir: out_dir.to_owned(),
        ..Options::default()
    }
}

fn check_outcome(outcome: &Outcome, options: &Options) {
    let expected = u64::from(options.rate) * options.duration.as_secs() * options.regions.len() as u64;
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
    assert_eq!(outcome.run_load.result, "success", "{:?}", outcome.run_load);
    assert!(outcome.run_load.summary.total.requests > 0);
}

/// Counts the pixels of `colour` (within a small tolerance) in an RGB(A) PNG.
fn pixels_of(png: &Path, colour: plotters::style::RGBColor) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).unwrap_or_else(|e| panic!("{}: {e}", png.display())),
    ));
    let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{e}"));
    let mut buffer = vec![0; reader.output_buffer_size().unwrap_or_default()];
    let info = reader.next_frame(&mut buffer).unwrap_or_else(|e| panic!("{e}"));
    let step = info.color_type.samples();
    assert!(step >= 3, "an RGB screenshot, not {:?}", info.color_type);
    buffer[..info.buffer_size()]
        .chunks(step)
        .filter(|p| p[0].abs_diff(colour.0) <= 8 && p[1].abs_diff(colour.1) <= 8 && p[2].abs_diff(colour.2) <= 8)
        .count()
}

fn screenshot(page: &Path, png: &Path) {
    let profile = page.with_file_name("chromium-profile");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("chromium: {e}. This test needs Debian's chromium: `apt-get install chromium` (.ci/run does)")
        });
    assert!(
        out.status.success() && png.exists(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_through_every_function_and_its_second_run_compares_with_the_first() {
    let _ = emulator::sdk_config().await; // a loud failure if the stack is not up
    let stack = Stack::connect(StackOutputs::load(&outputs_path()).unwrap_or_else(|e| panic!("{e}"))).await;
    let tag = emulator::unique("demo-test-");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/tmp")
        .join(&tag);

    let first_options = options(&tag, &dir.join("first"));
    let first = volley_demo::run(&first_options, &stack, &Phases::new())
        .await
        .unwrap_or_else(|e| panic!("first run: {e}"));
    check_outcome(&first, &first_options);
    assert!(first.run_load.baseline.is_none(), "nothing to compare with yet");
    assert!(
        first.run_load.message.contains("no baseline"),
        "{}",
        first.run_load.message
    );

    let second_options = options(&tag, &dir.join("second"));
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
    let names: Vec<&str> = second.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 7, "{names:?}");

    // The text report has vegeta's lines, the per-second table and the verdict.
    let text = volley_demo::text::render(&second);
    for needle in [
        "Requests      [total, rate, throughput]",
        "Latencies",
        "Per second",
        "verdict: SUCCESS",
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
    let png = page.with_file_name("screenshot.png");
    screenshot(&page.canonicalize().unwrap_or_else(|e| panic!("{e}")), &png);
    for (name, colour) in [
        ("p50", html::P50),
        ("p95", html::P95),
        ("p99", html::P99),
        ("requests", html::REQUESTS),
    ] {
        let n = pixels_of(&png, colour);
        assert!(
            n >= 30,
            "the {name} series is drawn in the screenshot: {n} pixels of its colour"
        );
    }
}
