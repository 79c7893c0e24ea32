//! Web sessions, stored by the SHA-256 of their token.

use super::*;

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, s: NewSession) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, ip, user_agent)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7)",
                params![s.token_hash.as_slice(), s.user_id, s.created_at, s.idle_expires_at, s.absolute_expires_at, s.ip, s.user_agent],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<(Session, User)>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at, {USER_COLUMNS}
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1"
            ))?
            .query_row([hash.as_slice()], |r| {
                Ok((
                    Session {
                        id: r.get(0)?,
                        user_id: r.get(1)?,
                        created_at: r.get(2)?,
                        last_seen_at: r.get(3)?,
                        idle_expires_at: r.get(4)?,
                        absolute_expires_at: r.get(5)?,
                    },
                    user_from(r, 6)?,
                ))
            })
            .optional()
        })
    }

    async fn touch_session(&self, id: i64, now: i64, idle_expires_at: i64) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE sessions SET last_seen_at = ?1, idle_expires_at = ?2 WHERE id = ?3",
                params![now, idle_expires_at, id],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()> {
        let hash = *hash;
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                [hash.as_slice()],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            let n = conn
                .execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
                .map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }
}
