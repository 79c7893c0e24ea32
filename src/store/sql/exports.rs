//! Export my data.

use async_trait::async_trait;

use super::{audited, enqueue, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::exports::{ExportRow, ExportStore, NewExport, ReadyExport};
use crate::store::AuditEvent;

macro_rules! export_cols {
    () => {
        "token, user_id, status, blob, bytes, error, created_at, ready_at, expires_at"
    };
}

const BY_TOKEN: &Sql = sql!("SELECT ", export_cols!(), " FROM exports WHERE token = $1");

#[async_trait]
impl<B: Backend> ExportStore for SqlStore<B> {
    async fn create_export(
        &self,
        e: NewExport,
        audit: AuditEvent,
    ) -> StoreResult<Option<ExportRow>> {
        let NewExport {
            token,
            user_id,
            stale_before,
            job,
        } = e;
        let now = crate::now_ms();
        work!(self, tx, |c| {
            // PostgreSQL: the person's row serializes two requests on two instances.
            c.execute(
                sql!(pg: "SELECT id FROM users WHERE id = $1 FOR UPDATE", lite: ""),
                &[&user_id],
            )
            .await?;
            let (pending,): (i64,) = c
                .one(
                    sql!("SELECT COUNT(*) FROM exports WHERE user_id = $1 AND status = 'pending' AND created_at >= $2"),
                    &[&user_id, &stale_before],
                )
                .await?;
            if pending > 0 {
                return Ok(None);
            }
            c.execute(
                sql!("UPDATE exports SET status = 'failed', error = 'interrupted' WHERE user_id = $1 AND status = 'pending'"),
                &[&user_id],
            )
            .await?;
            c.execute(
                sql!("INSERT INTO exports (token, user_id, status, created_at) VALUES ($1, $2, 'pending', $3)"),
                &[&token, &user_id, &now],
            )
            .await?;
            audited(c, &audit, Some(&job), now).await?;
            c.opt(BY_TOKEN, &[&token]).await
        })
    }

    async fn export(&self, token: &str) -> StoreResult<Option<ExportRow>> {
        self.read_opt(BY_TOKEN, (token.to_string(),)).await
    }

    async fn exports_of(&self, user_id: i64, limit: i64) -> StoreResult<Vec<ExportRow>> {
        self.read_all(
            sql!(
                "SELECT ",
                export_cols!(),
                " FROM exports WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
            ),
            (user_id, limit),
        )
        .await
    }

    async fn finish_export(&self, r: ReadyExport) -> StoreResult<bool> {
        work!(self, tx, |c| {
            let done = c
                .execute(
                    sql!("UPDATE exports SET status = 'ready', blob = $2, bytes = $3, ready_at = $4, expires_at = $5
                          WHERE token = $1 AND status = 'pending'"),
                    &[&r.token, &r.blob, &r.bytes, &r.now, &r.expires_at],
                )
                .await?;
            if done > 0 {
                enqueue(c, &r.mail, r.now).await?;
                enqueue(c, &r.expire, r.now).await?;
            }
            Ok(done > 0)
        })
    }

    async fn fail_export(&self, token: &str, error: &str) -> StoreResult<()> {
        self.write_one(
            sql!("UPDATE exports SET status = 'failed', error = $2 WHERE token = $1 AND status = 'pending'"),
            (token.to_string(), error.to_string()),
        )
        .await?;
        Ok(())
    }

    async fn expire_export(&self, token: &str) -> StoreResult<Option<String>> {
        let token = token.to_string();
        work!(self, tx, |c| {
            let blob: Option<(Option<String>,)> = c
                .opt(
                    sql!("SELECT blob FROM exports WHERE token = $1 AND status = 'ready'"),
                    &[&token],
                )
                .await?;
            c.execute(
                sql!("UPDATE exports SET status = 'expired', blob = NULL WHERE token = $1 AND status = 'ready'"),
                &[&token],
            )
            .await?;
            Ok(blob.and_then(|(b,)| b))
        })
    }

    async fn runs_logged_by(&self, user_id: i64) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = self
            .read_all(
                sql!("SELECT id FROM runs WHERE user_id = $1 ORDER BY id"),
                (user_id,),
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
