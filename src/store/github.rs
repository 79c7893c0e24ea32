//! Personal GitHub integration: each person's connected GitHub account, and the GitHub
//! organization whose members may join a team.

use async_trait::async_trait;

use super::{AuditEvent, Team};
use crate::error::StoreResult;

/// A connected GitHub account. The token is sealed (`crate::sealed`).
#[derive(Clone, PartialEq, Eq)]
pub struct GithubLink {
    pub user_id: i64,
    pub github_id: i64,
    pub login: String,
    pub avatar_url: String,
    pub token_sealed: String,
    /// The organizations granted at the last check, lower case.
    pub orgs: Vec<String>,
    pub connected_at: i64,
    pub checked_at: i64,
}

impl std::fmt::Debug for GithubLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubLink")
            .field("user_id", &self.user_id)
            .field("login", &self.login)
            .field("orgs", &self.orgs)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait GithubStore: Send + Sync {
    async fn github_link(&self, user_id: i64) -> StoreResult<Option<GithubLink>>;
    /// Connects (or reconnects) a person's GitHub account. `Conflict("github_account")`
    /// when that GitHub account is connected to someone else.
    async fn put_github_link(&self, link: GithubLink, audit: AuditEvent) -> StoreResult<()>;
    /// The organizations seen at a later check.
    async fn refresh_github_orgs(&self, user_id: i64, orgs: &[String], now: i64)
        -> StoreResult<()>;
    /// Whether there was a link to remove.
    async fn delete_github_link(&self, user_id: i64, audit: AuditEvent) -> StoreResult<bool>;
    async fn team_github_org(&self, team_id: i64) -> StoreResult<Option<String>>;
    /// Sets (`Some`, lower case) or clears a team's organization.
    async fn set_team_github_org(
        &self,
        team_id: i64,
        org: Option<String>,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// The teams admitting members of any of `orgs`, with the organization.
    async fn github_org_teams(&self, orgs: &[String]) -> StoreResult<Vec<(Team, String)>>;
}
