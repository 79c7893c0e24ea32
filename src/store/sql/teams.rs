//! Entities, teams, memberships and roles, the default team and service accounts.

use async_trait::async_trait;

use super::accounts::USER_BY_ID;
use super::{audited, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::{ErrorCode, StoreError, StoreResult};
use crate::store::rows::{team_cols, user_cols};
use crate::store::*;

const TEAM_BY_ID: &Sql = sql!(
    "SELECT ",
    team_cols!(),
    " FROM teams t JOIN entities e ON e.id = t.entity_id WHERE e.id = $1"
);

/// PostgreSQL locks the team's row for the rest of the transaction, so membership checks
/// and changes on several instances queue up; SQLite's single writer already does.
pub(super) async fn lock_team<C: Exec>(c: &mut C, team_id: i64) -> StoreResult<()> {
    c.execute(
        sql!(pg: "SELECT entity_id FROM teams WHERE entity_id = $1 FOR UPDATE", lite: ""),
        &[&team_id],
    )
    .await?;
    Ok(())
}

pub(super) async fn role_of<C: Exec>(
    c: &mut C,
    team_id: i64,
    user_id: i64,
) -> StoreResult<Option<String>> {
    let role: Option<(String,)> = c
        .opt(
            sql!("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2"),
            &[&team_id, &user_id],
        )
        .await?;
    Ok(role.map(|(r,)| r))
}

async fn admin_count<C: Exec>(c: &mut C, team_id: i64) -> StoreResult<i64> {
    let (n,): (i64,) = c
        .one(
            sql!(
                "SELECT COUNT(*) FROM team_members m JOIN users u ON u.id = m.user_id
                  WHERE m.team_id = $1 AND m.role = 'admin' AND u.deleted_at IS NULL"
            ),
            &[&team_id],
        )
        .await?;
    Ok(n)
}

pub(super) async fn insert_member<C: Exec>(
    c: &mut C,
    team_id: i64,
    user_id: i64,
    role: &str,
    now: i64,
) -> StoreResult<()> {
    c.execute(
        sql!(
            "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)"
        ),
        &[&team_id, &user_id, &role, &now],
    )
    .await?;
    Ok(())
}

/// Refuses a change that would leave the team without an admin.
async fn keep_an_admin<C: Exec>(
    c: &mut C,
    team_id: i64,
    current: &str,
    new: Option<&str>,
) -> StoreResult<()> {
    if current == "admin" && new != Some("admin") && admin_count(c, team_id).await? <= 1 {
        return Err(StoreError::Refused(ErrorCode::LastTeamAdmin));
    }
    Ok(())
}

const ENTITY_BY_NAME: &Sql =
    sql!("SELECT id, name, kind, user_id FROM entities WHERE name_lower = $1");
const ENTITY_BY_ID: &Sql = sql!("SELECT id, name, kind, user_id FROM entities WHERE id = $1");
const UPDATE_TEAM: &Sql = sql!(
    "UPDATE teams SET description = $1, join_policy = $2, email_domain = $3 WHERE entity_id = $4"
);
const TEAM_MEMBERS: &Sql = sql!(
    "SELECT ",
    user_cols!(),
    ", m.role, m.created_at, u.description FROM team_members m JOIN users u ON u.id = m.user_id
      WHERE m.team_id = $1 AND u.deleted_at IS NULL ORDER BY m.created_at, u.id"
);
const USER_TEAMS: &Sql = sql!(
    "SELECT ",
    team_cols!(),
    ", m.role FROM team_members m JOIN teams t ON t.entity_id = m.team_id
      JOIN entities e ON e.id = t.entity_id WHERE m.user_id = $1 ORDER BY e.name_lower"
);
const DOMAIN_TEAMS: &Sql = sql!("SELECT ", team_cols!(), " FROM teams t JOIN entities e ON e.id = t.entity_id
      WHERE t.email_domain = $1 AND t.join_policy IN ('DOMAIN_DIRECT', 'DOMAIN_REQUEST') ORDER BY e.name_lower");
const SET_DEFAULT_ENTITY: &Sql = sql!("UPDATE users SET default_entity_id = $1 WHERE id = $2");
const SET_HIDE_TEAMS: &Sql = sql!("UPDATE users SET hide_teams = $1 WHERE id = $2");

#[async_trait]
impl<B: Backend> TeamStore for SqlStore<B> {
    async fn entity_by_name(&self, name: &str) -> StoreResult<Option<Entity>> {
        self.read_opt(ENTITY_BY_NAME, (name.to_lowercase(),)).await
    }

    async fn entity_by_id(&self, id: i64) -> StoreResult<Option<Entity>> {
        self.read_opt(ENTITY_BY_ID, (id,)).await
    }

    async fn create_team(&self, team: NewTeam, audit: AuditEvent) -> StoreResult<Team> {
        let NewTeam {
            name,
            description,
            admin_id,
            created_by,
        } = team;
        work!(self, tx, |c| {
            let now = crate::now_ms();
            let (id,): (i64,) = c
                .one(
                    sql!("INSERT INTO entities (name, name_lower, kind, user_id, created_at) VALUES ($1, $2, 'team', NULL, $3) RETURNING id"),
                    &[&name, &name.to_lowercase(), &now],
                )
                .await?;
            c.execute(
                sql!("INSERT INTO teams (entity_id, description, join_policy, created_by, created_at) VALUES ($1, $2, 'INVITE', $3, $4)"),
                &[&id, &description, &created_by, &now],
            )
            .await?;
            insert_member(c, id, admin_id, "admin", now).await?;
            let team = c.one(TEAM_BY_ID, &[&id]).await?;
            audited(c, &audit, None, now).await?;
            Ok(team)
        })
    }

    async fn team_by_id(&self, id: i64) -> StoreResult<Option<Team>> {
        self.read_opt(TEAM_BY_ID, (id,)).await
    }

    async fn update_team(&self, team: Team, audit: AuditEvent) -> StoreResult<()> {
        self.write_audited(
            UPDATE_TEAM,
            (
                team.description,
                team.join_policy,
                team.email_domain,
                team.id,
            ),
            audit,
        )
        .await
    }

    async fn delete_team(&self, team_id: i64, audit: AuditEvent) -> StoreResult<()> {
        // Service accounts go with their team (users.service_team_id cascades).
        self.write_audited(
            sql!("DELETE FROM entities WHERE id = $1 AND kind = 'team'"),
            (team_id,),
            audit,
        )
        .await
    }

    async fn team_members(&self, team_id: i64) -> StoreResult<Vec<Membership>> {
        self.read_all(TEAM_MEMBERS, (team_id,)).await
    }

    async fn member_role(&self, team_id: i64, user_id: i64) -> StoreResult<Option<String>> {
        work!(self.0, read, |c| { role_of(c, team_id, user_id).await })
    }

    async fn user_teams(&self, user_id: i64) -> StoreResult<Vec<(Team, String)>> {
        self.read_all(USER_TEAMS, (user_id,)).await
    }

    async fn domain_teams(&self, domain: &str) -> StoreResult<Vec<Team>> {
        self.read_all(DOMAIN_TEAMS, (domain.to_lowercase(),)).await
    }

    async fn add_member(&self, seat: Seat, audit: AuditEvent) -> StoreResult<()> {
        work!(self, tx, |c| {
            let now = crate::now_ms();
            lock_team(c, seat.team_id).await?;
            if role_of(c, seat.team_id, seat.user_id).await?.is_some() {
                return Err(StoreError::Refused(ErrorCode::AlreadyMember));
            }
            insert_member(c, seat.team_id, seat.user_id, &seat.role, now).await?;
            audited(c, &audit, None, now).await
        })
    }

    async fn set_member_role(&self, seat: Seat, audit: AuditEvent) -> StoreResult<()> {
        let Seat {
            team_id,
            user_id,
            role,
        } = seat;
        work!(self, tx, |c| {
            lock_team(c, team_id).await?;
            let current = role_of(c, team_id, user_id)
                .await?
                .ok_or(StoreError::Refused(ErrorCode::NotTeamMember))?;
            keep_an_admin(c, team_id, &current, Some(&role)).await?;
            c.execute(
                sql!("UPDATE team_members SET role = $1 WHERE team_id = $2 AND user_id = $3"),
                &[&role, &team_id, &user_id],
            )
            .await?;
            audited(c, &audit, None, crate::now_ms()).await
        })
    }

    async fn remove_member(
        &self,
        team_id: i64,
        user_id: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        work!(self, tx, |c| {
            lock_team(c, team_id).await?;
            let Some(current) = role_of(c, team_id, user_id).await? else {
                return Ok(false);
            };
            keep_an_admin(c, team_id, &current, None).await?;
            c.execute(
                sql!("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2"),
                &[&team_id, &user_id],
            )
            .await?;
            c.execute(
                sql!("UPDATE users SET default_entity_id = NULL WHERE id = $1 AND default_entity_id = $2"),
                &[&user_id, &team_id],
            )
            .await?;
            audited(c, &audit, None, crate::now_ms()).await?;
            Ok(true)
        })
    }

    async fn set_default_entity(
        &self,
        user_id: i64,
        entity_id: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write_audited(SET_DEFAULT_ENTITY, (entity_id, user_id), audit)
            .await
    }

    async fn set_hide_teams(&self, user_id: i64, hide: bool, audit: AuditEvent) -> StoreResult<()> {
        self.write_audited(SET_HIDE_TEAMS, (hide, user_id), audit)
            .await
    }

    async fn create_service_account(
        &self,
        account: NewServiceAccount,
        audit: AuditEvent,
    ) -> StoreResult<User> {
        let NewServiceAccount {
            team_id,
            user,
            description,
        } = account;
        work!(self, tx, |c| {
            let now = crate::now_ms();
            let (id,): (i64,) = c
                .one(
                    sql!("INSERT INTO users (username, username_lower, email, email_lower, name, is_admin, account_type, created_at, service_team_id, description)
                          VALUES ($1, $2, $3, $4, $5, FALSE, 'SERVICE', $6, $7, $8) RETURNING id"),
                    &[&user.username, &user.username.to_lowercase(), &user.email, &user.email.to_lowercase(),
                      &user.name, &now, &team_id, &description],
                )
                .await?;
            insert_member(c, team_id, id, "member", now).await?;
            let created = c.one(USER_BY_ID, &[&id]).await?;
            audited(c, &audit, None, now).await?;
            Ok(created)
        })
    }
}
