//! The audit log. Every audited change writes its row in its own transaction.

use async_trait::async_trait;

use super::{insert_audit, sql, work, Backend, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::*;

macro_rules! audit_cols {
    () => {
        "SELECT id, at, actor_user_id, action, target, detail, ip, user_agent FROM audit_log "
    };
}

const RECENT_AUDIT: &Sql = sql!(audit_cols!(), "ORDER BY id DESC LIMIT $1");

/// A person's own actions of these kinds, and the failed sign-ins and password resets
/// that named them. The
/// list is fixed here so the actions stay bound parameters of one prepared statement.
const SECURITY_EVENTS: &Sql = sql!(
    audit_cols!(),
    "WHERE (actor_user_id = $1 OR (target = $2 AND action IN ('login.failure', 'user.reset_password')))
       AND action IN ('login.success', 'login.failure', 'session.logout_everywhere', 'session.end',
                      'session.end_others', 'session.reauth', 'user.password_change',
                      'user.reset_password', 'user.email_change_request', 'user.email_change',
                      'api_key.create', 'api_key.import', 'api_key.revoke')
     ORDER BY id DESC LIMIT $3"
);

#[async_trait]
impl<B: Backend> AuditStore for SqlStore<B> {
    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()> {
        work!(self, statement, |c| { insert_audit(c, &event, now).await })
    }

    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        self.read_all(RECENT_AUDIT, (limit,)).await
    }

    async fn security_events(
        &self,
        user_id: i64,
        username: &str,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>> {
        self.read_all(SECURITY_EVENTS, (user_id, username.to_string(), limit))
            .await
    }
}
