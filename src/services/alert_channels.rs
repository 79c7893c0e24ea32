//! Connecting and disconnecting alert channels (a Slack incoming webhook, a signed webhook),
//! muting a project and the shortest run worth a *Runs finished*, for the signed-in person
//! or, by its admins, for a team. URLs and signing secrets are sealed before they are
//! stored and never shown again; Settings sees a hint (host and last four characters).

use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::store::{AlertChannelRow, AlertMute, ChannelSpec, NewAlertChannel, Owner};

/// Purposes of sealed values (`crate::sealed`): a value sealed for one opens for no other.
pub(crate) const SEAL_URL: &str = "alert_channel.url";
pub(crate) const SEAL_SECRET: &str = "alert_channel.secret";
const URL_MAX: usize = 2048;
const MIN_RUN_SECS_MAX: i64 = 7 * 24 * 3600;

/// A channel as Settings shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelView {
    pub id: i64,
    pub kind: String,
    /// `entity/project` of a re-routed project; none for all projects.
    pub project: Option<String>,
    pub hint: String,
    pub slack_team: Option<String>,
    pub slack_channel: Option<String>,
    pub broken_reason: Option<String>,
    pub broken_at: Option<i64>,
    pub created_at: i64,
}

/// What a new channel is: a Slack webhook (from OAuth or pasted) or a signed webhook.
pub struct ChannelTarget {
    pub kind: &'static str,
    pub url: String,
    pub slack_team: Option<String>,
    pub slack_channel: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::validation("url", ErrorCode::AlertChannelInvalid, message)
}

/// `hooks.slack.com/…WXYZ`: enough to recognise a URL, too little to use it.
fn hint(url: &url::Url) -> String {
    // The last characters of the last path segment only: a Slack URL's team and bot ids
    // and most of its token stay out of sight, as a card number's do.
    let last = url
        .path_segments()
        .and_then(|mut s| s.rfind(|seg| !seg.is_empty()))
        .unwrap_or("");
    let skip = last.chars().count().saturating_sub(4);
    let tail: String = last.chars().skip(skip).collect();
    format!("{}/…/{tail}", url.host_str().unwrap_or(""))
}

/// The host of a URL with its port when it is not the scheme's default.
fn host_port(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

impl Services {
    /// The owner the actor acts for: themselves, or a team they administer.
    pub async fn acting_owner(&self, actor: &Actor, team: Option<&str>) -> Result<Owner, ApiError> {
        match team.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(Owner::User(actor.user.id)),
            Some(name) => Ok(Owner::Team(self.managed_team(actor, name).await?.id)),
        }
    }

    /// A project the owner may route: for a team one of its projects, for a person one
    /// they can see. Named `entity/project`.
    async fn routed_project(
        &self,
        actor: &Actor,
        owner: Owner,
        path: &str,
    ) -> Result<i64, ApiError> {
        let not_found = || {
            ApiError::not_found(
                ErrorCode::ProjectNotFound,
                format!("there is no project {path} you can see"),
            )
        };
        let (entity, project) = path.split_once('/').ok_or_else(not_found)?;
        let (entity, project) = self
            .project_for(actor, Some(entity), project)
            .await?
            .ok_or_else(not_found)?;
        if let Owner::Team(team_id) = owner {
            if entity.id != team_id {
                return Err(ApiError::validation(
                    "project",
                    ErrorCode::ProjectNotFound,
                    format!("{path} is not a project of this team"),
                ));
            }
        }
        Ok(project.id)
    }

    async fn view(&self, row: AlertChannelRow) -> Result<ChannelView, ApiError> {
        let spec = row.spec;
        let project = match spec.project_id {
            0 => None,
            id => self
                .store
                .project_by_id(id)
                .await?
                .map(|p| format!("{}/{}", p.entity_name, p.name)),
        };
        Ok(ChannelView {
            id: row.id,
            kind: spec.kind,
            project,
            hint: spec.hint,
            slack_team: spec.slack_team,
            slack_channel: spec.slack_channel,
            broken_reason: row.broken_reason,
            broken_at: row.broken_at,
            created_at: row.created_at,
        })
    }

    pub async fn alert_channels(
        &self,
        actor: &Actor,
        team: Option<&str>,
    ) -> Result<Vec<ChannelView>, ApiError> {
        let owner = self.acting_owner(actor, team).await?;
        let mut out = Vec::new();
        for row in self.store.alert_channels(owner).await? {
            out.push(self.view(row).await?);
        }
        Ok(out)
    }

    /// Checks a URL a person gave for a channel of `kind`.
    fn checked_url(&self, kind: &str, raw: &str) -> Result<url::Url, ApiError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > URL_MAX {
            return Err(invalid(format!(
                "give a URL of at most {URL_MAX} characters"
            )));
        }
        let url = url::Url::parse(raw).map_err(|_| invalid("this is not a URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("the URL must not contain a user name or password"));
        }
        let alerts = &self.config.alerts;
        if kind == "slack" {
            let host = host_port(&url);
            let bare = url.host_str().unwrap_or("").to_ascii_lowercase();
            let listed = alerts
                .slack_webhook_hosts
                .iter()
                .any(|h| *h == host || *h == bare);
            if !listed || !url.path().starts_with("/services/") {
                return Err(invalid(format!(
                    "a Slack incoming-webhook URL starts with https://{}/services/",
                    alerts
                        .slack_webhook_hosts
                        .first()
                        .map_or("hooks.slack.com", |h| h.as_str())
                )));
            }
            let exempt = alerts.slack_webhook_hosts.contains(&host);
            if url.scheme() != "https" && !exempt {
                return Err(invalid("a Slack webhook URL starts with https://"));
            }
            return Ok(url);
        }
        self.outbound.check_target(&url).map_err(invalid)?;
        let exempt = alerts
            .webhook_allow_hosts
            .iter()
            .any(|h| *h == host_port(&url) || Some(h.as_str()) == url.host_str());
        if url.scheme() != "https" && !exempt {
            return Err(invalid("a webhook URL starts with https://"));
        }
        Ok(url)
    }

    /// Connects a channel; it replaces the owner's channel of the same kind (for the same
    /// project). A webhook gets a fresh signing secret, returned only here.
    pub async fn connect_alert_channel(
        &self,
        actor: &Actor,
        team: Option<&str>,
        project: Option<&str>,
        target: ChannelTarget,
    ) -> Result<(ChannelView, Option<String>), ApiError> {
        let owner = self.acting_owner(actor, team).await?;
        let project_id = match project.map(str::trim).filter(|p| !p.is_empty()) {
            Some(path) => self.routed_project(actor, owner, path).await?,
            None => 0,
        };
        let url = self.checked_url(target.kind, &target.url)?;
        let seal = |purpose, value: &str| {
            self.sealer.seal(purpose, value).map_err(|e| {
                tracing::error!(error = %e, "cannot seal an alert channel secret");
                ApiError::internal()
            })
        };
        let secret = (target.kind == "webhook")
            .then(|| format!("whsec_{}", crate::keys::random_token().as_str()));
        let spec = ChannelSpec {
            kind: target.kind.to_string(),
            project_id,
            url_sealed: seal(SEAL_URL, url.as_str())?,
            secret_sealed: secret
                .as_deref()
                .map(|s| seal(SEAL_SECRET, s))
                .transpose()?,
            hint: hint(&url),
            slack_team: target.slack_team,
            slack_channel: target.slack_channel,
        };
        let row = NewAlertChannel {
            owner,
            spec,
            created_by: actor.user.id,
            now: crate::now_ms(),
        };
        let audit = actor.audit("alerts.channel.connect", owner.key())
            .with(serde_json::json!({ "kind": target.kind, "project_id": project_id, "host": url.host_str() }));
        let row = self.store.connect_alert_channel(row, audit).await?;
        Ok((self.view(row).await?, secret))
    }

    /// **Disconnect**: the channel and its sealed URL are deleted.
    pub async fn disconnect_alert_channel(
        &self,
        actor: &Actor,
        team: Option<&str>,
        id: i64,
    ) -> Result<(), ApiError> {
        let owner = self.acting_owner(actor, team).await?;
        let missing = || {
            ApiError::not_found(
                ErrorCode::AlertChannelNotFound,
                "there is no such alert channel",
            )
        };
        let row = self.store.alert_channel(id).await?.ok_or_else(missing)?;
        if row.owner != owner.key() {
            return Err(missing());
        }
        let audit = actor
            .audit("alerts.channel.disconnect", owner.key())
            .with(serde_json::json!({ "kind": row.spec.kind, "project_id": row.spec.project_id }));
        self.store.disconnect_alert_channel(id, audit).await?;
        Ok(())
    }

    /// Muted projects (`entity/project`) and the minimum run duration of an owner.
    pub async fn alert_prefs(
        &self,
        actor: &Actor,
        team: Option<&str>,
    ) -> Result<(Vec<String>, i64), ApiError> {
        let owner = self.acting_owner(actor, team).await?;
        let mut muted = Vec::new();
        for id in self.store.alert_mutes(owner).await? {
            if let Some(p) = self.store.project_by_id(id).await? {
                muted.push(format!("{}/{}", p.entity_name, p.name));
            }
        }
        Ok((muted, self.store.alert_min_run_secs(owner).await?))
    }

    pub async fn set_project_muted(
        &self,
        actor: &Actor,
        team: Option<&str>,
        project: &str,
        muted: bool,
    ) -> Result<(), ApiError> {
        let owner = self.acting_owner(actor, team).await?;
        let project_id = self.routed_project(actor, owner, project.trim()).await?;
        let audit = actor
            .audit("alerts.project.mute", owner.key())
            .with(serde_json::json!({ "project_id": project_id, "muted": muted }));
        self.store
            .set_alert_mute(
                AlertMute {
                    owner,
                    project_id,
                    muted,
                },
                audit,
            )
            .await?;
        Ok(())
    }

    pub async fn set_min_run_secs(
        &self,
        actor: &Actor,
        team: Option<&str>,
        secs: i64,
    ) -> Result<(), ApiError> {
        if !(0..=MIN_RUN_SECS_MAX).contains(&secs) {
            return Err(ApiError::validation(
                "minRunSeconds",
                ErrorCode::RunFieldInvalid,
                format!("the minimum run duration is between 0 and {MIN_RUN_SECS_MAX} seconds"),
            ));
        }
        let owner = self.acting_owner(actor, team).await?;
        let audit = actor
            .audit("alerts.min_duration", owner.key())
            .with(serde_json::json!({ "secs": secs }));
        self.store
            .set_alert_min_run_secs(owner, secs, audit)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hint_shows_the_host_and_the_last_four_characters_only() {
        let slack =
            url::Url::parse("https://hooks.slack.com/services/T0AB/B0CD/xYz123secret9").unwrap();
        assert_eq!(super::hint(&slack), "hooks.slack.com/…/ret9");
        let short = url::Url::parse("https://example.com/ok/").unwrap();
        assert_eq!(super::hint(&short), "example.com/…/ok");
    }
}
