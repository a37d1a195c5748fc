//! Whose data a key names: every stored key of a test (its counters, its calls' claims and marks, its metric
//! series, its orchestration state) is scoped by organisation and test, so two organisations that choose the
//! same test id, or the same call id, never meet.
//!
//! Keys join identifiers with `#`, which the identifier rule (`model::identifier`) keeps out of every
//! identifier, so a key is read back unambiguously: a test is `org#test`, a call `org#test#call`, a chunk
//! of its results `org#test#call#cn`, and a piece of a call's data (a batch of its metrics)
//! `org#test#call#n`.

use serde::{Deserialize, Serialize};

use crate::model::identifier::{IdentifierError, check_identifier};

/// The separator of a key's parts; no identifier holds it.
pub const KEY_SEPARATOR: char = '#';

/// One test of one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestScope {
    pub organisation_id: String,
    pub test_id: String,
}

impl TestScope {
    pub fn new(organisation_id: impl Into<String>, test_id: impl Into<String>) -> Self {
        Self {
            organisation_id: organisation_id.into(),
            test_id: test_id.into(),
        }
    }

    /// Both parts checked against the identifier rule, the failing one named.
    pub fn checked(organisation_id: &str, test_id: &str) -> Result<Self, ScopeError> {
        check_identifier(organisation_id).map_err(|e| ScopeError::new("organisationId", e))?;
        check_identifier(test_id).map_err(|e| ScopeError::new("testId", e))?;
        Ok(Self::new(organisation_id, test_id))
    }

    /// `org#test`.
    pub fn key(&self) -> String {
        format!("{}{KEY_SEPARATOR}{}", self.organisation_id, self.test_id)
    }

    /// The test a key made by [`TestScope::key`] names; None for anything else.
    pub fn from_key(key: &str) -> Option<Self> {
        let (organisation_id, test_id) = key.split_once(KEY_SEPARATOR)?;
        TestScope::checked(organisation_id, test_id).ok()
    }

    /// One call of this test, its id checked against the identifier rule.
    pub fn checked_call(&self, call_id: &str) -> Result<CallScope, ScopeError> {
        check_identifier(call_id).map_err(|e| ScopeError::new("callId", e))?;
        Ok(self.call(call_id))
    }

    /// One call of this test.
    pub fn call(&self, call_id: impl Into<String>) -> CallScope {
        CallScope {
            test: self.clone(),
            call_id: call_id.into(),
        }
    }
}

impl std::fmt::Display for TestScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{KEY_SEPARATOR}{}", self.organisation_id, self.test_id)
    }
}

/// One call of one test of one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallScope {
    pub test: TestScope,
    pub call_id: String,
}

impl CallScope {
    /// `org#test#call`.
    pub fn key(&self) -> String {
        format!("{}{KEY_SEPARATOR}{}", self.test.key(), self.call_id)
    }

    /// `org#test#call#n`: piece `n` of the call's data (a batch of its metrics).
    pub fn piece_key(&self, n: u32) -> String {
        format!("{}{KEY_SEPARATOR}{n}", self.key())
    }

    /// Chunk `n` of the call's results, sent while it ran, as a scope of its own (`org#test#call#cn`): its
    /// archive mark and its metrics batches are its own, apart from the call's and from every other
    /// chunk's. No call id holds the separator, so no call's scope is a chunk's.
    pub fn chunk(&self, n: u32) -> CallScope {
        CallScope {
            test: self.test.clone(),
            call_id: format!("{}{KEY_SEPARATOR}c{n}", self.call_id),
        }
    }
}

impl std::fmt::Display for CallScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{KEY_SEPARATOR}{}", self.test, self.call_id)
    }
}

/// A scope part that breaks the identifier rule: the field, and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {error}")]
pub struct ScopeError {
    pub field: &'static str,
    pub error: IdentifierError,
}

impl ScopeError {
    fn new(field: &'static str, error: IdentifierError) -> Self {
        Self { field, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_organisation_test_call_and_piece() {
        let test = TestScope::new("acme", "checkout");
        assert_eq!(test.key(), "acme#checkout");
        assert_eq!(test.to_string(), test.key());
        let call = test.call("eu-1");
        assert_eq!(call.key(), "acme#checkout#eu-1");
        assert_eq!(call.to_string(), call.key());
        assert_eq!(call.piece_key(3), "acme#checkout#eu-1#3");
        assert_eq!(call.chunk(3).key(), "acme#checkout#eu-1#c3");
        assert_ne!(call.chunk(3), call, "a chunk is not its call");
    }

    #[test]
    fn the_same_test_or_call_id_of_two_organisations_makes_two_keys() {
        let a = TestScope::new("acme", "t1");
        let b = TestScope::new("globex", "t1");
        assert_ne!(a.key(), b.key());
        assert_ne!(a.call("c1").key(), b.call("c1").key());
        assert_ne!(a.call("c1").piece_key(0), b.call("c1").piece_key(0));
    }

    #[test]
    fn a_test_key_reads_back_and_nothing_else_does() {
        let test = TestScope::new("acme", "checkout-2026.11");
        assert_eq!(TestScope::from_key(&test.key()), Some(test));
        for bad in ["acme", "acme#", "#t1", "acme#t1#c1", "a b#t1", ""] {
            assert_eq!(TestScope::from_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn checked_names_the_failing_part() {
        assert_eq!(
            TestScope::checked("ac me", "t1").map_err(|e| e.field),
            Err("organisationId")
        );
        assert_eq!(TestScope::checked("acme", "t#1").map_err(|e| e.field), Err("testId"));
        assert_eq!(TestScope::checked("acme", "t1"), Ok(TestScope::new("acme", "t1")));
        let test = TestScope::new("acme", "t1");
        assert_eq!(test.checked_call("c#1").map_err(|e| e.field), Err("callId"));
        assert_eq!(test.checked_call("c1"), Ok(test.call("c1")));
    }

    #[test]
    fn a_test_scope_serialises_with_the_contracts_field_names() {
        let json = serde_json::to_value(TestScope::new("acme", "t1")).unwrap_or_default();
        assert_eq!(json, serde_json::json!({"organisationId": "acme", "testId": "t1"}));
    }
}
