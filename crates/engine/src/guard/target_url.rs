//! The URL spelling rules: a target URL must mean one thing to every parser that will read it.
//!
//! The guard decides on the host it reads; the HTTP client connects to the host *it* reads. If the two could
//! differ, the guard could be talked past, so anything ambiguous is refused, and the refusal shows the plain
//! spelling to use instead: only http and https; no user information (credentials go in a header); no
//! backslash, whitespace or control characters; no percent-encoding in the host; and the host must read the
//! same to the WHATWG parser (`url`, which the HTTP client uses) and to the RFC 3986 parser (`http::Uri`).
//! A host name is a spelling to normalise, not a reason to refuse: upper case, one trailing dot and
//! internationalised names (UTS #46, nontransitional, through [`host::normalise_domain`], as the registry
//! stores them) all name the one host they map to (`bücher.example` is `xn--bcher-kva.example`).

use std::net::IpAddr;

use super::host::{self, NameRules};
use super::refusal::Refusal;

/// The scheme of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// What a target URL names, once its spelling has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    /// A domain name, lower case, without a trailing dot.
    Domain(String),
    /// A literal address.
    Ip(IpAddr),
}

/// A target URL whose spelling is unambiguous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    pub url: url::Url,
    pub scheme: Scheme,
    pub host: TargetHost,
    pub port: u16,
}

fn ambiguous(raw: &str, why: impl Into<String>, plain: Option<String>) -> Refusal {
    Refusal::AmbiguousUrl {
        url: raw.to_owned(),
        why: why.into(),
        use_instead: plain,
    }
}

/// The authority (between `scheme://` and the path) as written.
fn raw_authority(raw: &str) -> &str {
    let rest = raw.split_once("://").map_or("", |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// The host part of an authority as written: without user information and port, brackets kept for IPv6.
fn raw_host(authority: &str) -> &str {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.find(']').map_or(host_port, |end| &host_port[..=end]);
    }
    host_port.rsplit_once(':').map_or(host_port, |(host, _)| host)
}

/// Why user information is refused, and how to send credentials instead.
const CREDENTIALS: &str = "it carries user information (user@host), which parsers split from the host \
    differently; send credentials in a header instead, such as \"Authorization: Basic <base64 of \
    user:password>\" (volley's -H, a User Call's request.headers, a suite task's headers)";

/// `raw` with the password in its user information, if any, replaced by `***`: a refusal is logged.
fn without_password(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let authority = raw_authority(raw);
    match authority
        .rsplit_once('@')
        .and_then(|(info, _)| Some((info, info.split_once(':')?)))
    {
        Some((info, (user, password))) if !password.is_empty() => {
            format!("{}{user}:***{}", &raw[..start], &raw[start + info.len()..])
        }
        _ => raw.to_owned(),
    }
}

/// `raw` as the RFC 3986 parser should read it: an internationalised host written as its punycode.
fn as_uri<'a>(raw: &'a str, written: &str, host: &TargetHost) -> std::borrow::Cow<'a, str> {
    match (host, raw.find("://").map(|i| i + 3)) {
        (TargetHost::Domain(ascii), Some(start)) if !written.is_ascii() => {
            format!("{}{ascii}{}", &raw[..start], &raw[start + written.len()..]).into()
        }
        _ => raw.into(),
    }
}

/// Checks a target URL's spelling.
pub fn parse(raw: &str) -> Result<TargetUrl, Refusal> {
    if raw.contains('\\') {
        return Err(ambiguous(
            raw,
            "it contains a backslash, which URL parsers read differently",
            None,
        ));
    }
    if let Some(c) = raw.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(ambiguous(
            raw,
            format!("it contains the character {c:?}, which some parsers drop"),
            None,
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| Refusal::NotAUrl {
        url: raw.to_owned(),
        why: e.to_string(),
    })?;
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => {
            return Err(Refusal::Scheme {
                url: raw.to_owned(),
                scheme: other.to_owned(),
            });
        }
    };
    // The plain spelling of this URL, for messages: what the WHATWG parser made of it, minus user information.
    let plain = {
        let mut plain = url.clone();
        let _ = plain.set_username("");
        let _ = plain.set_password(None);
        plain.to_string()
    };
    if !url.username().is_empty() || url.password().is_some() || raw_authority(raw).contains('@') {
        return Err(Refusal::AmbiguousUrl {
            url: without_password(raw),
            why: CREDENTIALS.into(),
            use_instead: Some(plain),
        });
    }
    let written = raw_host(raw_authority(raw));
    if written.contains('%') {
        return Err(ambiguous(raw, "its host is percent-encoded", Some(plain)));
    }
    let Some(parsed_host) = url.host() else {
        return Err(Refusal::NotAUrl {
            url: raw.to_owned(),
            why: "it has no host".into(),
        });
    };
    let normalised = written.to_ascii_lowercase();
    let normalised = normalised.strip_suffix('.').unwrap_or(&normalised);
    let host = match parsed_host {
        url::Host::Domain(domain) => {
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            // The one normalisation (UTS #46, nontransitional), as the registry stores names: a Unicode or
            // upper-case host is a spelling of its ASCII form, and must come out as the one `url` read.
            if host::normalise_domain(written, NameRules::UrlHost).ok().as_deref() != Some(domain) {
                return Err(ambiguous(
                    raw,
                    format!("its host {written:?} reads as {domain:?}"),
                    Some(plain),
                ));
            }
            TargetHost::Domain(domain.to_owned())
        }
        url::Host::Ipv4(ip) => {
            // Only the dotted-quad spelling: 0x7f.1, 2130706433 and 0177.0.0.1 all read as 127.0.0.1 to some
            // parsers and as names (or nothing) to others.
            if normalised != ip.to_string() {
                return Err(ambiguous(
                    raw,
                    format!("its host {written:?} is an unusual spelling of {ip}"),
                    Some(plain),
                ));
            }
            TargetHost::Ip(IpAddr::V4(ip))
        }
        url::Host::Ipv6(ip) => {
            let inner = normalised.trim_start_matches('[').trim_end_matches(']');
            if inner.parse::<std::net::Ipv6Addr>().ok() != Some(ip) {
                return Err(ambiguous(
                    raw,
                    format!("its host {written:?} is an unusual spelling of {ip}"),
                    Some(plain),
                ));
            }
            TargetHost::Ip(IpAddr::V6(ip))
        }
    };
    // The RFC 3986 reading (hyper's) must agree. RFC 3986 has no Unicode hosts: an internationalised URL
    // (an IRI, RFC 3987) becomes a URI by writing its host in punycode, so that is the URI read.
    let rfc3986_host = as_uri(raw, written, &host)
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(|h| h.to_ascii_lowercase()));
    let expected = match &host {
        TargetHost::Domain(d) => d.clone(),
        TargetHost::Ip(IpAddr::V4(ip)) => ip.to_string(),
        TargetHost::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
    };
    let agrees = rfc3986_host.as_deref().map(|h| h.strip_suffix('.').unwrap_or(h)).is_some_and(|h| {
        h == expected || matches!((&host, h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>()), (TargetHost::Ip(ip), Ok(other)) if *ip == other)
    });
    if !agrees {
        return Err(ambiguous(raw, "URL parsers disagree on its host", Some(plain)));
    }
    let port = url.port_or_known_default().unwrap_or(match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    });
    Ok(TargetUrl {
        url,
        scheme,
        host,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> TargetUrl {
        parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    fn refused(raw: &str) -> String {
        match parse(raw) {
            Ok(t) => panic!("{raw} was accepted as {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn plain_urls_parse_with_their_ports() {
        let t = ok("https://api.example.com/v1/users?x=1");
        assert_eq!(
            (t.scheme, t.host, t.port),
            (Scheme::Https, TargetHost::Domain("api.example.com".into()), 443)
        );
        assert_eq!(ok("http://example.com:8080/").port, 8080);
        assert_eq!(ok("http://example.com/").port, 80);
        assert_eq!(
            ok("http://127.0.0.1:3000/hello/Zo%C3%AB").host,
            TargetHost::Ip("127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}")))
        );
        assert_eq!(ok("http://[2606:4700::1111]:8443/").port, 8443);
    }

    #[test]
    fn upper_case_and_one_trailing_dot_are_the_same_host() {
        for raw in ["http://EXAMPLE.com/", "http://example.com./", "http://Example.COM.:80/"] {
            assert_eq!(ok(raw).host, TargetHost::Domain("example.com".into()), "{raw}");
        }
    }

    #[test]
    fn an_internationalised_host_is_normalised_to_its_punycode_not_refused() {
        let cases = [
            ("https://bücher.example.com/", "xn--bcher-kva.example.com"),
            ("https://Bücher.Example.com./path?q=1", "xn--bcher-kva.example.com"),
            ("https://xn--bcher-kva.example.com/", "xn--bcher-kva.example.com"),
            ("https://shop.münchen.test:8443/", "shop.xn--mnchen-3ya.test"),
            ("https://ＥＸＡＭＰＬＥ。com/", "example.com"),
            // Nontransitional: ß and ς are letters of their own, not ss and σ.
            ("https://straße.example/", "xn--strae-oqa.example"),
            ("https://ß.example/", "xn--zca.example"),
        ];
        for (raw, ascii) in cases {
            let t = ok(raw);
            assert_eq!(t.host, TargetHost::Domain(ascii.into()), "{raw}");
            let client = t.url.host_str().map(|h| h.strip_suffix('.').unwrap_or(h));
            assert_eq!(client, Some(ascii), "{raw}: the client reads the same host");
        }
        assert_eq!(ok("https://shop.münchen.test:8443/").port, 8443);
        let sigma = ok("https://βόλος.example/").host;
        assert_ne!(sigma, ok("https://βόλοσ.example/").host, "final sigma is not sigma");
        assert_eq!(
            sigma,
            TargetHost::Domain(
                host::normalise_domain("βόλος.example", NameRules::Registrable).unwrap_or_else(|e| panic!("{e}"))
            ),
            "the guard reads the host as the registry stores the name"
        );
    }

    #[test]
    fn what_is_truly_ambiguous_in_a_unicode_host_is_still_refused_with_the_plain_form() {
        let e = refused("http://１２７.０.０.１/");
        assert!(
            e.contains("unusual spelling of 127.0.0.1") && e.contains("http://127.0.0.1/"),
            "{e}"
        );
        let e = refused("http://b%C3%BCcher.example/");
        assert!(
            e.contains("percent-encoded") && e.contains("http://xn--bcher-kva.example/"),
            "{e}"
        );
    }

    #[test]
    fn user_information_is_refused_saying_how_to_send_credentials_without_echoing_the_password() {
        let e = refused("https://zoe:s3cret@api.example.com/v1");
        assert!(e.contains("user information"), "{e}");
        assert!(e.contains("Authorization: Basic") && e.contains("-H"), "{e}");
        assert!(e.contains("https://api.example.com/v1"), "shows the plain form: {e}");
        assert!(!e.contains("s3cret"), "the password is not echoed: {e}");
        assert!(e.contains("zoe:***@api.example.com"), "{e}");
        let e = refused("https://bücher.example@169.254.169.254/");
        assert!(e.contains("user information") && e.contains("Authorization"), "{e}");
    }

    #[test]
    fn only_http_and_https() {
        for raw in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "javascript:alert(1)",
        ] {
            assert!(refused(raw).contains("scheme"), "{raw}");
        }
    }

    #[test]
    fn ambiguous_spellings_are_refused_with_the_plain_form() {
        let cases = [
            ("http://user:pw@example.com/", "user information"),
            ("http://example.com@169.254.169.254/", "user information"),
            ("http://example.com\\@169.254.169.254/", "backslash"),
            ("http://exa%6Dple.com/", "percent-encoded"),
            ("http://0x7f.1/", "unusual spelling of 127.0.0.1"),
            ("http://2130706433/", "unusual spelling of 127.0.0.1"),
            ("http://0177.0.0.1/", "unusual spelling of 127.0.0.1"),
            ("http://127.1/", "unusual spelling of 127.0.0.1"),
            ("http://exam\tple.com/", "character"),
            ("http://example.com /", "character"),
        ];
        for (raw, why) in cases {
            let e = refused(raw);
            assert!(e.contains(why), "{raw}: {e}");
        }
        assert!(
            refused("http://0x7f.1/").contains("http://127.0.0.1/"),
            "shows the plain form"
        );
    }

    #[test]
    fn garbage_is_not_a_url() {
        for raw in ["", "example.com", "http://", "http://[::1/"] {
            assert!(parse(raw).is_err(), "{raw}");
        }
    }
}
