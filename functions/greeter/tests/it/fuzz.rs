//! A seeded generator of odd requests to the greeter: odd methods, paths, raw query characters, `Host` and
//! `X-Forwarded-Proto` values, content types and bodies. The same requests are sent in-process as the API
//! Gateway HTTP API events they make (`handler.rs`) and over the wire, as raw HTTP/1.1, through the emulator's
//! API Gateway (`deployed_stack.rs`). A failure names the seed and the request's index, so it can be
//! replayed.

use base64::Engine as _;
use serde_json::json;

/// The seed of [`requests`] in both tests; printed by each.
pub const SEED: u64 = 20_261_216;
/// How many requests each test sends.
pub const COUNT: usize = 600;

/// One request as a client writes it: the path and query raw, as on the request line.
#[derive(Debug, Clone)]
pub struct FuzzRequest {
    pub method: String,
    pub path: String,
    /// Without the `?`; empty for none.
    pub query: String,
    /// Names in lower case; `host` only when the request sets an odd one.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Whether a 2xx is allowed: GET or PUT of `/hello/` and a valid username (and for a PUT a JSON object
    /// body). Set by the generator from what it chose, never by asking the code under test.
    pub may_succeed: bool,
}

const METHODS: &[&str] = &[
    "GET", "GET", "GET", "PUT", "PUT", "PUT", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "FOO",
];

/// Usernames as written in the path, each with whether it is 1 to 64 letters once decoded (by hand, not by
/// the code under test).
const ODD_USERS: &[(&str, bool)] = &[
    ("Zo%C3%AB", true),
    ("%E6%9D%8E%E9%9B%B7", true), // 李雷
    ("\u{674e}\u{96f7}", true),   // 李雷, raw UTF-8
    ("%E2%85%A0", false),         // Ⅰ, a letter number
    ("%E3%80%87", false),         // 〇, a letter number
    ("%CD%85", false),            // a lone combining mark
    ("q%CC%88", false),           // q and a combining diaeresis, which NFC cannot compose
    ("%E0%A4%83", false),         // a lone spacing mark
    ("%FF", false),
    ("%", false),
    ("%zz", false),
    ("a%20b", false),
    ("a%2Fb", false),
    ("al1ce", false),
    ("a\"b", false),
    ("a<b>", false),
    ("a'b", false),
    ("..", false),
];

const ODD_HOSTS: &[&str] = &[
    "x:99999",
    "[::1",
    ":",
    "",
    "h@x",
    "[::1]:80",
    "example.com:0",
    "example.com:65536",
    "example.com:",
    "x:abc",
    "ex%zz",
    "\u{fc}n\u{ef}.example",
    "a b",
];

const ODD_PROTOS: &[&str] = &[
    ":", "a b", "", "https", "http", "1http", "ftp", "HTTPS", "h_t", "ht\u{e9}",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "application/jsonx",
    ";",
    "",
    "multipart/form-data; boundary=x",
];

/// Characters a client may put raw in a query, some of which a URI may not hold.
const QUERY_CHARS: &[&str] = &[
    "\"", "<", ">", "{", "}", "|", "\\", "^", "`", "'", "%", "%zz", "%41", "=", "&", "?", "/", "a", "z", "0", "\u{e9}",
    "[", "]", ";", "+", "!", "*", "$", ",", "@", ":",
];

const EXTRA_HEADERS: &[&str] = &[
    "x-odd",
    "cookie",
    "accept",
    "x-forwarded-for",
    "accept-language",
    "x-amzn-trace-id",
];

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from.get(rng.usize(..from.len())).copied().unwrap_or_default()
}

/// The body: a well-formed PUT body unless `odd`.
fn body(rng: &mut fastrand::Rng, odd: bool) -> Option<Vec<u8>> {
    let good = r#"{"dateOfBirth": "1990-01-05"}"#;
    if !odd {
        return Some(good.as_bytes().to_vec());
    }
    let fixed: &[&str] = &[
        r#"["1978-06-18"]"#,
        "[]",
        "{}",
        "null",
        r#""1990-01-05""#,
        "123",
        "true",
        r#"{"dateOfBirth": ["1990-01-05"]}"#,
        r#"{"dateOfBirth": {"0": "1990-01-05"}}"#,
        r#"{"dateOfBirth": "1990-01-05", "x": 1}"#,
        r#"{"dateOfBirth": "2999-01-01"}"#,
        r#"{"dateOfBirth": "1990-02-30"}"#,
        r#"{"dateOfBirth": "1990-01-05"} trailing"#,
        r#"{"dateOfBirth": "\ud800"}"#,
    ];
    match rng.u8(..8) {
        0 => None,
        1 => Some((0..rng.usize(..64)).map(|_| rng.u8(..)).collect()),
        2 => Some(vec![b'a'; rng.usize(1000..2100)]),
        3 => {
            let depth = rng.usize(1..300);
            Some(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes())
        }
        _ => Some(pick(rng, fixed).as_bytes().to_vec()),
    }
}

/// What a request gets wrong. One in six gets nothing wrong; one in five of the others also gets a second
/// thing wrong, so that refusals meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Odd {
    Nothing,
    Method,
    User,
    Path,
    Query,
    Host,
    Proto,
    ContentType,
    Body,
    Header,
}

const ODDS: &[Odd] = &[
    Odd::Nothing,
    Odd::Nothing,
    Odd::Method,
    Odd::User,
    Odd::Path,
    Odd::Query,
    Odd::Host,
    Odd::Proto,
    Odd::ContentType,
    Odd::Body,
    Odd::Header,
    Odd::Query,
];

fn request(rng: &mut fastrand::Rng, user: &str) -> FuzzRequest {
    let first = ODDS.get(rng.usize(..ODDS.len())).copied().unwrap_or(Odd::Nothing);
    let second = if first != Odd::Nothing && rng.u8(..5) == 0 {
        ODDS.get(rng.usize(..ODDS.len())).copied().unwrap_or(Odd::Nothing)
    } else {
        Odd::Nothing
    };
    let odd = |what| first == what || second == what;
    let method = if odd(Odd::Method) {
        pick(rng, METHODS)
    } else if rng.bool() {
        "GET"
    } else {
        "PUT"
    }
    .to_owned();
    let (who, valid_user) = if odd(Odd::User) {
        let (who, valid) = ODD_USERS
            .get(rng.usize(..ODD_USERS.len()))
            .copied()
            .unwrap_or(("", false));
        (who.to_owned(), valid)
    } else {
        (user.to_owned(), true)
    };
    let (path, routed) = match (odd(Odd::Path), rng.bool()) {
        (true, true) => (format!("/hello/{who}/extra"), false),
        (true, false) => ("/hello/".to_owned(), false),
        (false, _) => (format!("/hello/{who}"), valid_user),
    };
    let query = match (odd(Odd::Query), rng.bool()) {
        (true, _) => (0..rng.usize(1..8)).map(|_| pick(rng, QUERY_CHARS)).collect(),
        (false, true) => "a=b".to_owned(),
        (false, false) => String::new(),
    };
    let mut headers = Vec::new();
    if odd(Odd::Host) {
        headers.push(("host".to_owned(), pick(rng, ODD_HOSTS).to_owned()));
    }
    if odd(Odd::Proto) {
        headers.push(("x-forwarded-proto".to_owned(), pick(rng, ODD_PROTOS).to_owned()));
    }
    let content_type = if odd(Odd::ContentType) {
        pick(rng, CONTENT_TYPES)
    } else {
        "application/json"
    };
    headers.push(("content-type".to_owned(), content_type.to_owned()));
    if odd(Odd::Header) {
        let value: String = (0..rng.usize(..12)).map(|_| pick(rng, QUERY_CHARS)).collect();
        headers.push((pick(rng, EXTRA_HEADERS).to_owned(), value));
    }
    let body = body(rng, odd(Odd::Body));
    let body_is_object = body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .is_some_and(|v| v.is_object());
    let may_succeed = routed && (method == "GET" || (method == "PUT" && body_is_object));
    FuzzRequest {
        method,
        path,
        query,
        headers,
        body,
        may_succeed,
    }
}

/// The [`COUNT`] requests of `seed`; `user` is the well-formed username about half of them use.
pub fn requests(seed: u64, user: &str) -> Vec<FuzzRequest> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..COUNT).map(|_| request(&mut rng, user)).collect()
}

impl FuzzRequest {
    /// The API Gateway HTTP API (payload 2.0) event this request makes, as API Gateway writes it: the raw
    /// path and query, the headers (a `host` of the API's domain unless the request set one), a body that
    /// is not UTF-8 in base64.
    pub fn event(&self) -> serde_json::Value {
        let domain = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com";
        let mut headers = serde_json::Map::new();
        headers.insert("host".into(), json!(domain));
        headers.insert("x-forwarded-proto".into(), json!("https"));
        for (name, value) in &self.headers {
            headers.insert(name.clone(), json!(value));
        }
        let (body, base64) = match &self.body {
            None => (None, false),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => (Some(text.to_owned()), false),
                Err(_) => (Some(base64::engine::general_purpose::STANDARD.encode(bytes)), true),
            },
        };
        if let Some(body) = &body {
            headers.insert("content-length".into(), json!(body.len().to_string()));
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": "ANY /hello/{username}",
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "a1b2c3d4e5",
                "domainName": domain,
                "domainPrefix": "a1b2c3d4e5",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.10",
                    "userAgent": "fuzz"
                },
                "requestId": "fuzz",
                "routeKey": "ANY /hello/{username}",
                "stage": "$default",
                "time": "23/Nov/2026:07:30:00 +0000",
                "timeEpoch": 1_795_419_000_000_u64
            },
            "isBase64Encoded": base64
        });
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        event
    }

    /// The request as raw HTTP/1.1 bytes for an API whose URL path is `prefix` on `host`: the path and query
    /// exactly as generated (a client library would percent-encode them), `Connection: close`.
    pub fn wire(&self, prefix: &str, host: &str) -> Vec<u8> {
        let mut target = format!("{prefix}{}", self.path);
        if !self.query.is_empty() {
            target.push('?');
            target.push_str(&self.query);
        }
        let mut head = format!("{} {target} HTTP/1.1\r\n", self.method);
        if !self.headers.iter().any(|(name, _)| name == "host") {
            head.push_str(&format!("host: {host}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = self.body.as_deref().unwrap_or_default();
        head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    /// One line for a failure message.
    pub fn describe(&self) -> String {
        let body = self.body.as_deref().map(String::from_utf8_lossy);
        let body = body.as_deref().map(|b| b.chars().take(60).collect::<String>());
        format!(
            "{} {}?{} headers {:?} body {:?}",
            self.method, self.path, self.query, self.headers, body
        )
    }
}
