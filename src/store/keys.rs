//! API keys: stored by Key ID and SHA-256, looked up on every SDK request.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

/// Which key to revoke, when and by whom (`None`: the system, e.g. an expiry sweep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRevocation {
    pub key: i64,
    pub at: i64,
    pub by: Option<i64>,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
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
    async fn revoke_api_key(&self, r: KeyRevocation, audit: AuditEvent) -> StoreResult<bool>;
    /// Writes `last used` observations in one transaction; never moves a time backwards.
    async fn record_key_usage(&self, batch: &[KeyUsage]) -> StoreResult<()>;
}
