//! The test kit's own integration tests: the project's make verbs, driven with recording fakes, and the offline
//! check of deploy/ against the AWS provider's schema, with planted faults.

mod provider_schema;
mod verbs;
