//! The audit log. Every audited change writes its row in its own transaction.

use super::*;

#[async_trait]
impl AuditStore for PgStore {
    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()> {
        let c = self.client().await?;
        insert_audit(&c, &event, now).await
    }

    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT id, at, actor_user_id, action, target, ip, detail FROM audit_log ORDER BY id DESC LIMIT $1",
                &[&limit],
            )
            .await
            .map_err(map_err)?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get(0),
                at: r.get(1),
                actor_user_id: r.get(2),
                action: r.get(3),
                target: r.get(4),
                ip: r.get(5),
                detail: r.get(6),
            })
            .collect())
    }
}
