//! Host names: the one normalisation of a domain name, wherever a name enters: a target URL's host
//! (`target_url`), the domains `volley` is told are validated (`ValidatedList`), and the registry's
//! `volley_core::model::domain::DomainName`. A name stored and a name looked up are the same string only
//! if both went through the same mapping, so all three call [`normalise_domain`].
//!
//! The mapping is UTS #46, nontransitional (the `idna` crate, the one the `url` crate parses hosts with): upper
//! case to lower case, compatibility forms to their plain letters (`ＥＸＡＭＰＬＥ` is `example`, `。` is a
//! dot), then every label that is not ASCII to punycode (`bücher` is `xn--bcher-kva`). Nontransitional means
//! `ß` and `ς` stay themselves (`straße` is `xn--strae-oqa`, not `strasse`; `ς` is not `σ`), as current
//! browsers read them and as IDNA 2008 registries register them. One trailing dot is dropped.

use idna::AsciiDenyList;
use idna::uts46::{DnsLength, Hyphens, Uts46};
use thiserror::Error;

/// Which names are let through; the mapping is the same under both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRules {
    /// A URL's host as the WHATWG URL standard allows it, which is what the `url` crate (and so the HTTP
    /// client) reads: any label the mapping accepts (`_` included) without the URL's forbidden code points.
    UrlHost,
    /// A name an organisation registers (STD3): letters, digits and hyphens; no hyphen first, last, or third
    /// and fourth in a label; labels of at most 63 characters and names of at most 253.
    Registrable,
}

/// A name the mapping refuses (a disallowed code point, a bad punycode label, a name too long, ...).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{name:?} is not a valid (internationalised) domain name")]
pub struct NameError {
    pub name: String,
}

/// `name` normalised: UTS #46 nontransitional to ASCII (lower case, punycode), one trailing dot dropped.
pub fn normalise_domain(name: &str, rules: NameRules) -> Result<String, NameError> {
    let (deny, hyphens, length) = match rules {
        NameRules::UrlHost => (AsciiDenyList::URL, Hyphens::Allow, DnsLength::Ignore),
        NameRules::Registrable => (AsciiDenyList::STD3, Hyphens::Check, DnsLength::Verify),
    };
    let bare = name.strip_suffix('.').unwrap_or(name);
    let refused = || NameError { name: name.to_owned() };
    if bare.is_empty() {
        return Err(refused());
    }
    let ascii = Uts46::new()
        .to_ascii(bare.as_bytes(), deny, hyphens, length)
        .map_err(|_| refused())?;
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    if ascii.is_empty() {
        return Err(refused());
    }
    Ok(ascii.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(name: &str) -> String {
        let url = normalise_domain(name, NameRules::UrlHost).unwrap_or_else(|e| panic!("{e}"));
        let registrable = normalise_domain(name, NameRules::Registrable).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url, registrable,
            "{name}: the rules differ in what they let through, not in the mapping"
        );
        url
    }

    #[test]
    fn unicode_names_become_punycode_and_ascii_names_lower_case() {
        assert_eq!(both("bücher.example.com"), "xn--bcher-kva.example.com");
        assert_eq!(both("Bücher.Example.COM."), "xn--bcher-kva.example.com");
        assert_eq!(both("münchen.test"), "xn--mnchen-3ya.test");
        assert_eq!(both("xn--mnchen-3ya.test"), "xn--mnchen-3ya.test");
        assert_eq!(both("ＥＸＡＭＰＬＥ。com"), "example.com");
    }

    /// Transitional processing (IDNA 2003) would read `straße` as `strasse` and `ς` as `σ`: another name,
    /// perhaps someone else's.
    #[test]
    fn sharp_s_and_final_sigma_stay_themselves() {
        assert_eq!(both("straße.example"), "xn--strae-oqa.example");
        assert_ne!(both("straße.example"), both("strasse.example"));
        assert_eq!(both("ß.example"), "xn--zca.example");
        assert_eq!(both("βόλος.example"), "xn--nxasmm1c.example");
        assert_ne!(both("βόλος.example"), both("βόλοσ.example"), "final sigma is not sigma");
        assert_eq!(
            both("ΒΌΛΟΣ.example"),
            both("βόλοσ.example"),
            "upper case maps to the plain sigma"
        );
    }

    #[test]
    fn registrable_names_are_stricter_than_url_hosts() {
        for name in ["my_host.example", "-edge.example", "ab--cd.example"] {
            assert!(normalise_domain(name, NameRules::UrlHost).is_ok(), "{name}");
            let refused = normalise_domain(name, NameRules::Registrable);
            assert!(
                refused.as_ref().is_err_and(|e| e.to_string().contains(name)),
                "{name}: {refused:?}"
            );
        }
        let long = format!("{}.example", "a".repeat(64));
        assert!(normalise_domain(&long, NameRules::Registrable).is_err());
    }

    #[test]
    fn what_no_rule_lets_through() {
        for name in [
            "",
            ".",
            "exa mple.com",
            "a@b.example",
            "xn--a.example",
            "bad\u{200d}.example",
        ] {
            for rules in [NameRules::UrlHost, NameRules::Registrable] {
                assert!(normalise_domain(name, rules).is_err(), "{name:?} under {rules:?}");
            }
        }
    }
}
