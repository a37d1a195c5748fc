//! Domain ownership: the rules of the domain-validator.
//!
//! An organisation registers a domain and gets a random token; it proves it owns the domain by publishing
//! `volley-verification=<token>` in a TXT record at `_volley-challenge.<domain>`. The record's life:
//!
//! ```text
//! pending ──found──► validated ──missing on N consecutive checks──► revoked
//!    └──not found within the pending TTL──► expired
//! ```
//!
//! A transient DNS failure (a timeout, SERVFAIL) changes no status: only `lastError` and the attempt count.
//! Expired and revoked records are final; registering the domain again starts a fresh pending record.
//!
//! Times are Unix seconds (UTC). `due_at` is when a record is next due for a check; final records have none,
//! so they drop out of the store's index of work to do.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use volley_engine::guard::host::{NameRules, normalise_domain};

/// The label in front of the domain where the TXT record goes.
pub const CHALLENGE_LABEL: &str = "_volley-challenge";
/// What the TXT record's value starts with, before the token.
pub const CHALLENGE_PREFIX: &str = "volley-verification=";
/// Random bytes in a token: 256 bits, 43 characters of URL-safe base64.
pub const TOKEN_BYTES: usize = 32;

/// Why a domain cannot be registered. The message says what to do instead.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum DomainNameError {
    #[error("is empty")]
    Empty,
    #[error("{0:?} is an IP address; register a domain name")]
    IpAddress(String),
    #[error("{0:?} is a wildcard; register the domain itself (its subdomains are covered)")]
    Wildcard(String),
    #[error("{0:?} is a single label; register a full domain such as example.com")]
    SingleLabel(String),
    #[error("{0:?} is a public suffix (publicsuffix.org), which no one organisation owns")]
    PublicSuffix(String),
    #[error("{0:?} is not a valid domain name: {1}")]
    Invalid(String, &'static str),
}

/// A domain as stored: lower case, IDNA A-labels (punycode), no trailing dot; at least two labels, not an
/// IP address, not a public suffix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DomainName(String);

impl DomainName {
    /// Normalises and checks what a user typed.
    pub fn parse(raw: &str) -> Result<Self, DomainNameError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(DomainNameError::Empty);
        }
        if text.contains('*') {
            return Err(DomainNameError::Wildcard(text.to_owned()));
        }
        let bare = text.strip_suffix('.').unwrap_or(text);
        if bare.starts_with('[') || bare.parse::<IpAddr>().is_ok() {
            return Err(DomainNameError::IpAddress(text.to_owned()));
        }
        let invalid = |why| DomainNameError::Invalid(text.to_owned(), why);
        if bare.is_empty() || bare.ends_with('.') || bare.starts_with('.') || bare.contains("..") {
            return Err(invalid("it has an empty label"));
        }
        // The guard's one normalisation (UTS #46, nontransitional: `ß` and `ς` stay themselves) with STD3
        // rules: lower case, Unicode to punycode, letters, digits and hyphens only. The guard reads a target's
        // host through the same function, so what is stored here is what it looks up.
        let ascii = normalise_domain(bare, NameRules::Registrable)
            .map_err(|_| invalid("not a valid (internationalised) name"))?;
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(DomainNameError::SingleLabel(text.to_owned()));
        }
        // No top-level domain is numeric; URL parsers read such names (127.1) as IPv4 addresses.
        let numeric = |label: &str| {
            label.bytes().all(|b| b.is_ascii_digit())
                || label
                    .strip_prefix("0x")
                    .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        if labels.last().is_some_and(|tld| numeric(tld)) {
            return Err(DomainNameError::IpAddress(text.to_owned()));
        }
        if labels.iter().any(|l| l.is_empty() || l.len() > 63) {
            return Err(invalid("a label is empty or longer than 63 characters"));
        }
        if ascii.len() + CHALLENGE_LABEL.len() + 1 > 253 {
            return Err(invalid("too long to hold its challenge record"));
        }
        if psl::domain(ascii.as_bytes()).is_none() {
            return Err(DomainNameError::PublicSuffix(ascii));
        }
        Ok(Self(ascii))
    }

    /// A name read back from the store, which only ever holds parsed names.
    pub fn from_stored(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the TXT record goes: `_volley-challenge.<domain>`.
    pub fn challenge_name(&self) -> String {
        format!("{CHALLENGE_LABEL}.{}", self.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The system's random source failed.
#[derive(Debug, Error)]
#[error("no random bytes for a challenge token: {0}")]
pub struct TokenError(String);

/// A fresh challenge token: 256 random bits as URL-safe base64 without padding.
pub fn new_token() -> Result<String, TokenError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| TokenError(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The TXT record value that proves ownership with `token`.
pub fn challenge_value(token: &str) -> String {
    format!("{CHALLENGE_PREFIX}{token}")
}

/// Whether one TXT record (its strings already joined) holds `token`. The prefix is matched without regard
/// to case (some DNS consoles change it); the token exactly, since it is case-sensitive base64.
pub fn holds_token(record: &str, token: &str) -> bool {
    let record = record.trim();
    record.len() == CHALLENGE_PREFIX.len() + token.len()
        && record
            .get(..CHALLENGE_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(CHALLENGE_PREFIX))
        && record.get(CHALLENGE_PREFIX.len()..) == Some(token)
}

/// Where a domain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainStatus {
    Pending,
    Validated,
    Expired,
    Revoked,
}

impl DomainStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Validated, Self::Expired, Self::Revoked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Validated => "validated",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Expired and revoked are final: no more checks.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Expired | Self::Revoked)
    }
}

impl fmt::Display for DomainStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One organisation's claim on one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    pub organisation_id: String,
    pub domain: DomainName,
    pub status: DomainStatus,
    pub token: String,
    pub created_at: i64,
    /// When it was first validated.
    pub validated_at: Option<i64>,
    /// When it was last looked up.
    pub checked_at: Option<i64>,
    /// When it is next due for a check; None once final.
    pub due_at: Option<i64>,
    /// Lookups made, whatever their outcome.
    pub attempts: u32,
    /// Consecutive lookups that found no record holding the token (reset when one does).
    pub misses: u32,
    pub last_error: Option<String>,
    /// Bumped by every write; a write is refused when the stored version is not the one read.
    pub version: u64,
}

/// The timings and thresholds of the life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A pending record not validated within this is expired (default 7 days).
    pub pending_ttl: Duration,
    /// A validated record is checked again after this (default 24 hours).
    pub recheck_interval: Duration,
    /// After a miss, a validated record is checked again after this (default 1 hour), so a revocation
    /// needs the record gone for a while, not one unlucky minute.
    pub miss_recheck_interval: Duration,
    /// A validated record missing on this many consecutive checks is revoked (default 3).
    pub revoke_after_misses: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            pending_ttl: Duration::from_secs(7 * 24 * 3600),
            recheck_interval: Duration::from_secs(24 * 3600),
            miss_recheck_interval: Duration::from_secs(3600),
            revoke_after_misses: 3,
        }
    }
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// What one lookup of the challenge record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// A TXT record holds the token.
    Found,
    /// The DNS answered, and no record holds the token (none at all, NXDOMAIN, or other values).
    Missing(String),
    /// The DNS did not answer usefully (timeout, SERVFAIL): nothing is learnt.
    Transient(String),
}

impl DomainRecord {
    /// A new pending record, due for a check at once.
    pub fn pending(organisation_id: &str, domain: DomainName, token: String, now: i64) -> Self {
        Self {
            organisation_id: organisation_id.to_owned(),
            domain,
            status: DomainStatus::Pending,
            token,
            created_at: now,
            validated_at: None,
            checked_at: None,
            due_at: Some(now),
            attempts: 0,
            misses: 0,
            last_error: None,
            version: 0,
        }
    }

    /// When a pending record expires.
    pub fn expires_at(&self, policy: &Policy) -> i64 {
        self.created_at.saturating_add(seconds(policy.pending_ttl))
    }

    /// Whether a check at `now` needs a DNS lookup: not for final records, nor for pending ones past their
    /// TTL (they expire without one; see [`DomainRecord::expired`]).
    pub fn needs_lookup(&self, now: i64, policy: &Policy) -> bool {
        match self.status {
            DomainStatus::Pending => now < self.expires_at(policy),
            DomainStatus::Validated => true,
            DomainStatus::Expired | DomainStatus::Revoked => false,
        }
    }

    /// The record after a check at `now` that needed no lookup: a pending record past its TTL expires;
    /// anything else is unchanged (None).
    pub fn expired(&self, now: i64, policy: &Policy) -> Option<Self> {
        (self.status == DomainStatus::Pending && now >= self.expires_at(policy)).then(|| Self {
            status: DomainStatus::Expired,
            due_at: None,
            last_error: Some(format!(
                "no TXT record at {} held the token within {}",
                self.domain.challenge_name(),
                humantime::format_duration(policy.pending_ttl)
            )),
            version: self.version + 1,
            ..self.clone()
        })
    }

    /// The record after a lookup at `now` found `outcome`.
    pub fn after_check(&self, outcome: &CheckOutcome, now: i64, policy: &Policy) -> Self {
        let mut next = Self {
            attempts: self.attempts.saturating_add(1),
            checked_at: Some(now),
            version: self.version + 1,
            ..self.clone()
        };
        // Due again at the next sweep at the soonest: at least a second on, so the sweep that made this check
        // does not meet the record again.
        let after = |interval: Duration| now.saturating_add(seconds(interval).max(1));
        let next_sweep = after(Duration::ZERO);
        match (self.status, outcome) {
            (DomainStatus::Expired | DomainStatus::Revoked, _) => return self.clone(),
            (_, CheckOutcome::Transient(why)) => {
                next.last_error = Some(why.clone());
                next.due_at = Some(next_sweep);
            }
            (_, CheckOutcome::Found) => {
                next.status = DomainStatus::Validated;
                next.validated_at = self.validated_at.or(Some(now));
                next.misses = 0;
                next.last_error = None;
                next.due_at = Some(after(policy.recheck_interval));
            }
            (DomainStatus::Pending, CheckOutcome::Missing(why)) => {
                next.misses = self.misses.saturating_add(1);
                next.last_error = Some(why.clone());
                next.due_at = Some(next_sweep);
            }
            (DomainStatus::Validated, CheckOutcome::Missing(why)) => {
                next.misses = self.misses.saturating_add(1);
                next.last_error = Some(why.clone());
                if next.misses >= policy.revoke_after_misses {
                    next.status = DomainStatus::Revoked;
                    next.due_at = None;
                } else {
                    next.due_at = Some(after(policy.miss_recheck_interval));
                }
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(raw: &str) -> String {
        DomainName::parse(raw)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .as_str()
            .to_owned()
    }

    fn refused(raw: &str) -> DomainNameError {
        match DomainName::parse(raw) {
            Ok(ok) => panic!("{raw} was accepted as {ok}"),
            Err(e) => e,
        }
    }

    #[test]
    fn domains_are_lower_cased_punycoded_and_lose_their_trailing_dot() {
        assert_eq!(name("Example.COM"), "example.com");
        assert_eq!(name("  api.example.com.  "), "api.example.com");
        assert_eq!(name("bücher.example"), "xn--bcher-kva.example");
        assert_eq!(name("XN--BCHER-KVA.example"), "xn--bcher-kva.example");
        assert_eq!(name("ÉCOLE.fr"), "xn--cole-9oa.fr");
        assert_eq!(
            name("volley.test"),
            "volley.test",
            "names outside the public suffix list are allowed"
        );
        assert_eq!(name("example.xxx"), "example.xxx");
    }

    /// Nontransitional UTS #46: `ß` and `ς` are registered as themselves, not as `ss` and `σ`, and exactly as
    /// the guard reads a target's host.
    #[test]
    fn sharp_s_and_final_sigma_are_registered_as_the_guard_reads_them() {
        assert_eq!(name("straße.example"), "xn--strae-oqa.example");
        assert_eq!(name("Βόλος.example"), "xn--nxasmm1c.example");
        assert_ne!(name("βόλοσ.example"), "xn--nxasmm1c.example");
        for raw in ["straße.example", "βόλος.example", "München.test", "bücher.example.com"] {
            let guard = volley_engine::guard::target_url::parse(&format!("https://{raw}/"))
                .unwrap_or_else(|e| panic!("{raw}: {e}"))
                .host;
            assert_eq!(guard, volley_engine::guard::TargetHost::Domain(name(raw)), "{raw}");
        }
    }

    #[test]
    fn addresses_single_labels_wildcards_and_public_suffixes_are_refused_with_a_reason() {
        assert!(matches!(refused("192.0.2.1"), DomainNameError::IpAddress(_)));
        assert!(matches!(refused("2001:db8::1"), DomainNameError::IpAddress(_)));
        assert!(matches!(refused("[2001:db8::1]"), DomainNameError::IpAddress(_)));
        assert!(matches!(refused("127.1"), DomainNameError::IpAddress(_)));
        assert!(matches!(refused("0x7f.1"), DomainNameError::IpAddress(_)));
        assert!(matches!(refused("localhost"), DomainNameError::SingleLabel(_)));
        assert!(matches!(refused("com."), DomainNameError::SingleLabel(_)));
        assert!(matches!(refused("*.example.com"), DomainNameError::Wildcard(_)));
        assert!(matches!(refused("co.uk"), DomainNameError::PublicSuffix(_)));
        assert!(matches!(refused("CO.UK."), DomainNameError::PublicSuffix(_)));
        assert!(matches!(refused("github.io"), DomainNameError::PublicSuffix(_)));
        assert!(matches!(refused(""), DomainNameError::Empty));
        assert!(matches!(refused("exa mple.com"), DomainNameError::Invalid(..)));
        assert!(matches!(refused("a..example.com"), DomainNameError::Invalid(..)));
        assert!(matches!(refused("_dmarc.example.com"), DomainNameError::Invalid(..)));
        assert!(matches!(
            refused(&format!("{}.example.com", "a".repeat(64))),
            DomainNameError::Invalid(..)
        ));
        assert_eq!(
            name("alice.github.io"),
            "alice.github.io",
            "a name under a private suffix is owned"
        );
        let message = refused("co.uk").to_string();
        assert!(message.contains("public suffix"), "{message}");
    }

    #[test]
    fn tokens_are_256_random_bits_in_url_safe_base64() {
        let (a, b) = (
            new_token().unwrap_or_else(|e| panic!("{e}")),
            new_token().unwrap_or_else(|e| panic!("{e}")),
        );
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{a}"
        );
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap_or_default();
        assert_eq!(decoded.len(), TOKEN_BYTES);
    }

    #[test]
    fn a_record_holds_the_token_exactly_with_the_prefix_in_any_case() {
        assert!(holds_token("volley-verification=AbC-_1", "AbC-_1"));
        assert!(holds_token("VOLLEY-Verification=AbC-_1 ", "AbC-_1"));
        assert!(
            !holds_token("volley-verification=abc-_1", "AbC-_1"),
            "the token is case-sensitive"
        );
        assert!(!holds_token("volley-verification=AbC-_12", "AbC-_1"));
        assert!(!holds_token("AbC-_1", "AbC-_1"));
        assert!(!holds_token("x volley-verification=AbC-_1", "AbC-_1"));
    }

    fn record(status: DomainStatus) -> DomainRecord {
        let mut r = DomainRecord::pending("acme", DomainName::from_stored("example.com"), "t".into(), 1_000);
        r.status = status;
        r
    }

    const DAY: i64 = 24 * 3600;

    #[test]
    fn a_pending_record_found_is_validated_and_due_again_after_the_interval() {
        let policy = Policy::default();
        let next = record(DomainStatus::Pending).after_check(&CheckOutcome::Found, 2_000, &policy);
        assert_eq!(next.status, DomainStatus::Validated);
        assert_eq!(next.validated_at, Some(2_000));
        assert_eq!(next.due_at, Some(2_000 + DAY));
        assert_eq!((next.attempts, next.misses, next.version), (1, 0, 1));
    }

    #[test]
    fn a_pending_record_expires_after_its_ttl_without_a_lookup() {
        let policy = Policy::default();
        let r = record(DomainStatus::Pending);
        assert!(r.needs_lookup(1_000 + 7 * DAY - 1, &policy));
        assert_eq!(r.expired(1_000 + 7 * DAY - 1, &policy), None);
        assert!(!r.needs_lookup(1_000 + 7 * DAY, &policy));
        let expired = r
            .expired(1_000 + 7 * DAY, &policy)
            .unwrap_or_else(|| panic!("not expired"));
        assert_eq!((expired.status, expired.due_at), (DomainStatus::Expired, None));
    }

    #[test]
    fn a_validated_record_is_revoked_after_consecutive_misses_and_a_find_resets_the_count() {
        let policy = Policy::default();
        let miss = CheckOutcome::Missing("gone".into());
        let mut r = record(DomainStatus::Pending).after_check(&CheckOutcome::Found, 0, &policy);
        r = r.after_check(&miss, 10, &policy);
        r = r.after_check(&miss, 20, &policy);
        assert_eq!(
            (r.status, r.misses, r.due_at),
            (DomainStatus::Validated, 2, Some(20 + 3600))
        );
        let found = r.after_check(&CheckOutcome::Found, 30, &policy);
        assert_eq!(
            (found.status, found.misses, found.validated_at),
            (DomainStatus::Validated, 0, Some(0))
        );
        let revoked = r.after_check(&miss, 30, &policy);
        assert_eq!((revoked.status, revoked.due_at), (DomainStatus::Revoked, None));
        assert_eq!(revoked.last_error.as_deref(), Some("gone"));
    }

    #[test]
    fn a_transient_failure_changes_only_the_error_and_the_attempts() {
        let policy = Policy::default();
        let transient = CheckOutcome::Transient("timeout".into());
        for status in [DomainStatus::Pending, DomainStatus::Validated] {
            let mut r = record(status);
            r.misses = 2;
            let next = r.after_check(&transient, 5_000, &policy);
            assert_eq!((next.status, next.misses, next.attempts), (status, 2, 1));
            assert_eq!(next.last_error.as_deref(), Some("timeout"));
            assert_eq!(next.due_at, Some(5_001), "tried again at the next sweep");
        }
    }

    #[test]
    fn final_records_do_not_change() {
        let policy = Policy::default();
        for status in [DomainStatus::Expired, DomainStatus::Revoked] {
            let r = record(status);
            assert!(!r.needs_lookup(2_000, &policy));
            assert_eq!(r.after_check(&CheckOutcome::Found, 2_000, &policy), r);
            assert_eq!(r.expired(10 * DAY, &policy), None);
        }
    }
}
