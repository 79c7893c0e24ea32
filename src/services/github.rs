//! Settings → Personal GitHub integration: **Connect Github** (GitHub's OAuth web flow with
//! `read:org`), the connected account and the organizations it granted, **Disconnect**
//! (revoking the app's grant), teams that admit the members of a GitHub organization, and
//! links from runs to their repository and commit on GitHub.

use serde_json::json;

use super::oauth_state::OauthFlow;
use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode, StoreError};
use crate::notify::github::{Github, GithubError};
use crate::store::{GithubLink, Team};

pub const CALLBACK_PATH: &str = "/api/v1/github/callback";
const SEAL_PURPOSE: &str = "github_token";

const FLOW: OauthFlow = OauthFlow {
    purpose: "github_oauth_state",
    invalid: state_invalid,
};

fn state_invalid() -> ApiError {
    ApiError::bad_request(
        ErrorCode::GithubStateInvalid,
        "this GitHub sign-in link is not valid any more; start Connect Github again (from the web app, signed in)",
    )
}

/// GitHub's error, as Fulcrum's stable code and a message that says what to do.
fn github_error(e: GithubError) -> ApiError {
    use axum::http::StatusCode;
    tracing::warn!(code = %e.code, message = %e.message, "a GitHub call failed");
    let (status, code, message) = match e.code.as_str() {
        "bad_verification_code" => (
            StatusCode::BAD_REQUEST,
            ErrorCode::GithubCodeInvalid,
            "GitHub's sign-in code was wrong or has expired; connect again".to_string(),
        ),
        "incorrect_client_credentials" | "redirect_uri_mismatch" | "application_suspended" => (
            StatusCode::CONFLICT,
            ErrorCode::GithubAppMisconfigured,
            format!(
                "the server's GitHub app is not set up right ({}); tell your administrator",
                e.code
            ),
        ),
        "bad_credentials" => (
            StatusCode::CONFLICT,
            ErrorCode::GithubNotConnected,
            "GitHub no longer accepts this connection; connect GitHub again".to_string(),
        ),
        // GitHub itself failed (down, or an answer we cannot read): a gateway error.
        _ => (
            StatusCode::BAD_GATEWAY,
            ErrorCode::GithubFailed,
            format!("GitHub did not answer as expected: {}", e.message),
        ),
    };
    ApiError::new(status, code, message)
}

/// What Settings shows: whether the server has a GitHub app, and the connected account.
#[derive(Debug, Clone)]
pub struct GithubStatus {
    pub configured: bool,
    pub link: Option<GithubLink>,
    /// GitHub's page for this app, where the person grants more organizations.
    pub grant_url: Option<String>,
    pub profile_url: Option<String>,
}

/// A GitHub organization login: letters, digits and single hyphens, at most 39.
fn org_name(raw: &str) -> Result<String, ApiError> {
    let org = raw.trim().to_ascii_lowercase();
    let ok = !org.is_empty()
        && org.len() <= 39
        && !org.starts_with('-')
        && !org.ends_with('-')
        && !org.contains("--")
        && org.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(org)
    } else {
        Err(ApiError::validation(
            "organization",
            ErrorCode::GithubOrgInvalid,
            "a GitHub organization name has letters, digits and single hyphens (at most 39)",
        ))
    }
}

impl Services {
    fn github(&self) -> Github<'_> {
        Github {
            out: &self.outbound,
            config: &self.config.github,
        }
    }

    fn require_github_app(&self) -> Result<(), ApiError> {
        match self.config.github.app() {
            Some(_) => Ok(()),
            None => Err(ApiError::conflict(
                "github",
                ErrorCode::GithubNotConfigured,
                "this server has no GitHub app; an administrator sets github_client_id and github_client_secret",
            )),
        }
    }

    /// GitHub's authorize page for this person, with a state bound to their session.
    pub fn github_authorize_url(&self, actor: &Actor) -> Result<url::Url, ApiError> {
        self.require_github_app()?;
        Self::require_person(actor)?;
        let state = self.sign_oauth_state(&FLOW, actor, &[])?;
        let mut url = self
            .config
            .github
            .url
            .join("login/oauth/authorize")
            .map_err(|_| ApiError::internal())?;
        url.query_pairs_mut()
            .append_pair(
                "client_id",
                self.config.github.client_id.as_deref().unwrap_or(""),
            )
            .append_pair("redirect_uri", &self.oauth_callback(CALLBACK_PATH))
            .append_pair("scope", "read:org")
            .append_pair("state", &state)
            .append_pair("allow_signup", "false");
        Ok(url)
    }

    /// Checks a callback's state for this session.
    pub fn check_github_state(&self, actor: &Actor, state: &str) -> Result<(), ApiError> {
        self.open_oauth_state(&FLOW, actor, state, 0).map(|_| ())
    }

    /// The callback: exchanges the code, reads who granted it and their organizations, and
    /// keeps the link with the token sealed.
    pub async fn finish_github_connect(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<GithubLink, ApiError> {
        self.require_github_app()?;
        let gh = self.github();
        let token = gh
            .exchange_code(code, &self.oauth_callback(CALLBACK_PATH))
            .await
            .map_err(github_error)?;
        let user = gh.user(&token).await.map_err(github_error)?;
        let orgs = gh.organizations(&token).await.map_err(github_error)?;
        let now = crate::now_ms();
        let link = GithubLink {
            user_id: actor.user.id,
            github_id: user.id,
            login: user.login,
            avatar_url: user.avatar_url,
            token_sealed: self
                .sealer
                .seal(SEAL_PURPOSE, &token)
                .map_err(|_| ApiError::internal())?,
            orgs,
            connected_at: now,
            checked_at: now,
        };
        let event = actor
            .audit("github.connect", actor.user.username.clone())
            .with(json!({ "github_login": link.login, "github_id": link.github_id }));
        match self.store.put_github_link(link.clone(), event).await {
            Ok(()) => Ok(link),
            Err(StoreError::Conflict(_)) => Err(ApiError::conflict(
                "github",
                ErrorCode::GithubAccountTaken,
                format!(
                    "the GitHub account {} is connected to another account here",
                    link.login
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn github_status(&self, actor: &Actor) -> Result<GithubStatus, ApiError> {
        let link = self.store.github_link(actor.user.id).await?;
        let base = &self.config.github.url;
        let grant_url = self
            .config
            .github
            .client_id
            .as_deref()
            .and_then(|id| {
                base.join(&format!("settings/connections/applications/{id}"))
                    .ok()
            })
            .map(String::from);
        let profile_url = link
            .as_ref()
            .and_then(|l| base.join(&l.login).ok())
            .map(String::from);
        Ok(GithubStatus {
            configured: self.config.github.app().is_some(),
            link,
            grant_url,
            profile_url,
        })
    }

    fn github_token(&self, link: &GithubLink) -> Result<zeroize::Zeroizing<String>, ApiError> {
        self.sealer
            .open(SEAL_PURPOSE, &link.token_sealed)
            .map_err(|_| ApiError::internal())
    }

    /// Revokes the app's grant on GitHub, then forgets the link. When GitHub cannot be
    /// reached the link stays, so the token is never left valid with no way to revoke it.
    pub async fn disconnect_github(&self, actor: &Actor) -> Result<(), ApiError> {
        let Some(link) = self.store.github_link(actor.user.id).await? else {
            return Err(ApiError::not_found(
                ErrorCode::GithubNotConnected,
                "no GitHub account is connected",
            ));
        };
        self.require_github_app()?;
        let token = self.github_token(&link)?;
        self.github()
            .revoke_grant(&token)
            .await
            .map_err(github_error)?;
        let event = actor
            .audit("github.disconnect", actor.user.username.clone())
            .with(json!({ "github_login": link.login }));
        self.store.delete_github_link(actor.user.id, event).await?;
        Ok(())
    }

    /// Revokes a link's grant on GitHub when an account is purged; failures are only logged
    /// (the row goes anyway, and the person may revoke the app on GitHub themselves).
    pub(super) async fn revoke_github_quietly(&self, link: &GithubLink) {
        if self.config.github.app().is_none() {
            return;
        }
        let Ok(token) = self.github_token(link) else {
            return;
        };
        if let Err(e) = self.github().revoke_grant(&token).await {
            tracing::warn!(code = %e.code, "a purged account's GitHub grant was not revoked");
        }
    }

    pub async fn team_github_org(&self, team_id: i64) -> Result<Option<String>, ApiError> {
        Ok(self.store.team_github_org(team_id).await?)
    }

    /// Lets the members of a GitHub organization join the team (team admins), or stops it.
    pub async fn set_team_github_org(
        &self,
        actor: &Actor,
        team_name: &str,
        org: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let team = self.managed_team(actor, team_name).await?;
        let org = org
            .filter(|o| !o.trim().is_empty())
            .map(org_name)
            .transpose()?;
        let event = actor
            .audit("team.github_org", team.name.clone())
            .with(json!({ "organization": org }));
        self.store
            .set_team_github_org(team.id, org.clone(), event)
            .await?;
        Ok(org)
    }

    /// Teams that admit members of the organizations the person's GitHub account granted
    /// at the last check (joining checks again).
    pub async fn github_joinable_teams(&self, user_id: i64) -> Result<Vec<Team>, ApiError> {
        let Some(link) = self.store.github_link(user_id).await? else {
            return Ok(vec![]);
        };
        if link.orgs.is_empty() {
            return Ok(vec![]);
        }
        let teams = self.store.github_org_teams(&link.orgs).await?;
        Ok(teams.into_iter().map(|(t, _)| t).collect())
    }

    /// Whether the person's GitHub account is in `org` now, asked of GitHub (the stored
    /// organizations are refreshed on the way).
    pub(crate) async fn github_member_of(&self, actor: &Actor, org: &str) -> Result<(), ApiError> {
        let Some(link) = self.store.github_link(actor.user.id).await? else {
            return Err(ApiError::forbidden(
                ErrorCode::GithubNotConnected,
                format!("connect your GitHub account first: this team admits members of the GitHub organization {org}"),
            ));
        };
        self.require_github_app()?;
        let token = self.github_token(&link)?;
        let orgs = self
            .github()
            .organizations(&token)
            .await
            .map_err(github_error)?;
        self.store
            .refresh_github_orgs(actor.user.id, &orgs, crate::now_ms())
            .await?;
        if orgs.iter().any(|o| o == org) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                ErrorCode::GithubNotInOrg,
                format!("your GitHub account {} is not in the organization {org}, or has not granted it to this server", link.login),
            ))
        }
    }

    /// The repository's page and the commit's page on GitHub, when the run's git remote is
    /// on this server's GitHub (credentials in the remote are never shown).
    pub fn github_web_links(
        &self,
        repo: &str,
        commit: Option<&str>,
    ) -> Option<(String, Option<String>)> {
        let host = self.config.github.url.host_str()?.to_ascii_lowercase();
        let path = repo_path(repo, &host)?;
        let base = &self.config.github.url;
        let repo_url = base.join(&path).ok()?;
        let commit_url = commit
            .filter(|c| (7..=40).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_hexdigit()))
            .and_then(|c| base.join(&format!("{path}/commit/{c}")).ok())
            .map(String::from);
        Some((repo_url.to_string(), commit_url))
    }
}

/// `owner/repo` of a git remote on `host`: `https://host/owner/repo(.git)`,
/// `git@host:owner/repo(.git)` or `ssh://git@host/owner/repo(.git)`.
fn repo_path(remote: &str, host: &str) -> Option<String> {
    let remote = remote.trim();
    let rest = if let Some(scp) = remote.strip_prefix("git@") {
        let (h, path) = scp.split_once(':')?;
        (h.eq_ignore_ascii_case(host) && !path.starts_with('/')).then_some(path)?
    } else {
        let url = url::Url::parse(remote).ok()?;
        if !matches!(url.scheme(), "https" | "http" | "ssh" | "git") {
            return None;
        }
        if !url.host_str()?.eq_ignore_ascii_case(host) {
            return None;
        }
        return parts(url.path());
    };
    parts(rest)
}

fn parts(path: &str) -> Option<String> {
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut it = path.split('/');
    let (owner, repo) = (it.next()?, it.next()?);
    let fine = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    (it.next().is_none() && fine(owner) && fine(repo)).then(|| format!("{owner}/{repo}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_on_github_become_paths_and_others_do_not() {
        let host = "github.com";
        for remote in [
            "https://github.com/acme/vision.git",
            "https://github.com/acme/vision",
            "https://ci-bot:ghp_secret@github.com/acme/vision.git",
            "git@github.com:acme/vision.git",
            "ssh://git@github.com/acme/vision.git",
            "https://GitHub.com/acme/vision/",
        ] {
            assert_eq!(
                repo_path(remote, host).as_deref(),
                Some("acme/vision"),
                "{remote}"
            );
        }
        for remote in [
            "https://gitlab.com/acme/vision.git",
            "git@gitlab.com:acme/vision.git",
            "https://github.com/acme",
            "https://github.com/acme/vision/tree/main",
            "https://github.com.evil.test/acme/vision",
            "file:///home/ada/vision",
            "javascript:alert(1)",
            "git@github.com:/etc/passwd",
        ] {
            assert_eq!(repo_path(remote, host), None, "{remote}");
        }
    }

    #[test]
    fn organization_names_follow_github_rules() {
        assert_eq!(org_name(" Acme-Labs ").unwrap(), "acme-labs");
        for bad in [
            "",
            "-acme",
            "acme-",
            "ac--me",
            "acme labs",
            "a/b",
            &"a".repeat(40),
        ] {
            assert!(org_name(bad).is_err(), "{bad}");
        }
    }
}
