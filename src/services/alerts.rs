//! Settings → Alerts: which events reach a person or a team on which channel. New accounts
//! get email for all three events and nothing else; a Slack or webhook channel is on for
//! every event once connected, and each switch can then be turned off.

use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode, StoreResult};
use crate::store::{AlertSetting, Owner};

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

    pub fn parse(raw: &str) -> Option<AlertChannel> {
        AlertChannel::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// One cell of the table: an event on a channel, and whether it can be switched on yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSwitch {
    pub event: AlertEvent,
    pub channel: AlertChannel,
    pub enabled: bool,
    /// Email always (for people); Slack and webhooks once connected and working.
    pub available: bool,
}

// Whose switches: a person's govern alerts about their own runs wherever they live; a
// team's govern its projects' runs on the team's own Slack and webhook.
impl Services {
    /// The person's whole Alerts table: every event × channel, stored value or default.
    pub async fn alert_switches(&self, actor: &Actor) -> Result<Vec<AlertSwitch>, ApiError> {
        Ok(self.switches(Owner::User(actor.user.id)).await?)
    }

    /// Whether `owner` gets `event` on `channel`.
    pub async fn alert_on(
        &self,
        owner: Owner,
        event: AlertEvent,
        channel: AlertChannel,
    ) -> Result<bool, ApiError> {
        let all = self.switches(owner).await?;
        Ok(all
            .iter()
            .any(|s| s.event == event && s.channel == channel && s.enabled))
    }

    /// Every event × channel of an owner. A connected channel is on by default (connecting
    /// it is asking for alerts there); email is on by default for people, and teams have none.
    pub async fn owner_switches(&self, owner: Owner) -> Result<Vec<AlertSwitch>, ApiError> {
        Ok(self.switches(owner).await?)
    }

    pub(crate) async fn switches(&self, owner: Owner) -> StoreResult<Vec<AlertSwitch>> {
        let stored = self.store.alert_settings(owner).await?;
        let connected = self.store.alert_channels(owner).await?;
        let usable = |channel: AlertChannel| match channel {
            AlertChannel::Email => matches!(owner, Owner::User(_)),
            other => connected
                .iter()
                .any(|c| c.spec.kind == other.as_str() && c.broken_at.is_none()),
        };
        let mut out = Vec::with_capacity(9);
        for event in AlertEvent::ALL {
            for channel in AlertChannel::ALL {
                let set = stored
                    .iter()
                    .find(|s| s.event == event.as_str() && s.channel == channel.as_str())
                    .map(|s| s.enabled);
                let available = usable(channel);
                out.push(AlertSwitch {
                    event,
                    channel,
                    enabled: available && set.unwrap_or(true),
                    available,
                });
            }
        }
        Ok(out)
    }

    /// Flips one of the person's switches.
    pub async fn set_alert_switch(
        &self,
        actor: &Actor,
        event: AlertEvent,
        channel: AlertChannel,
        enabled: bool,
    ) -> Result<Vec<AlertSwitch>, ApiError> {
        self.set_switch(actor, Owner::User(actor.user.id), (event, channel, enabled))
            .await
    }

    /// Flips one switch of `owner` (the caller has checked that the actor may).
    pub async fn set_switch(
        &self,
        actor: &Actor,
        owner: Owner,
        (event, channel, enabled): (AlertEvent, AlertChannel, bool),
    ) -> Result<Vec<AlertSwitch>, ApiError> {
        let now = self.switches(owner).await?;
        let available = now.iter().any(|s| s.channel == channel && s.available);
        if enabled && !available {
            return Err(ApiError::conflict(
                "channel",
                ErrorCode::AlertChannelNotConnected,
                format!("connect {} before sending alerts there", channel.as_str()),
            ));
        }
        let audit = actor.audit("alerts.update", owner.key())
            .with(serde_json::json!({ "event": event.as_str(), "channel": channel.as_str(), "enabled": enabled }));
        let setting = AlertSetting {
            event: event.as_str().to_string(),
            channel: channel.as_str().to_string(),
            enabled,
        };
        self.store.set_alert_setting(owner, setting, audit).await?;
        Ok(self.switches(owner).await?)
    }
}
