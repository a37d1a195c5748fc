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

/// The domain-validator's side of the same store as [`DomainStore`] (one table, one source of truth): the
/// whole records, and the index of those due for a check. Every adapter implements both traits.
#[async_trait]
pub trait DomainRegistry: DomainStore {
    /// The record of `domain` for `organisation`, if any.
    async fn get(
        &self,
        organisation: &str,
        domain: &str,
    ) -> Result<Option<crate::model::domain::DomainRecord>, StoreError>;
    /// Stores `record` unless its (organisation, domain) exists: None when stored, else the existing one.
    async fn create(
        &self,
        record: &crate::model::domain::DomainRecord,
    ) -> Result<Option<crate::model::domain::DomainRecord>, StoreError>;
    /// Replaces the stored record with `record` if the stored version is still `expected_version`; false
    /// (and nothing written) when another writer got there first.
    async fn replace(
        &self,
        record: &crate::model::domain::DomainRecord,
        expected_version: u64,
    ) -> Result<bool, StoreError>;
    /// Up to `limit` records of `status` due at or before `as_of`, least recently due first, after
    /// `after` (the previous page's cursor). Reads an index, never the whole table.
    async fn due(
        &self,
        status: crate::model::domain::DomainStatus,
        as_of: i64,
        after: Option<&DueCursor>,
        limit: usize,
    ) -> Result<DuePage, StoreError>;
}

/// Where a page of due records ended: the last record's due time and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCursor {
    pub due_at: i64,
    pub organisation_id: String,
    pub domain: String,
}

/// A page of due records, and where the next page starts (None when there are no more).
#[derive(Debug, Clone, Default)]
pub struct DuePage {
    pub records: Vec<crate::model::domain::DomainRecord>,
    pub next: Option<DueCursor>,
}

/// Counts one archived result adds to its test's live counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResultCounts {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
}

/// A test's live counters, as the archiver keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestCounters {
    pub test_id: String,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub results_archived: u64,
    /// Unix seconds of the last archived result.
    pub last_result_at: i64,
}

/// What the ledger knew of a call's result when the archiver recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveMark {
    /// First time: its counts were added now.
    Fresh,
    /// Seen before (a redelivery): its counts were added then; the metrics too, if `metrics_published`.
    Seen { metrics_published: bool },
}

/// The once-only ledger of calls: a worker claims a call before firing it, and the archiver counts each
/// call's result once, however often EventBridge, Lambda and SQS deliver them (all at-least-once).
#[async_trait]
pub trait CallLedger: Send + Sync + std::fmt::Debug {
    /// Claims `call_id` of `test_id` for running: true the first time, false for a duplicate delivery.
    async fn claim(&self, test_id: &str, call_id: &str, now: i64) -> Result<bool, StoreError>;
    /// Records that `call_id`'s result was archived and, the first time only, adds `counts` to the test's
    /// counters, atomically with the record.
    async fn record_archived(
        &self,
        test_id: &str,
        call_id: &str,
        counts: ResultCounts,
        now: i64,
    ) -> Result<ArchiveMark, StoreError>;
    /// Notes that `call_id`'s metrics were published, so a redelivery does not publish them again.
    async fn mark_metrics_published(&self, call_id: &str) -> Result<(), StoreError>;
    /// A test's counters, if it has any.
    async fn counters(&self, test_id: &str) -> Result<Option<TestCounters>, StoreError>;
}

/// Where workers send their results (a queue the archiver drains).
#[async_trait]
pub trait ResultQueue: Send + Sync + std::fmt::Debug {
    async fn send(&self, body: String) -> Result<(), StoreError>;
}

/// Where results are kept for good (an S3 bucket): whole JSON documents by key.
#[async_trait]
pub trait ResultArchive: Send + Sync + std::fmt::Debug {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Where high-resolution metrics go (CloudWatch).
#[async_trait]
pub trait MetricsSink: Send + Sync + std::fmt::Debug {
    async fn publish(&self, data: &[crate::model::metrics::MetricDatum]) -> Result<(), StoreError>;
}
