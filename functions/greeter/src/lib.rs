//! The greeter: the birthday REST API, Volley's bundled demo target and deployment canary.
//!
//! One router, [`route`], answers both API Gateway HTTP API (payload 2.0) events inside Lambda
//! ([`function_handler`]) and plain HTTP when run locally ([`local::serve`]).
//!
//! - `PUT /hello/{username}` `{"dateOfBirth": "YYYY-MM-DD"}` -> 204
//! - `GET /hello/{username}` -> 200 `{"message": "Hello, <username>! Your birthday is in N days"}`
//!
//! Every error is JSON `{"error": "<reason>"}`; bad input is always 4xx. `openapi.yaml` is the contract.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use volley_core::adapters::dynamodb::birthdays::DynamoBirthdayStore;
use volley_core::clock::{Clock, SystemClock};
use volley_core::config::{ConfigError, EnvReader};
use volley_core::model::birthday::{self, Username};
use volley_core::model::payload;
use volley_core::ports::{BirthdayStore, StoreError};

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
    let parsed: PutBody = match payload::parse_slice(body) {
        Ok(parsed) => parsed,
        Err(e) if e.not_json => return error(StatusCode::BAD_REQUEST, &format!("request body is not valid JSON: {e}")),
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid request body: {e}")),
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

/// The Lambda entry point: an API Gateway HTTP API event, already decoded by `lambda_http`.
pub async fn function_handler(
    deps: &Deps,
    event: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error> {
    let (parts, body) = event.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(binary) => Bytes::from(binary),
        _ => Bytes::new(),
    };
    let response = route(deps, Request::from_parts(parts, bytes)).await;
    let (parts, body) = response.into_parts();
    let body = if body.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Text(String::from_utf8_lossy(&body).into_owned())
    };
    Ok(lambda_http::Response::from_parts(parts, body))
}
