//! Email verification tokens.

use super::*;

#[async_trait]
impl EmailTokenStore for SqliteStore {
    async fn put_email_token(
        &self,
        hash: KeyHash,
        user_id: i64,
        email: &str,
        now: i64,
        expires_at: i64,
        job: Option<NewJob>,
    ) -> StoreResult<()> {
        let email = email.to_lowercase();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "INSERT INTO email_tokens (token_hash, user_id, email_lower, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash.as_slice(), user_id, email, now, expires_at],
            )
            .map_err(map_err)?;
            if let Some(job) = job {
                enqueue_sqlite(&tx, &job, now).map_err(map_err)?;
            }
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn use_email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<i64>> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let row: Option<(i64, String, i64)> = tx
                .query_row("SELECT user_id, email_lower, expires_at FROM email_tokens WHERE token_hash = ?1", [hash.as_slice()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(map_err)?;
            tx.execute("DELETE FROM email_tokens WHERE token_hash = ?1", [hash.as_slice()]).map_err(map_err)?;
            let verified = match row {
                Some((user_id, email, expires_at)) if expires_at > now => {
                    let n = tx
                        .execute("UPDATE users SET email_verified_at = ?1 WHERE id = ?2 AND email_lower = ?3", params![now, user_id, email])
                        .map_err(map_err)?;
                    (n == 1).then_some(user_id)
                }
                _ => None,
            };
            tx.commit().map_err(map_err)?;
            Ok(verified)
        })
        .await
    }

    async fn set_email_verified(&self, user_id: i64, at: Option<i64>) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE users SET email_verified_at = ?1 WHERE id = ?2",
                params![at, user_id],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }
}
