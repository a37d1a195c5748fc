//! The one identifier rule: what a test id, an organisation id, a call id or a run tag may be.
//!
//! 1 to 128 ASCII letters, digits, `-`, `_` or `.`: safe in an S3 key, a DynamoDB key, a log line and a
//! URL path without escaping. Every field that holds one of these is checked here (the worker's `User Call`,
//! the orchestrator's `testId`, the domain-validator's `organisationId`, run-load's `organisation_id` and
//! tags, the metrics-saver's `testId`); the caller names the field in its error.

use thiserror::Error;

/// The longest identifier, in bytes (every allowed character is one byte).
pub const MAX_IDENTIFIER_LEN: usize = 128;

/// A value that breaks the identifier rule. The message says the rule; the caller names the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} must be 1 to 128 letters, digits, '-', '_' or '.'")]
pub struct IdentifierError(pub String);

/// Whether `value` follows the identifier rule.
pub fn is_identifier(value: &str) -> bool {
    (1..=MAX_IDENTIFIER_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Checks `value` against the identifier rule.
pub fn check_identifier(value: &str) -> Result<(), IdentifierError> {
    if is_identifier(value) {
        Ok(())
    } else {
        Err(IdentifierError(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_dash_underscore_and_dot_are_identifiers() {
        for good in [
            "a",
            "acme",
            "checkout-2026-11-23",
            "eu_1",
            "v1.2",
            "A9",
            &"x".repeat(128),
        ] {
            assert!(is_identifier(good), "{good:?}");
            assert_eq!(check_identifier(good), Ok(()));
        }
    }

    #[test]
    fn empty_long_spaced_and_non_ascii_values_are_refused_with_the_rule() {
        let long = "x".repeat(129);
        for bad in [
            "",
            long.as_str(),
            "has space",
            "a/b",
            "tag=x",
            "ünï",
            "é",
            "a\u{0}",
            "-\n",
        ] {
            assert!(!is_identifier(bad), "{bad:?}");
            let error = check_identifier(bad).err();
            assert_eq!(error, Some(IdentifierError(bad.to_owned())));
        }
        assert_eq!(
            check_identifier("acme corp").map_err(|e| e.to_string()),
            Err("\"acme corp\" must be 1 to 128 letters, digits, '-', '_' or '.'".to_owned())
        );
    }

    #[test]
    fn non_ascii_letters_are_refused_whatever_their_length() {
        // 64 two-byte letters are 128 bytes, within the length: refused for the characters.
        assert!(!is_identifier(&"é".repeat(64)));
        assert!(is_identifier(&"e".repeat(MAX_IDENTIFIER_LEN)));
    }
}
