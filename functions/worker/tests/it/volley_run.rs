//! `volley run`, `stop`, `status` and `report`: the command line driving the deployed local stack (both of its
//! regions) as a user does, its output captured. Against the stack's greeter (not the fleet's counting
//! target, which the fleet's tests hold one at a time); what the test holds the command to is what the
//! regions stored.

use std::io::Write as _;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use volley_core::adapters::s3::S3ResultArchive;
use volley_core::model::plan::TestPlan;
use volley_core::model::result::{CallResult, archive_key};
use volley_core::model::scope::TestScope;
use volley_core::model::test_result::TestResult;
use volley_core::ports::ResultArchive;
use volley_engine::load::stats::Stats;
use volley_testkit::emulator;

fn volley(args: &[&str]) -> Child {
    Command::new(emulator::workspace_binary("volley"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("volley {args:?}: {e}"))
}

async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A plan file of `seconds` at 10 requests a second in the stack's two regions, at the greeter.
fn plan_file(dir: &std::path::Path, test_id: &str, seconds: u64, extra: &str) -> String {
    let (first, second) = (
        emulator::stack_output("StackRegion"),
        emulator::stack_output("SecondRegion"),
    );
    let url = format!("{}/hello/nobody", emulator::stack_output("GreeterLocalUrl"));
    let path = dir.join(format!("{test_id}.toml"));
    let mut file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    write!(
        file,
        r#"organisationId = "acme"
testId = "{test_id}"
homeRegion = "{first}"
rate = 10
duration = "{seconds}s"
maxWorkerRate = 5
{extra}

[request]
url = "{url}"

[[regions]]
region = "{first}"
share = 1

[[regions]]
region = "{second}"
share = 1
"#
    )
    .unwrap_or_else(|e| panic!("{e}"));
    path.to_string_lossy().into_owned()
}

/// The results the regions stored for the plan in `path` started at `start_ms`, merged here.
async fn stored(path: &str, start_ms: u64) -> (TestResult, Vec<CallResult>) {
    let config = emulator::sdk_config().await;
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
    let mut table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    table.remove("thresholds");
    let plan = TestPlan::from_json(&serde_json::to_value(&table).unwrap_or_default())
        .and_then(TestPlan::validate)
        .unwrap_or_else(|e| panic!("{e}"));
    let fleet = plan
        .fleet(UNIX_EPOCH + Duration::from_millis(start_ms))
        .unwrap_or_else(|e| panic!("{e}"));
    let test = TestScope::new(&plan.plan.organisation_id, &plan.plan.test_id);
    let mut results = Vec::new();
    for call in &fleet.calls {
        let archive = S3ResultArchive::new(
            &volley_core::aws::in_region(&config, &call.region),
            emulator::stack_output_in(&call.region, "ResultsBucketName"),
        );
        let key = archive_key(&test.organisation_id, &test.test_id, &call.call.call_id);
        let bytes = emulator::eventually(&key, Duration::from_secs(60), || {
            let (archive, key) = (archive.clone(), key.clone());
            async move { archive.get(&key).await.ok().flatten() }
        })
        .await;
        results.push(serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key}: {e}")));
    }
    let expected: Vec<String> = fleet.calls.iter().map(|c| c.call.call_id.clone()).collect();
    let merged = TestResult::merge(&test, &expected, &results, &[]).unwrap_or_else(|e| panic!("{e}"));
    (merged, results)
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&output.stdout), text(&output.stderr)))
}

/// The last request any call sent, Unix ms.
fn last_send_ms(results: &[CallResult]) -> u64 {
    results
        .iter()
        .map(|r| r.report.started_at_ms.max(0) as u64 + r.report.duration.as_millis() as u64)
        .max()
        .unwrap_or_default()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Three runs at once, each of a 2-region plan through the deployed stack:
/// - 6 s held to `p99<1us`: it prints the plan and a line a second to stderr, its report's figures are the
///   regions' stored results merged here, it exits 3 naming the threshold, and `volley report` rebuilds the
///   same report afterwards;
/// - 30 s, SIGTERM 3 s in: the test stops, no call sends 2 s after the signal, and its report says stopped;
/// - 30 s, `volley stop` from a second process 3 s in: the same, 2 s after `volley stop` answered.
///
/// And a plan file with an unknown key exits 2 naming it, before anything starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volley_run_starts_follows_stops_and_reports_a_two_region_test_exactly() {
    let dir = std::env::temp_dir().join(emulator::unique("volley-run-"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let outputs = emulator::stack_outputs_path();
    let (held, termed, stopped) = (
        emulator::unique("run-held-"),
        emulator::unique("run-term-"),
        emulator::unique("run-stop-"),
    );
    let held_plan = plan_file(&dir, &held, 6, r#"thresholds = ["p99<1us"]"#);
    let termed_plan = plan_file(&dir, &termed, 30, "");
    let stopped_plan = plan_file(&dir, &stopped, 30, "");

    let bad = plan_file(&dir, &emulator::unique("run-bad-"), 6, "rat = 5");
    let refused = finish(volley(&["run", &bad, "--outputs", &outputs])).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("rat"),
        "names the key: {}",
        text(&refused.stderr)
    );

    let runs = [
        volley(&["run", &held_plan, "--outputs", &outputs, "--json"]),
        volley(&["run", &termed_plan, "--outputs", &outputs, "--json"]),
        volley(&["run", &stopped_plan, "--outputs", &outputs, "--json"]),
    ];
    // 3 s into the runs (the local stack's lead is 20 s): SIGTERM to one, `volley stop` for another.
    let status = |test: &str| {
        let output = std::process::Command::new(emulator::workspace_binary("volley"))
            .args(["status", test, "--org", "acme", "--outputs", &outputs])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_default()
    };
    let started = emulator::eventually("the runs started", Duration::from_secs(30), || {
        let state = status(&termed);
        async move { state["startAt"].as_u64() }
    })
    .await;
    tokio::time::sleep(Duration::from_millis((started + 3_000).saturating_sub(now_ms()))).await;
    let [held_run, termed_run, stopped_run] = runs;
    let signalled_ms = now_ms();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &termed_run.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let stop = finish(volley(&["stop", &stopped, "--org", "acme", "--outputs", &outputs])).await;
    let stop_answered_ms = now_ms();
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert_eq!(json(&stop)["stopped"], true);

    let held_out = finish(held_run).await;
    let termed_out = finish(termed_run).await;
    let stopped_out = finish(stopped_run).await;

    // The held run: plan and live lines on stderr, exit 3 naming the threshold, the report the stores'.
    let stderr = text(&held_out.stderr);
    assert_eq!(held_out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("Plan acme/{held}")) && stderr.contains("2 calls") && stderr.contains("1 worker,"),
        "{stderr}"
    );
    assert!(
        stderr.contains(" of 6s ") && stderr.contains("requests"),
        "a line a second: {stderr}"
    );
    assert!(
        stderr.contains("threshold failed") && stderr.contains("p99<1us"),
        "{stderr}"
    );
    let report = json(&held_out);
    let start_ms = status(&held)["startAt"].as_u64().unwrap_or_default();
    let (merged, _) = stored(&held_plan, start_ms).await;
    assert_eq!(report["report"]["total"]["requests"], 60);
    // Histograms compared as histograms: their encoding depends on the order they were added in.
    let total = |report: &serde_json::Value| -> Stats {
        serde_json::from_value(report["report"]["total"].clone()).unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(
        total(&report),
        merged.report.total,
        "the report's figures are the stored results merged"
    );
    let rebuilt = finish(volley(&[
        "report",
        &held,
        "--org",
        "acme",
        "--outputs",
        &outputs,
        "--json",
    ]))
    .await;
    assert_eq!(rebuilt.status.code(), Some(0), "{}", text(&rebuilt.stderr));
    let rebuilt = json(&rebuilt);
    assert_eq!(
        total(&rebuilt),
        total(&report),
        "`volley report` rebuilds the same report"
    );
    assert_eq!(rebuilt["regions"], report["regions"]);

    // The stopped runs: nothing sent 2 s after the signal or the stop, and reported stopped.
    for (out, plan, test, since_ms, how) in [
        (&termed_out, &termed_plan, &termed, signalled_ms, "SIGTERM"),
        (&stopped_out, &stopped_plan, &stopped, stop_answered_ms, "volley stop"),
    ] {
        assert_eq!(out.status.code(), Some(0), "{how}: {}", text(&out.stderr));
        let report = json(out);
        assert_eq!(report["report"]["stopped"], true, "{how}: {report}");
        let start_ms = status(test)["startAt"].as_u64().unwrap_or_default();
        let (merged, results) = stored(plan, start_ms).await;
        assert_eq!(report["report"]["total"]["requests"], merged.report.total.requests);
        let last = last_send_ms(&results);
        assert!(
            last <= since_ms + 2_000,
            "{how}: the last request {} ms after it",
            last as i64 - since_ms as i64
        );
        println!(
            "volley run, {how} 3 s in: {} requests, the last {} ms after it",
            merged.report.total.requests,
            last as i64 - since_ms as i64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
