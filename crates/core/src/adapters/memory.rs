//! In-memory twins of the AWS adapters, for handler tests. They pass the same contract suites.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::model::birthday::Username;
use crate::ports::{BirthdayStore, DomainStore, StoreError};

/// A `BirthdayStore` in a map.
#[derive(Debug, Default)]
pub struct MemoryBirthdayStore {
    dates: Mutex<HashMap<Username, NaiveDate>>,
}

impl MemoryBirthdayStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Username, NaiveDate>>, StoreError> {
        self.dates
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory store's lock was poisoned".into()))
    }
}

#[async_trait]
impl BirthdayStore for MemoryBirthdayStore {
    async fn put(&self, user: &Username, born: NaiveDate) -> Result<(), StoreError> {
        self.lock()?.insert(user.clone(), born);
        Ok(())
    }

    async fn get(&self, user: &Username) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self.lock()?.get(user).copied())
    }
}

/// A `DomainStore` holding a fixed set of (organisation, domain) pairs: `volley vet --validated` and tests.
#[derive(Debug, Default)]
pub struct MemoryDomainStore {
    validated: Mutex<std::collections::HashSet<(String, String)>>,
}

impl MemoryDomainStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store in which `domains` are validated for `organisation`.
    pub fn with_domains<'a>(organisation: &str, domains: impl IntoIterator<Item = &'a str>) -> Self {
        let store = Self::new();
        for domain in domains {
            store.validate(organisation, domain);
        }
        store
    }

    /// Marks `domain` validated for `organisation` (normalised: lower case, no trailing dot).
    pub fn validate(&self, organisation: &str, domain: &str) {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Ok(mut validated) = self.validated.lock() {
            validated.insert((organisation.to_owned(), domain));
        }
    }
}

#[async_trait]
impl DomainStore for MemoryDomainStore {
    async fn is_validated(&self, organisation: &str, domain: &str) -> Result<bool, StoreError> {
        let validated = self
            .validated
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory store's lock was poisoned".into()))?;
        Ok(validated.contains(&(organisation.to_owned(), domain.to_owned())))
    }
}
