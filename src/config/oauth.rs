//! An OAuth app the operator registered with a provider (Slack for alerts, GitHub for the
//! Personal GitHub integration) and where the provider lives: its public host by default,
//! an Enterprise host, or a local stand-in in tests. The production code path is the same.

use anyhow::bail;

use super::layers::Reader;
use super::Secret;

/// The GitHub keys and whether each is a secret (`github_client_secret_file` works too).
/// Slack's are among the alert keys (`super::alerts::KEYS`).
pub(super) const GITHUB_KEYS: &[(&str, bool)] = &[
    ("github_client_id", false),
    ("github_client_secret", true),
    ("github_url", false),
    ("github_api_url", false),
];

#[derive(Clone, Debug)]
pub struct OauthApp {
    /// The app; without both, Settings explains how to enable what it offers.
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// The provider's web host (its authorize page, links people follow).
    pub url: url::Url,
    /// The provider's API (`https://slack.com/api`, `https://api.github.com`, or
    /// `https://HOST/api/v3` on GitHub Enterprise).
    pub api_url: url::Url,
}

impl OauthApp {
    /// `<app>_client_id` and `<app>_client_secret` (both or neither), `<app>_url` and
    /// `<app>_api_url` with their defaults.
    pub(super) fn read(
        r: &Reader<'_>,
        app: &str,
        (url, api_url): (&str, &str),
    ) -> anyhow::Result<OauthApp> {
        let [id, secret] = ["client_id", "client_secret"].map(|part| {
            r.string(&format!("{app}_{part}"))
                .map(|v| v.filter(|s| !s.trim().is_empty()))
        });
        let (client_id, client_secret) = (id?, secret?);
        if client_id.is_some() != client_secret.is_some() {
            bail!("`{app}_client_id` and `{app}_client_secret` go together: set both or neither");
        }
        let url_at = |key: String, default| http_url(&key, r.string(&key)?, default);
        Ok(OauthApp {
            client_id,
            client_secret: client_secret.map(Secret::new),
            url: url_at(format!("{app}_url"), url)?,
            api_url: url_at(format!("{app}_api_url"), api_url)?,
        })
    }

    /// The app's id and secret, when the operator registered one.
    pub fn app(&self) -> Option<(&str, &str)> {
        self.client_id
            .as_deref()
            .zip(self.client_secret.as_ref().map(Secret::expose))
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
