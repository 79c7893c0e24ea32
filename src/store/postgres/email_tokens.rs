//! Email verification tokens.

use super::*;

#[async_trait]
impl EmailTokenStore for PgStore {
    async fn put_email_token(
        &self,
        hash: KeyHash,
        user_id: i64,
        email: &str,
        now: i64,
        expires_at: i64,
        job: Option<NewJob>,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO email_tokens (token_hash, user_id, email_lower, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&hash.as_slice(), &user_id, &email.to_lowercase(), &now, &expires_at],
        )
        .await
        .map_err(map_err)?;
        if let Some(job) = job {
            enqueue_pg(&tx, &job, now).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn use_email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<i64>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let row = tx
            .query_opt("DELETE FROM email_tokens WHERE token_hash = $1 RETURNING user_id, email_lower, expires_at", &[&hash.as_slice()])
            .await
            .map_err(map_err)?;
        let verified = match row.map(|r| {
            (
                r.get::<_, i64>(0),
                r.get::<_, String>(1),
                r.get::<_, i64>(2),
            )
        }) {
            Some((user_id, email, expires_at)) if expires_at > now => {
                let n = tx
                    .execute("UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_lower = $3", &[&now, &user_id, &email])
                    .await
                    .map_err(map_err)?;
                (n == 1).then_some(user_id)
            }
            _ => None,
        };
        tx.commit().await.map_err(map_err)?;
        Ok(verified)
    }

    async fn set_email_verified(&self, user_id: i64, at: Option<i64>) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE users SET email_verified_at = $1 WHERE id = $2",
            &[&at, &user_id],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }
}
