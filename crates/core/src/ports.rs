//! The ports: traits named by the role they play. Functions hold them as `Arc<dyn Port>` in their `Deps`;
//! `adapters` implements each for AWS and in memory, and `contract` holds the one test suite both must pass.

use async_trait::async_trait;
use chrono::NaiveDate;
use thiserror::Error;

use crate::model::birthday::Username;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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

/// Where the greeter keeps each user's date of birth.
#[async_trait]
pub trait BirthdayStore: Send + Sync + std::fmt::Debug {
    /// Stores `born` for `user`, replacing any earlier date.
    async fn put(&self, user: &Username, born: NaiveDate) -> Result<(), StoreError>;
    /// The stored date of birth of `user`, if any.
    async fn get(&self, user: &Username) -> Result<Option<NaiveDate>, StoreError>;
}

/// Which domains each organisation has proved it owns (the domain-validator writes them; the target guard
/// reads them). Domains are lower case, without a trailing dot.
#[async_trait]
pub trait DomainStore: Send + Sync + std::fmt::Debug {
    /// Whether `domain` itself is validated for `organisation` (subdomains are the guard's business).
    async fn is_validated(&self, organisation: &str, domain: &str) -> Result<bool, StoreError>;
}
