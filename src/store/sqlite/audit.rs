//! The audit log. Every audited change writes its row in its own transaction.

use super::*;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()> {
        self.write(move |conn| insert_audit(conn, &event, now).map_err(map_err))
            .await
    }

    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, actor_user_id, action, target, ip, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok(AuditRecord {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor_user_id: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    ip: r.get(5)?,
                    detail: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }
}
