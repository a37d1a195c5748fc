//! Domain types and the message contracts shared between functions.

pub mod abort;
pub mod birthday;
pub mod call;
pub mod domain;
pub mod identifier;
pub mod limits;
pub mod metrics;
pub mod orchestration;
pub mod payload;
pub mod plan;
pub mod result;
pub mod run;
pub mod saved_metrics;
pub mod scope;
pub mod secrets;
pub mod test_result;
