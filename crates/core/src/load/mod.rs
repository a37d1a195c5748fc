//! The load engine: an open-model (or, for comparison with wrk, closed-loop) HTTP load generator that
//! measures every request truthfully.

pub mod engine;
pub mod http1;
pub mod schedule;
pub mod stats;
pub mod transport;
