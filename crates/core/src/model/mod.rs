//! Domain types and the message contracts shared between functions.

pub mod birthday;
pub mod call;
pub mod domain;
pub mod metrics;
pub mod orchestration;
pub mod result;
pub mod saved_metrics;
