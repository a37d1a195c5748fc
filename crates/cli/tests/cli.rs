//! `volley attack` and `volley vet` as people run them: the real binary, its exit status, stdout and stderr.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use volley_testkit::target::{Behaviour, TestTarget, start_on_thread, start_tls_on_thread};

fn start_target(stall: Option<(Instant, Instant)>) -> TestTarget {
    start_on_thread(Behaviour {
        stall,
        ..Behaviour::default()
    })
}

fn volley(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("volley {args:?}: {e}"))
}

/// `volley attack URL --rate 20 --duration 1s --allow ADDRESS --json`, plus `extra`: 20 requests.
fn attack_20(target: &TestTarget, scheme: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_volley"));
    let (url, allow) = (format!("{scheme}://{}/", target.address), target.address.to_string());
    command
        .args([
            "attack",
            &url,
            "--rate",
            "20",
            "--duration",
            "1s",
            "--allow",
            &allow,
            "--json",
        ])
        .args(extra);
    command
}

/// A successful run's JSON report.
fn report(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn attack_prints_a_vegeta_shaped_report() {
    let target = start_target(None);
    let url = format!("http://{}/", target.address);
    let allow = target.address.to_string();
    let out = volley(&["attack", &url, "--rate", "100", "--duration", "1s", "--allow", &allow]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for label in [
        "Requests",
        "Duration",
        "Latencies",
        "Service time",
        "Bytes In",
        "Bytes Out",
        "Success",
        "Status Codes",
        "Dropped",
        "Late",
        "Error Set:",
    ] {
        assert!(report.contains(label), "no {label:?} in:\n{report}");
    }
    assert!(report.contains("200:100"), "{report}");
    assert_eq!(target.arrivals().len(), 100);
}

/// Issue 9's rule, through the command line: at 1,000 rps a target that stalls for 1 s still receives about
/// 1,000 requests during the stall, and the stall shows in the intended-time percentiles.
#[test]
fn a_stalled_target_still_receives_requests_during_the_stall() {
    let stall_from = Instant::now() + Duration::from_millis(1500);
    let stall_until = stall_from + Duration::from_secs(1);
    let target = start_target(Some((stall_from, stall_until)));
    let url = format!("http://{}/", target.address);
    let allow = target.address.to_string();
    let out = volley(&[
        "attack",
        &url,
        "--rate",
        "1000",
        "--duration",
        "4s",
        "--allow",
        &allow,
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let arrivals = target.arrivals();
    let during = arrivals
        .iter()
        .filter(|a| **a >= stall_from && **a < stall_until)
        .count();
    assert!(
        during >= 900,
        "the target received {during} requests during the 1 s stall"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["total"]["dropped"], 0);
    assert!(
        json["total"]["latency"].as_str().is_some_and(|h| !h.is_empty()),
        "histograms are serialised"
    );
    assert!(
        json["seconds"].as_array().is_some_and(|s| s.len() >= 4),
        "per-second buckets"
    );
}

#[test]
fn vet_allows_only_an_exact_allow_list_entry() {
    let out = volley(&["vet", "http://127.0.0.1:8080/", "--allow", "127.0.0.1:8080", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verdict["allowed"], true);
    assert_eq!(verdict["addresses"], serde_json::json!(["127.0.0.1:8080"]));

    for other in ["http://127.0.0.1:8081/", "http://127.0.0.2:8080/", "http://[::1]:8080/"] {
        let out = volley(&["vet", other, "--allow", "127.0.0.1:8080"]);
        assert_eq!(out.status.code(), Some(1), "{other} must be refused");
        assert!(text(&out.stderr).contains("rule:"), "{other}: {}", text(&out.stderr));
    }
}

#[test]
fn vet_refuses_by_default_and_names_the_rule() {
    let cases = [
        ("http://127.0.0.1/", "literal address"),
        ("http://example.com/", "validated domain"),
        ("http://0x7f.1/", "ambiguous URL"),
        ("ftp://example.com/", "scheme"),
    ];
    for (url, rule) in cases {
        let out = volley(&["vet", url]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        assert!(text(&out.stderr).contains(rule), "{url}: {}", text(&out.stderr));
    }
}

/// `--validated` names domains as the domain-validator stores them (UTS #46, nontransitional), so a domain
/// typed in Unicode covers its punycode spelling in a URL, and the other way round; `ß` stays `ß`.
#[test]
fn vet_matches_validated_domains_in_unicode_or_punycode() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let dns = runtime.block_on(volley_localdns::LocalDns::start());
    let public = volley_localdns::Answer::Addresses(vec![[93, 184, 215, 14].into()]);
    dns.set("shop.xn--mnchen-3ya.test", public.clone());
    dns.set("shop.xn--strae-oqa.test", public);
    let dns_address = dns.address.to_string();
    let cases = [
        ("münchen.test", "https://shop.xn--mnchen-3ya.test/"),
        ("xn--mnchen-3ya.test", "https://shop.münchen.test/"),
        ("München.test.", "https://SHOP.München.test/"),
        ("straße.test", "https://shop.xn--strae-oqa.test/"),
    ];
    for (validated, url) in cases {
        let out = volley(&["vet", url, "--validated", validated, "--dns", &dns_address, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{validated} {url}: {}", text(&out.stderr));
        let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verdict["allowed"], true, "{validated} {url}: {verdict}");
        assert_eq!(verdict["addresses"], serde_json::json!(["93.184.215.14:443"]));
    }
    let out = volley(&[
        "vet",
        "https://shop.strasse.test/",
        "--validated",
        "straße.test",
        "--dns",
        &dns_address,
    ]);
    assert_eq!(out.status.code(), Some(1), "strasse.test is another name");
    assert!(text(&out.stderr).contains("validated domain"), "{}", text(&out.stderr));
}

#[test]
fn bad_usage_exits_2_with_a_clear_message() {
    for (args, says) in [
        (
            vec!["attack", "http://127.0.0.1:1/", "--rate", "10", "--duration", "10x"],
            "10x",
        ),
        (
            vec![
                "attack",
                "http://127.0.0.1:1/",
                "--rate",
                "-5",
                "--duration",
                "1s",
                "--allow",
                "127.0.0.1:1",
            ],
            "rate",
        ),
        (
            vec![
                "attack",
                "http://127.0.0.1:1/",
                "--rate",
                "10",
                "--duration",
                "1s",
                "-H",
                "NoColon",
            ],
            "Name: value",
        ),
        (
            vec!["vet", "http://127.0.0.1/", "--allow", "localhost:80"],
            "localhost:80",
        ),
        (
            vec!["vet", "http://example.com/", "--validated", "example.com,exa mple.com"],
            "--validated: \"exa mple.com\" is not a valid",
        ),
    ] {
        let out = volley(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
}

/// A credential given with -H is never echoed by an error: a header without its ':' is not shown at all,
/// and a sensitive header's value is shown redacted.
#[test]
fn header_errors_never_show_a_credential() {
    for header in [
        "Authorization Bearer s3cr3t-token",
        "authorization: Bearer s3cr3t-token\u{7f}",
    ] {
        let args = [
            "attack",
            "http://127.0.0.1:1/",
            "--rate",
            "10",
            "--duration",
            "1s",
            "-H",
            header,
        ];
        let out = volley(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("-H") && !stderr.contains("s3cr3t"),
            "{header:?}: {stderr}"
        );
    }
}

/// A proxy would bypass the guard's pinning, so the client ignores HTTP(S)_PROXY and friends: with a dead
/// proxy configured, the requests still go straight to the vetted address.
#[test]
fn proxy_variables_are_ignored() {
    let target = start_target(None);
    let out = attack_20(&target, "http", &[])
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("http_proxy", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let json = report(&out);
    assert_eq!(json["total"]["statuses"]["200"], 20, "{}", json["total"]);
    assert_eq!(target.arrivals().len(), 20);
}

/// An HTTPS target behind a private CA: `--cacert` trusts it, HTTP/2 is chosen by ALPN; without it, every
/// request is a TLS error and the target receives nothing; a file without a certificate is bad usage.
#[test]
fn https_with_a_private_ca_needs_cacert() {
    let (target, certificate) = start_tls_on_thread(Behaviour::default(), "127.0.0.1", &[b"h2", b"http/1.1"]);
    let dir = std::env::temp_dir().join(format!("volley-cacert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let cacert = dir.join("ca.pem");
    std::fs::write(&cacert, &certificate.pem).unwrap_or_else(|e| panic!("{e}"));
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap_or_else(|e| panic!("{e}"));
    let attack = |extra: &[&str]| {
        attack_20(&target, "https", extra)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };

    let json = report(&attack(&[]));
    assert_eq!(json["total"]["errors"]["tls"], 20, "{}", json["total"]);
    assert!(target.arrivals().is_empty());

    let cacert_arg = cacert.to_string_lossy().into_owned();
    let json = report(&attack(&["--cacert", &cacert_arg]));
    assert_eq!(json["total"]["statuses"]["200"], 20, "{}", json["total"]);
    assert_eq!(target.versions(), vec![http::Version::HTTP_2; 20]);

    let not_pem_arg = not_pem.to_string_lossy().into_owned();
    let bad = attack(&["--cacert", &not_pem_arg]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("--cacert"), "{}", text(&bad.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--fail-if`: thresholds held against the run. All met: exit 0 and each is reported; one missed: exit 3,
/// saying which and by how much; a bad expression: a usage error (2) before anything is sent.
#[test]
fn thresholds_pass_fail_with_exit_3_or_are_refused_with_exit_2() {
    let target = start_target(None);
    let met = attack_20(
        &target,
        "http",
        &[
            "--fail-if",
            "p99<2s",
            "--fail-if",
            "success>=100%",
            "--fail-if",
            "errors==0",
            "--fail-if",
            "dropped==0",
        ],
    )
    .output()
    .unwrap_or_else(|e| panic!("{e}"));
    let json = report(&met);
    let verdicts = json["thresholds"].as_array().cloned().unwrap_or_default();
    assert_eq!(verdicts.len(), 4, "{json}");
    assert!(verdicts.iter().all(|v| v["passed"] == true), "{verdicts:?}");

    let missed = attack_20(&target, "http", &["--fail-if", "p50<1ns", "--fail-if", "errors==0"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = text(&missed.stderr);
    assert_eq!(missed.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("threshold failed: FAIL  p50<1ns:") && stderr.contains("off by"),
        "which threshold, and by how much: {stderr}"
    );
    assert!(!stderr.contains("errors==0"), "only the failed one: {stderr}");
    let json: serde_json::Value = serde_json::from_slice(&missed.stdout).unwrap_or_default();
    assert_eq!(json["thresholds"][0]["passed"], false, "{json}");

    let arrivals = target.arrivals().len();
    let bad = attack_20(&target, "http", &["--fail-if", "p99<300"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("--fail-if \"p99<300\": \"300\" is not a duration"),
        "{}",
        text(&bad.stderr)
    );
    assert_eq!(target.arrivals().len(), arrivals, "nothing was sent");
}

/// The `--json` summary, as vegeta's JSON report has it: numbers, latencies in nanoseconds, so
/// `jq '.latencies["99th"]'` reads the p99.
#[test]
fn the_json_report_carries_the_summary_as_numbers() {
    let target = start_target(None);
    let json = report(
        &attack_20(&target, "http", &[])
            .output()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    for (field, check) in [
        ("requests", json["requests"].as_u64() == Some(20)),
        ("rate", json["rate"].as_f64().is_some_and(|r| r > 15.0)),
        ("throughput", json["throughput"].as_f64().is_some_and(|r| r > 0.0)),
        ("success", json["success"].as_f64() == Some(1.0)),
        ("statusCodes", json["statusCodes"]["200"].as_u64() == Some(20)),
        ("errors", json["errors"].as_u64() == Some(0)),
        ("dropped", json["dropped"].as_u64() == Some(0)),
        ("late", json["late"].as_u64().is_some()),
        ("thresholds", json["thresholds"].as_array().is_some_and(Vec::is_empty)),
    ] {
        assert!(check, "{field}: {json}");
    }
    for latencies in ["latencies", "serviceTimes"] {
        let l = &json[latencies];
        let get = |k: &str| l[k].as_u64().unwrap_or_else(|| panic!("{latencies}.{k}: {l}"));
        let (min, p50, p90, p95, p99, max) = (
            get("min"),
            get("50th"),
            get("90th"),
            get("95th"),
            get("99th"),
            get("max"),
        );
        assert!(
            0 < min && min <= p50 && p50 <= p90 && p90 <= p95 && p95 <= p99 && p99 <= max && get("mean") > 0,
            "{latencies} in ns, in order: {l}"
        );
        assert!(p99 < 2_000_000_000, "nanoseconds, not seconds: {l}");
    }
    assert!(
        json["total"]["latency"].is_object() || json["total"]["latency"].is_string(),
        "the histograms stay: {json}"
    );
}

/// `--html FILE` writes the run's page: self-contained, its three charts drawn (the latency series and the
/// requests counted in the rendered pixels), the thresholds' verdict and the report on it. A path whose folder
/// does not exist is refused before anything is sent.
#[test]
fn attack_writes_its_html_page_with_the_charts_drawn() {
    let target = start_target(None);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let page_path = dir.join("attack.html");
    let out = attack_20(
        &target,
        "http",
        &[
            "--html",
            page_path.to_str().unwrap_or_default(),
            "--fail-if",
            "success>=99%",
            "--fail-if",
            "p99<1ns",
        ],
    )
    .output()
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(3),
        "the page is written when a threshold fails too: {}",
        text(&out.stderr)
    );
    let page = std::fs::read_to_string(&page_path).unwrap_or_else(|e| panic!("{}: {e}", page_path.display()));
    assert_eq!(page.matches("<svg").count(), 3, "three charts");
    for external in ["src=\"http", "href=\"http", "<script", "@import", "url("] {
        assert!(!page.contains(external), "the page fetches nothing: {external}");
    }
    for needle in [
        "volley attack: http://",
        "FAILED",
        "pass  success&gt;=99%",
        "FAIL  p99&lt;1ns",
        "Status Codes",
        "<table id=\"seconds\">",
    ] {
        assert!(page.contains(needle), "{needle:?} on the page");
    }
    let series = [
        ("p50", volley::html::P50),
        ("p95", volley::html::P95),
        ("p99", volley::html::P99),
        ("requests", volley::html::REQUESTS),
    ];
    let counts = volley_testkit::svg::rendered_pixels(&page, &series.map(|(_, c)| (c.0, c.1, c.2)));
    for ((name, _), n) in series.iter().zip(&counts) {
        assert!(*n >= 30, "the {name} series is drawn: {n} pixels of its colour");
    }

    let arrivals = target.arrivals().len();
    let nowhere = dir.join("no-such-folder").join("attack.html");
    let out = attack_20(&target, "http", &["--html", nowhere.to_str().unwrap_or_default()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("does not exist"), "{}", text(&out.stderr));
    assert_eq!(target.arrivals().len(), arrivals, "nothing was sent");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--find-max` against a target of fixed capacity: 8 requests at once, 20 ms each, so 400 requests a second
/// and no more (above it the queue, and the latency, grow through the step). From 200 to at most 800, in 2 s
/// steps, with `p99<50ms`: the rate found held and lies within 20 % below the knee, every step above the knee
/// failed, and the lowest failed is within 10 % of the highest held. The curve is printed and drawn (p50 and
/// p99 in the rendered pixels). Bad settings are refused before anything is sent.
#[test]
fn find_max_reports_the_highest_rate_that_held_next_to_the_targets_knee() {
    let target = start_on_thread(Behaviour::fixed_capacity(8, Duration::from_millis(20)));
    let knee = 8.0 / 0.020;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("knee-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let page_path = dir.join("knee.html");
    let (url, allow) = (target.url("/"), target.address.to_string());
    // `--max-rate`, `--step-duration`, `--duration` and `--slo`, then the rest.
    let find = |[max, step, duration, slo]: [&str; 4], extra: &[&str]| {
        let mut args = vec![
            "attack",
            &url,
            "--find-max",
            "--rate",
            "200",
            "--max-rate",
            max,
            "--step-duration",
            step,
            "--duration",
            duration,
            "--slo",
            slo,
            "--allow",
            &allow,
        ];
        args.extend_from_slice(extra);
        volley(&args)
    };
    let good = ["800", "2s", "60s", "p99<50ms"];
    let out = find(good, &["--json", "--html", page_path.to_str().unwrap_or_default()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let found = report(&out);
    let held = found["highestHeld"].as_f64().unwrap_or_default();
    let failed = found["lowestFailed"].as_f64().unwrap_or_default();
    let steps = found["steps"].as_array().cloned().unwrap_or_default();
    let summary = format!("held {held}, failed {failed}, {}", text(&out.stderr));
    assert_eq!(found["ended"], "converged", "{summary}");
    assert!(held >= knee * 0.8 && held <= knee, "{summary}");
    assert!(failed - held <= held * 0.1, "{summary}");
    for step in &steps {
        let rate = step["rate"].as_f64().unwrap_or_default();
        assert!(
            rate <= knee || step["held"] == false,
            "{rate} held above the knee: {summary}"
        );
        assert!(
            step["requests"].as_u64().unwrap_or_default() as f64 >= rate * 2.0 * 0.99,
            "{step}"
        );
    }
    assert!(steps.len() <= 8, "{summary}");
    let page = std::fs::read_to_string(&page_path).unwrap_or_else(|e| panic!("{}: {e}", page_path.display()));
    assert_eq!(
        page.matches("<svg").count(),
        2,
        "the latency and the errors against the rate"
    );
    assert!(page.contains(&format!("{held}/s")) && page.contains("highest rate that held"));
    let series = [("p50", volley::html::P50), ("p99", volley::html::P99)];
    let counts = volley_testkit::svg::rendered_pixels(&page, &series.map(|(_, c)| (c.0, c.1, c.2)));
    for ((name, _), n) in series.iter().zip(&counts) {
        assert!(*n >= 30, "the {name} curve is drawn: {n} pixels of its colour");
    }
    println!("find-max against a knee of {knee} rps: {summary}");

    let arrivals = target.arrivals().len();
    for (settings, says) in [
        (["100", "2s", "60s", "p99<50ms"], "must be above --rate"),
        (["800", "500ms", "60s", "p99<50ms"], "at least 1s"),
        (["800", "2s", "1s", "p99<50ms"], "shorter than one step"),
        (["800", "2s", "60s", "p99<<1"], "--slo"),
    ] {
        let out = find(settings, &[]);
        assert_eq!(out.status.code(), Some(2), "{settings:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{settings:?}: {}", text(&out.stderr));
    }
    let out = volley(&[
        "attack",
        &url,
        "--find-max",
        "--rate",
        "10",
        "--duration",
        "5s",
        "--allow",
        &allow,
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--max-rate is needed: {}",
        text(&out.stderr)
    );
    assert_eq!(target.arrivals().len(), arrivals, "nothing was sent");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The deployment canary (`make check-deployment`) can fail: against a target answering 200 it passes; one
/// that misses a threshold (here a p99 no server meets) exits 3, the report saying which; one answering 500
/// fails at its first PUT.
#[test]
fn the_deployment_canary_passes_a_healthy_target_and_fails_a_broken_one() {
    let pages = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("canary-{}", std::process::id()));
    let canary = |status: u16, max_p99: &str| {
        let target = start_on_thread(Behaviour {
            status,
            ..Behaviour::default()
        });
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new("bash")
            .arg(root.join("scripts/check-deployment.sh"))
            .arg(format!("http://{}", target.address))
            .env("VOLLEY", env!("CARGO_BIN_EXE_volley"))
            .env("ALLOW", target.address.to_string())
            .env("RATE", "5")
            .env("DURATION", "1s")
            .env("MAX_P99", max_p99)
            .env("HTML_DIR", &pages)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (out, target.arrivals().len())
    };
    let (healthy, sent) = canary(200, "2s");
    assert!(healthy.status.success(), "{}", text(&healthy.stderr));
    assert!(sent >= 11, "one PUT first, then PUT and GET at 5 rps for 1 s: {sent}");
    assert!(
        text(&healthy.stdout).contains("pass  success>=99%"),
        "{}",
        text(&healthy.stdout)
    );

    for page in ["put.html", "get.html"] {
        let body = std::fs::read_to_string(pages.join(page)).unwrap_or_else(|e| panic!("HTML_DIR/{page}: {e}"));
        assert_eq!(body.matches("<svg").count(), 3, "{page}: the attack's three charts");
    }
    let _ = std::fs::remove_dir_all(&pages);

    let (slow, _) = canary(200, "1ns");
    assert_eq!(slow.status.code(), Some(3), "{}", text(&slow.stderr));
    assert!(text(&slow.stdout).contains("FAIL  p99<1ns"), "{}", text(&slow.stdout));

    let (broken, _) = canary(500, "2s");
    let stderr = text(&broken.stderr);
    assert_ne!(broken.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the first PUT") && stderr.contains("did not succeed"),
        "{stderr}"
    );
}
