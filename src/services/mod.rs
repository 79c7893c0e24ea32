//! The service layer: every permission check and every state change lives here, whatever
//! the transport (GraphQL, REST, CLI). Handlers only translate requests into calls.

pub mod access;
pub mod account_deletion;
pub mod account_security;
pub mod accounts;
pub mod alert_channels;
pub mod alert_delivery;
pub mod alert_send;
pub mod alerts;
pub mod api_keys;
pub mod backup;
pub mod beta;
pub mod directory;
pub mod email_verification;
pub mod entities;
pub mod export;
mod export_archive;
pub mod file_stream;
pub mod github;
pub mod invitations;
pub mod oauth_state;
pub mod operator;
pub mod profile;
mod read_cache;
pub mod run_files;
pub mod run_query;
pub mod run_reads;
pub mod runs;
pub mod service_accounts;
pub mod sessions;
pub mod slack_oauth;
pub mod storage;
pub mod teams;

use std::sync::Arc;
use std::time::Duration;

use crate::blobs::Blobs;
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::keys::KeyHash;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::store::{AuditEvent, Client, DynStore, User};
use crate::usage::UsageRecorder;

/// Who is making a request and from where, resolved before any service runs; a service
/// that changes something writes its audit row from it (`actor.audit(…)`).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    pub auth: AuthMethod,
    /// A member of a service account's team that the request is made for
    /// (`X-Wandb-Username`), checked when the actor is resolved.
    pub on_behalf_of: Option<User>,
    /// The request this actor is making: address, user agent, request id.
    pub request: RequestMeta,
}

#[derive(Debug, Clone)]
pub enum AuthMethod {
    ApiKey {
        key_pk: i64,
        key_id: String,
    },
    Session {
        session_id: i64,
        token_hash: KeyHash,
        /// When the password was last typed in this session (sudo mode).
        signed_in_at: i64,
    },
    /// The operator at the server's console (`fulcrum admin …`).
    Console,
}

impl Actor {
    /// The audit row of `action` on `target`, done by this actor in this request; the
    /// detail records how the actor signed in, and `.with(json!(…))` adds to it.
    pub(crate) fn audit(&self, action: &'static str, target: impl Into<String>) -> AuditEvent {
        AuditEvent {
            actor_user_id: self.recorded_id(),
            detail: serde_json::json!({ "via": self.via() }),
            ..self.request.audit_anonymous(action, target)
        }
    }

    pub fn via(&self) -> &'static str {
        match self.auth {
            AuthMethod::ApiKey { .. } => "api_key",
            AuthMethod::Session { .. } => "session",
            AuthMethod::Console => "console",
        }
    }

    /// The account to record as the author of a change; none for the console.
    pub fn recorded_id(&self) -> Option<i64> {
        match self.auth {
            AuthMethod::Console => None,
            _ => Some(self.user.id),
        }
    }

    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.user.is_admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                ErrorCode::AdminRequired,
                format!(
                    "only site admins can {what}; {} is not an admin",
                    self.user.username
                ),
            ))
        }
    }
}

/// Where a request came from, for audit rows, rate limits and `last used`.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub client: Client,
    /// The id in the request's log lines and `X-Request-Id`.
    pub request_id: Option<String>,
}

impl RequestMeta {
    /// The audit row of an action taken before anyone is signed in (login, first admin).
    pub(crate) fn audit_anonymous(
        &self,
        action: &'static str,
        target: impl Into<String>,
    ) -> AuditEvent {
        AuditEvent {
            actor_user_id: None,
            action,
            target: Some(target.into()),
            client: self.client.clone(),
            detail: serde_json::json!({}),
        }
    }
}

/// Verification and email-change links one person may have mailed per hour.
pub const MAIL_LINKS_PER_HOUR: u32 = 10;

pub struct Services {
    pub store: DynStore,
    /// The job queue view of the same store (`crate::jobs`).
    pub jobs: crate::jobs::DynJobStore,
    /// Wakes this instance's worker after a change enqueued a job.
    pub job_wake: crate::jobs::JobWake,
    pub config: Arc<Config>,
    pub usage: Arc<UsageRecorder>,
    pub metrics: Arc<Metrics>,
    /// Where every blob lives (`blob_url`); `blobs`, `run_blobs` and `export_blobs` are
    /// its three folders.
    pub blob_store: crate::blobs::BlobStore,
    pub blobs: Blobs,
    /// Files of runs, apart from the images.
    pub run_blobs: crate::blobs::FileBlobs,
    /// Built data exports (Export my data), deleted when their link expires.
    pub export_blobs: crate::blobs::FileBlobs,
    /// Derives the tokens of mailed links from the server secret.
    pub links: crate::links::LinkSigner,
    /// Seals the secrets of alert channels before they are stored.
    pub sealer: crate::sealed::Sealer,
    /// Outgoing HTTP to alert channels, guarded against private addresses.
    pub outbound: crate::notify::http::Outbound,
    /// Keys, memberships, entities and beta states read on every request of a training
    /// run, kept while nothing changed (`crate::cache`).
    pub(crate) cache: read_cache::ReadCache,
    /// Bounds concurrent image decodes server-wide (each may hold tens of MiB).
    pub(crate) image_decodes: Arc<tokio::sync::Semaphore>,
    login_by_ip: RateLimiter,
    uploads_by_user: RateLimiter,
    /// Mailed links (verification, email change) per person, so no one can make the
    /// server mail an address over and over.
    mail_links_by_user: RateLimiter,
    login_by_account: RateLimiter,
    login_by_account_global: RateLimiter,
}

impl Services {
    pub fn new(
        store: DynStore,
        jobs: crate::jobs::DynJobStore,
        config: Arc<Config>,
    ) -> anyhow::Result<Arc<Self>> {
        let blob_store = crate::blobs::BlobStore::open(&config.blob_url, &config.data_dir)?;
        Ok(Arc::new(Self {
            usage: Arc::new(UsageRecorder::new(config.last_used_granularity_secs)),
            metrics: Arc::new(Metrics::default()),
            blobs: blob_store.images(),
            run_blobs: blob_store.run_files(),
            export_blobs: blob_store.exports(),
            blob_store,
            links: crate::links::LinkSigner::from_config(&config)?,
            sealer: crate::sealed::Sealer::from_config(&config)?,
            outbound: crate::notify::http::Outbound::new(
                crate::notify::http::Exempt::new(
                    config
                        .alerts
                        .webhook_allow_hosts
                        .iter()
                        .chain(&config.alerts.slack_webhook_hosts)
                        .cloned(),
                ),
                Duration::from_secs(config.alerts.webhook_timeout_secs),
            )?,
            login_by_ip: RateLimiter::new(
                "login_ip",
                config.login_attempts_per_ip,
                Duration::from_secs(300),
            ),
            login_by_account: RateLimiter::new(
                "login_account_ip",
                config.login_failures_per_account,
                Duration::from_secs(900),
            ),
            login_by_account_global: RateLimiter::new(
                "login_account",
                config.login_failures_per_account.saturating_mul(10),
                Duration::from_secs(900),
            ),
            uploads_by_user: RateLimiter::new("avatar_uploads", 30, Duration::from_secs(3600)),
            mail_links_by_user: RateLimiter::new(
                "mail_links",
                MAIL_LINKS_PER_HOUR,
                Duration::from_secs(3600),
            ),
            image_decodes: Arc::new(tokio::sync::Semaphore::new(
                crate::images::MAX_CONCURRENT_DECODES,
            )),
            cache: read_cache::ReadCache::new(store.cache_epoch()),
            store,
            jobs,
            job_wake: crate::jobs::JobWake::default(),
            config,
        }))
    }
}
