//! volley-engine's integration tests, one binary for the whole crate. It links no AWS SDK (the engine and
//! the guard have none): `cargo tree -p volley-engine` shows it.

mod engine;
mod guard;
mod share;
