//! GitHub's OAuth and REST API, as far as the Personal GitHub integration uses them: the
//! code exchange (whose errors come back as HTTP 200 with an `error` field), who the token
//! belongs to, their organizations, and revoking the app's grant. Hosts come from
//! `config.github`, so tests talk to a local stand-in through this same code.

use reqwest::Method;
use serde::Deserialize;

use super::http::Outbound;
use crate::config::OauthApp;

/// GitHub answers are small, but a person may be in many organizations.
const ANSWER_MAX: usize = 1024 * 1024;
const ORGS_PAGE: usize = 100;
/// Organizations read at most (10 pages): enough for anyone, bounded for the server.
const ORGS_MAX: usize = 1000;

/// Why a GitHub call failed: GitHub's own error code when it gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubError {
    /// `bad_verification_code`, `incorrect_client_credentials`, `bad_credentials` (a revoked
    /// token), `unreachable`, `unexpected`, …
    pub code: String,
    pub message: String,
}

impl GithubError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        GithubError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GithubUser {
    /// The numeric id: logins can be renamed, the id never changes.
    pub id: i64,
    pub login: String,
    #[serde(default)]
    pub avatar_url: String,
    #[serde(default)]
    pub html_url: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct Org {
    login: String,
}

/// The headers GitHub's REST API asks for.
fn api_headers(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {token}")),
        ("accept", "application/vnd.github+json".to_string()),
        ("x-github-api-version", "2022-11-28".to_string()),
    ]
}

fn endpoint(base: &url::Url, path: &str) -> Result<url::Url, GithubError> {
    base.join(path)
        .map_err(|_| GithubError::new("unexpected", "the GitHub URL is not valid"))
}

pub struct Github<'a> {
    pub out: &'a Outbound,
    pub config: &'a OauthApp,
}

impl Github<'_> {
    async fn send(
        &self,
        method: Method,
        url: &url::Url,
        headers: &[(&'static str, String)],
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<super::http::Answer, GithubError> {
        self.out
            .send_trusted(method, url, headers, body, ANSWER_MAX)
            .await
            .map_err(|e| GithubError::new("unreachable", format!("GitHub: {}", e.message)))
    }

    /// An answer of the REST API: its JSON, or the error GitHub gave.
    async fn api<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<T, GithubError> {
        let url = endpoint(&self.config.api_url, path)?;
        let answer = self
            .send(Method::GET, &url, &api_headers(token), None)
            .await?;
        match answer.status.as_u16() {
            200 => serde_json::from_str(&answer.body)
                .map_err(|_| GithubError::new("unexpected", "GitHub answered something else")),
            401 => Err(GithubError::new(
                "bad_credentials",
                "GitHub no longer accepts this connection; connect again",
            )),
            status => Err(GithubError::new(
                "unexpected",
                format!("GitHub answered {status} to {path}"),
            )),
        }
    }

    /// Exchanges the callback's code for a token (`Accept: application/json`; errors come
    /// with status 200 and an `error` field).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<String, GithubError> {
        let (id, secret) = self
            .config
            .app()
            .ok_or_else(|| GithubError::new("not_configured", "no GitHub app"))?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", id)
            .append_pair("client_secret", secret)
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .finish();
        let url = endpoint(&self.config.url, "login/oauth/access_token")?;
        let headers = [("accept", "application/json".to_string())];
        let body = Some(("application/x-www-form-urlencoded", form.into_bytes()));
        let answer = self.send(Method::POST, &url, &headers, body).await?;
        if !answer.status.is_success() {
            return Err(GithubError::new(
                "unexpected",
                format!(
                    "GitHub answered {} to the code exchange",
                    answer.status.as_u16()
                ),
            ));
        }
        let parsed: TokenAnswer = serde_json::from_str(&answer.body)
            .map_err(|_| GithubError::new("unexpected", "GitHub answered something else"))?;
        match (parsed.access_token, parsed.error) {
            (Some(token), None) if !token.is_empty() => Ok(token),
            (_, Some(code)) => {
                let message = parsed.error_description.unwrap_or_else(|| code.clone());
                Err(GithubError::new(&code, message))
            }
            _ => Err(GithubError::new("unexpected", "GitHub gave no token")),
        }
    }

    /// Who the token belongs to.
    pub async fn user(&self, token: &str) -> Result<GithubUser, GithubError> {
        self.api(token, "user").await
    }

    /// The organizations the person is in and granted the app (`read:org`), lower case.
    pub async fn organizations(&self, token: &str) -> Result<Vec<String>, GithubError> {
        let mut all = Vec::new();
        for page in 1..=ORGS_MAX / ORGS_PAGE {
            let path = format!("user/orgs?per_page={ORGS_PAGE}&page={page}");
            let orgs: Vec<Org> = self.api(token, &path).await?;
            let last = orgs.len() < ORGS_PAGE;
            all.extend(orgs.into_iter().map(|o| o.login.to_ascii_lowercase()));
            if last {
                break;
            }
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Revokes every token of the app for this person (`DELETE /applications/{id}/grant`).
    /// A grant the person already revoked on GitHub (404) counts as done.
    pub async fn revoke_grant(&self, token: &str) -> Result<(), GithubError> {
        let (id, secret) = self
            .config
            .app()
            .ok_or_else(|| GithubError::new("not_configured", "no GitHub app"))?;
        let url = endpoint(&self.config.api_url, &format!("applications/{id}/grant"))?;
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let headers = [
            ("authorization", format!("Basic {basic}")),
            ("accept", "application/vnd.github+json".to_string()),
            ("x-github-api-version", "2022-11-28".to_string()),
        ];
        let body = serde_json::json!({ "access_token": token }).to_string();
        let answer = self
            .send(
                Method::DELETE,
                &url,
                &headers,
                Some(("application/json", body.into_bytes())),
            )
            .await?;
        match answer.status.as_u16() {
            204 | 404 => Ok(()),
            status => Err(GithubError::new(
                "unexpected",
                format!("GitHub answered {status} when revoking the grant"),
            )),
        }
    }
}
