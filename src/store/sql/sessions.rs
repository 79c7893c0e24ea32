//! Web sessions, stored by the SHA-256 of their token.

use async_trait::async_trait;

use super::{sql, Backend, Sql, SqlStore};
use crate::error::StoreResult;
use crate::keys::KeyHash;
use crate::store::rows::user_cols;
use crate::store::*;

const INSERT_SESSION: &Sql = sql!("INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, ip, user_agent)
      VALUES ($1, $2, $3, $3, $4, $5, $6, $7)");

#[async_trait]
impl<B: Backend> SessionStore for SqlStore<B> {
    async fn insert_session(&self, s: NewSession) -> StoreResult<()> {
        self.write_one(
            INSERT_SESSION,
            (
                s.token_hash.to_vec(),
                s.user_id,
                s.created_at,
                s.idle_expires_at,
                s.absolute_expires_at,
                s.ip,
                s.user_agent,
            ),
        )
        .await?;
        Ok(())
    }

    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<(Session, User)>> {
        self.read_opt(
            sql!("SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at, ", user_cols!(),
                 " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"),
            (hash.to_vec(),)).await
    }

    async fn touch_session(&self, id: i64, now: i64, idle_expires_at: i64) -> StoreResult<()> {
        self.write_one(
            sql!("UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2 WHERE id = $3"),
            (now, idle_expires_at, id),
        )
        .await?;
        Ok(())
    }

    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()> {
        self.write_one(
            sql!("DELETE FROM sessions WHERE token_hash = $1"),
            (hash.to_vec(),),
        )
        .await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64> {
        self.write_one(sql!("DELETE FROM sessions WHERE user_id = $1"), (user_id,))
            .await
    }
}
