//! Structured logging for every binary.
//!
//! In Lambda, `AWS_LAMBDA_LOG_FORMAT=JSON` (set by deploy/ and template.yaml) switches to one JSON object per
//! line and `AWS_LAMBDA_LOG_LEVEL` sets the level; locally the output is human-readable and `RUST_LOG` filters.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|level| EnvFilter::try_new(level.to_lowercase()).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests, a library caller) keeps the first subscriber; that is not an error worth failing on.
    let _ = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.try_init()
    };
}
