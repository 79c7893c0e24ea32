//! Where a person's or a team's alerts go besides email: their Slack and webhook channels
//! (one of each for all projects, and per project a re-route), the team's switches, muted
//! projects, the shortest run worth a *Runs finished*, and the delivery log.

use async_trait::async_trait;

use super::outbox::NewJob;
use super::{AuditEvent, Owner};
use crate::error::StoreResult;

/// What a channel is and where it sends: a Slack webhook or a signed webhook. The sealed
/// values open with `crate::sealed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    pub kind: String,
    /// 0: every project of the owner; else the one project re-routed here.
    pub project_id: i64,
    pub url_sealed: String,
    pub secret_sealed: Option<String>,
    /// The host (and, for Slack, the channel) people see; never the secret part.
    pub hint: String,
    pub slack_team: Option<String>,
    pub slack_channel: Option<String>,
}

/// A connected channel of an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertChannelRow {
    pub id: i64,
    pub owner: String,
    pub spec: ChannelSpec,
    pub broken_at: Option<i64>,
    pub broken_reason: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

/// A project muted (or unmuted) for an owner's alerts.
#[derive(Debug, Clone, Copy)]
pub struct AlertMute {
    pub owner: Owner,
    pub project_id: i64,
    pub muted: bool,
}

/// A channel to connect; it replaces the owner's channel of the same kind and project.
#[derive(Debug, Clone)]
pub struct NewAlertChannel {
    pub owner: Owner,
    pub spec: ChannelSpec,
    pub created_by: i64,
    pub now: i64,
}

/// A channel stopped accepting messages; `notice` tells its owner (written with it).
#[derive(Debug, Clone)]
pub struct BrokenChannel {
    pub id: i64,
    pub reason: String,
    pub at: i64,
    pub notice: Option<NewJob>,
}

/// What one delivery is: an event of a run, on a channel, for an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    pub run_id: i64,
    pub event: String,
    pub channel: String,
    pub owner: String,
    /// What the log shows: `#channel`, the webhook's host, an email address.
    pub target: String,
    /// A `run.alert()`'s title.
    pub title: Option<String>,
}

/// One delivery to record, written with its job.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub info: DeliveryInfo,
    /// Where the event stands among the run's events (the id of the job that announced
    /// it): a run's deliveries on one channel go out in this order.
    pub seq: i64,
    pub job: NewJob,
}

/// A delivery and where its job stands (`pending`, `running`, `done`, `failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub info: DeliveryInfo,
    pub created_at: i64,
    pub status: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub finished_at: Option<i64>,
}

#[async_trait]
pub trait AlertRouteStore: Send + Sync {
    /// The owner's channels, all projects first.
    async fn alert_channels(&self, owner: Owner) -> StoreResult<Vec<AlertChannelRow>>;
    async fn alert_channel(&self, id: i64) -> StoreResult<Option<AlertChannelRow>>;
    async fn connect_alert_channel(
        &self,
        channel: NewAlertChannel,
        audit: AuditEvent,
    ) -> StoreResult<AlertChannelRow>;
    /// False when there was no such channel.
    async fn disconnect_alert_channel(&self, id: i64, audit: AuditEvent) -> StoreResult<bool>;
    /// Marks the channel broken once; true (and the notice is enqueued) the first time.
    async fn mark_alert_channel_broken(&self, broken: BrokenChannel) -> StoreResult<bool>;

    /// Project ids the owner muted.
    async fn alert_mutes(&self, owner: Owner) -> StoreResult<Vec<i64>>;
    async fn set_alert_mute(&self, mute: AlertMute, audit: AuditEvent) -> StoreResult<()>;
    /// The shortest run (seconds) a *Runs finished* alert is sent for; 0 for any.
    async fn alert_min_run_secs(&self, owner: Owner) -> StoreResult<i64>;
    async fn set_alert_min_run_secs(
        &self,
        owner: Owner,
        secs: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;

    /// Writes each delivery with its job in one transaction; one already recorded (same
    /// dedup key) is skipped. Returns how many were new.
    async fn record_deliveries(&self, deliveries: Vec<NewDelivery>) -> StoreResult<usize>;
    /// A run's deliveries, oldest first, at most `limit`.
    async fn run_deliveries(&self, run_id: i64, limit: i64) -> StoreResult<Vec<Delivery>>;
    /// Whether an earlier delivery of the same run to the same owner and channel is still
    /// waiting (so this one waits its turn, keeping them in order).
    async fn earlier_delivery_waiting(&self, dedup_key: &str) -> StoreResult<bool>;
}
