//! Adapters: the ports implemented over AWS services, and in memory for handler tests.
//! The only module that imports `aws_sdk_*` (ARCHITECTURE.md, invariant 1).

pub mod cloudwatch;
#[cfg(feature = "driver")]
pub mod driver;
pub mod dynamodb;
pub mod eventbridge;
pub mod memory;
pub mod s3;
pub mod scheduler;
pub mod sqs;
pub mod ssm;
