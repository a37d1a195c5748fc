//! API Gateway HTTP API (payload 2.0) events to and from `http`, by fallible code.
//!
//! `lambda_http` did this before the handler ran, inside its runtime adapter, and panicked (a 502 at the
//! gateway) on a request it could not turn into an `http::Request`: an `X-Forwarded-Proto` that is not a
//! scheme, a `Host` that is not an authority, a raw `"`, `<` or `>` in the query, a bad base64 body. Here
//! each of those is a [`GatewayError`] naming the field, which the greeter answers with a 400.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{COOKIE, HOST};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Request, Response, Uri};
use serde_json::Value;
use thiserror::Error;
use volley_core::model::payload::{self, PayloadError};

const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// Why an event could not be turned into a request. Each names the field it is about.
#[derive(Debug, Error)]
pub enum GatewayError {
    #[error("the request could not be read as an API Gateway HTTP API event: {0}")]
    Event(#[source] PayloadError),
    #[error("X-Forwarded-Proto header {0:?} is not a URI scheme")]
    Scheme(String),
    #[error("Host header {0:?} is not a host name or address with an optional port (0 to 65535)")]
    Host(String),
    #[error("request path {0:?} is not a valid URI path")]
    Path(String),
    #[error("query string {0:?} is not valid in a URI (characters such as \", <, > and space must be percent-encoded)")]
    Query(String),
    #[error("request body is marked base64 but is not valid base64")]
    Base64(#[source] base64::DecodeError),
}

/// A header's value as text, or the raw bytes lossily decoded (for the error message) if it is not.
fn text(value: &HeaderValue) -> Result<&str, String> {
    value
        .to_str()
        .map_err(|_| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// The scheme the client used: `X-Forwarded-Proto`, `https` without one.
fn scheme(headers: &HeaderMap) -> Result<Scheme, GatewayError> {
    let Some(value) = headers.get(X_FORWARDED_PROTO) else {
        return Ok(Scheme::HTTPS);
    };
    let raw = text(value).map_err(GatewayError::Scheme)?;
    raw.parse().map_err(|_| GatewayError::Scheme(raw.to_owned()))
}

/// The authority: the `Host` header, else the API's domain name, else none (a relative URI). RFC 9112
/// section 3.2: a server answers 400 to a Host field with an invalid value. An authority with user
/// information or a port beyond 65535 is not a host.
fn authority(headers: &HeaderMap, domain_name: Option<&str>) -> Result<Option<Authority>, GatewayError> {
    let raw = match headers.get(HOST) {
        Some(value) => text(value).map_err(GatewayError::Host)?,
        None => match domain_name {
            Some(name) => name,
            None => return Ok(None),
        },
    };
    let refused = || GatewayError::Host(raw.to_owned());
    if raw.contains('@') {
        return Err(refused());
    }
    let authority: Authority = raw.parse().map_err(|_| refused())?;
    let host = authority.host();
    // `Authority` keeps any run of characters after the colon; `port()` hides one that is not a u16.
    let port = raw
        .strip_prefix(host)
        .map(|rest| rest.strip_prefix(':').unwrap_or(rest));
    let port_ok =
        port.is_some_and(|p| p.is_empty() || (p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()));
    if host.is_empty() || !port_ok {
        return Err(refused());
    }
    Ok(Some(authority))
}

/// The path and query as the client sent them (`rawPath`, `rawQueryString`), each checked on its own so
/// that the error names the one at fault.
fn path_and_query(raw_path: &str, raw_query: &str) -> Result<PathAndQuery, GatewayError> {
    if !raw_path.starts_with('/') || raw_path.contains(['?', '#']) {
        return Err(GatewayError::Path(raw_path.to_owned()));
    }
    let path: PathAndQuery = raw_path.parse().map_err(|_| GatewayError::Path(raw_path.to_owned()))?;
    if raw_query.is_empty() {
        return Ok(path);
    }
    if raw_query.contains('#') {
        return Err(GatewayError::Query(raw_query.to_owned()));
    }
    format!("{raw_path}?{raw_query}")
        .parse()
        .map_err(|_| GatewayError::Query(raw_query.to_owned()))
}

fn body(event: &ApiGatewayV2httpRequest) -> Result<Bytes, GatewayError> {
    match event.body.as_deref() {
        None => Ok(Bytes::new()),
        Some(text) if event.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(GatewayError::Base64),
        Some(text) => Ok(Bytes::copy_from_slice(text.as_bytes())),
    }
}

/// Turns an API Gateway HTTP API event (payload 2.0), as the runtime received it, into the request the
/// client sent: method, `scheme://host/rawPath?rawQueryString`, headers (cookies as one `Cookie`), body.
pub fn into_request(event: &Value) -> Result<Request<Bytes>, GatewayError> {
    let event: ApiGatewayV2httpRequest = payload::parse(event).map_err(GatewayError::Event)?;
    let path_and_query = path_and_query(
        event.raw_path.as_deref().unwrap_or("/"),
        event.raw_query_string.as_deref().unwrap_or_default(),
    )?;
    let uri = match authority(&event.headers, event.request_context.domain_name.as_deref())? {
        Some(authority) => Uri::from_parts({
            let mut parts = http::uri::Parts::default();
            parts.scheme = Some(scheme(&event.headers)?);
            parts.authority = Some(authority);
            parts.path_and_query = Some(path_and_query.clone());
            parts
        })
        .map_err(|_| GatewayError::Path(path_and_query.to_string()))?,
        None => Uri::from(path_and_query),
    };
    let body = body(&event)?;
    let mut headers = event.headers;
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty())
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        headers.insert(COOKIE, value);
    }
    let mut request = Request::new(body);
    *request.method_mut() = event.request_context.http.method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

/// The answer in the shape API Gateway reads from a payload 2.0 integration: a JSON body as text, no body
/// at all when it is empty.
pub fn into_response(response: Response<Bytes>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    answer.body = (!body.is_empty()).then(|| Body::Text(String::from_utf8_lossy(&body).into_owned()));
    answer
}
