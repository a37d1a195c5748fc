//! Volley's shared core: domain types and message contracts (`model`), the ports the functions depend on
//! (`ports`), their AWS and in-memory adapters (`adapters`), and the few composition helpers every `main.rs`
//! uses (`aws`, `telemetry`, `clock`).
//!
//! Only `adapters` imports `aws_sdk_*`; ports take and return domain types. See ARCHITECTURE.md.

pub mod adapters;
pub mod aws;
pub mod clock;
pub mod config;
pub mod guard;
pub mod load;
pub mod model;
pub mod ports;
pub mod telemetry;

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
