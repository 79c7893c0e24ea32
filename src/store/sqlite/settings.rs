//! Server settings and the hashed first-admin setup token.

use super::*;

#[async_trait]
impl SettingStore for SqliteStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![key, value, now],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()> {
        self.put_setting(SETUP_TOKEN_KEY, &setup_token_value(&token), now)
            .await
    }
}
