//! What to send: the one request an attack repeats (oha's request generator, reduced to one prepared
//! request; run-load's varied requests are siblings of one endpoint, [`super::transport::Endpoint::sibling`]).

use bytes::Bytes;

/// What to send (the default: a GET without headers or body).
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    pub method: http::Method,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// Headers whose values are credentials: never written down (results, reports, logs, error messages). Their
/// values are marked sensitive ([`http::HeaderValue::set_sensitive`]), so even a `Debug` of the request
/// prints `Sensitive` instead, and HTTP/2's HPACK never indexes them.
pub const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-amz-security-token",
];

/// What a redacted value is written as.
pub const REDACTED: &str = "<redacted>";

/// Which headers are sensitive: [`SENSITIVE_HEADERS`] and a configured list of more.
#[derive(Debug, Clone, Default)]
pub struct Sensitive {
    more: Vec<http::HeaderName>,
}

impl Sensitive {
    /// The defaults and `more` (header names; case does not matter).
    pub fn with(more: impl IntoIterator<Item = http::HeaderName>) -> Self {
        Self {
            more: more.into_iter().collect(),
        }
    }

    /// Parses a comma-separated list of more header names, such as `x-tenant-key, x-session`.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self::with)
    }

    /// Whether `name`'s values are credentials.
    pub fn is_sensitive(&self, name: &http::HeaderName) -> bool {
        SENSITIVE_HEADERS.contains(&name.as_str()) || self.more.contains(name)
    }

    /// Marks the values of every sensitive header of `headers` sensitive.
    pub fn mark(&self, headers: &mut http::HeaderMap) {
        for (name, value) in headers.iter_mut() {
            if self.is_sensitive(name) {
                value.set_sensitive(true);
            }
        }
    }

    /// `value` as it may be written down: itself, or [`REDACTED`] for a sensitive header.
    pub fn shown<'a>(&self, name: &str, value: &'a str) -> &'a str {
        match http::HeaderName::from_bytes(name.trim().as_bytes()) {
            Ok(name) if self.is_sensitive(&name) => REDACTED,
            _ => value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_marked_and_never_printed() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", http::HeaderValue::from_static("Bearer s3cr3t"));
        headers.insert("x-tenant-key", http::HeaderValue::from_static("t3nant"));
        headers.insert("accept", http::HeaderValue::from_static("application/json"));
        let sensitive = Sensitive::parse(" X-Tenant-Key ,").unwrap_or_default();
        sensitive.mark(&mut headers);
        let spec = RequestSpec {
            headers,
            ..RequestSpec::default()
        };
        let printed = format!("{spec:?}");
        assert!(!printed.contains("s3cr3t") && !printed.contains("t3nant"), "{printed}");
        assert!(
            printed.contains("application/json"),
            "other headers stay readable: {printed}"
        );
        assert_eq!(sensitive.shown("Cookie", "a=b"), REDACTED);
        assert_eq!(sensitive.shown("accept", "text/html"), "text/html");
        assert!(Sensitive::parse("a b").is_err());
    }
}
