//! Server settings and the hashed first-admin setup token.

use super::*;

#[async_trait]
impl SettingStore for PgStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        let row = c
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[&key, &value, &now],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()> {
        self.put_setting(SETUP_TOKEN_KEY, &setup_token_value(&token), now)
            .await
    }
}
