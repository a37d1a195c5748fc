//! Smoke test of the deployed topology: the real greeter bootstrap running inside the local AWS emulator,
//! reached through the emulator's API Gateway. `make stack-deploy` deploys template.yaml and writes the
//! stack's outputs to target/local-stack/outputs.json; this test reads the API URL from there.

use std::time::Duration;

use volley_core::contract::emulator;

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
