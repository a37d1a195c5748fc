//! Adapters: the ports implemented over AWS services, and in memory for handler tests.
//! The only module that imports `aws_sdk_*` (ARCHITECTURE.md, invariant 1).

pub mod dynamodb;
pub mod memory;
