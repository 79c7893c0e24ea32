//! Server settings and the hashed first-admin setup token.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

#[async_trait]
pub trait SettingStore: Send + Sync {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()>;
    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()>;
}
