//! Alert jobs. A run's change of state writes one [`RunEvent`] job in its own transaction;
//! its handler asks the [`AlertFanout`] (the services, which know people's switches) to
//! enqueue one delivery job per channel, each with its own idempotency key; the deliveries
//! run like any other job: a mail, a Slack message or a signed webhook POST.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::mail::Mailer;
use super::{Job, JobError, JobHandler, JobKind, Recipient};

/// A run reached a state people may be alerted about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEvent {
    /// `runs_finished`, `run_crashed` (failed or crashed) or `scriptable`.
    pub event: String,
    /// Filled in by the store from the transition that caused the job.
    #[serde(default)]
    pub run_id: i64,
    #[serde(default)]
    pub transition_id: i64,
    /// For `scriptable`: the accepted `run.alert()` (filled in by the store).
    #[serde(default)]
    pub alert_id: Option<i64>,
}

impl JobKind for RunEvent {
    const KIND: &'static str = "alert.run_event";
}

/// Turns one event into its deliveries (implemented by the services).
#[async_trait]
pub trait AlertFanout: Send + Sync + 'static {
    /// `seq` is the announcing job's id: the event's place among the run's events.
    async fn fan_out(&self, event: &RunEvent, seq: i64) -> Result<(), JobError>;
}

pub struct RunEventHandler(pub Arc<dyn AlertFanout>);

#[async_trait]
impl JobHandler for RunEventHandler {
    type Payload = RunEvent;

    async fn run(&self, event: RunEvent, job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.fan_out(&event, job.id).await
    }
}

/// What an alert says about a run, on any channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertMessage {
    pub event: String,
    /// `finished`, `failed` or `crashed`; `alert` for a `run.alert()`.
    pub state: String,
    pub run: String,
    pub run_id: String,
    pub project: String,
    pub entity: String,
    pub duration_secs: i64,
    pub exit_code: Option<i64>,
    pub run_url: String,
    /// A `run.alert()`: its title, text and level (`INFO`, `WARN`, `ERROR`).
    #[serde(default)]
    pub alert: Option<ScriptedAlert>,
}

/// One alert mail, with everything it says (the payload is cleared once it is sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAlertMail {
    #[serde(flatten)]
    pub recipient: Recipient,
    #[serde(flatten)]
    pub about: AlertMessage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptedAlert {
    pub title: String,
    pub text: String,
    pub level: String,
}

impl JobKind for RunAlertMail {
    const KIND: &'static str = "mail.run_alert";
}

/// An alert for a Slack or webhook channel (`alert_channels.id`); the URL stays sealed in
/// the channel's row, so the queue never holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAlert {
    pub channel_id: i64,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(flatten)]
    pub about: AlertMessage,
}

/// The same payload under the kind of each channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackAlert(pub ChannelAlert);
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAlert(pub ChannelAlert);

impl JobKind for SlackAlert {
    const KIND: &'static str = "alert.slack";
}

impl JobKind for WebhookAlert {
    const KIND: &'static str = "alert.webhook";
}

/// Tells a channel's owner that it stopped accepting alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelBrokenMail {
    #[serde(flatten)]
    pub recipient: Recipient,
    #[serde(default)]
    pub team: Option<String>,
    /// `Slack #channel` or the webhook's host.
    pub channel: String,
    pub reason: String,
    pub settings_url: String,
}

impl JobKind for ChannelBrokenMail {
    const KIND: &'static str = "mail.alert_channel_broken";
}

/// Sends channel alerts and keeps one run's alerts in order (implemented by the services,
/// which hold the channels and their sealed URLs).
#[async_trait]
pub trait AlertSender: Send + Sync + 'static {
    /// Err(wait_turn) while an earlier alert of the same run for the same owner and
    /// channel has not been delivered.
    async fn my_turn(&self, job: &Job) -> Result<(), JobError>;
    async fn send_slack(&self, alert: &ChannelAlert) -> Result<(), JobError>;
    async fn send_webhook(&self, alert: &ChannelAlert, delivery: &str) -> Result<(), JobError>;
}

pub struct RunAlertMailHandler(pub Arc<Mailer>, pub Arc<dyn AlertSender>);

#[async_trait]
impl JobHandler for RunAlertMailHandler {
    type Payload = RunAlertMail;
    const CLEARS_PAYLOAD: bool = true;

    async fn run(&self, mail: RunAlertMail, job: &Job, now: i64) -> Result<(), JobError> {
        self.1.my_turn(job).await?;
        self.0.send_job(mail, job, now).await
    }
}

pub struct SlackAlertHandler(pub Arc<dyn AlertSender>);

#[async_trait]
impl JobHandler for SlackAlertHandler {
    type Payload = SlackAlert;

    async fn run(&self, alert: SlackAlert, job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.my_turn(job).await?;
        self.0.send_slack(&alert.0).await
    }
}

pub struct WebhookAlertHandler(pub Arc<dyn AlertSender>);

#[async_trait]
impl JobHandler for WebhookAlertHandler {
    type Payload = WebhookAlert;

    async fn run(&self, alert: WebhookAlert, job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.my_turn(job).await?;
        let delivery = job.dedup_key.clone().unwrap_or_else(|| job.id.to_string());
        self.0.send_webhook(&alert.0, &delivery).await
    }
}
