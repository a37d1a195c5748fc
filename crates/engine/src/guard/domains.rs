//! The guard's one port: which domains each organisation has proved it owns. The domain-validator's store
//! implements it over the domains table (`volley-core`'s adapters); `volley vet` and `volley attack` use
//! [`ValidatedList`], the domains named on their command line.

use std::collections::BTreeSet;

use async_trait::async_trait;
use thiserror::Error;

/// A boxed error kept as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a store could not do what was asked.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The backing service failed or could not be reached; a retry may succeed.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// The store answered, but with an item this code cannot read.
    #[error("a stored item is corrupt: {0}")]
    Corrupt(String),
}

/// Which domains each organisation has proved it owns (the domain-validator writes them; the target guard
/// reads them). Domains are lower case, without a trailing dot.
#[async_trait]
pub trait DomainStore: Send + Sync + std::fmt::Debug {
    /// Whether `domain` itself is validated for `organisation` (subdomains are the guard's business).
    async fn is_validated(&self, organisation: &str, domain: &str) -> Result<bool, StoreError>;
}

/// A fixed list of domains validated for one organisation: what `volley vet --validated` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidatedList {
    organisation: String,
    domains: BTreeSet<String>,
}

impl ValidatedList {
    /// `domains`, validated for `organisation`; each is normalised as stored (trimmed, lower case, no
    /// trailing dot).
    pub fn new<'a>(organisation: &str, domains: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            organisation: organisation.to_owned(),
            domains: domains
                .into_iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        }
    }
}

#[async_trait]
impl DomainStore for ValidatedList {
    async fn is_validated(&self, organisation: &str, domain: &str) -> Result<bool, StoreError> {
        Ok(organisation == self.organisation && self.domains.contains(domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listed_domain_is_validated_for_its_organisation_only() {
        let list = ValidatedList::new("acme", ["Example.COM.", " api.example.org "]);
        assert!(matches!(list.is_validated("acme", "example.com").await, Ok(true)));
        assert!(matches!(list.is_validated("acme", "api.example.org").await, Ok(true)));
        assert!(matches!(list.is_validated("other", "example.com").await, Ok(false)));
        assert!(matches!(list.is_validated("acme", "www.example.com").await, Ok(false)));
    }
}
