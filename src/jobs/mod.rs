//! The durable job queue and what runs its jobs.
//!
//! A change that must have an effect later (an invitation mail, later alerts) writes a job
//! row in its own transaction (`store::outbox`). A [`Worker`](worker::Worker) runs in every
//! instance: it claims due jobs with a lease (`UPDATE … RETURNING` on SQLite,
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL), runs them, records every attempt, retries with
//! exponential backoff and jitter, and gives up visibly (status `failed`) after the job's
//! maximum number of attempts. Delivery is at least once; enqueueing is deduplicated by the
//! job's `dedup_key`.

pub mod alert_text;
pub mod alerts;
pub mod handler;
pub mod lifecycle;
pub mod mail;
pub mod mail_handlers;
pub mod security_mail;
pub mod wake;
pub mod worker;

use std::sync::Arc;

use mail_handlers::SendMail;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::store::outbox::NewJob;

pub use self::handler::{JobHandler, JobKind, Registry};
pub use self::wake::JobWake;
pub use crate::store::jobs::{DynJobStore, Job, JobAttempt, JobStatus, JobStore, Lease};

/// Job kind of an invitation mail (payload: [`TeamInviteMail`]).
pub const TEAM_INVITE: &str = "mail.team_invite";
/// Mails the link that verifies a person's email address.
pub const VERIFY_EMAIL: &str = "mail.verify_email";

/// Whom a mail goes to: the address, the language they read mail in and the name it greets.
/// Flattened into each mail's payload, so the stored JSON keeps `to`, `language`, `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub to: String,
    /// `"ko"` for Korean; anything else (or nothing) for English.
    #[serde(default)]
    pub language: Option<String>,
    /// Invitation jobs queued by older versions have none.
    #[serde(default)]
    pub name: String,
}

impl Recipient {
    /// `user` at their own address, greeted as their profile shows them.
    pub fn of(user: &crate::store::User, language: Option<String>) -> Self {
        Recipient {
            to: user.email.clone(),
            language,
            name: user.shown_name().to_string(),
        }
    }

    /// The same person at another address (a new email address being verified).
    pub fn at(self, to: String) -> Self {
        Recipient { to, ..self }
    }

    pub fn lang(&self) -> mail::Lang {
        mail::Lang::pick(self.language.as_deref())
    }
}

/// Payload of a [`VERIFY_EMAIL`] job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyEmailMail {
    #[serde(flatten)]
    pub recipient: Recipient,
    /// Absolute http(s) URL of the verification page; with `link_nonce`, the mailer adds
    /// the token to its fragment when it sends the mail.
    pub verify_url: String,
    /// Nonce of the link token ([`crate::links`]); the token itself is never stored.
    #[serde(default)]
    pub link_nonce: Option<String>,
    /// The link makes `to` the account's new address (it is not the account's address yet).
    #[serde(default)]
    pub change: bool,
}

/// Why a job did not succeed, and whether trying again could help.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobError {
    pub message: String,
    /// No retry: the job is marked failed at once.
    pub permanent: bool,
    /// The other side said when to come back (Slack's `Retry-After`); used instead of the
    /// backoff when it is longer.
    pub retry_in_ms: Option<i64>,
    /// Not a failure: the job must wait for another to finish first (alerts of one run
    /// leave in order). It goes back to the queue without using up an attempt.
    pub wait_turn: bool,
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> Self {
        crate::notify::DeliveryError::retry(message).into()
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        crate::notify::DeliveryError::permanent(message).into()
    }

    pub fn wait_turn(message: impl Into<String>) -> Self {
        JobError {
            wait_turn: true,
            ..JobError::retry(message)
        }
    }
}

impl From<crate::notify::DeliveryError> for JobError {
    fn from(e: crate::notify::DeliveryError) -> Self {
        JobError {
            message: e.message,
            permanent: e.permanent,
            retry_in_ms: e.retry_after_ms,
            wait_turn: false,
        }
    }
}

/// A store that fails while a job runs is a passing outage (a lock, a restart): try again.
impl From<crate::error::StoreError> for JobError {
    fn from(e: crate::error::StoreError) -> Self {
        JobError::retry(format!("store: {e}"))
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Payload of a [`TEAM_INVITE`] job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInviteMail {
    #[serde(flatten)]
    pub recipient: Recipient,
    pub team: String,
    /// Display name of the person who invited.
    pub inviter: String,
    /// `admin`, `member` or `viewer`.
    pub role: String,
    /// Absolute http(s) URL of the page that accepts the invitation; with `link_nonce`,
    /// the mailer adds the token to its fragment when it sends the mail.
    pub accept_url: String,
    /// Nonce of the link token ([`crate::links`]); the token itself is never stored.
    #[serde(default)]
    pub link_nonce: Option<String>,
    /// Unix milliseconds; an invitation that expired before it could be sent is not sent.
    pub expires_at: i64,
}

impl JobKind for TeamInviteMail {
    const KIND: &'static str = TEAM_INVITE;
}

impl JobKind for VerifyEmailMail {
    const KIND: &'static str = VERIFY_EMAIL;
}

/// The job that mails an invitation. Enqueue it in the transaction that creates the
/// invitation (`store::outbox`); the dedup key `invite:<key>` makes a repeated enqueue of
/// the same invitation a no-op.
pub fn invite_job(
    config: &Config,
    key: impl std::fmt::Display,
    mail: &TeamInviteMail,
    now: i64,
) -> NewJob {
    mail.job(config, Some(format!("invite:{key}")), now)
}

/// Every job handler of this build, over the given mail transport.
pub fn registry(
    config: &Config,
    transport: crate::notify::mail::DynMailTransport,
    alerts: Arc<dyn alerts::AlertFanout>,
    sender: Arc<dyn alerts::AlertSender>,
    lifecycle: Arc<dyn lifecycle::AccountLifecycle>,
) -> anyhow::Result<Registry> {
    let mailer = Arc::new(mail::Mailer::with_transport(config, transport)?);
    if !mailer.is_configured() {
        tracing::info!("mail is not configured (smtp_host); mail jobs will wait and retry");
    }
    Ok(Registry::default()
        .with(SendMail::<TeamInviteMail>::new(mailer.clone()))
        .with(SendMail::<VerifyEmailMail>::new(mailer.clone()))
        .with(SendMail::<security_mail::SecurityNoticeMail>::new(
            mailer.clone(),
        ))
        .with(alerts::RunEventHandler(alerts))
        .with(alerts::RunAlertMailHandler(mailer.clone(), sender.clone()))
        .with(SendMail::<alerts::ChannelBrokenMail>::new(mailer))
        .with(alerts::SlackAlertHandler(sender.clone()))
        .with(alerts::WebhookAlertHandler(sender))
        .with(lifecycle::PurgeHandler(lifecycle.clone()))
        .with(lifecycle::BuildExportHandler(lifecycle.clone()))
        .with(lifecycle::ExpireExportHandler(lifecycle)))
}

/// A worker id unique to this process: host name, process id and a random suffix.
pub fn worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "host".into());
    let random = crate::keys::random_token();
    let suffix: String = random.chars().take(8).collect();
    format!("{host}:{}:{suffix}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs already in the queue were written before `Recipient` existed: its fields sit at
    /// the top of the payload, and invitations carried no `name`.
    #[test]
    fn the_recipient_keeps_the_stored_payload_shape() {
        let old = serde_json::json!({
            "to": "kim@example.com", "language": "ko", "team": "ml", "inviter": "Ada",
            "role": "member", "accept_url": "https://f.example/invites", "expires_at": 1,
        });
        let invite: TeamInviteMail = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(invite.recipient.to, "kim@example.com");
        assert_eq!(invite.recipient.lang(), mail::Lang::Ko);
        assert_eq!(invite.recipient.name, "");
        let again = serde_json::to_value(&invite).unwrap();
        assert_eq!(again["to"], old["to"]);
        assert_eq!(again["language"], old["language"]);
        assert_eq!(again["name"], "");
        assert!(again.get("recipient").is_none(), "{again}");
    }
}
