//! Volley's shared core: domain types and message contracts (`model`), the ports the functions depend on
//! (`ports`), their AWS and in-memory adapters (`adapters`), and the few composition helpers every `main.rs`
//! uses (`aws`, `telemetry`, `clock`).
//!
//! Only `adapters` imports `aws_sdk_*`; ports take and return domain types. See ARCHITECTURE.md.

pub mod adapters;
pub mod aws;
pub mod challenge;
pub mod clock;
pub mod config;
pub mod model;
pub mod ports;
pub mod secrets;
pub mod telemetry;

/// An error and all its sources, one after another: "outer: cause: root cause". For logs and for the
/// error messages Lambda records, where the chain is the useful part.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
