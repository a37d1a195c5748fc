//! The local HTTP server end to end: real HTTP in, DynamoDB in the local AWS emulator behind it.

use std::sync::Arc;

use greeter::{Deps, local};
use volley_core::adapters::dynamodb::birthdays::DynamoBirthdayStore;
use volley_core::clock::SystemClock;
use volley_testkit::emulator;
use volley_testkit::fixtures::create_birthdays_table;

async fn start() -> String {
    let config = emulator::sdk_config().await;
    let table = emulator::unique("birthdays-local-");
    create_birthdays_table(&config, &table).await;
    let deps = Deps {
        store: Arc::new(DynamoBirthdayStore::new(&config, &table)),
        clock: Arc::new(SystemClock),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(local::serve(Arc::new(deps), listener));
    format!("http://{address}")
}

async fn call(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.unwrap_or_else(|e| panic!("request: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} body {text:?} is not JSON: {e}"))
    };
    (status, json)
}

#[tokio::test]
async fn put_then_get_over_plain_http() {
    let base = start().await;
    let http = reqwest::Client::new();
    let user = emulator::unique("Zoë");
    let url = format!("{base}/hello/{user}");
    let born = chrono::Utc::now().date_naive() - chrono::Days::new(365 * 30);
    let (status, body) = call(
        http.put(&url)
            .header("content-type", "application/json")
            .body(format!(r#"{{"dateOfBirth": "{born}"}}"#)),
    )
    .await;
    assert_eq!((status, body), (204, serde_json::Value::Null));
    let (status, body) = call(http.get(&url)).await;
    assert_eq!(status, 200, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(&format!("Hello, {user}! ")), "{message}");
}

#[tokio::test]
async fn bad_requests_over_plain_http_get_json_errors() {
    let base = start().await;
    let http = reqwest::Client::new();
    let url = format!("{base}/hello/alice");
    let json = |body: &str| {
        http.put(&url)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    let cases = [
        (call(json("{not json")).await, 400),
        (
            call(json(&format!(
                r#"{{"dateOfBirth": "1990-01-01", "x": "{}"}}"#,
                "y".repeat(64 * 1024)
            )))
            .await,
            413,
        ),
        (
            call(http.put(&url).header("content-type", "text/plain").body("1990-01-01")).await,
            415,
        ),
        (call(http.delete(&url)).await, 405),
        (call(http.get(format!("{base}/hello/bad%20name"))).await, 400),
        (
            call(http.get(format!("{base}/hello/nobody{}", emulator::unique("")))).await,
            404,
        ),
        (call(http.get(format!("{base}/"))).await, 404),
    ];
    for (index, ((status, body), expected)) in cases.into_iter().enumerate() {
        assert_eq!(status, expected, "case {index}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "case {index}: {body}"
        );
    }
}
