//! Email verification tokens.

use async_trait::async_trait;

use super::{audited, changed, sql, work, Backend, Exec, SqlStore};
use crate::error::StoreResult;
use crate::keys::KeyHash;
use crate::store::outbox::NewJob;
use crate::store::*;

#[async_trait]
impl<B: Backend> EmailTokenStore for SqlStore<B> {
    async fn put_email_token(
        &self,
        token: NewEmailToken,
        job: Option<NewJob>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let NewEmailToken {
            hash,
            user_id,
            email,
            created_at: now,
            expires_at,
        } = token;
        let email = email.to_lowercase();
        work!(self, tx, |c| {
            c.execute(
                sql!("INSERT INTO email_tokens (token_hash, user_id, email_lower, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)"),
                &[&hash.as_slice(), &user_id, &email, &now, &expires_at],
            )
            .await?;
            audited(c, &audit, job.as_ref(), now).await
        })
    }

    async fn email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<(i64, String)>> {
        self.read_opt(
            sql!("SELECT user_id, email_lower FROM email_tokens WHERE token_hash = $1 AND expires_at > $2"),
            (hash.to_vec(), now),
        )
        .await
    }

    async fn change_email(&self, change: EmailChange) -> StoreResult<bool> {
        work!(self, tx, |c| {
            let EmailChange {
                token,
                user_id,
                old_email,
                new_email,
                now,
                audit,
                notice,
            } = &change;
            let new_lower = new_email.to_lowercase();
            let used = c
                .execute(
                    sql!("DELETE FROM email_tokens WHERE token_hash = $1 AND user_id = $2 AND email_lower = $3 AND expires_at > $4"),
                    &[&token.as_slice(), user_id, &new_lower, now],
                )
                .await?;
            if used == 0 {
                return Ok(false);
            }
            let changed = c
                .execute(
                    sql!("UPDATE users SET email = $1, email_lower = $2, email_verified_at = $3 WHERE id = $4 AND email_lower = $5"),
                    &[new_email, &new_lower, now, user_id, &old_email.to_lowercase()],
                )
                .await?;
            if changed == 0 {
                return Ok(false);
            }
            audited(c, audit, notice.as_ref(), *now).await?;
            Ok(true)
        })
    }

    async fn use_email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<i64>> {
        work!(self, tx, |c| {
            let row: Option<(i64, String, i64)> = c
                .opt(
                    sql!("DELETE FROM email_tokens WHERE token_hash = $1 RETURNING user_id, email_lower, expires_at"),
                    &[&hash.as_slice()],
                )
                .await?;
            let Some((user_id, email, _)) = row.filter(|(_, _, expires_at)| *expires_at > now)
            else {
                return Ok(None);
            };
            let n = c
                .execute(
                    sql!("UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_lower = $3"),
                    &[&now, &user_id, &email],
                )
                .await?;
            changed(c).await?;
            Ok((n == 1).then_some(user_id))
        })
    }

    async fn set_email_verified(&self, user_id: i64, at: Option<i64>) -> StoreResult<()> {
        work!(self, tx, |c| {
            c.execute(
                sql!("UPDATE users SET email_verified_at = $1 WHERE id = $2"),
                &[&at, &user_id],
            )
            .await?;
            changed(c).await
        })
    }
}
