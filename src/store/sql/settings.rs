//! Server settings and the hashed first-admin setup token.

use async_trait::async_trait;

use super::{sql, Backend, SqlStore};
use crate::error::StoreResult;
use crate::store::*;

#[async_trait]
impl<B: Backend> SettingStore for SqlStore<B> {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let value: Option<(String,)> = self
            .read_opt(
                sql!("SELECT value FROM settings WHERE key = $1"),
                (key.to_string(),),
            )
            .await?;
        Ok(value.map(|(v,)| v))
    }

    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()> {
        self.write_one(
            sql!("INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                  ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"),
            (key.to_string(), value.to_string(), now),
        )
        .await?;
        Ok(())
    }

    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()> {
        self.put_setting(SETUP_TOKEN_KEY, &setup_token_value(&token), now)
            .await
    }
}
