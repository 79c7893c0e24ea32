//! Server settings and the hashed first-admin setup token.

use async_trait::async_trait;

use super::{sql, Backend, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::*;

const PUT_SETTING: &Sql = sql!(
    "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
);

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

    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        // substr, not LIKE: a `_` or `%` in the prefix is literal, and collations do not
        // matter (the table holds a handful of rows).
        self.read_all(
            sql!("SELECT key, value FROM settings WHERE substr(key, 1, length(CAST($1 AS TEXT))) = CAST($1 AS TEXT) ORDER BY key"),
            (prefix.to_string(),),
        )
        .await
    }

    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()> {
        self.write_one(PUT_SETTING, (key.to_string(), value.to_string(), now))
            .await?;
        Ok(())
    }

    async fn change_setting(&self, key: &str, value: &str, audit: AuditEvent) -> StoreResult<()> {
        self.write_audited(
            PUT_SETTING,
            (key.to_string(), value.to_string(), crate::now_ms()),
            audit,
        )
        .await
    }

    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()> {
        self.put_setting(SETUP_TOKEN_KEY, &setup_token_value(&token), now)
            .await
    }
}
