//! Where alerts may go: the operator's Slack app, the hosts Slack webhook URLs may point at,
//! and the hosts a webhook may reach although they resolve to private addresses (tests and
//! intranets). Slack's own hosts are configuration so that tests point at a local stand-in
//! and the production code path stays the same.

use anyhow::bail;

use super::layers::Reader;

/// The alert keys and whether each is a secret.
pub(super) const KEYS: &[(&str, bool)] = &[
    ("slack_client_id", false),
    ("slack_client_secret", true),
    ("slack_url", false),
    ("slack_api_url", false),
    ("slack_webhook_hosts", false),
    ("webhook_allow_hosts", false),
    ("webhook_timeout_secs", false),
];

#[derive(Clone)]
pub struct AlertConfig {
    /// The operator's Slack app; without both, people paste an incoming-webhook URL.
    pub slack_client_id: Option<String>,
    pub slack_client_secret: Option<String>,
    /// Where Slack's OAuth page lives (`<slack_url>/oauth/v2/authorize`).
    pub slack_url: url::Url,
    /// Slack's Web API (`<slack_api_url>/oauth.v2.access`).
    pub slack_api_url: url::Url,
    /// Hosts a Slack webhook URL may name (`hooks.slack.com`); `host:port` for a stand-in.
    pub slack_webhook_hosts: Vec<String>,
    /// Hosts (`host` or `host:port`) a webhook may reach even on private addresses.
    pub webhook_allow_hosts: Vec<String>,
    pub webhook_timeout_secs: u64,
}

impl std::fmt::Debug for AlertConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertConfig")
            .field("slack_client_id", &self.slack_client_id)
            .field(
                "slack_client_secret",
                &self.slack_client_secret.as_ref().map(|_| "***"),
            )
            .field("slack_url", &self.slack_url.as_str())
            .field("slack_webhook_hosts", &self.slack_webhook_hosts)
            .field("webhook_allow_hosts", &self.webhook_allow_hosts)
            .finish_non_exhaustive()
    }
}

fn host_list(raw: Option<String>, default: &[&str]) -> Vec<String> {
    match raw {
        None => default.iter().map(|h| h.to_string()).collect(),
        Some(list) => list
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect(),
    }
}

pub(super) fn http_url(key: &str, raw: Option<String>, default: &str) -> anyhow::Result<url::Url> {
    let raw = raw.unwrap_or_else(|| default.to_string());
    let trimmed = raw.trim_end_matches('/');
    match url::Url::parse(&format!("{trimmed}/")) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        _ => bail!("configuration key `{key}` must be an http(s) URL, got {raw:?}"),
    }
}

/// An OAuth app's `<app>_client_id` and `<app>_client_secret`: both or neither.
pub(super) fn oauth_app(
    r: &Reader<'_>,
    app: &str,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let [id, secret] = ["client_id", "client_secret"].map(|part| {
        r.string(&format!("{app}_{part}"))
            .map(|v| v.filter(|s| !s.trim().is_empty()))
    });
    let (id, secret) = (id?, secret?);
    if id.is_some() != secret.is_some() {
        bail!("`{app}_client_id` and `{app}_client_secret` go together: set both or neither");
    }
    Ok((id, secret))
}

/// The http(s) URL under `key`, or `default`.
pub(super) fn url_at(r: &Reader<'_>, key: &str, default: &str) -> anyhow::Result<url::Url> {
    http_url(key, r.string(key)?, default)
}

impl AlertConfig {
    pub(super) fn read(r: &Reader<'_>) -> anyhow::Result<AlertConfig> {
        let (slack_client_id, slack_client_secret) = oauth_app(r, "slack")?;
        Ok(AlertConfig {
            slack_client_id,
            slack_client_secret,
            slack_url: url_at(r, "slack_url", "https://slack.com")?,
            slack_api_url: url_at(r, "slack_api_url", "https://slack.com/api")?,
            slack_webhook_hosts: host_list(r.string("slack_webhook_hosts")?, &["hooks.slack.com"]),
            webhook_allow_hosts: host_list(r.string("webhook_allow_hosts")?, &[]),
            webhook_timeout_secs: r.int("webhook_timeout_secs", 10, 1, 120)? as u64,
        })
    }

    /// Whether **Connect Slack** (OAuth) is offered.
    pub fn slack_app(&self) -> bool {
        self.slack_client_id.is_some()
    }
}
