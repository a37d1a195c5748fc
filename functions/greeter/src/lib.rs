//! The greeter: the birthday REST API, Volley's bundled demo target and deployment canary.
//!
//! One router, [`route`], answers both API Gateway HTTP API (payload 2.0) events inside Lambda
//! ([`function_handler`], through [`gateway`]) and plain HTTP when run locally ([`local::serve`]).
//!
//! - `PUT /hello/{username}` `{"dateOfBirth": "YYYY-MM-DD"}` -> 204
//! - `GET /hello/{username}` -> 200 `{"message": "Hello, <username>! Your birthday is in N days"}`
//!
//! Every error is JSON `{"error": "<reason>"}`; bad input is always 4xx. `openapi.yaml` is the contract.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use volley_core::adapters::dynamodb::birthdays::DynamoBirthdayStore;
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{ConfigError, EnvReader};
use volley_core::model::birthday::{self, Username};
use volley_core::model::payload;
use volley_core::ports::{BirthdayStore, StoreError};

pub mod gateway;
pub mod local;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024;
/// The methods `/hello/{username}` answers.
pub const ALLOWED_METHODS: &str = "GET, PUT";
const ROUTE_PREFIX: &str = "/hello/";

/// The greeter's settings, read from the environment once per cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `BIRTHDAYS_TABLE`: the DynamoDB table of dates of birth.
    pub birthdays_table: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&mut EnvReader::new())
    }

    /// Reads the settings through `env` (the process environment, or a map in the deploy tests).
    pub fn from_reader(env: &mut EnvReader) -> Result<Self, ConfigError> {
        let birthdays_table = env.required("BIRTHDAYS_TABLE");
        env.finish()?;
        Ok(Self { birthdays_table })
    }
}

/// The AWS actions this function's adapter methods call (each list sits next to its adapter): the deploy
/// consistency test (`tests/it/deploy.rs`) holds the IAM policies in deploy/ and template.yaml to them.
pub const IAM_ACTIONS: &[&[&str]] = &[volley_core::adapters::dynamodb::birthdays::BIRTHDAY_STORE_ACTIONS];

/// Everything a request needs, built once.
#[derive(Debug, Clone)]
pub struct Deps {
    pub store: Arc<dyn BirthdayStore>,
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    pub fn from_aws(sdk_config: &volley_core::aws::SdkConfig, config: &Config) -> Self {
        Self {
            store: Arc::new(DynamoBirthdayStore::new(sdk_config, &config.birthdays_table)),
            clock: Arc::new(SystemClock),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    #[serde(rename = "dateOfBirth")]
    date_of_birth: String,
}

#[derive(Debug, Serialize)]
struct Greeting {
    message: String,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// A JSON response with `status`.
fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| br#"{"error":"response could not be encoded"}"#.to_vec());
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// The JSON error response `{"error": reason}`.
pub fn error(status: StatusCode, reason: &str) -> Response<Bytes> {
    json(status, &ErrorBody { error: reason })
}

/// The answer to a body larger than [`MAX_BODY_BYTES`].
pub fn payload_too_large() -> Response<Bytes> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("request body must be at most {MAX_BODY_BYTES} bytes"),
    )
}

fn store_failed(err: &StoreError) -> Response<Bytes> {
    tracing::error!(error = %err, source = ?std::error::Error::source(err), "birthday store failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the birthday store is unavailable; try again",
    )
}

/// Answers one request. Never panics and never answers 5xx for bad input.
pub async fn route(deps: &Deps, request: Request<Bytes>) -> Response<Bytes> {
    let path = request.uri().path();
    let Some(segment) = path.strip_prefix(ROUTE_PREFIX).filter(|s| !s.contains('/')) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no route for {path}; use /hello/{{username}}"),
        );
    };
    let method = request.method().clone();
    if method != Method::GET && method != Method::PUT {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("method {method} is not allowed; use {ALLOWED_METHODS}"),
        );
        response
            .headers_mut()
            .insert(ALLOW, http::HeaderValue::from_static(ALLOWED_METHODS));
        return response;
    }
    let user = match Username::from_path_segment(segment) {
        Ok(user) => user,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if method == Method::GET {
        get_greeting(deps, &user).await
    } else {
        put_birthday(deps, &user, &request).await
    }
}

async fn get_greeting(deps: &Deps, user: &Username) -> Response<Bytes> {
    match deps.store.get(user).await {
        Ok(Some(born)) => {
            let message = birthday::greeting(user, born, deps.clock.today());
            tracing::info!(user = %user, "greeted");
            json(StatusCode::OK, &Greeting { message })
        }
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no date of birth stored for {user}")),
        Err(e) => store_failed(&e),
    }
}

fn is_json(request: &Request<Bytes>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The PUT body: a JSON object and nothing else. Serde's derived structs also read an array as the fields in
/// order (`["1990-01-05"]`), which openapi.yaml's `type: object` refuses, so the kind is checked first.
fn parse_put_body(body: &[u8]) -> Result<PutBody, String> {
    let value: serde_json::Value =
        payload::parse_slice(body).map_err(|e| format!("request body is not valid JSON: {e}"))?;
    let kind = match &value {
        serde_json::Value::Object(_) => {
            return payload::parse(&value).map_err(|e| format!("invalid request body: {e}"));
        }
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    };
    Err(format!(
        "request body must be a JSON object {{\"dateOfBirth\": \"YYYY-MM-DD\"}}, got {kind}"
    ))
}

async fn put_birthday(deps: &Deps, user: &Username, request: &Request<Bytes>) -> Response<Bytes> {
    let body = request.body();
    if body.len() > MAX_BODY_BYTES {
        return payload_too_large();
    }
    if !is_json(request) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        );
    }
    let parsed = match parse_put_body(body) {
        Ok(parsed) => parsed,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    let born = match birthday::parse_date_of_birth(&parsed.date_of_birth, deps.clock.today()) {
        Ok(born) => born,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match deps.store.put(user, born).await {
        Ok(()) => {
            tracing::info!(user = %user, "date of birth stored");
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        Err(e) => store_failed(&e),
    }
}

/// The Lambda entry point: an API Gateway HTTP API (payload 2.0) event, taken as plain JSON so that
/// nothing before this function can fail on it. An event that does not make a request (a `Host` or
/// `X-Forwarded-Proto` that does not form a URL, a raw `"` in the query, ...) is answered 400 with the
/// contract's error body, as any other bad input; see [`gateway`].
pub async fn function_handler(
    deps: &Deps,
    event: LambdaEvent<serde_json::Value>,
) -> Result<ApiGatewayV2httpResponse, Infallible> {
    let response = match gateway::into_request(&event.payload) {
        Ok(request) => route(deps, request).await,
        Err(e) => {
            tracing::info!(error = %e, "request refused before routing");
            error(StatusCode::BAD_REQUEST, &e.to_string())
        }
    };
    Ok(gateway::into_response(response))
}
