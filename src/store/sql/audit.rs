//! The audit log. Every audited change writes its row in its own transaction.

use async_trait::async_trait;

use super::{insert_audit, sql, work, Backend, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::*;

const RECENT_AUDIT: &Sql = sql!("SELECT id, at, actor_user_id, action, target, ip, detail FROM audit_log ORDER BY id DESC LIMIT $1");

#[async_trait]
impl<B: Backend> AuditStore for SqlStore<B> {
    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()> {
        work!(self, statement, |c| { insert_audit(c, &event, now).await })
    }

    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        self.read_all(RECENT_AUDIT, (limit,)).await
    }
}
