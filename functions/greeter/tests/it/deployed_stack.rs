//! Smoke test of the deployed topology: the real greeter bootstrap running inside the local AWS emulator,
//! reached through the emulator's API Gateway. `make stack-deploy` deploys template.yaml and writes the
//! stack's outputs to target/local-stack/outputs.json; this test reads the API URL from there.

use std::time::Duration;

use volley_testkit::emulator;

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
