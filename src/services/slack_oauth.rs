//! **Connect Slack** with the operator's Slack app: OAuth v2 with the `incoming-webhook`
//! scope. Slack's page lets the person pick a channel; the callback exchanges the code
//! (`oauth.v2.access`) for that channel's webhook URL, which is stored like a pasted one.
//!
//! The `state` parameter carries who asked (owner and project), an expiry and an HMAC over
//! them and the browser session that started the flow, so a callback forged or replayed in
//! another session is refused.

use super::alert_channels::ChannelTarget;
use super::oauth_state::OauthFlow;
use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};

pub const CALLBACK_PATH: &str = "/api/v1/alerts/slack/callback";

const FLOW: OauthFlow = OauthFlow {
    purpose: "slack_oauth_state",
    invalid: state_invalid,
};

/// Where the flow came from, to send the person back there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlackFlow {
    pub team: Option<String>,
    pub project: Option<String>,
}

fn state_invalid() -> ApiError {
    ApiError::bad_request(
        ErrorCode::SlackStateInvalid,
        "this Slack sign-in link is not valid any more; start Connect Slack again (from the web app, signed in)",
    )
}

impl Services {
    fn slack_app(&self) -> Result<(&str, &str), ApiError> {
        match self.config.alerts.slack.app() {
            Some(app) => Ok(app),
            None => Err(ApiError::conflict(
                "slack",
                ErrorCode::SlackNotConfigured,
                "this server has no Slack app; paste an incoming-webhook URL instead",
            )),
        }
    }

    /// Slack's authorize URL for this person (and team, checked now and again on return).
    pub async fn slack_authorize_url(
        &self,
        actor: &Actor,
        flow: &SlackFlow,
    ) -> Result<url::Url, ApiError> {
        let (client_id, _) = self.slack_app()?;
        self.acting_owner(actor, flow.team.as_deref()).await?;
        let fields = [
            flow.team.as_deref().unwrap_or(""),
            flow.project.as_deref().unwrap_or(""),
        ];
        let state = self.sign_oauth_state(&FLOW, actor, &fields)?;
        let mut url = self
            .config
            .alerts
            .slack
            .url
            .join("oauth/v2/authorize")
            .map_err(|_| ApiError::internal())?;
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("scope", "incoming-webhook")
            .append_pair("redirect_uri", &self.oauth_callback(CALLBACK_PATH))
            .append_pair("state", &state);
        Ok(url)
    }

    /// Checks `state` for this session; the flow it started.
    pub fn slack_flow(&self, actor: &Actor, state: &str) -> Result<SlackFlow, ApiError> {
        let mut fields = self.open_oauth_state(&FLOW, actor, state, 2)?.into_iter();
        let mut next = || fields.next().filter(|s| !s.is_empty());
        Ok(SlackFlow {
            team: next(),
            project: next(),
        })
    }

    /// The callback: exchanges the code and connects the channel Slack's page chose.
    pub async fn finish_slack_connect(
        &self,
        actor: &Actor,
        flow: &SlackFlow,
        code: &str,
    ) -> Result<(), ApiError> {
        let (client_id, client_secret) = self.slack_app()?;
        let redirect = self.oauth_callback(CALLBACK_PATH);
        let form = [
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
        ];
        let installed = crate::notify::slack::oauth_access(
            &self.outbound,
            &self.config.alerts.slack.api_url,
            &form,
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e.message, "Slack's oauth.v2.access failed");
            ApiError::bad_request(
                ErrorCode::SlackConnectFailed,
                format!("Slack did not connect: {}", e.message),
            )
        })?;
        let target = ChannelTarget {
            kind: "slack",
            url: installed.webhook_url,
            slack_team: Some(installed.team).filter(|t| !t.is_empty()),
            slack_channel: Some(installed.channel).filter(|c| !c.is_empty()),
        };
        self.connect_alert_channel(actor, flow.team.as_deref(), flow.project.as_deref(), target)
            .await?;
        Ok(())
    }
}
