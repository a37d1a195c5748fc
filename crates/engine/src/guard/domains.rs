//! The guard's one port: which domains each organisation has proved it owns. The domain-validator's store
//! implements it over the domains table (`volley-core`'s adapters); `volley vet` and `volley attack` use
//! [`ValidatedList`], the domains named on their command line.

use std::collections::BTreeSet;

use async_trait::async_trait;
use thiserror::Error;

use super::host::{self, NameError, NameRules};

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
/// reads them). Domains are as [`host::normalise_domain`] makes them: lower case, punycode, without a trailing
/// dot.
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
    /// `domains`, validated for `organisation`; each is normalised as the registry stores it (trimmed, then
    /// [`host::normalise_domain`] under the registry's rules: `münchen.test` is `xn--mnchen-3ya.test`). The
    /// first name that is not a domain name is refused.
    pub fn new<'a>(organisation: &str, domains: impl IntoIterator<Item = &'a str>) -> Result<Self, NameError> {
        Ok(Self {
            organisation: organisation.to_owned(),
            domains: domains
                .into_iter()
                .map(|d| host::normalise_domain(d.trim(), NameRules::Registrable))
                .collect::<Result<_, _>>()?,
        })
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
        let list = ValidatedList::new("acme", ["Example.COM.", " api.example.org "]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(list.is_validated("acme", "example.com").await, Ok(true)));
        assert!(matches!(list.is_validated("acme", "api.example.org").await, Ok(true)));
        assert!(matches!(list.is_validated("other", "example.com").await, Ok(false)));
        assert!(matches!(list.is_validated("acme", "www.example.com").await, Ok(false)));
    }

    #[tokio::test]
    async fn internationalised_names_are_listed_as_the_registry_stores_them() {
        let list = ValidatedList::new("acme", ["München.test", "straße.example", "βόλος.example"])
            .unwrap_or_else(|e| panic!("{e}"));
        for stored in ["xn--mnchen-3ya.test", "xn--strae-oqa.example"] {
            assert!(matches!(list.is_validated("acme", stored).await, Ok(true)), "{stored}");
        }
        let sigma = host::normalise_domain("βόλος.example", NameRules::Registrable).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(list.is_validated("acme", &sigma).await, Ok(true)));
        assert!(
            matches!(list.is_validated("acme", "strasse.example").await, Ok(false)),
            "nontransitional: straße is not strasse"
        );
    }

    #[test]
    fn a_name_that_is_not_a_domain_is_refused_by_name() {
        let refused = ValidatedList::new("acme", ["example.com", "exa mple.com"]);
        assert!(refused.is_err_and(|e| e.to_string().contains("exa mple.com")));
    }
}
