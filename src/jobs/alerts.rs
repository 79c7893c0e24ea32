//! Alert jobs. A run's change of state writes one [`RunEvent`] job in its own transaction;
//! its handler asks the [`AlertFanout`] (the services, which know people's switches) to
//! enqueue one delivery job per channel, each with its own idempotency key; the deliveries
//! run like any other job. Mail is the channel here; Slack and webhooks join the same way.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::mail::Mailer;
use super::{Job, JobError, JobHandler, JobKind};

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
    async fn fan_out(&self, event: &RunEvent) -> Result<(), JobError>;
}

pub struct RunEventHandler(pub Arc<dyn AlertFanout>);

#[async_trait]
impl JobHandler for RunEventHandler {
    fn kind(&self) -> &'static str {
        RunEvent::KIND
    }

    async fn run(&self, job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.fan_out(&RunEvent::from_job(job)?).await
    }
}

/// One alert mail, with everything it says (the payload is cleared once it is sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAlertMail {
    pub to: String,
    #[serde(default)]
    pub language: Option<String>,
    pub name: String,
    pub event: String,
    /// `finished`, `failed` or `crashed`.
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptedAlert {
    pub title: String,
    pub text: String,
    pub level: String,
}

impl JobKind for RunAlertMail {
    const KIND: &'static str = "mail.run_alert";
}

pub struct RunAlertMailHandler(pub Arc<Mailer>);

#[async_trait]
impl JobHandler for RunAlertMailHandler {
    fn kind(&self) -> &'static str {
        RunAlertMail::KIND
    }

    fn clear_payload_when_done(&self) -> bool {
        true
    }

    async fn run(&self, job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.send_run_alert(job).await
    }
}
