//! Settings → Alerts over GraphQL: the signed-in person's switches and flipping one.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};

use super::runs::RunPathInput;
use super::scalars::Duration;
use super::{acting, signed_in, IntoGql, Res};
use crate::services::alert_delivery::ScriptableAlert;
use crate::services::alerts::{AlertChannel, AlertEvent, AlertSwitch};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AlertEventKind")]
pub enum EventKind {
    RunsFinished,
    RunCrashed,
    ScriptableRunAlerts,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AlertChannelKind")]
pub enum ChannelKind {
    Email,
    Slack,
    Webhook,
}

impl From<EventKind> for AlertEvent {
    fn from(e: EventKind) -> Self {
        match e {
            EventKind::RunsFinished => AlertEvent::RunsFinished,
            EventKind::RunCrashed => AlertEvent::RunCrashed,
            EventKind::ScriptableRunAlerts => AlertEvent::Scriptable,
        }
    }
}

impl From<AlertEvent> for EventKind {
    fn from(e: AlertEvent) -> Self {
        match e {
            AlertEvent::RunsFinished => EventKind::RunsFinished,
            AlertEvent::RunCrashed => EventKind::RunCrashed,
            AlertEvent::Scriptable => EventKind::ScriptableRunAlerts,
        }
    }
}

impl From<ChannelKind> for AlertChannel {
    fn from(c: ChannelKind) -> Self {
        match c {
            ChannelKind::Email => AlertChannel::Email,
            ChannelKind::Slack => AlertChannel::Slack,
            ChannelKind::Webhook => AlertChannel::Webhook,
        }
    }
}

impl From<AlertChannel> for ChannelKind {
    fn from(c: AlertChannel) -> Self {
        match c {
            AlertChannel::Email => ChannelKind::Email,
            AlertChannel::Slack => ChannelKind::Slack,
            AlertChannel::Webhook => ChannelKind::Webhook,
        }
    }
}

/// One cell of the Alerts table.
#[derive(SimpleObject)]
#[graphql(name = "AlertSwitch")]
pub(crate) struct SwitchNode {
    event: EventKind,
    channel: ChannelKind,
    enabled: bool,
    /// Whether it can be switched on: email always, the others once connected.
    available: bool,
}

pub(crate) fn nodes(switches: Vec<AlertSwitch>) -> Vec<SwitchNode> {
    switches
        .into_iter()
        .map(|s| SwitchNode {
            event: s.event.into(),
            channel: s.channel.into(),
            enabled: s.enabled,
            available: s.available,
        })
        .collect()
}

#[derive(Default)]
pub struct AlertQuery;

#[Object]
impl AlertQuery {
    /// The signed-in person's Alerts table: every event on every channel.
    async fn alert_switches(
        &self,
        ctx: &Context<'_>,
        team: Option<String>,
    ) -> Res<Vec<SwitchNode>> {
        let (rc, _, owner) = acting(ctx, team.as_deref()).await?;
        Ok(nodes(rc.services.owner_switches(owner).await.gql()?))
    }
}

#[derive(InputObject)]
pub struct UpdateAlertSwitchInput {
    event: EventKind,
    channel: ChannelKind,
    enabled: bool,
    /// A team's switch (team admins); none for the signed-in person's.
    team: Option<String>,
}

/// `run.alert(level=…)`.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum AlertSeverity {
    Info,
    Warn,
    Error,
}

impl AlertSeverity {
    fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Info => "INFO",
            AlertSeverity::Warn => "WARN",
            AlertSeverity::Error => "ERROR",
        }
    }
}

#[derive(InputObject)]
pub struct NotifyScriptableRunAlertInput {
    #[graphql(flatten)]
    run: RunPathInput,
    title: String,
    text: String,
    severity: Option<AlertSeverity>,
    /// Milliseconds during which the same title on the same run is not sent again.
    wait_duration: Option<Duration>,
}

#[derive(SimpleObject)]
pub struct NotifyScriptableRunAlertPayload {
    /// True when the alert was accepted (not throttled).
    success: bool,
}

#[derive(Default)]
pub struct AlertMutation;

#[Object]
impl AlertMutation {
    /// `run.alert()`: throttled per run and title for `waitDuration`, then delivered as the
    /// run's person asked in Settings → Alerts.
    async fn notify_scriptable_run_alert(
        &self,
        ctx: &Context<'_>,
        input: NotifyScriptableRunAlertInput,
    ) -> Res<NotifyScriptableRunAlertPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let alert = ScriptableAlert {
            title: input.title,
            text: input.text,
            level: input
                .severity
                .unwrap_or(AlertSeverity::Info)
                .as_str()
                .to_string(),
            wait_ms: input.wait_duration.map(|d| d.0),
        };
        let success = rc
            .services
            .notify_scriptable_alert(actor, input.run.path(), alert)
            .await
            .gql()?;
        Ok(NotifyScriptableRunAlertPayload { success })
    }

    /// Flips one switch; answers the whole table.
    async fn update_alert_switch(
        &self,
        ctx: &Context<'_>,
        input: UpdateAlertSwitchInput,
    ) -> Res<Vec<SwitchNode>> {
        let (rc, actor, owner) = acting(ctx, input.team.as_deref()).await?;
        let change = (input.event.into(), input.channel.into(), input.enabled);
        let switches = rc.services.set_switch(actor, owner, change).await.gql()?;
        Ok(nodes(switches))
    }
}
