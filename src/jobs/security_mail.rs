//! The mail that tells a person their password or email address changed, so a change they
//! did not make does not go unnoticed.

use serde::{Deserialize, Serialize};

use super::{JobKind, Recipient};

/// What changed on the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityChange {
    PasswordChanged,
    /// Sent to the old address.
    EmailChanged,
    /// The person deleted their account (sent once, with the purge date).
    AccountDeleted,
    /// The data export they asked for is ready (`until`: when its link ends).
    ExportReady,
}

impl SecurityChange {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityChange::PasswordChanged => "password_changed",
            SecurityChange::EmailChanged => "email_changed",
            SecurityChange::AccountDeleted => "account_deleted",
            SecurityChange::ExportReady => "export_ready",
        }
    }
}

/// Payload of a `mail.security_notice` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityNoticeMail {
    #[serde(flatten)]
    pub recipient: Recipient,
    pub change: SecurityChange,
    /// For an email change: the new address.
    #[serde(default)]
    pub new_email: Option<String>,
    /// Where the change came from.
    #[serde(default)]
    pub ip: Option<String>,
    pub at: i64,
    /// The Account security section, to review sessions and sign-ins.
    pub settings_url: String,
    /// The deadline the mail names: when a deleted account is purged, or when an
    /// export's download link ends.
    #[serde(default)]
    pub until: Option<i64>,
}

impl JobKind for SecurityNoticeMail {
    const KIND: &'static str = "mail.security_notice";
}
