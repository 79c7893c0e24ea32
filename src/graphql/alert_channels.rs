//! Alert channels over GraphQL: the Slack and webhook channels of the signed-in person or
//! (for its admins) a team, muted projects and the minimum run duration.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};

use super::nodes::iso;
use super::{signed_in, IntoGql, Res};
use crate::services::alert_channels::{ChannelTarget, ChannelView};

#[derive(SimpleObject)]
#[graphql(name = "AlertChannel")]
pub struct ChannelNode {
    id: ID,
    /// `slack` or `webhook`.
    kind: String,
    /// `entity/project` when this channel takes one project's alerts instead of the
    /// owner's default channel.
    project: Option<String>,
    /// The URL's host and last characters; the URL itself is never shown again.
    hint: String,
    slack_team: Option<String>,
    slack_channel: Option<String>,
    /// Why it stopped (Slack said `channel_is_archived`, …); alerts no longer go there.
    broken_reason: Option<String>,
    broken_at: Option<String>,
    created_at: String,
}

impl From<ChannelView> for ChannelNode {
    fn from(v: ChannelView) -> Self {
        ChannelNode {
            id: ID(v.id.to_string()),
            kind: v.kind,
            project: v.project,
            hint: v.hint,
            slack_team: v.slack_team,
            slack_channel: v.slack_channel,
            broken_reason: v.broken_reason,
            broken_at: v.broken_at.map(iso),
            created_at: iso(v.created_at),
        }
    }
}

#[derive(SimpleObject)]
pub struct AlertRouting {
    channels: Vec<ChannelNode>,
    /// Projects (`entity/project`) that send this owner no alerts.
    muted_projects: Vec<String>,
    /// Runs shorter than this send no *Runs finished*.
    min_run_seconds: i64,
    /// Whether **Connect Slack** (the operator's Slack app) is offered.
    slack_app: bool,
}

#[derive(Default)]
pub struct AlertChannelQuery;

#[Object]
impl AlertChannelQuery {
    /// The signed-in person's (or a team's) alert channels and routing.
    async fn alert_routing(&self, ctx: &Context<'_>, team: Option<String>) -> Res<AlertRouting> {
        let (rc, actor) = signed_in(ctx)?;
        let s = &rc.services;
        let channels = s.alert_channels(actor, team.as_deref()).await.gql()?;
        let (muted_projects, min_run_seconds) =
            s.alert_prefs(actor, team.as_deref()).await.gql()?;
        Ok(AlertRouting {
            channels: channels.into_iter().map(ChannelNode::from).collect(),
            muted_projects,
            min_run_seconds,
            slack_app: s.config.alerts.slack_app(),
        })
    }
}

#[derive(InputObject)]
pub struct ConnectAlertChannelInput {
    /// A Slack incoming-webhook URL, or an https URL for a signed webhook.
    url: String,
    team: Option<String>,
    /// `entity/project`: take only this project's alerts there.
    project: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateAlertWebhookPayload {
    channel: ChannelNode,
    /// The HMAC-SHA256 signing secret, shown this once.
    signing_secret: String,
}

#[derive(InputObject)]
pub struct DisconnectAlertChannelInput {
    id: ID,
    team: Option<String>,
}

#[derive(InputObject)]
pub struct MuteAlertProjectInput {
    /// `entity/project`.
    project: String,
    muted: bool,
    team: Option<String>,
}

#[derive(InputObject)]
pub struct AlertMinRunInput {
    seconds: i64,
    team: Option<String>,
}

#[derive(Default)]
pub struct AlertChannelMutation;

#[Object]
impl AlertChannelMutation {
    /// Connects a pasted Slack incoming-webhook URL.
    async fn connect_slack_webhook(
        &self,
        ctx: &Context<'_>,
        input: ConnectAlertChannelInput,
    ) -> Res<ChannelNode> {
        Ok(connect(ctx, "slack", input).await?.0)
    }

    /// Adds a signed webhook; its signing secret is in this answer only.
    async fn create_alert_webhook(
        &self,
        ctx: &Context<'_>,
        input: ConnectAlertChannelInput,
    ) -> Res<CreateAlertWebhookPayload> {
        let (channel, secret) = connect(ctx, "webhook", input).await?;
        Ok(CreateAlertWebhookPayload {
            channel,
            signing_secret: secret.unwrap_or_default(),
        })
    }

    async fn disconnect_alert_channel(
        &self,
        ctx: &Context<'_>,
        input: DisconnectAlertChannelInput,
    ) -> Res<bool> {
        let (rc, actor) = signed_in(ctx)?;
        let id: i64 = input.id.parse().unwrap_or(-1);
        rc.services
            .disconnect_alert_channel(actor, input.team.as_deref(), id)
            .await
            .gql()?;
        Ok(true)
    }

    async fn mute_alert_project(
        &self,
        ctx: &Context<'_>,
        input: MuteAlertProjectInput,
    ) -> Res<bool> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services
            .set_project_muted(actor, input.team.as_deref(), &input.project, input.muted)
            .await
            .gql()?;
        Ok(input.muted)
    }

    async fn set_alert_min_run_seconds(
        &self,
        ctx: &Context<'_>,
        input: AlertMinRunInput,
    ) -> Res<i64> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services
            .set_min_run_secs(actor, input.team.as_deref(), input.seconds)
            .await
            .gql()?;
        Ok(input.seconds)
    }
}

/// Connects a pasted URL as a channel of `kind`; a webhook's signing secret comes back once.
async fn connect(
    ctx: &Context<'_>,
    kind: &'static str,
    input: ConnectAlertChannelInput,
) -> Res<(ChannelNode, Option<String>)> {
    let (rc, actor) = signed_in(ctx)?;
    let target = ChannelTarget {
        kind,
        url: input.url,
        slack_team: None,
        slack_channel: None,
    };
    let (view, secret) = rc
        .services
        .connect_alert_channel(
            actor,
            input.team.as_deref(),
            input.project.as_deref(),
            target,
        )
        .await
        .gql()?;
    Ok((view.into(), secret))
}
