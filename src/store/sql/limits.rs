//! Attempt counters: one row per key, counted by one upsert so that instances racing on
//! the same key never lose an attempt.

use async_trait::async_trait;

use super::{sql, work, Backend, Exec, SqlStore};
use crate::error::StoreResult;
use crate::store::limits::{LimitStore, Window};

/// Every `SET` expression sees the row as it was, in both dialects. The casts tell
/// PostgreSQL the type of a parameter it only sees in arithmetic.
const HIT: &super::Sql = sql!(
    "INSERT INTO rate_limits (key, ends_at, count) VALUES ($1, CAST($2 AS BIGINT) + CAST($3 AS BIGINT), 1)
     ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rate_limits.ends_at <= $2 THEN 1 ELSE rate_limits.count + 1 END,
        ends_at = CASE WHEN rate_limits.ends_at <= $2 THEN excluded.ends_at ELSE rate_limits.ends_at END
     RETURNING count, ends_at"
);

#[async_trait]
impl<B: Backend> LimitStore for SqlStore<B> {
    async fn limit_hit(&self, key: &str, window_ms: i64, now: i64) -> StoreResult<Window> {
        let key = key.to_string();
        let row: (i64, i64) = work!(self, statement, |c| {
            c.one(HIT, &[&key, &now, &window_ms]).await
        })?;
        Ok(row.into())
    }

    async fn limit_window(&self, key: &str, now: i64) -> StoreResult<Option<Window>> {
        let row: Option<(i64, i64)> = self
            .read_opt(
                sql!("SELECT count, ends_at FROM rate_limits WHERE key = $1 AND ends_at > $2"),
                (key.to_string(), now),
            )
            .await?;
        Ok(row.map(Window::from))
    }

    async fn limit_reset(&self, key: &str) -> StoreResult<()> {
        self.write_one(
            sql!("DELETE FROM rate_limits WHERE key = $1"),
            (key.to_string(),),
        )
        .await
        .map(|_| ())
    }

    async fn limit_prune(&self, now: i64) -> StoreResult<u64> {
        self.write_one(sql!("DELETE FROM rate_limits WHERE ends_at <= $1"), (now,))
            .await
    }
}
