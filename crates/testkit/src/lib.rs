//! Volley's test kit: code for tests only, never a dependency of a shipped binary. `target` is a loopback
//! HTTP server that misbehaves on cue (delays, stalls, statuses, TLS with a certificate made on the spot) and
//! attacks pinned to it. It has no AWS dependency, so the engine's, the guard's and `volley`'s tests link no
//! SDK.

pub mod target;
