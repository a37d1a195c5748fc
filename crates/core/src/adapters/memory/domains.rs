//! The domains table's twin: `DomainStore` and `DomainRegistry` over one map, as
//! `DynamoDomainStore` is both over one table, and the organisations' limits (`OrganisationLimitsStore`)
//! beside them. It passes the same contract suites.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::model::domain::{DomainName, DomainRecord, DomainStatus};
use crate::model::limits::OrganisationLimits;
use crate::ports::{DomainRegistry, DomainStore, DueCursor, DuePage, OrganisationLimitsStore, StoreError};

/// Records by (organisation, domain).
type Records = BTreeMap<(String, String), DomainRecord>;

/// The domains table in a map.
#[derive(Debug, Default)]
pub struct MemoryDomainStore {
    records: Mutex<Records>,
    limits: Mutex<BTreeMap<String, OrganisationLimits>>,
}

impl MemoryDomainStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store in which `domains` are validated for `organisation`: tests.
    pub fn with_domains<'a>(organisation: &str, domains: impl IntoIterator<Item = &'a str>) -> Self {
        let store = Self::new();
        for domain in domains {
            store.validate(organisation, domain);
        }
        store
    }

    /// Marks `domain` validated for `organisation` (normalised as [`DomainName`] normalises it; a name it
    /// refuses is kept lower case as typed), with no re-check due.
    pub fn validate(&self, organisation: &str, domain: &str) {
        let domain = DomainName::parse(domain).map_or_else(
            |_| domain.trim().trim_end_matches('.').to_ascii_lowercase(),
            |name| name.as_str().to_owned(),
        );
        let mut record = DomainRecord::pending(organisation, DomainName::from_stored(domain.clone()), String::new(), 0);
        record.status = DomainStatus::Validated;
        record.validated_at = Some(0);
        record.due_at = Some(i64::MAX);
        if let Ok(mut records) = self.records.lock() {
            records.insert((organisation.to_owned(), domain), record);
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Records>, StoreError> {
        self.records
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory domain store's lock was poisoned".into()))
    }
}

fn key(organisation: &str, domain: &str) -> (String, String) {
    (organisation.to_owned(), domain.to_owned())
}

#[async_trait]
impl OrganisationLimitsStore for MemoryDomainStore {
    async fn limits(&self, organisation: &str) -> Result<OrganisationLimits, StoreError> {
        let limits = self
            .limits
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory limits' lock was poisoned".into()))?;
        Ok(limits.get(organisation).cloned().unwrap_or_default())
    }

    async fn set_limits(&self, organisation: &str, limits: &OrganisationLimits) -> Result<(), StoreError> {
        self.limits
            .lock()
            .map_err(|_| StoreError::Corrupt("the in-memory limits' lock was poisoned".into()))?
            .insert(organisation.to_owned(), limits.clone());
        Ok(())
    }
}

#[async_trait]
impl DomainStore for MemoryDomainStore {
    async fn is_validated(&self, organisation: &str, domain: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()?
            .get(&key(organisation, domain))
            .is_some_and(|r| r.status == DomainStatus::Validated))
    }
}

#[async_trait]
impl DomainRegistry for MemoryDomainStore {
    async fn get(&self, organisation: &str, domain: &str) -> Result<Option<DomainRecord>, StoreError> {
        Ok(self.lock()?.get(&key(organisation, domain)).cloned())
    }

    async fn create(&self, record: &DomainRecord) -> Result<Option<DomainRecord>, StoreError> {
        let mut records = self.lock()?;
        let key = key(&record.organisation_id, record.domain.as_str());
        if let Some(existing) = records.get(&key) {
            return Ok(Some(existing.clone()));
        }
        records.insert(key, record.clone());
        Ok(None)
    }

    async fn replace(&self, record: &DomainRecord, expected_version: u64) -> Result<bool, StoreError> {
        let mut records = self.lock()?;
        let key = key(&record.organisation_id, record.domain.as_str());
        match records.get(&key) {
            Some(stored) if stored.version == expected_version => {
                records.insert(key, record.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list(&self, organisation: &str) -> Result<Vec<DomainRecord>, StoreError> {
        let mut records: Vec<DomainRecord> = self
            .lock()?
            .values()
            .filter(|r| r.organisation_id == organisation)
            .cloned()
            .collect();
        records.sort_by(|a, b| a.domain.as_str().cmp(b.domain.as_str()));
        Ok(records)
    }

    async fn remove(&self, organisation: &str, domain: &str) -> Result<Option<DomainRecord>, StoreError> {
        Ok(self.lock()?.remove(&key(organisation, domain)))
    }

    async fn due(
        &self,
        status: DomainStatus,
        as_of: i64,
        after: Option<&DueCursor>,
        limit: usize,
    ) -> Result<DuePage, StoreError> {
        let limit = limit.max(1);
        let order = |r: &DomainRecord| {
            (
                r.due_at.unwrap_or(i64::MAX),
                r.organisation_id.clone(),
                r.domain.to_string(),
            )
        };
        let start = after.map(|c| (c.due_at, c.organisation_id.clone(), c.domain.clone()));
        let mut due: Vec<DomainRecord> = self
            .lock()?
            .values()
            .filter(|r| r.status == status && r.due_at.is_some_and(|d| d <= as_of))
            .filter(|r| start.as_ref().is_none_or(|start| order(r) > *start))
            .cloned()
            .collect();
        due.sort_by_key(order);
        due.truncate(limit);
        // Like DynamoDB's LastEvaluatedKey: a full page says there may be more.
        let next = (due.len() == limit).then(|| due.last()).flatten().map(|r| DueCursor {
            due_at: r.due_at.unwrap_or(i64::MAX),
            organisation_id: r.organisation_id.clone(),
            domain: r.domain.to_string(),
        });
        Ok(DuePage { records: due, next })
    }
}
