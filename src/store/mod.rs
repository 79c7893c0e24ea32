//! The storage seam: one trait per concern, implemented once (`sql/`) over a SQLite backend
//! (embedded default) and a PostgreSQL backend (several instances behind a load balancer). Both run the same conformance suite
//! (`tests/store_*.rs`, one file per concern) and a test keeps their schemas from drifting apart.
//!
//! Methods that change state take the audit event to write in the same transaction, so an
//! audited change and its audit row are never separated.

mod accounts;
pub mod alert_routes;
pub mod alerts;
mod audit;
mod beta;
mod email_tokens;
pub mod exports;
pub mod github;
mod invites;
pub mod jobs;
mod keys;
pub mod lifecycle;
pub mod limits;
pub mod maintenance;
mod migrations;
pub mod outbox;
pub mod postgres;
mod profile;
pub mod rows;
pub mod runs;
mod sessions;
mod settings;
pub mod sql;
pub mod sqlite;
pub mod storage;
pub mod teams;

use std::sync::Arc;

use crate::config::{Config, Secret};
use crate::keys::KeyHash;

pub use accounts::{AccountStore, FirstAdmin, PasswordChange};
pub use alert_routes::{
    AlertChannelRow, AlertMute, AlertRouteStore, BrokenChannel, ChannelSpec, Delivery,
    DeliveryInfo, NewAlertChannel, NewDelivery,
};
pub use alerts::{AlertSetting, AlertStore, NewRunAlert, RunAlert};
pub use audit::AuditStore;
pub use beta::{BetaChoice, BetaStore, ChoiceChange, FeatureQuery, FeatureState};
pub use email_tokens::{EmailChange, EmailTokenStore, NewEmailToken};
pub use exports::ExportStore;
pub use github::{GithubLink, GithubStore};
pub use invites::{Invite, InviteResolution, InviteStore, NewInvite};
pub use keys::{KeyRevocation, KeyStore};
pub use lifecycle::LifecycleStore;
pub use limits::{LimitStore, Window};
pub use maintenance::MaintenanceStore;
pub use migrations::Migration;
pub use profile::{Intro, ProfileField, ProfileStore, ProfileUpdate};
pub use runs::{
    LinePage, OnTransition, Project, Run, RunFields, RunFile, RunInfo, RunState, RunStore,
    RunTransition, RunUpsert, Silence, Stream, StreamLines, StreamOutcome, StreamWrite,
};
pub use sessions::SessionStore;
pub use settings::SettingStore;
pub use storage::{ProjectStorage, StorageStore};
pub use teams::{Entity, Membership, NewServiceAccount, NewTeam, Seat, Team, TeamStore};

/// Whose setting, channel or choice: a person or a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    User(i64),
    Team(i64),
}

impl Owner {
    /// The stored form: `u:<id>` or `t:<id>`.
    pub fn key(self) -> String {
        match self {
            Owner::User(id) => format!("u:{id}"),
            Owner::Team(id) => format!("t:{id}"),
        }
    }

    /// `for_user` or `for_team` (a person's table or a team's), with the owner's id.
    pub fn pick<T>(self, for_user: T, for_team: T) -> (T, i64) {
        match self {
            Owner::User(id) => (for_user, id),
            Owner::Team(id) => (for_team, id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    User,
    Service,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::User => "USER",
            AccountType::Service => "SERVICE",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "SERVICE" {
            AccountType::Service
        } else {
            AccountType::User
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub account_type: AccountType,
    pub password_hash: Option<String>,
    /// Per-user feature flags as a JSON object string (W&B's `viewer.flags`).
    pub flags: String,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
    /// The chosen default team (an entity id), if any.
    pub default_entity_id: Option<i64>,
    pub hide_teams: bool,
    pub email_verified_at: Option<i64>,
    /// For service accounts: the team that owns them.
    pub service_team_id: Option<i64>,
}

impl User {
    /// The name people see: the display name, or the username when there is none.
    pub fn shown_name(&self) -> &str {
        if self.name.is_empty() {
            &self.username
        } else {
            &self.name
        }
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub account_type: AccountType,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    Generated,
    Imported,
}

impl KeyOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOrigin::Generated => "generated",
            KeyOrigin::Imported => "imported",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub key_id: String,
    pub user_id: i64,
    pub name: String,
    pub origin: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub last_used_ua: Option<String>,
    pub revoked_at: Option<i64>,
}

pub struct NewApiKey {
    pub key_id: String,
    pub secret_hash: KeyHash,
    pub user_id: i64,
    pub name: String,
    pub origin: KeyOrigin,
    pub created_by: Option<i64>,
    pub expires_at: Option<i64>,
}

/// What the request path needs to accept a key: the key, its stored hash and its owner.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub key: ApiKeyRecord,
    pub secret_hash: Vec<u8>,
    pub user: User,
}

/// Where a request came from: the client's address and its `User-Agent` (at most
/// [`Client::USER_AGENT_MAX`] characters), as sessions, key use and audit rows record it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Client {
    pub const USER_AGENT_MAX: usize = 256;

    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Client {
        Client {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(Self::USER_AGENT_MAX).collect()),
        }
    }
}

/// One batched `last used` observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub key_pk: i64,
    pub at: i64,
    pub client: Client,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: KeyHash,
    pub user_id: i64,
    pub created_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub client: Client,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    /// When the owner last typed their password in this session (sign-in or sudo prompt).
    pub signed_in_at: i64,
    pub client: Client,
}

#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub actor_user_id: Option<i64>,
    pub action: &'static str,
    pub target: Option<String>,
    pub client: Client,
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// Adds the fields of `detail` (a JSON object) to the event's detail (made an object
    /// when it was none).
    pub fn with(mut self, detail: serde_json::Value) -> Self {
        if self.detail.is_null() {
            self.detail = serde_json::json!({});
        }
        if let (Some(into), serde_json::Value::Object(from)) = (self.detail.as_object_mut(), detail)
        {
            into.extend(from);
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub client: Client,
}

/// The public profile of a person, kept apart from `User` so the authentication path never
/// loads a long intro.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub institution: String,
    pub bio: String,
    pub location: String,
    pub website: String,
    /// Markdown as written.
    pub intro: String,
    /// The intro rendered and sanitized when it was saved.
    pub intro_html: String,
    /// Blob name of the profile image.
    pub avatar: Option<String>,
    pub language: Option<String>,
}

/// A one-time secret (the first-admin setup link) kept as a hash with an expiry.
#[derive(Debug, Clone)]
pub struct OneTimeToken {
    pub hash: KeyHash,
    pub expires_at: i64,
}

/// How `Store::search_users` matches addresses. Substrings of addresses a caller may not
/// read would let them rebuild one letter by letter, so only site admins search inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailMatch {
    Substring,
    Exact,
}

/// The lower-cased query and the `LIKE` patterns (escape `\\`) for usernames and emails.
pub(crate) fn search_patterns(query: &str, email: EmailMatch) -> (String, String, String) {
    let q = query.to_lowercase();
    let literal = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{literal}%");
    let email_pattern = match email {
        EmailMatch::Substring => pattern.clone(),
        // The whole address, any `%`/`_` in it literal.
        EmailMatch::Exact => literal,
    };
    (q, pattern, email_pattern)
}

/// `Store`, the whole store, is every concern listed once: a new concern joins here.
macro_rules! whole_store {
    ($($concern:ident),* $(,)?) => {
        /// The whole store: every concern, implemented by both backends.
        pub trait Store: $($concern +)* Send + Sync + 'static {}

        impl<T> Store for T where T: $($concern +)* Send + Sync + 'static {}
    };
}

whole_store!(
    AccountStore,
    ProfileStore,
    KeyStore,
    SessionStore,
    AuditStore,
    SettingStore,
    TeamStore,
    InviteStore,
    EmailTokenStore,
    RunStore,
    AlertStore,
    AlertRouteStore,
    BetaStore,
    GithubStore,
    LifecycleStore,
    StorageStore,
    ExportStore,
    MaintenanceStore,
    LimitStore,
);

pub type DynStore = Arc<dyn Store>;

pub(crate) const SETUP_TOKEN_KEY: &str = "setup_token";

/// Maps the name of a violated unique index/column to the logical field people see.
pub(crate) fn conflict_field(message: &str) -> &'static str {
    if message.contains("github_id") {
        "github_account"
    } else if message.contains("username") || message.contains("name_lower") {
        "username"
    } else if message.contains("email") {
        "email"
    } else {
        "key"
    }
}

pub(crate) fn setup_token_value(token: &OneTimeToken) -> String {
    serde_json::json!({ "hash": hex(&token.hash), "expires_at": token.expires_at }).to_string()
}

pub(crate) fn setup_token_matches(stored: &str, presented: &KeyHash, now: i64) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(stored) else {
        return false;
    };
    let expires = v["expires_at"].as_i64().unwrap_or(0);
    let hash = v["hash"].as_str().unwrap_or("");
    use subtle::ConstantTimeEq;
    now < expires && bool::from(hex(presented).as_bytes().ct_eq(hash.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens the configured store once and returns both of its views: the [`Store`] the
/// services use and the [`JobStore`](jobs::JobStore) the worker uses. PostgreSQL migrates
/// unless told not to; SQLite always migrates (only one process owns its file).
pub async fn open(config: &Config, migrate: bool) -> anyhow::Result<(DynStore, jobs::DynJobStore)> {
    if config.is_postgres() {
        let url = config
            .database_url
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        let store = postgres::PgStore::connect(url, config.pg_pool_size).await?;
        if migrate {
            store.migrate().await?;
        } else {
            store.check_migrated().await?;
        }
        let store = Arc::new(store);
        Ok((store.clone(), store))
    } else {
        let store = sqlite::SqliteStore::open(&config.sqlite_path(), config.sqlite_readers)?;
        store.migrate().await?;
        let store = Arc::new(store);
        Ok((store.clone(), store))
    }
}
