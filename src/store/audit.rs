//! The audit log. Every audited change writes its row in its own transaction.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()>;
    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>>;
    /// The account's security events, newest first: its sign-ins, failed sign-ins naming
    /// it, session, password, email and API key changes (`SECURITY_EVENTS` lists them).
    async fn security_events(
        &self,
        user_id: i64,
        username: &str,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>>;
}
