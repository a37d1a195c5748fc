//! volley-core's integration tests, one binary (one link of the AWS SDK) for the whole crate: each
//! module was a tests/*.rs file of its own.

mod dynamodb_contract;
mod metrics_contract;
mod orchestration_contract;
