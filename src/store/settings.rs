//! Server settings and the hashed first-admin setup token.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

#[async_trait]
pub trait SettingStore: Send + Sync {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Every setting whose key starts with `prefix` (a literal, no wildcards), as (key, value).
    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>>;
    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()>;
    /// Writes a setting an operator changed, with its audit row in the same transaction.
    async fn change_setting(&self, key: &str, value: &str, audit: AuditEvent) -> StoreResult<()>;
    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()>;
}
