//! The ports: traits named by the role they play. Functions hold them as `Arc<dyn Port>` in their `Deps`;
//! `adapters` implements each for AWS and in memory, and `contract` holds the one test suite both must pass.

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::model::birthday::Username;
use crate::model::scope::{CallScope, TestScope};

pub use volley_engine::guard::domains::{BoxError, DomainStore, StoreError};

/// Where the greeter keeps each user's date of birth.
#[async_trait]
pub trait BirthdayStore: Send + Sync + std::fmt::Debug {
    /// Stores `born` for `user`, replacing any earlier date.
    async fn put(&self, user: &Username, born: NaiveDate) -> Result<(), StoreError>;
    /// The stored date of birth of `user`, if any.
    async fn get(&self, user: &Username) -> Result<Option<NaiveDate>, StoreError>;
}

/// An organisation's limits ([`crate::model::limits`]), kept with its record: the domains table's item of
/// the organisation. The worker reads them for every call; the domain-validator sets them.
#[async_trait]
pub trait OrganisationLimitsStore: Send + Sync + std::fmt::Debug {
    /// The limits set for `organisation`, or the defaults when none are.
    async fn limits(&self, organisation: &str) -> Result<crate::model::limits::OrganisationLimits, StoreError>;
    /// Sets `organisation`'s limits, replacing any.
    async fn set_limits(
        &self,
        organisation: &str,
        limits: &crate::model::limits::OrganisationLimits,
    ) -> Result<(), StoreError>;
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
    /// Every record of `organisation`, by domain name (reads its partition, never the whole table).
    async fn list(&self, organisation: &str) -> Result<Vec<crate::model::domain::DomainRecord>, StoreError>;
    /// Deletes the record of `domain` for `organisation`, whatever its status, and answers it (None when
    /// there was none): the guard refuses the domain from the next call, and a sweep that read the record
    /// before cannot write it back (its `replace` finds no version to match).
    async fn remove(
        &self,
        organisation: &str,
        domain: &str,
    ) -> Result<Option<crate::model::domain::DomainRecord>, StoreError>;
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
    /// A call's whole result (counted in `resultsArchived`), or a chunk of it sent while it ran (counted in
    /// `chunksArchived`); either way its requests are counted once, under its own archive mark.
    pub part: ResultPart,
    /// A whole result's start skew (its first request's send against its own scheduled time), in
    /// microseconds, kept with the test's counters once per call.
    pub start_skew_us: Option<i64>,
}

/// Which part of a call's results an archived message is (`model::result`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResultPart {
    /// The call's result at its end: its seconds that no chunk carried.
    #[default]
    Whole,
    /// Seconds sealed while the call ran, sent every chunk period.
    Chunk,
}

/// A test's live counters, as the archiver keeps them (and the worker, for calls lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCounters {
    pub test: TestScope,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub results_archived: u64,
    /// Chunks of running calls' results archived (their requests are in `requests`).
    pub chunks_archived: u64,
    /// Unix seconds of the last archived result or chunk (0 when none was).
    pub last_result_at: i64,
    /// Calls whose invocation ended without a result (a claim whose lease passed): they will not fire.
    pub calls_lost: u64,
    /// Each archived call's start skew, in microseconds, in the order archived.
    pub start_skews_us: Vec<i64>,
}

impl TestCounters {
    /// A test with nothing counted yet.
    pub fn new(test: TestScope) -> Self {
        Self {
            test,
            requests: 0,
            errors: 0,
            dropped: 0,
            results_archived: 0,
            chunks_archived: 0,
            last_result_at: 0,
            calls_lost: 0,
            start_skews_us: Vec::new(),
        }
    }

    /// The test's start skew so far (p50, p99 and max across its archived calls, in every segment).
    pub fn start_skew(&self) -> Option<crate::model::test_result::FleetSkew> {
        crate::model::test_result::FleetSkew::of(self.start_skews_us.iter().map(|us| *us as f64 / 1e3))
    }
}

/// What the ledger knew of a call's result when the archiver recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveMark {
    /// First time: its counts were added now.
    Fresh,
    /// Seen before (a redelivery): its counts were added then; the metrics too, if `metrics_published`.
    Seen { metrics_published: bool },
}

/// Where one batch of a result's metrics stands, for a publisher about to publish it
/// ([`ResultLedger::claim_metrics_batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchClaim {
    /// This publisher holds the batch until the lease it asked for: publish it, then
    /// [`ResultLedger::finish_metrics_batch`].
    Claimed,
    /// Already published: skip it.
    Published,
    /// Another delivery holds it and its lease has not passed: try again later.
    InProgress,
}

/// What a worker's claim of a call found ([`CallClaims::claim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Claimed now, held until the lease asked for: fire the call, store its result, then
    /// [`CallClaims::mark_stored`].
    Fresh,
    /// The call ran and its result is stored at `key`: deliver that again, never fire again.
    Stored { key: String },
    /// Another invocation holds the call until `lease_until` (Unix seconds) and has stored no result yet.
    Running { lease_until: i64 },
    /// The holder's lease passed with no result stored: the call is lost (marked so, and counted in its
    /// test's `calls_lost`, by this claim or before).
    Lost,
}

/// The worker's claim of a call: at most once load, at least once results. A worker claims a call under a
/// lease (its own deadline) before firing it, so however often EventBridge and Lambda deliver the event (at
/// least once), the call fires once; the result is stored before the claim is marked, so a delivery that
/// finds the call ran delivers the stored result instead of losing it.
#[async_trait]
pub trait CallClaims: Send + Sync + std::fmt::Debug {
    /// Claims `call` for running until `lease_until` (Unix seconds), or says how it stands: a claim whose
    /// lease passed before `now` with no result is marked lost, and counted once in its test's counters.
    async fn claim(&self, call: &CallScope, now: i64, lease_until: i64) -> Result<Claim, StoreError>;
    /// Records that `call`'s result is stored, durably, at `key`.
    async fn mark_stored(&self, call: &CallScope, key: &str) -> Result<(), StoreError>;
    /// Where `call`'s result is stored, if it ran and stored one (a read: nothing is claimed).
    async fn stored(&self, call: &CallScope) -> Result<Option<String>, StoreError>;
}

/// The most live seconds one record adds, or one read answers: DynamoDB's transactions and batch reads
/// hold 100 items, less the record's mark and counters.
pub const MAX_LIVE_SECONDS: usize = 98;

/// The archiver's once-only ledger of results: each call's result is counted once in its test's counters,
/// however often SQS delivers it (at least once), and its metrics are published once.
#[async_trait]
pub trait ResultLedger: Send + Sync + std::fmt::Debug {
    /// Records that `call`'s result was archived and, the first time only, adds `counts` to its test's
    /// counters and each of `live` (at most [`MAX_LIVE_SECONDS`]: a chunk's seconds) to the test's live
    /// seconds, atomically with the record; notes the series its metrics go to (`region`) and `now` as the
    /// test's last result, which the metrics-saver looks for.
    async fn record_archived(
        &self,
        call: &CallScope,
        counts: ResultCounts,
        live: &[crate::model::abort::LiveSecond],
        region: Option<&str>,
        now: i64,
    ) -> Result<ArchiveMark, StoreError>;
    /// The archive marks of `calls` (a call's, or a chunk's), read consistently, in their order: None for
    /// one never counted, else whether its metrics were published.
    async fn marks(&self, calls: &[CallScope]) -> Result<Vec<Option<bool>>, StoreError>;
    /// The test's live seconds from `from` to `to` (Unix seconds, both included, at most
    /// [`MAX_LIVE_SECONDS`] of them), oldest first; a second nothing was counted in is absent.
    async fn live_seconds(
        &self,
        test: &TestScope,
        from: i64,
        to: i64,
    ) -> Result<Vec<crate::model::abort::LiveSecond>, StoreError>;
    /// Notes that `call`'s metrics were published, so a redelivery does not publish them again.
    async fn mark_metrics_published(&self, call: &CallScope) -> Result<(), StoreError>;
    /// Claims batch `batch` of `call`'s metrics for publishing until `lease_until` (Unix seconds): the
    /// batch is free, or its last holder's lease passed before `now` without a finish (that holder died).
    async fn claim_metrics_batch(
        &self,
        call: &CallScope,
        batch: u32,
        now: i64,
        lease_until: i64,
    ) -> Result<BatchClaim, StoreError>;
    /// Marks batch `batch` of `call`'s metrics published, after its PutMetricData.
    async fn finish_metrics_batch(&self, call: &CallScope, batch: u32) -> Result<(), StoreError>;
    /// A test's counters, if it has any.
    async fn counters(&self, test: &TestScope) -> Result<Option<TestCounters>, StoreError>;
}

/// Where secrets are kept (SSM Parameter Store SecureStrings): a header value may name one instead of
/// holding it (`model::secrets`).
#[async_trait]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The decrypted value of the parameter at `path`, if there is one.
    async fn get(&self, path: &str) -> Result<Option<String>, StoreError>;
}

/// Where a test's User Calls are put: each region's event bus, by the same name in every region (one stack
/// per region), whose rule invokes that region's worker.
#[async_trait]
pub trait CallBus: Send + Sync + std::fmt::Debug {
    /// Puts `calls` on `region`'s bus (None: this region's), each as a `User Call` event; any the bus
    /// refuses is an error naming it.
    async fn put(&self, region: Option<&str>, calls: &[crate::model::call::UserCall]) -> Result<(), StoreError>;
}

/// One-time schedules that start a test's later segments (EventBridge Scheduler): nothing then depends on
/// a worker staying alive to hand over to the next.
#[async_trait]
pub trait SegmentSchedules: Send + Sync + std::fmt::Debug {
    /// Makes schedule `name` invoke `target` (a Lambda function's ARN) once at `at` (Unix seconds) with
    /// `input`, and delete itself after; a schedule of that name that exists already is kept as it is.
    async fn create(&self, name: &str, at: i64, target: &str, input: &str) -> Result<(), StoreError>;
    /// Deletes schedule `name`: true if there was one.
    async fn delete(&self, name: &str) -> Result<bool, StoreError>;
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

/// Where 1-second metrics are read back from (CloudWatch's GetMetricData).
#[async_trait]
pub trait MetricsSource: Send + Sync + std::fmt::Debug {
    /// Every second in `[from, to)` (Unix seconds) with data, of each series, with every
    /// `model::saved_metrics::Statistic`.
    async fn seconds(
        &self,
        series: &[crate::model::saved_metrics::Series],
        from: i64,
        to: i64,
    ) -> Result<Vec<crate::model::saved_metrics::SavedSecond>, StoreError>;
}

/// Where the saved seconds are kept for good (DynamoDB): one item per series and second, so saving the
/// same second again replaces it.
#[async_trait]
pub trait SavedMetricsStore: Send + Sync + std::fmt::Debug {
    /// The most items one `write_batch` takes.
    fn batch_limit(&self) -> usize {
        25
    }
    /// Writes up to `batch_limit` items in one call, and answers those the store did not process (to be
    /// retried by the caller, after a pause).
    async fn write_batch(
        &self,
        items: &[crate::model::saved_metrics::SavedSecond],
    ) -> Result<Vec<crate::model::saved_metrics::SavedSecond>, StoreError>;
    /// The saved seconds of `series` in `[from, to)`, in order.
    async fn read(
        &self,
        series: &crate::model::saved_metrics::Series,
        from: i64,
        to: i64,
    ) -> Result<Vec<crate::model::saved_metrics::SavedSecond>, StoreError>;
}

/// Which tests have recent results, and how far each one's metrics are saved (the tests table).
#[async_trait]
pub trait TestActivity: Send + Sync + std::fmt::Debug {
    /// Every test whose last result was archived at or after `since` (Unix seconds), found by index.
    async fn active_since(
        &self,
        since: i64,
        now: i64,
    ) -> Result<Vec<crate::model::saved_metrics::ActiveTest>, StoreError>;
    /// One test, if it has any results.
    async fn test(&self, test: &TestScope) -> Result<Option<crate::model::saved_metrics::ActiveTest>, StoreError>;
    /// Moves the test's watermark forward to `to` after `[from, to)` was saved: only forward (two runs at
    /// once never move it back), and only when nothing before `from` is missing: when the watermark is at
    /// or after `from`, or when `from` is `None` (the save reached as far back as CloudWatch keeps).
    /// Answers whether it moved.
    async fn advance_watermark(&self, test: &TestScope, from: Option<i64>, to: i64) -> Result<bool, StoreError>;
}

/// What adding a region to one of a test's sets found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionRecorded {
    /// Added (or already there): the state after.
    Recorded(crate::model::orchestration::TestState),
    /// No such test: it was never reset.
    UnknownTest,
    /// The test does not require that region: its state, unchanged.
    NotRequired(crate::model::orchestration::TestState),
}

/// Where the orchestrator keeps each test's start state (DynamoDB). Every change is one atomic operation:
/// sets grow by ADD and flags flip under a condition, never by reading, changing and writing back.
#[async_trait]
pub trait OrchestrationStore: Send + Sync + std::fmt::Debug {
    /// Replaces the test's state with `state` (a reset).
    async fn reset(&self, state: &crate::model::orchestration::TestState) -> Result<(), StoreError>;
    /// Writes `state` (a test started from its plan: `plan`, `started` and `start_at` set) unless the test
    /// already has a plan: None when written, else the state as it stands (one start wins, and a retry of it
    /// finds it).
    async fn begin(
        &self,
        state: &crate::model::orchestration::TestState,
    ) -> Result<Option<crate::model::orchestration::TestState>, StoreError>;
    /// The test's state, if it was ever reset.
    async fn get(&self, test: &TestScope) -> Result<Option<crate::model::orchestration::TestState>, StoreError>;
    /// Adds `region` to the test's ready or completed set, if the test exists and requires the region.
    async fn add_region(
        &self,
        test: &TestScope,
        mark: crate::model::orchestration::RegionMark,
        region: &str,
    ) -> Result<RegionRecorded, StoreError>;
    /// Marks the test started at `start_at` (Unix ms) unless it already is: true for the one call that did.
    async fn start(&self, test: &TestScope, start_at: i64) -> Result<bool, StoreError>;
    /// Marks the test completed at `at` (Unix ms) unless it already is: true for the one call that did.
    async fn complete(&self, test: &TestScope, at: i64) -> Result<bool, StoreError>;
    /// Marks the test stopped at `at` (Unix ms) unless it already is: true for the one call that did.
    async fn stop(&self, test: &TestScope, at: i64) -> Result<bool, StoreError>;
}

/// The worker's look at its test's stop, in the test's home region (the orchestration table there): asked
/// before a call is claimed and every `STOP_POLL_INTERVAL` while it runs.
#[async_trait]
pub trait StopSignal: Send + Sync + std::fmt::Debug {
    /// Whether `test` was stopped. `home_region` is where its state lives (None: this region); a test
    /// never reset there was not stopped.
    async fn stopped(&self, test: &TestScope, home_region: Option<&str>) -> Result<bool, StoreError>;
    /// Stops `test` at `at` (Unix ms), saying why (an abort rule held), unless it is stopped already or was
    /// never reset: true for the one call that stopped it.
    async fn stop_because(
        &self,
        test: &TestScope,
        home_region: Option<&str>,
        at: i64,
        reason: &str,
    ) -> Result<bool, StoreError>;
}

/// What a claim of a caller's run id found ([`RunClaims::claim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunClaim {
    /// Claimed now, until the lease asked for: run it, store the answer, then [`RunClaims::answered`].
    Fresh,
    /// The run finished; its answer is stored at `key`: answer that, never run again.
    Answered { key: String },
    /// Another invocation holds the run until `lease_until` (Unix seconds).
    Running { lease_until: i64 },
    /// The holder's lease passed with no answer stored: the run is lost (its invocation was cut off).
    Lost,
    /// The id was claimed for another request (another fingerprint).
    OtherRequest,
}

/// Run-load's claims of caller-supplied run ids, per organisation: a run is run once however often its
/// synchronous invoke is retried (a client that times out retries as a new invocation).
#[async_trait]
pub trait RunClaims: Send + Sync + std::fmt::Debug {
    /// Claims `run_id` of `organisation` for the request whose fingerprint is `request`, until
    /// `lease_until` (Unix seconds), or says how it stands; a claim whose lease passed before `now` with
    /// no answer is marked lost.
    async fn claim(
        &self,
        organisation: &str,
        run_id: &str,
        request: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<RunClaim, StoreError>;
    /// Records that the run's answer is stored at `key`.
    async fn answered(&self, organisation: &str, run_id: &str, key: &str) -> Result<(), StoreError>;
}

/// One stored run-load run, as the run index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEntry {
    /// Whose run it is: runs are indexed, and compared, within one organisation.
    pub organisation_id: String,
    pub tag: String,
    /// What makes runs comparable: suite, host and users (`model::runs::shape`).
    pub shape: String,
    /// Unix milliseconds.
    pub started_at: i64,
    pub run_id: String,
    /// Where the run's stats are (a key in the results bucket).
    pub key: String,
}

/// The index of stored runs by organisation, tag and shape, newest first, so comparing needs no query
/// engine.
#[async_trait]
pub trait RunIndex: Send + Sync + std::fmt::Debug {
    async fn add(&self, entry: &RunEntry) -> Result<(), StoreError>;
    /// The newest `limit` runs of `organisation_id` with `tag` and `shape`, newest first.
    async fn latest(
        &self,
        organisation_id: &str,
        tag: &str,
        shape: &str,
        limit: usize,
    ) -> Result<Vec<RunEntry>, StoreError>;
}
