//! worker's integration tests, one binary (one link of the AWS SDK) for the whole crate: each
//! module was a tests/*.rs file of its own.

mod deploy;
mod deployed_stack;
mod fleet;
mod handler;
mod over_the_wire;
mod volley_run;
