//! The test kit's own integration tests: the project's make verbs, driven with recording fakes.

mod verbs;
