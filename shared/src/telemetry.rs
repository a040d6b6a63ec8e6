//! Logs: one JSON object per line on stdout (CloudWatch Logs keeps them), carrying the span
//! fields, so every line of an invocation has its Lambda `requestId` and, once known, `case_id`.
//!
//! Never log photo URLs, tokens, e-mail addresses or phone numbers: log ids instead.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's
/// advanced logging controls) or `RUST_LOG`, defaulting to `info`.
pub fn init() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(|level| EnvFilter::new(level.to_lowercase()))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
