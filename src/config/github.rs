//! The operator's GitHub OAuth App (Settings → Personal GitHub integration) and where GitHub
//! lives: github.com by default, a GitHub Enterprise Server, or a local stand-in in tests.
//! The production code path is the same for all three.

use super::alerts::{oauth_app, url_at};
use super::layers::Reader;

/// The GitHub keys and whether each is a secret (`github_client_secret_file` works too).
pub(super) const KEYS: &[(&str, bool)] = &[
    ("github_client_id", false),
    ("github_client_secret", true),
    ("github_url", false),
    ("github_api_url", false),
];

#[derive(Clone)]
pub struct GithubConfig {
    /// The OAuth App; without both, Settings explains how to enable the integration.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// GitHub's web host (`<github_url>/login/oauth/authorize`, repository links).
    pub url: url::Url,
    /// GitHub's REST API (`https://api.github.com`, or `https://HOST/api/v3` on Enterprise).
    pub api_url: url::Url,
}

impl std::fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("url", &self.url.as_str())
            .field("api_url", &self.api_url.as_str())
            .finish()
    }
}

impl GithubConfig {
    pub(super) fn read(r: &Reader<'_>) -> anyhow::Result<GithubConfig> {
        let (client_id, client_secret) = oauth_app(r, "github")?;
        Ok(GithubConfig {
            client_id,
            client_secret,
            url: url_at(r, "github_url", "https://github.com")?,
            api_url: url_at(r, "github_api_url", "https://api.github.com")?,
        })
    }

    /// The OAuth App's id and secret, when the operator registered one.
    pub fn app(&self) -> Option<(&str, &str)> {
        self.client_id.as_deref().zip(self.client_secret.as_deref())
    }
}
