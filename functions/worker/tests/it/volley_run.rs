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

/// This test's organisation, its own: `volley run` holds each organisation to its limits, and other tests
/// run theirs at the same time.
fn org() -> &'static str {
    static ORG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ORG.get_or_init(|| emulator::unique("run-org-"))
}

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
    let url = format!("{}/hello/nobody", emulator::stack_output("GreeterLocalUrl"));
    write_plan(
        dir,
        test_id,
        &url,
        &format!("rate = 10\nduration = \"{seconds}s\"\nmaxWorkerRate = 5\n{extra}"),
    )
}

/// A plan file of `load` (rate, duration and the like) at `url`, in equal shares of the stack's regions.
fn write_plan(dir: &std::path::Path, test_id: &str, url: &str, load: &str) -> String {
    let (first, second) = (
        emulator::stack_output("StackRegion"),
        emulator::stack_output("SecondRegion"),
    );
    let org = org();
    let path = dir.join(format!("{test_id}.toml"));
    let mut file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    write!(
        file,
        r#"organisationId = "{org}"
testId = "{test_id}"
homeRegion = "{first}"
{load}

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

/// `volley status` of this test organisation's `test`, as JSON (null when it has none).
fn status(test: &str) -> serde_json::Value {
    let output = Command::new(emulator::workspace_binary("volley"))
        .args([
            "status",
            test,
            "--org",
            org(),
            "--outputs",
            &emulator::stack_outputs_path(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&output.stdout).unwrap_or_default()
}

/// When `test` starts (Unix ms), once `volley run` has started it.
async fn started(test: &str) -> u64 {
    emulator::eventually(&format!("{test} started"), Duration::from_secs(30), || {
        let state = status(test);
        async move { state["startAt"].as_u64() }
    })
    .await
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
/// - 16 s held to `p99<1us`: it prints the plan (with its bytes and each region's concurrency) and a line a
///   second to stderr (whole seconds with their p99 among them), its report's figures are the regions'
///   stored results merged here, it exits 3 naming the threshold, writes its page, and `volley report`
///   rebuilds the same report afterwards;
/// - 30 s, named `--stack aws --region --prefix` (deploy/'s names, not the outputs file), SIGTERM 3 s in:
///   the test stops, no call sends 2 s after the signal, and its report says stopped;
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
    let held_plan = plan_file(&dir, &held, 16, r#"thresholds = ["p99<1us"]"#);
    let page = dir.join("held.html").to_string_lossy().into_owned();
    // One run names the stack as deploy/ does (`--stack aws`), as a user of a stack in AWS would.
    let prefix = emulator::stack_output("Prefix");
    let home = emulator::stack_output("StackRegion");
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
        volley(&["run", &held_plan, "--outputs", &outputs, "--json", "--html", &page]),
        volley(&[
            "run",
            &termed_plan,
            "--stack",
            "aws",
            "--region",
            &home,
            "--prefix",
            &prefix,
            "--json",
        ]),
        volley(&["run", &stopped_plan, "--outputs", &outputs, "--json"]),
    ];
    // 3 s into the runs (the local stack's `START_LEAD` is 8 s): SIGTERM to one, `volley stop` for another.
    let started = started(&termed).await;
    tokio::time::sleep(Duration::from_millis((started + 3_000).saturating_sub(now_ms()))).await;
    let [held_run, termed_run, stopped_run] = runs;
    let signalled_ms = now_ms();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &termed_run.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let stop = finish(volley(&["stop", &stopped, "--org", org(), "--outputs", &outputs])).await;
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
        stderr.contains(&format!("Plan {}/{held}", org()))
            && stderr.contains("2 calls")
            && stderr.contains("1 worker,"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bytes out") && stderr.contains("at once, within"),
        "the plan with its bytes and each region's concurrency: {stderr}"
    );
    assert!(
        stderr.contains("Cost estimate (AWS list prices") && stderr.contains("worker: 1 invocations"),
        "the cost, line by line, before anything fires: {stderr}"
    );
    assert!(
        stderr.contains(" of 16s ") && stderr.contains(" errors so far)"),
        "a line a second: {stderr}"
    );
    // Whole seconds, a chunk period behind: each region's requests of the 5 it was asked a second (the
    // greeter answers 404 for a user it does not know: errors), and its p99.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(" of 16s ") && l.matches("5/5 rps, 5 err, p99 ").count() == 2),
        "a line with a whole second: {stderr}"
    );
    // The page: every part, and its charts drawn (rasterised, each series' colour found).
    let page = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{page}: {e}"));
    assert!(page.contains("p99&lt;1us"), "the page, with its threshold");
    for part in [
        "thresholds",
        "regions",
        "region-latency",
        "latency",
        "throughput",
        "histogram",
        "skew",
        "segments",
        "stop",
        "cost-estimate",
        "cost-measured",
        "seconds",
    ] {
        assert!(page.contains(&format!("id=\"{part}\"")), "the page has its {part}");
    }
    let series = [
        ("the first region", volley::html::REGION_COLOURS[0]),
        ("the second region", volley::html::REGION_COLOURS[1]),
        ("p50", volley::html::P50),
        ("requests", volley::html::REQUESTS),
        ("the start skew", volley::html::SKEW),
    ];
    let counts = volley_testkit::svg::rendered_pixels(&page, &series.map(|(_, c)| (c.0, c.1, c.2)));
    for ((name, _), n) in series.iter().zip(&counts) {
        assert!(*n >= 30, "{name} is drawn: {n} pixels of its colour");
    }
    assert!(
        stderr.contains("threshold failed") && stderr.contains("p99<1us"),
        "{stderr}"
    );
    let report = json(&held_out);
    assert_eq!(report["estimate"]["measured"], false, "{report}");
    assert_eq!(report["cost"]["measured"], true, "{report}");
    assert_eq!(
        report["cost"]["regions"].as_array().map(Vec::len),
        Some(2),
        "a table per region after the run"
    );
    let start_ms = status(&held)["startAt"].as_u64().unwrap_or_default();
    let (merged, _) = stored(&held_plan, start_ms).await;
    assert_eq!(report["report"]["total"]["requests"], 160);
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
        org(),
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

/// Before anything fires, `volley run` refuses, naming why, and starts nothing (the orchestrator never
/// heard of the test): a target the workers' guard refuses, an estimate above `--max-cost`, a rate beyond
/// the organisation's limits, more workers at once than Lambda's concurrency there, and a big plan with no
/// terminal to answer and no `--yes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volley_run_refuses_before_anything_fires() {
    let dir = std::env::temp_dir().join(emulator::unique("volley-refused-"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let outputs = emulator::stack_outputs_path();
    let greeter = format!("{}/hello/nobody", emulator::stack_output("GreeterLocalUrl"));
    // One more worker a region than Lambda lets run there at once (the emulator's account allows fewer
    // than AWS's default 1,000, so the plan stays within a fleet's 2,000 workers).
    let concurrency = volley_core::adapters::driver::Functions::new(&emulator::sdk_config().await)
        .concurrency(&emulator::stack_output("WorkerFunctionName"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .limit();
    let crowd = format!(
        "rate = {}\nduration = \"10s\"\nmaxWorkerRate = 1",
        2 * (concurrency + 1)
    );
    let cases = [
        (
            "unvetted",
            "http://not-validated.example.com/".to_owned(),
            "rate = 10\nduration = \"10s\"",
            "would refuse http://not-validated.example.com/",
        ),
        (
            "expensive",
            greeter.clone(),
            "rate = 10\nduration = \"10s\"\nmaxWorkerRate = 5",
            "above --max-cost $0.000001",
        ),
        (
            "limits",
            greeter.clone(),
            "rate = 20000\nduration = \"10s\"\nmaxWorkerRate = 10000",
            "maxRate",
        ),
        (
            "concurrency",
            greeter.clone(),
            crowd.as_str(),
            "workers at once there, beyond the account's",
        ),
        (
            "unconfirmed",
            greeter,
            "rate = 10000\nduration = \"2m\"\nmaxWorkerRate = 5000",
            "Pass --yes",
        ),
    ];
    for (name, url, load, why) in cases {
        let test = emulator::unique(&format!("refused-{name}-"));
        let plan = write_plan(&dir, &test, &url, load);
        let mut args = vec!["run", plan.as_str(), "--outputs", outputs.as_str()];
        if name == "expensive" {
            args.extend(["--max-cost", "0.000001"]);
        }
        let out = finish(volley(&args)).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(why), "{name}: names why ({why}): {stderr}");
        assert!(stderr.contains("Nothing was started"), "{name}: {stderr}");
        let status = finish(volley(&["status", &test, "--org", org(), "--outputs", &outputs])).await;
        assert!(
            !status.status.success() && text(&status.stderr).contains("UnknownTest"),
            "{name}: the orchestrator never heard of it: {}",
            text(&status.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Evaluates a deploy/ expression as Terraform would for this module: `${var.X}`, the account, `each.key`,
/// and a resource's attribute (`aws_T.N.attr`, `aws_T.N["key"].attr`), followed into its definition.
fn evaluate(module: &serde_json::Value, text: &str, vars: &[(&str, &str)], each_key: Option<&str>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("${") {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap_or_else(|| panic!("{text}: unclosed")) + open;
        let inner = &rest[open + 2..close];
        rest = &rest[close + 1..];
        if let Some(var) = inner.strip_prefix("var.") {
            let value = vars.iter().find(|(n, _)| *n == var).map(|(_, v)| *v);
            out.push_str(value.unwrap_or_else(|| panic!("{text}: no value for var.{var}")));
        } else if inner == "data.aws_caller_identity.current.account_id" {
            out.push_str(vars.iter().find(|(n, _)| *n == "account").map_or("", |(_, v)| *v));
        } else if inner == "each.key" {
            out.push_str(each_key.unwrap_or_else(|| panic!("{text}: each.key outside for_each")));
        } else {
            let (path, key) = match inner.find("[\"") {
                Some(i) => {
                    let j = inner[i..].find("\"]").unwrap_or_else(|| panic!("{inner}")) + i;
                    (format!("{}{}", &inner[..i], &inner[j + 2..]), Some(&inner[i + 2..j]))
                }
                None => (inner.to_owned(), None),
            };
            let parts: Vec<&str> = path.split('.').collect();
            let [kind, name, attribute] = parts[..] else {
                panic!("{text}: cannot evaluate {inner}")
            };
            let body = module["resource"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|block| block.get(kind).and_then(|b| b.get(name)))
                .unwrap_or_else(|| panic!("deploy/ has no {kind}.{name}"));
            let value = body[attribute][0]
                .as_str()
                .unwrap_or_else(|| panic!("{kind}.{name} has no {attribute}"));
            out.push_str(&evaluate(module, value, vars, key));
        }
    }
    out.push_str(rest);
    out
}

/// `volley outputs --stack aws` names the stack as deploy/ does: every name it derives equals deploy/'s
/// `stack_outputs` (which `make outputs` writes) evaluated for a prefix and each region, and, for the local
/// stack's own prefix, the names the deployed local stack reports in both of its regions (template.yaml).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volley_outputs_derive_the_names_deploy_gives() {
    let path = format!("{}/../../target/deploy/terraform.json", env!("CARGO_MANIFEST_DIR"));
    let module: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}: run scripts/check_deploy.sh (part of `make test`)")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let deployed = module["output"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|o| o.get("stack_outputs"))
        .map(|o| o["value"][0].clone())
        .unwrap_or_else(|| panic!("deploy/outputs.tf has no stack_outputs"));
    let (home, second) = (
        emulator::stack_output("StackRegion"),
        emulator::stack_output("SecondRegion"),
    );
    let names = |prefix: &str| -> serde_json::Value {
        let out = std::process::Command::new(emulator::workspace_binary("volley"))
            .args([
                "outputs",
                "--stack",
                "aws",
                "--region",
                &home,
                "--prefix",
                prefix,
                "--regions",
                &second,
            ])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
    };

    // deploy/: the account is the one the local stack's bucket was named with.
    let local_prefix = emulator::stack_output("Prefix");
    let account = emulator::stack_output("ResultsBucketName")
        .trim_start_matches(&format!("{local_prefix}-results-"))
        .trim_end_matches(&format!("-{home}"))
        .to_owned();
    let derived = names("acme-x");
    let expressions = deployed.as_object().unwrap_or_else(|| panic!("{deployed}"));
    assert!(expressions.len() >= 10, "{deployed}");
    for (name, expression) in expressions {
        let expression = expression.as_str().unwrap_or_else(|| panic!("{name}: {expression}"));
        for region in [&home, &second] {
            let vars = [
                ("prefix", "acme-x"),
                ("region", region.as_str()),
                ("account", account.as_str()),
            ];
            let key = if *region == home {
                name.clone()
            } else {
                format!("{name}@{region}")
            };
            assert_eq!(
                derived[&key].as_str(),
                Some(evaluate(&module, expression, &vars, None).as_str()),
                "{key}: volley derives what deploy/ names"
            );
        }
    }

    // The local stack: the same names from its own prefix, in both regions.
    let local = names(&local_prefix);
    for (key, value) in local.as_object().unwrap_or_else(|| panic!("{local}")) {
        let (name, region) = key.split_once('@').unwrap_or((key.as_str(), home.as_str()));
        assert_eq!(
            value.as_str(),
            Some(emulator::stack_output_in(region, name).as_str()),
            "{key}: volley derives what the local stack was given"
        );
    }
}

/// The process running `binary` whose command line holds `marker` (Linux's /proc).
fn process_running(binary: &str, marker: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (exe.to_string_lossy().trim_end_matches(" (deleted)") == binary
            && String::from_utf8_lossy(&cmdline).contains(marker))
        .then_some(pid)
    })
}

/// In a terminal (a pseudo-terminal from `script`), SIGINT asks before stopping the test: answered no, the
/// test goes on; SIGINT again, and a second SIGINT while asked is a yes: every worker stops, the report says
/// stopped, and the command ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volley_run_in_a_terminal_asks_before_stopping_on_sigint() {
    let dir = std::env::temp_dir().join(emulator::unique("volley-tty-"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let outputs = emulator::stack_outputs_path();
    let test = emulator::unique("run-tty-");
    let plan = plan_file(&dir, &test, 30, "");
    let binary = std::fs::canonicalize(emulator::workspace_binary("volley"))
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string_lossy()
        .into_owned();
    let mut terminal = Command::new("script")
        .args([
            "--quiet",
            "--flush",
            "--return",
            "--command",
            &format!("{binary} run {plan} --outputs {outputs} --json"),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("script (util-linux): {e}"));
    let mut keyboard = terminal.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    let started = started(&test).await;
    tokio::time::sleep(Duration::from_millis((started + 2_000).saturating_sub(now_ms()))).await;
    let pid = process_running(&binary, &format!("{test}.toml"))
        .unwrap_or_else(|| panic!("no volley process runs {test}"))
        .to_string();
    let interrupt = || {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(sent.success());
    };

    interrupt();
    tokio::time::sleep(Duration::from_secs(1)).await;
    keyboard.write_all(b"n\n").unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_ne!(status(&test)["stopped"], true, "answered no: the test goes on");

    // Asked again, and a second SIGINT answers yes: the command stops the test and ends (the question's
    // read of the terminal left behind does not hold it).
    interrupt();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered_ms = now_ms();
    interrupt();
    let out = tokio::time::timeout(Duration::from_secs(150), finish(terminal))
        .await
        .unwrap_or_else(|_| panic!("volley run did not end after the second SIGINT"));
    drop(keyboard);
    let screen = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert_eq!(
        screen.matches("Stop the test for every worker? [y/N]").count(),
        2,
        "asked twice: {screen}"
    );
    assert!(
        screen.contains("the test goes on") && screen.contains("stopping the test"),
        "{screen}"
    );
    assert_eq!(status(&test)["stopped"], true, "answered yes: stopped");
    let (merged, results) = stored(&plan, started).await;
    assert!(merged.report.stopped, "the merged report says stopped");
    let last = last_send_ms(&results);
    assert!(
        last <= answered_ms + 2_000,
        "the last request {} ms after the second SIGINT",
        last as i64 - answered_ms as i64
    );
    let _ = std::fs::remove_dir_all(&dir);
}
