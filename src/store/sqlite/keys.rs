//! API keys: stored by Key ID and SHA-256, looked up on every SDK request.

use super::*;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_api_key(
        &self,
        key: NewApiKey,
        max_active: i64,
        audit: AuditEvent,
    ) -> StoreResult<ApiKeyRecord> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            let active: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM api_keys WHERE user_id = ?1 AND revoked_at IS NULL",
                    [key.user_id],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if active >= max_active {
                return Err(StoreError::LimitReached);
            }
            tx.execute(
                "INSERT INTO api_keys (key_id, secret_hash, user_id, name, origin, created_at, created_by, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    key.key_id,
                    key.secret_hash.as_slice(),
                    key.user_id,
                    key.name,
                    key.origin.as_str(),
                    now,
                    key.created_by,
                    key.expires_at
                ],
            )
            .map_err(map_err)?;
            let id = tx.last_insert_rowid();
            let record = tx
                .query_row(&format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1"), [id], |r| key_from(r, 0))
                .map_err(map_err)?;
            commit_audited(tx, &audit, None, now)?;
            Ok(record)
        })
        .await
    }

    async fn key_auth_by_key_id(&self, key_id: &str) -> StoreResult<Option<KeyAuth>> {
        self.key_auth_where("k.key_id = ?1", &key_id)
    }

    async fn key_auth_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyAuth>> {
        self.key_auth_where("k.secret_hash = ?1", &hash.as_slice())
    }

    async fn api_key_by_id(&self, id: i64) -> StoreResult<Option<ApiKeyRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1"
            ))?
            .query_row([id], |r| key_from(r, 0))
            .optional()
        })
    }

    async fn list_api_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKeyRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = ?1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id"
            ))?;
            let rows = stmt.query_map([user_id], |r| key_from(r, 0))?;
            rows.collect()
        })
    }

    async fn revoke_api_key(
        &self,
        id: i64,
        now: i64,
        revoked_by: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let changed = tx
                .execute(
                    "UPDATE api_keys SET revoked_at = ?1, revoked_by = ?2 WHERE id = ?3 AND revoked_at IS NULL",
                    params![now, revoked_by, id],
                )
                .map_err(map_err)?;
            if changed == 1 {
                insert_audit(&tx, &audit, now).map_err(map_err)?;
            }
            tx.commit().map_err(map_err)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn record_key_usage(&self, batch: &[KeyUsage]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = batch.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE api_keys SET last_used_at = ?1, last_used_ip = ?2, last_used_ua = ?3
                         WHERE id = ?4 AND (last_used_at IS NULL OR last_used_at < ?1)",
                    )
                    .map_err(map_err)?;
                for u in &batch {
                    stmt.execute(params![u.at, u.ip, u.user_agent, u.key_pk])
                        .map_err(map_err)?;
                }
            }
            tx.commit().map_err(map_err)
        })
        .await
    }
}
