//! Settings → Alerts: each person's switches, stored where they differ from the default.

use async_trait::async_trait;

use super::outbox::NewJob;
use super::AuditEvent;
use super::Owner;
use crate::error::StoreResult;

/// One switch: an event (`runs_finished`, `run_crashed`, `scriptable`) on a channel
/// (`email`, `slack`, `webhook`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSetting {
    pub event: String,
    pub channel: String,
    pub enabled: bool,
}

impl From<(String, String, bool)> for AlertSetting {
    fn from((event, channel, enabled): (String, String, bool)) -> Self {
        AlertSetting {
            event,
            channel,
            enabled,
        }
    }
}

/// A `run.alert()` the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAlert {
    pub id: i64,
    pub run_id: i64,
    pub title: String,
    pub text: String,
    pub level: String,
    pub created_at: i64,
}

/// A `run.alert()` to record unless the same title on the same run was accepted less than
/// `wait_ms` ago. `job` is written with it; the store adds `alert_id` to its payload and
/// `:<alert id>` to its dedup key.
#[derive(Debug, Clone)]
pub struct NewRunAlert {
    pub run_id: i64,
    pub title: String,
    pub text: String,
    pub level: String,
    pub wait_ms: i64,
    pub now: i64,
    pub job: NewJob,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// The switches a person or team has set (the rest are at their defaults).
    async fn alert_settings(&self, owner: Owner) -> StoreResult<Vec<AlertSetting>>;
    /// Sets one switch, with its audit row in the same transaction.
    async fn set_alert_setting(
        &self,
        owner: Owner,
        setting: AlertSetting,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Records the alert and its job, or nothing when it is throttled (`None`).
    async fn record_run_alert(&self, alert: NewRunAlert) -> StoreResult<Option<RunAlert>>;
    async fn run_alert(&self, id: i64) -> StoreResult<Option<RunAlert>>;
    /// A run's accepted alerts, newest first, at most `limit`.
    async fn run_alerts(&self, run_id: i64, limit: i64) -> StoreResult<Vec<RunAlert>>;
}
