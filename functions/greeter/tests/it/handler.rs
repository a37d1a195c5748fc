//! Handler behaviour on memory adapters, driven by the real API Gateway v2 events in testdata/events/greeter.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::encodings::Body;
use chrono::NaiveDate;
use greeter::{Deps, function_handler};
use lambda_runtime::{Context, LambdaEvent};
use volley_core::adapters::memory::MemoryBirthdayStore;
use volley_core::clock::FixedClock;
use volley_core::model::birthday::Username;
use volley_core::ports::BirthdayStore;

use crate::fuzz;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
}

fn deps() -> (Deps, Arc<MemoryBirthdayStore>) {
    let store = Arc::new(MemoryBirthdayStore::new());
    let deps = Deps {
        store: store.clone(),
        clock: Arc::new(FixedClock::on(today())),
    };
    (deps, store)
}

fn event(name: &str) -> serde_json::Value {
    let path = format!("{}/../../testdata/events/greeter/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

struct Answer {
    status: u16,
    allow: Option<String>,
    content_type: Option<String>,
    json: serde_json::Value,
}

/// Hands `event` to the handler as the Lambda runtime does: the event as it arrived, a context.
async fn invoke(deps: &Deps, name: &str, event: serde_json::Value) -> Answer {
    let response = function_handler(deps, LambdaEvent::new(event, Context::default()))
        .await
        .unwrap_or_else(|e| match e {});
    let header = |h| response.headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let json = match &response.body {
        None | Some(Body::Empty) => serde_json::Value::Null,
        Some(Body::Text(t)) => {
            serde_json::from_str(t).unwrap_or_else(|e| panic!("{name}: body {t:?} is not JSON: {e}"))
        }
        Some(other) => panic!("{name}: unexpected body {other:?}"),
    };
    Answer {
        status: u16::try_from(response.status_code).unwrap_or(0),
        allow: header(http::header::ALLOW),
        content_type: header(http::header::CONTENT_TYPE),
        json,
    }
}

async fn send(deps: &Deps, name: &str) -> Answer {
    invoke(deps, name, event(name)).await
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn user(name: &str) -> Username {
    Username::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn put_stores_the_date_and_answers_204_with_no_body() {
    let (deps, store) = deps();
    let answer = send(&deps, "put.json").await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.json, serde_json::Value::Null);
    assert_eq!(store.get(&user("alice")).await.ok(), Some(Some(date(1990, 1, 5))));
}

#[tokio::test]
async fn put_accepts_base64_bodies_and_json_with_a_charset() {
    for name in ["put-base64-body.json", "put-json-with-charset.json"] {
        let (deps, store) = deps();
        assert_eq!(send(&deps, name).await.status, 204, "{name}");
        assert_eq!(
            store.get(&user("alice")).await.ok(),
            Some(Some(date(1990, 1, 5))),
            "{name}"
        );
    }
}

#[tokio::test]
async fn put_replaces_an_earlier_date() {
    let (deps, store) = deps();
    store
        .put(&user("alice"), date(1970, 6, 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(send(&deps, "put.json").await.status, 204);
    assert_eq!(store.get(&user("alice")).await.ok(), Some(Some(date(1990, 1, 5))));
}

#[tokio::test]
async fn percent_encoded_unicode_usernames_are_decoded() {
    let (deps, store) = deps();
    assert_eq!(send(&deps, "put-unicode-username.json").await.status, 204);
    assert_eq!(store.get(&user("Zoë")).await.ok(), Some(Some(date(2000, 2, 29))));
}

#[tokio::test]
async fn get_counts_the_days_to_the_next_birthday() {
    let (deps, store) = deps();
    store
        .put(&user("alice"), date(1990, 11, 28))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = send(&deps, "get.json").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        answer.json,
        serde_json::json!({"message": "Hello, alice! Your birthday is in 5 days"})
    );
}

#[tokio::test]
async fn get_says_happy_birthday_on_the_day() {
    let (deps, store) = deps();
    store
        .put(&user("alice"), date(1990, 11, 23))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = send(&deps, "get.json").await;
    assert_eq!(
        answer.json,
        serde_json::json!({"message": "Hello, alice! Happy birthday!"})
    );
}

#[tokio::test]
async fn get_of_an_unknown_user_is_404() {
    let (deps, _) = deps();
    let answer = send(&deps, "get-unknown-user.json").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json["error"], "no date of birth stored for nobody");
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let (deps, _) = deps();
    let answer = send(&deps, "delete.json").await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.allow.as_deref(), Some("GET, PUT"));
    assert!(
        answer.json["error"].as_str().is_some_and(|e| e.contains("DELETE")),
        "{:?}",
        answer.json
    );
}

/// Every bad input gets its 4xx and a JSON error that says what was wrong, and stores nothing.
#[tokio::test]
async fn bad_input_is_refused_with_a_json_reason() {
    let cases = [
        ("get-bad-username.json", 400, "only letters"),
        ("get-username-too-long.json", 400, "at most 64 letters"),
        ("get-unknown-route.json", 404, "no route"),
        ("put-malformed-json.json", 400, "not valid JSON"),
        ("put-empty-body.json", 400, "not valid JSON"),
        (
            "put-missing-field.json",
            400,
            "dateOfBirth: missing field `dateOfBirth`",
        ),
        ("put-mistyped-field.json", 400, "invalid type"),
        ("put-unknown-field.json", 400, "admin: unknown field `admin`"),
        ("put-not-json-content-type.json", 415, "application/json"),
        ("put-no-content-type.json", 415, "application/json"),
        ("put-body-too-large.json", 413, "at most 1024 bytes"),
        ("put-bad-date-format.json", 400, "YYYY-MM-DD"),
        ("put-impossible-date.json", 400, "not a real calendar date"),
        ("put-future-date.json", 400, "before today"),
        ("put-array-body.json", 400, "must be a JSON object"),
        ("put-letter-number-username.json", 400, "only letters"),
        ("put-ideographic-zero-username.json", 400, "only letters"),
        ("put-lone-combining-mark-username.json", 400, "only letters"),
    ];
    for (name, status, reason) in cases {
        let (deps, store) = deps();
        let answer = send(&deps, name).await;
        assert_eq!(answer.status, status, "{name}: {:?}", answer.json);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"), "{name}");
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(reason),
            "{name}: error {error:?} should mention {reason:?}"
        );
        assert_eq!(
            store.get(&user("alice")).await.ok(),
            Some(None),
            "{name} stored something"
        );
    }
}

/// Requests `lambda_http` could not turn into an `http::Request` (it panicked, and the gateway answered
/// 502) are refused as bad input: 400, the contract's error body naming the field, and nothing stored.
#[tokio::test]
async fn events_that_make_no_request_are_refused_naming_the_field() {
    let cases = [
        ("get-host-with-port-out-of-range.json", "Host header \"x:99999\""),
        ("get-host-with-unclosed-bracket.json", "Host header \"[::1\""),
        ("get-forwarded-proto-colon.json", "X-Forwarded-Proto header \":\""),
        (
            "get-forwarded-proto-with-space.json",
            "X-Forwarded-Proto header \"a b\"",
        ),
        ("get-query-with-raw-quote.json", "query string \"name=\\\"alice\\\"\""),
        ("get-query-with-raw-angle-brackets.json", "query string \"q=<b>\""),
        ("put-bad-base64-body.json", "not valid base64"),
    ];
    for (name, reason) in cases {
        let (deps, store) = deps();
        store
            .put(&user("alice"), date(1990, 11, 28))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let answer = send(&deps, name).await;
        assert_eq!(answer.status, 400, "{name}: {:?}", answer.json);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"), "{name}");
        let keys: Vec<_> = answer
            .json
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["error"], "{name}: the contract's error body has `error` only");
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(reason),
            "{name}: error {error:?} should mention {reason:?}"
        );
        assert_eq!(
            store.get(&user("alice")).await.ok(),
            Some(Some(date(1990, 11, 28))),
            "{name} changed the store"
        );
    }
}

/// A `Host` that is a host, with or without a port, and a scheme that is one, pass: the checks above refuse
/// only what makes no URL.
#[tokio::test]
async fn well_formed_hosts_and_schemes_are_routed() {
    let (deps, store) = deps();
    store
        .put(&user("alice"), date(1990, 11, 28))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (host, proto) in [
        ("example.com", "https"),
        ("example.com:65535", "http"),
        ("127.0.0.1:4566", "http"),
        ("[::1]:80", "https"),
        ("localhost", "HTTPS"),
    ] {
        let mut event = event("get.json");
        event["headers"]["host"] = serde_json::json!(host);
        event["headers"]["x-forwarded-proto"] = serde_json::json!(proto);
        let answer = invoke(&deps, host, event).await;
        assert_eq!(answer.status, 200, "{host} {proto}: {:?}", answer.json);
    }
    // Without a Host header the API's domain name is the authority; without either, the path alone.
    let mut event = event("get.json");
    event["headers"].as_object_mut().map(|h| h.remove("host"));
    assert_eq!(invoke(&deps, "no host", event.clone()).await.status, 200);
    event["requestContext"].as_object_mut().map(|c| c.remove("domainName"));
    assert_eq!(invoke(&deps, "no host, no domain", event).await.status, 200);
}

/// The seeded fuzz requests (`fuzz.rs`), in-process, as the API Gateway events they make: no 5xx, no
/// hang, every error the contract's JSON body, and a 2xx only where the contract allows one.
#[tokio::test]
async fn fuzzed_requests_get_no_5xx_and_no_hang() {
    println!("fuzz seed {}, {} requests", fuzz::SEED, fuzz::COUNT);
    let (deps, _) = deps();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut failures = Vec::new();
    for (i, request) in fuzz::requests(fuzz::SEED, "alice").iter().enumerate() {
        let what = format!("seed {} request {i}: {}", fuzz::SEED, request.describe());
        let Ok(answer) = tokio::time::timeout(Duration::from_secs(5), invoke(&deps, &what, request.event())).await
        else {
            failures.push(format!("{what}: no answer within 5 s"));
            continue;
        };
        *statuses.entry(answer.status).or_default() += 1;
        let error_body = answer.content_type.as_deref() == Some("application/json")
            && answer.json["error"].as_str().is_some_and(|e| !e.is_empty());
        let fault = match answer.status {
            500.. => Some("a 5xx"),
            400..500 if !error_body => Some("an error without the contract's JSON body"),
            200..300 if !request.may_succeed => Some("a 2xx the contract does not allow"),
            _ => None,
        };
        if let Some(fault) = fault {
            failures.push(format!("{what}: {fault}: {} {}", answer.status, answer.json));
        }
    }
    println!("answers by status: {statuses:?}");
    assert!(
        failures.is_empty(),
        "{} of {} fuzzed requests failed:\n{}",
        failures.len(),
        fuzz::COUNT,
        failures.join("\n")
    );
}

/// A store that is always down, as DynamoDB is when it throttles or cannot be reached.
#[derive(Debug)]
struct DownStore;

#[async_trait::async_trait]
impl BirthdayStore for DownStore {
    async fn put(&self, _: &Username, _: NaiveDate) -> Result<(), volley_core::ports::StoreError> {
        Err(volley_core::ports::StoreError::Unavailable("connection refused".into()))
    }
    async fn get(&self, _: &Username) -> Result<Option<NaiveDate>, volley_core::ports::StoreError> {
        Err(volley_core::ports::StoreError::Unavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn an_unavailable_store_is_a_503_with_a_json_reason_not_a_crash() {
    let deps = Deps {
        store: Arc::new(DownStore),
        clock: Arc::new(FixedClock::on(today())),
    };
    for name in ["put.json", "get.json"] {
        let answer = send(&deps, name).await;
        assert_eq!(answer.status, 503, "{name}");
        assert!(
            answer.json["error"].as_str().is_some_and(|e| e.contains("unavailable")),
            "{name}"
        );
    }
    // Bad input is still refused as bad input, without touching the store.
    assert_eq!(send(&deps, "put-future-date.json").await.status, 400);
}

fn put_request(body: Vec<u8>) -> http::Request<bytes::Bytes> {
    http::Request::builder()
        .method("PUT")
        .uri("/hello/alice")
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(body))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_body_of_exactly_1024_bytes_is_accepted_and_1025_is_refused() {
    let json = br#"{"dateOfBirth": "1990-01-05"}"#;
    let padded = |len: usize| {
        let mut body = json.to_vec();
        body.resize(len, b' ');
        body
    };
    let (deps, store) = deps();
    let response = greeter::route(&deps, put_request(padded(1024))).await;
    assert_eq!(response.status(), 204);
    assert_eq!(store.get(&user("alice")).await.ok(), Some(Some(date(1990, 1, 5))));
    let response = greeter::route(&deps, put_request(padded(1025))).await;
    assert_eq!(response.status(), 413);
}

mod any_input {
    use super::*;
    use proptest::prelude::*;

    fn answer(method: &str, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Vec<u8>, Option<String>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let Ok(request) = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(bytes::Bytes::from(body))
        else {
            return (
                400,
                br#"{"error":"unbuildable"}"#.to_vec(),
                Some("application/json".into()),
            );
        };
        let (deps, _) = deps();
        let response = runtime.block_on(greeter::route(&deps, request));
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), response.body().to_vec(), content_type)
    }

    proptest! {
        /// Whatever arrives, the answer is 2xx or 4xx, and every 4xx is a JSON `{"error": ...}`.
        #[test]
        fn no_input_gets_a_5xx_or_a_non_json_error(
            method in prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
            segment in prop_oneof![
                "[a-zA-Z]{0,70}",
                "\\PC{0,20}",
                "(%[0-9A-Fa-f]{2}){0,12}",
                "[a-z%./\\\\ -]{0,20}",
            ],
            content_type in prop::sample::select(vec!["application/json", "text/plain", "", "application/json; charset=utf-8", "APPLICATION/JSON"]),
            body in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..1100),
                "\\{\"dateOfBirth\": \"[0-9-]{0,12}\"\\}".prop_map(String::into_bytes),
                "\\{\"dateOfBirth\": [0-9a-z\\[\\]{}\"]{0,10}\\}".prop_map(String::into_bytes),
            ],
        ) {
            let path = format!("/hello/{}", segment.replace(' ', "%20"));
            let (status, body, content_type) = answer(method, &path, content_type, body);
            prop_assert!((200..500).contains(&status), "{method} {path}: {status}");
            if status >= 400 {
                prop_assert_eq!(content_type.as_deref(), Some("application/json"));
                let json: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| TestCaseError::fail(format!("{status} body is not JSON: {e}")))?;
                prop_assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", json);
            }
        }
    }
}
