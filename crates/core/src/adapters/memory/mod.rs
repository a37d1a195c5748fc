//! In-memory twins of the AWS adapters, for handler tests, one file per twin mirroring the AWS side (a
//! table's twin is named after the table, as in `dynamodb/`; `cloudwatch.rs`, `s3.rs`, `sqs.rs` and `ssm.rs`
//! after the service). They pass the same contract suites. Every twin is re-exported here: `memory::MemoryX`.

mod birthdays;
mod calls;
mod cloudwatch;
mod domains;
mod eventbridge;
mod metrics;
mod orchestration;
mod runs;
mod s3;
mod scheduler;
mod sqs;
mod ssm;
mod tests;

pub use birthdays::MemoryBirthdayStore;
pub use calls::MemoryCallClaims;
pub use cloudwatch::MemoryMetricsSink;
pub use domains::MemoryDomainStore;
pub use eventbridge::MemoryCallBus;
pub use metrics::MemorySavedMetrics;
pub use orchestration::MemoryOrchestrationStore;
pub use runs::{MemoryRunClaims, MemoryRunIndex};
pub use s3::MemoryResultArchive;
pub use scheduler::{MemorySegmentSchedules, Schedule};
pub use sqs::MemoryResultQueue;
pub use ssm::MemorySecretStore;
pub use tests::MemoryResultLedger;
