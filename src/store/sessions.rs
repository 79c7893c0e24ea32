//! Web sessions, stored by the SHA-256 of their token.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn insert_session(&self, session: NewSession) -> StoreResult<()>;
    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<(Session, User)>>;
    async fn touch_session(&self, id: i64, now: i64, idle_expires_at: i64) -> StoreResult<()>;
    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()>;
    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64>;
    /// The user's sessions that have not expired at `now`, the most recently seen first.
    async fn sessions_of(&self, user_id: i64, now: i64) -> StoreResult<Vec<Session>>;
    /// Ends one session of the user, with its audit row; false when it is not theirs or gone.
    async fn end_session(&self, user_id: i64, id: i64, audit: AuditEvent) -> StoreResult<bool>;
    /// Ends every session of the user but `keep`, with the audit row; how many ended.
    async fn end_other_sessions(
        &self,
        user_id: i64,
        keep: i64,
        audit: AuditEvent,
    ) -> StoreResult<u64>;
    /// The owner typed their password again in this session (sudo mode), with the audit row.
    async fn mark_reauth(&self, id: i64, at: i64, audit: AuditEvent) -> StoreResult<()>;
}
