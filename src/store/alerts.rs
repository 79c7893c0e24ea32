//! Settings → Alerts: each person's switches, stored where they differ from the default.

use async_trait::async_trait;

use super::AuditEvent;
use crate::error::StoreResult;

/// One switch: an event (`runs_finished`, `run_crashed`, `scriptable`) on a channel
/// (`email`, `slack`, `webhook`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSetting {
    pub event: String,
    pub channel: String,
    pub enabled: bool,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// The switches a person has set (the rest are at their defaults).
    async fn alert_settings(&self, user_id: i64) -> StoreResult<Vec<AlertSetting>>;
    /// Sets one switch, with its audit row in the same transaction.
    async fn set_alert_setting(
        &self,
        user_id: i64,
        setting: AlertSetting,
        audit: AuditEvent,
    ) -> StoreResult<()>;
}
