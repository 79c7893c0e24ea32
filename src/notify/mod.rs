//! Delivery channels: how a message leaves the server. Knows nothing about jobs; the job
//! handlers (`crate::jobs`) decide what to send and when to retry.

pub mod github;
pub mod http;
pub mod mail;
pub mod slack;
pub mod webhook;

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryError {
    pub message: String,
    /// The other side refused for good (a bad recipient, say): do not retry.
    pub permanent: bool,
    /// The channel itself is gone (Slack's `no_service`, `channel_is_archived`): stop
    /// sending to it and tell its owner.
    pub broken: bool,
    /// The other side asked to wait this long (HTTP 429 `Retry-After`).
    pub retry_after_ms: Option<i64>,
}

impl DeliveryError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
            ..Self::default()
        }
    }

    pub fn broken(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
            broken: true,
            ..Self::default()
        }
    }

    pub fn retry_after(message: impl Into<String>, ms: i64) -> Self {
        Self {
            message: message.into(),
            retry_after_ms: Some(ms),
            ..Self::default()
        }
    }
}
