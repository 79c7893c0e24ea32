//! Fulcrum: a self-hosted account and settings server that speaks the W&B API.
//! `ARCHITECTURE.md` at the repository root is the map of these modules.
#![forbid(unsafe_code)]
// A panic in a request is a 500 the SDK retries for days: handle every error instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod app;
pub mod backup;
pub mod blobs;
pub mod cache;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod images;
pub mod jobs;
pub mod keys;
pub mod links;
pub mod markdown;
pub mod metrics;
pub mod notify;
pub mod password;
pub mod rate_limit;
pub mod sealed;
pub mod services;
pub mod store;
pub mod usage;
pub mod validate;

/// Milliseconds since the Unix epoch, the one time representation in the store.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A store time as ISO 8601 UTC with milliseconds, as W&B's API writes times.
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}
