//! Adapters: the ports implemented over AWS services, and in memory for handler tests.
//! The only module that imports `aws_sdk_*` (ARCHITECTURE.md, invariant 1).

pub mod cloudwatch;
pub mod domains;
#[cfg(feature = "driver")]
pub mod driver;
pub mod dynamodb;
pub mod dynamodb_metrics;
pub mod dynamodb_orchestration;
pub mod dynamodb_runs;
pub mod memory;
pub mod memory_domains;
pub mod memory_metrics;
pub mod memory_orchestration;
pub mod s3;
pub mod sqs;
#[cfg(feature = "contract-tests")]
pub mod testing;
