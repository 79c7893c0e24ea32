//! Settings → Alerts: which events reach a person on which channel. New accounts get email
//! for all three events and nothing else. Slack and webhooks turn on once connected (the
//! connections arrive with the rest of issue #10); until then only email can be on.

use super::{Actor, RequestMeta, Services};
use crate::error::{ApiError, ErrorCode};
use crate::store::AlertSetting;

/// The events of W&B's Alerts table, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertEvent {
    RunsFinished,
    RunCrashed,
    Scriptable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertChannel {
    Email,
    Slack,
    Webhook,
}

impl AlertEvent {
    pub fn parse(raw: &str) -> Option<AlertEvent> {
        AlertEvent::ALL.into_iter().find(|e| e.as_str() == raw)
    }

    pub const ALL: [AlertEvent; 3] = [
        AlertEvent::RunsFinished,
        AlertEvent::RunCrashed,
        AlertEvent::Scriptable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertEvent::RunsFinished => "runs_finished",
            AlertEvent::RunCrashed => "run_crashed",
            AlertEvent::Scriptable => "scriptable",
        }
    }
}

impl AlertChannel {
    pub const ALL: [AlertChannel; 3] = [
        AlertChannel::Email,
        AlertChannel::Slack,
        AlertChannel::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertChannel::Email => "email",
            AlertChannel::Slack => "slack",
            AlertChannel::Webhook => "webhook",
        }
    }

    /// On for new accounts: email only.
    pub fn default_on(self) -> bool {
        self == AlertChannel::Email
    }
}

/// One cell of the table: an event on a channel, and whether it can be switched on yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSwitch {
    pub event: AlertEvent,
    pub channel: AlertChannel,
    pub enabled: bool,
    /// Email always; Slack and webhooks once connected.
    pub available: bool,
}

impl Services {
    /// The person's whole Alerts table: every event × channel, stored value or default.
    pub async fn alert_switches(&self, actor: &Actor) -> Result<Vec<AlertSwitch>, ApiError> {
        self.switches_of(actor.user.id).await
    }

    /// Whether `user_id` gets `event` on `channel`.
    pub async fn alert_on(
        &self,
        user_id: i64,
        event: AlertEvent,
        channel: AlertChannel,
    ) -> Result<bool, ApiError> {
        let all = self.switches_of(user_id).await?;
        Ok(all
            .iter()
            .any(|s| s.event == event && s.channel == channel && s.enabled))
    }

    async fn switches_of(&self, user_id: i64) -> Result<Vec<AlertSwitch>, ApiError> {
        let stored = self.store.alert_settings(user_id).await?;
        let mut out = Vec::with_capacity(9);
        for event in AlertEvent::ALL {
            for channel in AlertChannel::ALL {
                let set = stored
                    .iter()
                    .find(|s| s.event == event.as_str() && s.channel == channel.as_str())
                    .map(|s| s.enabled);
                let available = channel == AlertChannel::Email;
                let enabled = available && set.unwrap_or(channel.default_on());
                out.push(AlertSwitch {
                    event,
                    channel,
                    enabled,
                    available,
                });
            }
        }
        Ok(out)
    }

    /// Flips one switch; a channel that is not connected cannot be switched on.
    pub async fn set_alert_switch(
        &self,
        actor: &Actor,
        event: AlertEvent,
        channel: AlertChannel,
        enabled: bool,
        meta: &RequestMeta,
    ) -> Result<Vec<AlertSwitch>, ApiError> {
        if enabled && channel != AlertChannel::Email {
            return Err(ApiError::conflict(
                "channel",
                ErrorCode::AlertChannelNotConnected,
                format!("connect {} before sending alerts there", channel.as_str()),
            ));
        }
        let event_name = event.as_str();
        let audit = meta
            .audit(actor, "alerts.update", &actor.user.username)
            .with(serde_json::json!({ "event": event_name, "channel": channel.as_str(), "enabled": enabled }));
        let setting = AlertSetting {
            event: event_name.to_string(),
            channel: channel.as_str().to_string(),
            enabled,
        };
        self.store
            .set_alert_setting(actor.user.id, setting, audit)
            .await?;
        self.alert_switches(actor).await
    }
}
