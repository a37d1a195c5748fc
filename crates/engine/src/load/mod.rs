//! The load engine: an open-model (or, for comparison with wrk, closed-loop) HTTP load generator that
//! measures every request truthfully. [`engine::run`] is the entry; the layers below it are listed in
//! ARCHITECTURE.md.

pub mod attack;
mod clocks;
mod closed;
pub mod engine;
pub mod http1;
mod open;
mod recorder;
pub mod report;
pub mod request;
mod run;
pub mod schedule;
pub mod share;
pub mod stats;
pub mod threshold;
pub mod transport;
