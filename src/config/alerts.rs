//! Where alerts may go: the operator's Slack app, the hosts Slack webhook URLs may point at,
//! and the hosts a webhook may reach although they resolve to private addresses (tests and
//! intranets). Slack's own hosts are configuration so that tests point at a local stand-in
//! and the production code path stays the same.

use super::layers::Reader;
use super::oauth::OauthApp;

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

#[derive(Clone, Debug)]
pub struct AlertConfig {
    /// The operator's Slack app; without it, people paste an incoming-webhook URL.
    /// `url`: where Slack's OAuth page lives (`<url>/oauth/v2/authorize`); `api_url`: its
    /// Web API (`<api_url>/oauth.v2.access`).
    pub slack: OauthApp,
    /// Hosts a Slack webhook URL may name (`hooks.slack.com`); `host:port` for a stand-in.
    pub slack_webhook_hosts: Vec<String>,
    /// Hosts (`host` or `host:port`) a webhook may reach even on private addresses.
    pub webhook_allow_hosts: Vec<String>,
    pub webhook_timeout_secs: u64,
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

impl AlertConfig {
    pub(super) fn read(r: &Reader<'_>) -> anyhow::Result<AlertConfig> {
        let slack = ("https://slack.com", "https://slack.com/api");
        Ok(AlertConfig {
            slack: OauthApp::read(r, "slack", slack)?,
            slack_webhook_hosts: host_list(r.string("slack_webhook_hosts")?, &["hooks.slack.com"]),
            webhook_allow_hosts: host_list(r.string("webhook_allow_hosts")?, &[]),
            webhook_timeout_secs: r.int("webhook_timeout_secs", 10, 1, 120)? as u64,
        })
    }

    /// Whether **Connect Slack** (OAuth) is offered.
    pub fn slack_app(&self) -> bool {
        self.slack.app().is_some()
    }
}
