//! Volley's test kit: code for tests only, never a dependency of a shipped binary.
//!
//! - `target`: a loopback HTTP server that misbehaves on cue (delays, stalls, statuses, TLS with a
//!   certificate made on the spot), and attacks pinned to it. No AWS: the engine's, the guard's and
//!   `volley`'s tests use it and link no SDK.
//! - `svg`: a report page's inline SVG charts rasterised (resvg), and the pixels of each series' colour
//!   counted: a chart is drawn, not only written.
//! - with the `aws` feature: `emulator` (the SDK configuration after checking MiniStack answers, unique
//!   names, the deployed stack's outputs, `eventually`), `fixtures` (tables, buckets and queues made over the
//!   wire, functions invoked and panicking as tests want) and `deploy` (the deploy consistency checks each
//!   function's `tests/it/deploy.rs` runs).
//!
//! The port contract suites are not here: they are volley-core's `contract` (feature `contract-tests`),
//! beside the ports they hold.

pub mod svg;
pub mod target;

#[cfg(feature = "aws")]
pub mod deploy;
#[cfg(feature = "aws")]
pub mod emulator;
#[cfg(feature = "aws")]
pub mod fixtures;
