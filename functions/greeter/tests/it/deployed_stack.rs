//! Smoke test of the deployed topology: the real greeter bootstrap running inside the local AWS emulator,
//! reached through the emulator's API Gateway. `make stack-deploy` deploys template.yaml and writes the
//! stack's outputs to target/local-stack/outputs.json; this test reads the API URL from there.

use std::time::Duration;

use volley_testkit::emulator;

use crate::fuzz;

fn api_url() -> String {
    emulator::stack_output("GreeterLocalUrl")
        .trim_end_matches('/')
        .to_owned()
}

#[tokio::test]
async fn greeter_answers_through_the_emulators_api_gateway() {
    emulator::sdk_config().await;
    let base = api_url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let user = emulator::unique("Smoke");
    let url = format!("{base}/hello/{user}");
    let today = chrono::Utc::now().date_naive();
    let response = http
        .put(&url)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"dateOfBirth": "{}"}}"#,
            today - chrono::Days::new(365 * 20)
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
    let status = response.status().as_u16();
    assert_eq!(status, 204, "PUT {url}: {}", response.text().await.unwrap_or_default());

    let response = http.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(&format!("Hello, {user}! ")), "{body}");

    let response = http
        .delete(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DELETE {url}: {e}"));
    assert_eq!(
        response.status().as_u16(),
        405,
        "405 comes from the real function, not the gateway"
    );
    let body: serde_json::Value = response.json().await.unwrap_or_else(|e| panic!("DELETE {url}: {e}"));
    assert!(body["error"].is_string(), "{body}");
}

/// The deployed greeter (the real bootstrap, through the emulator's API Gateway) against its OpenAPI
/// document, by schemathesis (`.venv/tools`, installed by `make tools`): every status, content type, header
/// and body must be documented, bad input must be refused, and nothing may answer 5xx.
/// `positive_data_acceptance` is left out because a schema cannot say "before today": a schema-valid date
/// in the future is rightly refused. The seed is fixed so that a run is reproducible. It runs as a test so
/// that nextest overlaps its minute of requests with the other tests.
#[test]
fn the_deployed_greeter_holds_its_openapi_document() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schemathesis = root.join(".venv/tools/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: run `make tools` (make test does)",
        schemathesis.display()
    );
    let document = root.join("functions/greeter/openapi.yaml");
    // From target/, where its example database (.hypothesis/) is ignored and cleaned with the build.
    let output = std::process::Command::new(&schemathesis)
        .current_dir(root.join("target"))
        .arg("run")
        .arg(&document)
        .args(["--url", &api_url()])
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args(["--seed", "20261123"])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", schemathesis.display()));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found the deployed greeter off its OpenAPI document:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // `make test` shows the summary (.config/nextest.toml).
    let summary = report
        .lines()
        .rev()
        .find(|l| l.contains("generated"))
        .unwrap_or_default();
    println!("schemathesis: {}", summary.trim());
}

/// How long one fuzzed request may take over the wire before it counts as a hang.
const HANG: Duration = Duration::from_secs(30);

/// Sends one raw request and reads the status of the answer, or says why there was none (nothing within
/// [`HANG`] included). Plain `std::net`: the bytes go out exactly as written.
fn status_over_the_wire(address: &str, bytes: &[u8]) -> Result<u16, String> {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + HANG;
    let mut stream = std::net::TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    stream.set_write_timeout(Some(HANG)).map_err(|e| format!("{e}"))?;
    stream.write_all(bytes).map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(format!("no complete answer within {HANG:?}"));
        }
        stream.set_read_timeout(Some(left)).map_err(|e| format!("{e}"))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(format!("no complete answer within {HANG:?}"));
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let head = String::from_utf8_lossy(answer.get(..answer.len().min(200)).unwrap_or_default()).into_owned();
    head.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))
}

/// The seeded fuzz requests (`fuzz.rs`: odd methods, raw query characters, odd `Host` and
/// `X-Forwarded-Proto` values, bodies) as raw HTTP/1.1 through the emulator's API Gateway to the deployed
/// greeter: no 5xx and no hang (30 s each, four at a time). The same requests run in-process in
/// `handler.rs`; this one holds only once the greeter with the fallible event conversion is deployed.
#[tokio::test]
async fn fuzzed_requests_through_the_gateway_get_no_5xx_and_no_hang() {
    emulator::sdk_config().await;
    let base: http::Uri = api_url().parse().unwrap_or_else(|e| panic!("{}: {e}", api_url()));
    let address = base.authority().map(ToString::to_string).unwrap_or_default();
    let prefix = base.path().trim_end_matches('/').to_owned();
    let user = emulator::unique("Fuzz");
    println!("fuzz seed {}, {} requests to {base}", fuzz::SEED, fuzz::COUNT);
    let requests = fuzz::requests(fuzz::SEED, &user);
    let lanes = 4;
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        let mine: Vec<_> = requests.iter().cloned().enumerate().skip(lane).step_by(lanes).collect();
        let (address, prefix) = (address.clone(), prefix.clone());
        tasks.spawn_blocking(move || {
            let mut failures = Vec::new();
            for (i, request) in mine {
                let what = format!("seed {} request {i}: {}", fuzz::SEED, request.describe());
                match status_over_the_wire(&address, &request.wire(&prefix, &address)) {
                    Err(e) => failures.push(format!("{what}: {e}")),
                    Ok(status) if status >= 500 => failures.push(format!("{what}: {status}")),
                    Ok(_) => {}
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(lane) = tasks.join_next().await {
        failures.extend(lane.unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(
        failures.is_empty(),
        "{} of {} fuzzed requests failed:\n{}",
        failures.len(),
        fuzz::COUNT,
        failures.join("\n")
    );
}
