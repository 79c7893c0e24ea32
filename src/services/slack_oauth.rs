//! **Connect Slack** with the operator's Slack app: OAuth v2 with the `incoming-webhook`
//! scope. Slack's page lets the person pick a channel; the callback exchanges the code
//! (`oauth.v2.access`) for that channel's webhook URL, which is stored like a pasted one.
//!
//! The `state` parameter carries who asked (owner and project), an expiry and an HMAC over
//! them and the browser session that started the flow, so a callback forged or replayed in
//! another session is refused.

use base64::Engine;
use subtle::ConstantTimeEq;

use super::alert_channels::ChannelTarget;
use super::{Actor, AuthMethod, RequestMeta, Services};
use crate::error::{ApiError, ErrorCode};

const STATE_PURPOSE: &str = "slack_oauth_state";
const STATE_TTL_MS: i64 = 10 * 60 * 1000;
pub const CALLBACK_PATH: &str = "/api/v1/alerts/slack/callback";

/// Where the flow came from, to send the person back there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlackFlow {
    pub team: Option<String>,
    pub project: Option<String>,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn unb64(s: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    String::from_utf8(raw).ok()
}

fn session_of(actor: &Actor) -> Result<i64, ApiError> {
    match actor.auth {
        AuthMethod::Session { session_id, .. } => Ok(session_id),
        _ => Err(ApiError::bad_request(
            ErrorCode::SlackStateInvalid,
            "Connect Slack from the web app, signed in",
        )),
    }
}

fn state_invalid() -> ApiError {
    ApiError::bad_request(
        ErrorCode::SlackStateInvalid,
        "this Slack sign-in link is not valid any more; start Connect Slack again",
    )
}

impl Services {
    fn state_mac(&self, actor: &Actor, session: i64, body: &str) -> String {
        let msg = format!("{}.{session}.{body}", actor.user.id);
        let mac = self.links.mac(STATE_PURPOSE, &msg);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    }

    fn slack_app(&self) -> Result<(&str, &str), ApiError> {
        let a = &self.config.alerts;
        match (&a.slack_client_id, &a.slack_client_secret) {
            (Some(id), Some(secret)) => Ok((id, secret)),
            _ => Err(ApiError::conflict(
                "slack",
                ErrorCode::SlackNotConfigured,
                "this server has no Slack app; paste an incoming-webhook URL instead",
            )),
        }
    }

    fn slack_redirect_uri(&self) -> String {
        self.config
            .public_url
            .join(CALLBACK_PATH.trim_start_matches('/'))
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Slack's authorize URL for this person (and team, checked now and again on return).
    pub async fn slack_authorize_url(
        &self,
        actor: &Actor,
        flow: &SlackFlow,
    ) -> Result<url::Url, ApiError> {
        let (client_id, _) = self.slack_app()?;
        let session = session_of(actor)?;
        self.acting_owner(actor, flow.team.as_deref()).await?;
        let exp = crate::now_ms() + STATE_TTL_MS;
        let body = format!(
            "{exp}.{}.{}",
            b64(flow.team.as_deref().unwrap_or("")),
            b64(flow.project.as_deref().unwrap_or(""))
        );
        let state = format!("{body}.{}", self.state_mac(actor, session, &body));
        let mut url = self
            .config
            .alerts
            .slack_url
            .join("oauth/v2/authorize")
            .map_err(|_| ApiError::internal())?;
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("scope", "incoming-webhook")
            .append_pair("redirect_uri", &self.slack_redirect_uri())
            .append_pair("state", &state);
        Ok(url)
    }

    /// Checks `state` for this session; the flow it started.
    pub fn slack_flow(&self, actor: &Actor, state: &str) -> Result<SlackFlow, ApiError> {
        let session = session_of(actor)?;
        let (body, mac) = state.rsplit_once('.').ok_or_else(state_invalid)?;
        let want = self.state_mac(actor, session, body);
        if !bool::from(want.as_bytes().ct_eq(mac.as_bytes())) {
            return Err(state_invalid());
        }
        let mut parts = body.splitn(3, '.');
        let (Some(exp), Some(team), Some(project)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(state_invalid());
        };
        if exp.parse::<i64>().map_or(true, |exp| exp < crate::now_ms()) {
            return Err(state_invalid());
        }
        let some = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(SlackFlow {
            team: some(unb64(team)),
            project: some(unb64(project)),
        })
    }

    /// The callback: exchanges the code and connects the channel Slack's page chose.
    pub async fn finish_slack_connect(
        &self,
        actor: &Actor,
        flow: &SlackFlow,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let (client_id, client_secret) = self.slack_app()?;
        let redirect = self.slack_redirect_uri();
        let form = [
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
        ];
        let installed = crate::notify::slack::oauth_access(
            &self.outbound,
            &self.config.alerts.slack_api_url,
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
        self.connect_alert_channel(
            actor,
            flow.team.as_deref(),
            flow.project.as_deref(),
            target,
            meta,
        )
        .await?;
        Ok(())
    }
}
