//! Delivery channels: how a message leaves the server. Knows nothing about jobs; the job
//! handlers (`crate::jobs`) decide what to send and when to retry.

pub mod mail;

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    pub message: String,
    /// The other side refused for good (a bad recipient, say): do not retry.
    pub permanent: bool,
}

impl DeliveryError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}
