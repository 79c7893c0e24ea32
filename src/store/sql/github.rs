//! Personal GitHub integration.

use async_trait::async_trait;

use super::{audited, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::github::{GithubLink, GithubStore};
use crate::store::rows::team_cols;
use crate::store::{AuditEvent, Team};

const LINK: &Sql = sql!(
    "SELECT user_id, github_id, login, avatar_url, token_sealed, orgs, connected_at, checked_at
     FROM github_links WHERE user_id = $1"
);
const ORG_TEAMS: &Sql = sql!(
    "SELECT ",
    team_cols!(),
    ", g.org_lower FROM team_github_orgs g JOIN teams t ON t.entity_id = g.team_id
      JOIN entities e ON e.id = t.entity_id ORDER BY e.name_lower"
);

fn orgs_json(orgs: &[String]) -> String {
    serde_json::to_string(orgs).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl<B: Backend> GithubStore for SqlStore<B> {
    async fn github_link(&self, user_id: i64) -> StoreResult<Option<GithubLink>> {
        self.read_opt(LINK, (user_id,)).await
    }

    async fn put_github_link(&self, l: GithubLink, audit: AuditEvent) -> StoreResult<()> {
        let orgs = orgs_json(&l.orgs);
        work!(self, tx, |c| {
            c.execute(
                sql!("INSERT INTO github_links (user_id, github_id, login, avatar_url, token_sealed, orgs, connected_at, checked_at)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                      ON CONFLICT (user_id) DO UPDATE SET github_id = excluded.github_id, login = excluded.login,
                        avatar_url = excluded.avatar_url, token_sealed = excluded.token_sealed, orgs = excluded.orgs,
                        connected_at = excluded.connected_at, checked_at = excluded.checked_at"),
                &[&l.user_id, &l.github_id, &l.login, &l.avatar_url, &l.token_sealed, &orgs, &l.connected_at],
            )
            .await?;
            audited(c, &audit, None, l.connected_at).await
        })
    }

    async fn refresh_github_orgs(
        &self,
        user_id: i64,
        orgs: &[String],
        now: i64,
    ) -> StoreResult<()> {
        self.write_one(
            sql!("UPDATE github_links SET orgs = $1, checked_at = $2 WHERE user_id = $3"),
            (orgs_json(orgs), now, user_id),
        )
        .await?;
        Ok(())
    }

    async fn delete_github_link(&self, user_id: i64, audit: AuditEvent) -> StoreResult<bool> {
        let change = sql!("DELETE FROM github_links WHERE user_id = $1");
        self.write_if_changed(change, (user_id,), audit, crate::now_ms())
            .await
    }

    async fn team_github_org(&self, team_id: i64) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = self
            .read_opt(
                sql!("SELECT org_lower FROM team_github_orgs WHERE team_id = $1"),
                (team_id,),
            )
            .await?;
        Ok(row.map(|(o,)| o))
    }

    async fn set_team_github_org(
        &self,
        team_id: i64,
        org: Option<String>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let now = crate::now_ms();
        work!(self, tx, |c| {
            match &org {
                Some(org) => {
                    c.execute(
                        sql!("INSERT INTO team_github_orgs (team_id, org_lower, updated_at) VALUES ($1, $2, $3)
                              ON CONFLICT (team_id) DO UPDATE SET org_lower = excluded.org_lower, updated_at = excluded.updated_at"),
                        &[&team_id, org, &now],
                    )
                    .await?
                }
                None => {
                    c.execute(
                        sql!("DELETE FROM team_github_orgs WHERE team_id = $1"),
                        &[&team_id],
                    )
                    .await?
                }
            };
            audited(c, &audit, None, now).await
        })
    }

    async fn github_org_teams(&self, orgs: &[String]) -> StoreResult<Vec<(Team, String)>> {
        // Few teams name an organization: all are read and matched here, the same text
        // for both dialects (no array parameters).
        let all: Vec<(Team, String)> = self.read_all(ORG_TEAMS, ()).await?;
        Ok(all
            .into_iter()
            .filter(|(_, org)| orgs.contains(org))
            .collect())
    }
}
