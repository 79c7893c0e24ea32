//! Web sessions, stored by the SHA-256 of their token.

use async_trait::async_trait;

use super::{audited, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::StoreResult;
use crate::keys::KeyHash;
use crate::store::rows::user_cols;
use crate::store::*;

/// The columns of a `Session`, from the table aliased `s`.
macro_rules! session_cols {
    () => {
        "s.id, s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at, \
         COALESCE(s.reauth_at, s.created_at), s.ip, s.user_agent"
    };
}

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
                s.client.ip,
                s.client.user_agent,
            ),
        )
        .await?;
        Ok(())
    }

    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<(Session, User)>> {
        self.read_opt(
            sql!(
                "SELECT ",
                session_cols!(),
                ", ",
                user_cols!(),
                " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"
            ),
            (hash.to_vec(),),
        )
        .await
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

    async fn sessions_of(&self, user_id: i64, now: i64) -> StoreResult<Vec<Session>> {
        self.read_all(
            sql!(
                "SELECT ",
                session_cols!(),
                " FROM sessions s WHERE s.user_id = $1
                  AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2
                  ORDER BY s.last_seen_at DESC, s.id DESC LIMIT 100"
            ),
            (user_id, now),
        )
        .await
    }

    async fn end_session(&self, user_id: i64, id: i64, audit: AuditEvent) -> StoreResult<bool> {
        let end = sql!("DELETE FROM sessions WHERE id = $1 AND user_id = $2");
        self.write_if_changed(end, (id, user_id), audit, crate::now_ms())
            .await
    }

    async fn end_other_sessions(
        &self,
        user_id: i64,
        keep: i64,
        audit: AuditEvent,
    ) -> StoreResult<u64> {
        work!(self, tx, |c| {
            let n = c
                .execute(
                    sql!("DELETE FROM sessions WHERE user_id = $1 AND id <> $2"),
                    &[&user_id, &keep],
                )
                .await?;
            let audit = audit.with(serde_json::json!({ "sessions": n }));
            audited(c, &audit, None, crate::now_ms()).await?;
            Ok(n)
        })
    }

    async fn mark_reauth(&self, id: i64, at: i64, audit: AuditEvent) -> StoreResult<()> {
        work!(self, tx, |c| {
            c.execute(
                sql!("UPDATE sessions SET reauth_at = $1 WHERE id = $2"),
                &[&at, &id],
            )
            .await?;
            audited(c, &audit, None, at).await
        })
    }
}
