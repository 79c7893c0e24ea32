//! The audit log. Every audited change writes its row in its own transaction.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()>;
    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>>;
}
