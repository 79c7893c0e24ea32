//! API keys: stored by Key ID and SHA-256, looked up on every SDK request.

use async_trait::async_trait;

use super::{audited, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::keys::KeyHash;
use crate::store::rows::{key_cols, user_cols};
use crate::store::*;

const KEY_AUTH_BY_KEY_ID: &Sql = sql!(
    "SELECT ",
    key_cols!(),
    ", k.secret_hash, ",
    user_cols!(),
    " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_id = $1"
);
const KEY_AUTH_BY_HASH: &Sql = sql!(
    "SELECT ",
    key_cols!(),
    ", k.secret_hash, ",
    user_cols!(),
    " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.secret_hash = $1"
);
const API_KEY_BY_ID: &Sql = sql!("SELECT ", key_cols!(), " FROM api_keys k WHERE k.id = $1");
const LIST_API_KEYS: &Sql = sql!(
    "SELECT ",
    key_cols!(),
    " FROM api_keys k WHERE k.user_id = $1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id"
);

#[async_trait]
impl<B: Backend> KeyStore for SqlStore<B> {
    async fn insert_api_key(
        &self,
        key: NewApiKey,
        max_active: i64,
        audit: AuditEvent,
    ) -> StoreResult<ApiKeyRecord> {
        work!(self, tx, |c| {
            let now = crate::now_ms();
            // PostgreSQL locks the owner so concurrent creations on other instances
            // cannot pass the cap; SQLite's single writer already serialises them.
            c.execute(
                sql!(pg: "SELECT id FROM users WHERE id = $1 FOR UPDATE", lite: ""),
                &[&key.user_id],
            )
            .await?;
            let (active,): (i64,) = c
                .one(
                    sql!("SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL"),
                    &[&key.user_id],
                )
                .await?;
            if active >= max_active {
                return Err(StoreError::LimitReached);
            }
            let (id,): (i64,) = c
                .one(
                    sql!("INSERT INTO api_keys (key_id, secret_hash, user_id, name, origin, created_at, created_by, expires_at)
                          VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"),
                    &[&key.key_id, &key.secret_hash.as_slice(), &key.user_id, &key.name,
                      &key.origin.as_str(), &now, &key.created_by, &key.expires_at],
                )
                .await?;
            let record = c.one(API_KEY_BY_ID, &[&id]).await?;
            audited(c, &audit, None, now).await?;
            Ok(record)
        })
    }

    async fn key_auth_by_key_id(&self, key_id: &str) -> StoreResult<Option<KeyAuth>> {
        self.read_opt(KEY_AUTH_BY_KEY_ID, (key_id.to_string(),))
            .await
    }

    async fn key_auth_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyAuth>> {
        self.read_opt(KEY_AUTH_BY_HASH, (hash.to_vec(),)).await
    }

    async fn api_key_by_id(&self, id: i64) -> StoreResult<Option<ApiKeyRecord>> {
        self.read_opt(API_KEY_BY_ID, (id,)).await
    }

    async fn list_api_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKeyRecord>> {
        self.read_all(LIST_API_KEYS, (user_id,)).await
    }

    async fn revoke_api_key(&self, r: KeyRevocation, audit: AuditEvent) -> StoreResult<bool> {
        let change = sql!("UPDATE api_keys SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL");
        self.write_if_changed(change, (r.at, r.by, r.key), audit, r.at)
            .await
    }

    async fn record_key_usage(&self, batch: &[KeyUsage]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // Rows are locked in key order: instances flushing overlapping batches (built from
        // a HashMap, so in any order) would otherwise deadlock on each other.
        let mut batch = batch.to_vec();
        batch.sort_by_key(|u| u.key_pk);
        work!(self, tx, |c| {
            for u in &batch {
                c.execute(
                    sql!("UPDATE api_keys SET last_used_at = $1, last_used_ip = $2, last_used_ua = $3
                          WHERE id = $4 AND (last_used_at IS NULL OR last_used_at < $1)"),
                    &[&u.at, &u.client.ip, &u.client.user_agent, &u.key_pk],
                )
                .await?;
            }
            Ok(())
        })
    }
}
