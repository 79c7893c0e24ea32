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
}
