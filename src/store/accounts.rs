//! People: accounts, look-ups, search and passwords; also what the drift test and `/readyz` ask of a backend.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

/// The first account of a server, and the setup token that proves the right to make it.
#[derive(Debug, Clone)]
pub struct FirstAdmin {
    pub setup_token: KeyHash,
    pub user: NewUser,
    pub now: i64,
}

/// A new password hash; every session of the user but `keep_session` ends with it.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub user_id: i64,
    pub hash: String,
    pub keep_session: Option<i64>,
    pub audit: AuditEvent,
    /// The mail that tells the owner.
    pub notice: Option<outbox::NewJob>,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    fn backend(&self) -> &'static str;
    /// The generation the read caches check their values against (`crate::cache`).
    fn cache_epoch(&self) -> std::sync::Arc<crate::cache::CacheEpoch>;
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
        admin: FirstAdmin,
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
    /// Replaces the password and ends every session of the user but `keep_session`, with
    /// the audit row and the notice to its owner; how many sessions ended.
    async fn set_password(&self, change: PasswordChange) -> StoreResult<u64>;
}
