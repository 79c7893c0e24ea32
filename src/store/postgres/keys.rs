//! API keys: stored by Key ID and SHA-256, looked up on every SDK request.

use super::*;

#[async_trait]
impl KeyStore for PgStore {
    async fn insert_api_key(
        &self,
        key: NewApiKey,
        max_active: i64,
        audit: AuditEvent,
    ) -> StoreResult<ApiKeyRecord> {
        let mut c = self.client().await?;
        let now = crate::now_ms();
        let tx = c.transaction().await.map_err(map_err)?;
        // Lock the owner so concurrent creations on other instances cannot pass the cap.
        tx.execute(
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            &[&key.user_id],
        )
        .await
        .map_err(map_err)?;
        let active: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL",
                &[&key.user_id],
            )
            .await
            .map_err(map_err)?
            .get(0);
        if active >= max_active {
            return Err(StoreError::LimitReached);
        }
        let row = tx
            .query_one(
                &format!(
                    "WITH k AS (
                       INSERT INTO api_keys (key_id, secret_hash, user_id, name, origin, created_at, created_by, expires_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *)
                     SELECT {KEY_COLUMNS} FROM k"
                ),
                &[
                    &key.key_id,
                    &key.secret_hash.as_slice(),
                    &key.user_id,
                    &key.name,
                    &key.origin.as_str(),
                    &now,
                    &key.created_by,
                    &key.expires_at,
                ],
            )
            .await
            .map_err(map_err)?;
        commit_audited(tx, &audit, None, now).await?;
        Ok(key_from(&row, 0))
    }

    async fn key_auth_by_key_id(&self, key_id: &str) -> StoreResult<Option<KeyAuth>> {
        self.key_auth_where("k.key_id = $1", &key_id).await
    }

    async fn key_auth_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyAuth>> {
        self.key_auth_where("k.secret_hash = $1", &hash.as_slice())
            .await
    }

    async fn api_key_by_id(&self, id: i64) -> StoreResult<Option<ApiKeyRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = $1"),
                &[&id],
            )
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| key_from(&r, 0)))
    }

    async fn list_api_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKeyRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = $1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id"
            ))
            .await
            .map_err(map_err)?;
        let rows = c.query(&stmt, &[&user_id]).await.map_err(map_err)?;
        Ok(rows.iter().map(|r| key_from(r, 0)).collect())
    }

    async fn revoke_api_key(
        &self,
        id: i64,
        now: i64,
        revoked_by: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let changed = tx
            .execute(
                "UPDATE api_keys SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
                &[&now, &revoked_by, &id],
            )
            .await
            .map_err(map_err)?;
        if changed == 1 {
            insert_audit(&tx, &audit, now).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(changed == 1)
    }

    async fn record_key_usage(&self, batch: &[KeyUsage]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let stmt = tx
            .prepare_cached(
                "UPDATE api_keys SET last_used_at = $1, last_used_ip = $2, last_used_ua = $3
                 WHERE id = $4 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .await
            .map_err(map_err)?;
        // Lock rows in key order: instances flushing overlapping batches (built from a
        // HashMap, so in any order) would otherwise deadlock on each other.
        let mut ordered: Vec<&KeyUsage> = batch.iter().collect();
        ordered.sort_by_key(|u| u.key_pk);
        for u in ordered {
            tx.execute(&stmt, &[&u.at, &u.ip, &u.user_agent, &u.key_pk])
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }
}
