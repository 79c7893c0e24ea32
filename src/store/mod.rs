//! The storage seam: one trait, a SQLite backend (embedded default) and a PostgreSQL
//! backend (several instances behind a load balancer). Both run the same conformance suite
//! (`tests/store_conformance.rs`) and a test keeps their schemas from drifting apart.
//!
//! Methods that change state take the audit event to write in the same transaction, so an
//! audited change and its audit row are never separated.

mod migrations;
pub mod outbox;
pub mod postgres;
mod postgres_teams;
pub mod sqlite;
mod sqlite_teams;
pub mod teams;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::Config;
use crate::error::StoreResult;
use crate::keys::KeyHash;

pub use migrations::Migration;
pub use teams::{Entity, Invite, Membership, NewInvite, Team, TeamStore};

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

/// One batched `last used` observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub key_pk: i64,
    pub at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: KeyHash,
    pub user_id: i64,
    pub created_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub actor_user_id: Option<i64>,
    pub action: &'static str,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
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

/// Profile fields people edit in the Profile section; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub institution: Option<String>,
    pub bio: Option<String>,
    pub location: Option<String>,
    pub website: Option<String>,
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

#[async_trait]
pub trait Store: teams::TeamStore + Send + Sync + 'static {
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
    /// Tables and columns as `(table, column, type family, nullable)`, for the drift test.
    async fn schema_columns(&self) -> StoreResult<Vec<(String, String, String, bool)>>;

    async fn count_users(&self) -> StoreResult<i64>;
    /// Creates the user and its personal entity together.
    async fn create_user(&self, user: NewUser, audit: AuditEvent) -> StoreResult<User>;
    /// Creates the first admin if `token` matches the stored setup token and no user exists;
    /// the token is consumed in the same transaction. `None` when the token is wrong.
    async fn create_first_admin(
        &self,
        token: KeyHash,
        now: i64,
        user: NewUser,
        audit: AuditEvent,
    ) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn user_by_username_or_email(&self, login: &str) -> StoreResult<Option<User>>;
    /// Users whose username contains `query` (case-insensitive), or whose email contains it
    /// (`EmailMatch::Substring`) or equals it (`EmailMatch::Exact`); exact matches first.
    async fn search_users(
        &self,
        query: &str,
        email: EmailMatch,
        limit: i64,
    ) -> StoreResult<Vec<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Replaces the password and ends every session of the user.
    async fn set_password(&self, user_id: i64, hash: String, audit: AuditEvent) -> StoreResult<()>;

    /// The Profile section's fields, the intro and the image; kept apart from `User` so the
    /// authentication path never reads a long intro.
    async fn user_profile(&self, user_id: i64) -> StoreResult<Option<Profile>>;
    async fn update_profile(
        &self,
        user_id: i64,
        update: ProfileUpdate,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    async fn update_intro(
        &self,
        user_id: i64,
        intro: String,
        intro_html: String,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Sets or clears the profile image; returns the previous blob name so it can be deleted.
    async fn set_avatar(
        &self,
        user_id: i64,
        avatar: Option<String>,
        audit: AuditEvent,
    ) -> StoreResult<Option<String>>;

    /// Inserts a key unless the owner already has `max_active` active keys.
    async fn insert_api_key(
        &self,
        key: NewApiKey,
        max_active: i64,
        audit: AuditEvent,
    ) -> StoreResult<ApiKeyRecord>;
    async fn key_auth_by_key_id(&self, key_id: &str) -> StoreResult<Option<KeyAuth>>;
    async fn key_auth_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyAuth>>;
    async fn api_key_by_id(&self, id: i64) -> StoreResult<Option<ApiKeyRecord>>;
    /// Active (not revoked) keys of a user, oldest first.
    async fn list_api_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes an active key; false when it was already revoked or does not exist.
    async fn revoke_api_key(
        &self,
        id: i64,
        now: i64,
        revoked_by: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<bool>;
    /// Writes `last used` observations in one transaction; never moves a time backwards.
    async fn record_key_usage(&self, batch: &[KeyUsage]) -> StoreResult<()>;

    async fn insert_session(&self, session: NewSession) -> StoreResult<()>;
    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<(Session, User)>>;
    async fn touch_session(&self, id: i64, now: i64, idle_expires_at: i64) -> StoreResult<()>;
    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()>;
    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64>;

    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()>;
    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>>;

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()>;
    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens the configured store, migrating unless told not to (PostgreSQL only; SQLite is
/// always migrated at start because only one process owns its file).
pub async fn open(config: &Config, migrate: bool) -> anyhow::Result<DynStore> {
    if config.is_postgres() {
        let url = config.database_url.clone().unwrap_or_default();
        let store = postgres::PgStore::connect(&url, config.pg_pool_size).await?;
        if migrate {
            store.migrate().await?;
        } else {
            store.check_migrated().await?;
        }
        Ok(Arc::new(store))
    } else {
        let path = config.sqlite_path();
        let store = sqlite::SqliteStore::open(&path, config.sqlite_readers)?;
        store.migrate().await?;
        Ok(Arc::new(store))
    }
}

pub(crate) const SETUP_TOKEN_KEY: &str = "setup_token";

/// Maps the name of a violated unique index/column to the logical field people see.
pub(crate) fn conflict_field(message: &str) -> &'static str {
    if message.contains("username") || message.contains("name_lower") {
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

mod postgres_jobs;
mod sqlite_jobs;
