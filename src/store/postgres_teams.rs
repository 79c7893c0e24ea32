//! `TeamStore` on PostgreSQL. Invariants that span rows (last admin, one pending
//! invitation) lock the team's membership rows first, so concurrent instances serialise.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::outbox::{enqueue_pg, NewJob};
use super::postgres::{insert_audit, map_err, user_from, PgStore, USER_COLUMNS};
use super::teams::*;
use super::{AuditEvent, NewUser, User};
use crate::error::{ErrorCode, StoreError, StoreResult};
use crate::keys::KeyHash;

const TEAM_COLUMNS: &str =
    "e.id, e.name, t.description, t.join_policy, t.email_domain, t.created_at";
const INVITE_COLUMNS: &str = "i.id, i.team_id, e.name, i.kind, i.email_lower, i.user_id, i.role, i.invited_by, i.created_at, i.expires_at, i.resolved_at, i.resolution";

fn team_from(r: &Row) -> Team {
    Team {
        id: r.get(0),
        name: r.get(1),
        description: r.get(2),
        join_policy: r.get(3),
        email_domain: r.get(4),
        created_at: r.get(5),
    }
}

fn invite_from(r: &Row) -> Invite {
    Invite {
        id: r.get(0),
        team_id: r.get(1),
        team_name: r.get(2),
        kind: r.get(3),
        email: r.get(4),
        user_id: r.get(5),
        role: r.get(6),
        invited_by: r.get(7),
        created_at: r.get(8),
        expires_at: r.get(9),
        resolved_at: r.get(10),
        resolution: r.get(11),
    }
}

fn entity_from(r: &Row) -> Entity {
    Entity {
        id: r.get(0),
        name: r.get(1),
        is_team: r.get::<_, String>(2) == "team",
        user_id: r.get(3),
    }
}

/// Locks the team's membership rows for the rest of the transaction.
async fn lock_team(c: &impl GenericClient, team_id: i64) -> StoreResult<()> {
    c.execute(
        "SELECT entity_id FROM teams WHERE entity_id = $1 FOR UPDATE",
        &[&team_id],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn admin_count(c: &impl GenericClient, team_id: i64) -> StoreResult<i64> {
    let row = c
        .query_one(
            "SELECT COUNT(*) FROM team_members m JOIN users u ON u.id = m.user_id
             WHERE m.team_id = $1 AND m.role = 'admin' AND u.deleted_at IS NULL",
            &[&team_id],
        )
        .await
        .map_err(map_err)?;
    Ok(row.get(0))
}

async fn role_of(
    c: &impl GenericClient,
    team_id: i64,
    user_id: i64,
) -> StoreResult<Option<String>> {
    let row = c
        .query_opt(
            "SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2",
            &[&team_id, &user_id],
        )
        .await
        .map_err(map_err)?;
    Ok(row.map(|r| r.get(0)))
}

async fn insert_member(
    c: &impl GenericClient,
    team_id: i64,
    user_id: i64,
    role: &str,
    now: i64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        &[&team_id, &user_id, &role, &now],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl TeamStore for PgStore {
    async fn entity_by_name(&self, name: &str) -> StoreResult<Option<Entity>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT id, name, kind, user_id FROM entities WHERE name_lower = $1")
            .await
            .map_err(map_err)?;
        let row = c
            .query_opt(&stmt, &[&name.to_lowercase()])
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| entity_from(&r)))
    }

    async fn entity_by_id(&self, id: i64) -> StoreResult<Option<Entity>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT id, name, kind, user_id FROM entities WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| entity_from(&r)))
    }

    async fn create_team(
        &self,
        name: &str,
        description: &str,
        admin_id: i64,
        created_by: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<Team> {
        let mut c = self.client().await?;
        let now = crate::now_ms();
        let tx = c.transaction().await.map_err(map_err)?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO entities (name, name_lower, kind, user_id, created_at) VALUES ($1, $2, 'team', NULL, $3) RETURNING id",
                &[&name, &name.to_lowercase(), &now],
            )
            .await
            .map_err(map_err)?
            .get(0);
        tx.execute(
            "INSERT INTO teams (entity_id, description, join_policy, created_by, created_at) VALUES ($1, $2, 'INVITE', $3, $4)",
            &[&id, &description, &created_by, &now],
        )
        .await
        .map_err(map_err)?;
        insert_member(&tx, id, admin_id, "admin", now).await?;
        insert_audit(&tx, &audit, now).await?;
        let row = tx
            .query_one(&format!("SELECT {TEAM_COLUMNS} FROM teams t JOIN entities e ON e.id = t.entity_id WHERE e.id = $1"), &[&id])
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(team_from(&row))
    }

    async fn team_by_id(&self, id: i64) -> StoreResult<Option<Team>> {
        let c = self.client().await?;
        let row = c
            .query_opt(&format!("SELECT {TEAM_COLUMNS} FROM teams t JOIN entities e ON e.id = t.entity_id WHERE e.id = $1"), &[&id])
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| team_from(&r)))
    }

    async fn update_team(&self, team: Team, audit: AuditEvent) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "UPDATE teams SET description = $1, join_policy = $2, email_domain = $3 WHERE entity_id = $4",
            &[&team.description, &team.join_policy, &team.email_domain, &team.id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, crate::now_ms()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_team(&self, team_id: i64, audit: AuditEvent) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "DELETE FROM entities WHERE id = $1 AND kind = 'team'",
            &[&team_id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, crate::now_ms()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn team_members(&self, team_id: i64) -> StoreResult<Vec<Membership>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {USER_COLUMNS}, m.role, m.created_at, u.description FROM team_members m JOIN users u ON u.id = m.user_id
                     WHERE m.team_id = $1 AND u.deleted_at IS NULL ORDER BY m.created_at, u.id"
                ),
                &[&team_id],
            )
            .await
            .map_err(map_err)?;
        Ok(rows
            .iter()
            .map(|r| Membership {
                user: user_from(r, 0),
                role: r.get(14),
                joined_at: r.get(15),
                description: r.get(16),
            })
            .collect())
    }

    async fn member_role(&self, team_id: i64, user_id: i64) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        role_of(&c, team_id, user_id).await
    }

    async fn user_teams(&self, user_id: i64) -> StoreResult<Vec<(Team, String)>> {
        let c = self.client().await?;
        // On every SDK Viewer: prepared once per connection.
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {TEAM_COLUMNS}, m.role FROM team_members m JOIN teams t ON t.entity_id = m.team_id
                 JOIN entities e ON e.id = t.entity_id WHERE m.user_id = $1 ORDER BY e.name_lower COLLATE \"C\""
            ))
            .await
            .map_err(map_err)?;
        let rows = c.query(&stmt, &[&user_id]).await.map_err(map_err)?;
        Ok(rows.iter().map(|r| (team_from(r), r.get(6))).collect())
    }

    async fn domain_teams(&self, domain: &str) -> StoreResult<Vec<Team>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {TEAM_COLUMNS} FROM teams t JOIN entities e ON e.id = t.entity_id
                     WHERE t.email_domain = $1 AND t.join_policy IN ('DOMAIN_DIRECT', 'DOMAIN_REQUEST') ORDER BY e.name_lower COLLATE \"C\""
                ),
                &[&domain.to_lowercase()],
            )
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(team_from).collect())
    }

    async fn add_member(
        &self,
        team_id: i64,
        user_id: i64,
        role: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let now = crate::now_ms();
        let tx = c.transaction().await.map_err(map_err)?;
        lock_team(&tx, team_id).await?;
        if role_of(&tx, team_id, user_id).await?.is_some() {
            return Err(StoreError::Refused(ErrorCode::AlreadyMember));
        }
        insert_member(&tx, team_id, user_id, role, now).await?;
        insert_audit(&tx, &audit, now).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn set_member_role(
        &self,
        team_id: i64,
        user_id: i64,
        role: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let now = crate::now_ms();
        let tx = c.transaction().await.map_err(map_err)?;
        lock_team(&tx, team_id).await?;
        let current = role_of(&tx, team_id, user_id)
            .await?
            .ok_or(StoreError::Refused(ErrorCode::NotTeamMember))?;
        if current == "admin" && role != "admin" && admin_count(&tx, team_id).await? <= 1 {
            return Err(StoreError::Refused(ErrorCode::LastTeamAdmin));
        }
        tx.execute(
            "UPDATE team_members SET role = $1 WHERE team_id = $2 AND user_id = $3",
            &[&role, &team_id, &user_id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, now).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn remove_member(
        &self,
        team_id: i64,
        user_id: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let now = crate::now_ms();
        let tx = c.transaction().await.map_err(map_err)?;
        lock_team(&tx, team_id).await?;
        let Some(current) = role_of(&tx, team_id, user_id).await? else {
            return Ok(false);
        };
        if current == "admin" && admin_count(&tx, team_id).await? <= 1 {
            return Err(StoreError::Refused(ErrorCode::LastTeamAdmin));
        }
        tx.execute(
            "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2",
            &[&team_id, &user_id],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "UPDATE users SET default_entity_id = NULL WHERE id = $1 AND default_entity_id = $2",
            &[&user_id, &team_id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, now).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn create_invite(
        &self,
        invite: NewInvite,
        job: Option<NewJob>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<Invite> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        lock_team(&tx, invite.team_id).await?;
        let email = invite.email.as_ref().map(|e| e.to_lowercase());
        let pending: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM team_invites WHERE team_id = $1 AND resolved_at IS NULL AND expires_at > $2
                 AND (user_id = $3 OR (email_lower IS NOT NULL AND email_lower = $4))",
                &[&invite.team_id, &now, &invite.user_id, &email],
            )
            .await
            .map_err(map_err)?
            .get(0);
        if pending > 0 {
            return Err(StoreError::Conflict("invite"));
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO team_invites (team_id, kind, email_lower, user_id, role, token_hash, invited_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                &[
                    &invite.team_id,
                    &invite.kind,
                    &email,
                    &invite.user_id,
                    &invite.role,
                    &invite.token_hash.as_slice(),
                    &invite.invited_by,
                    &now,
                    &invite.expires_at,
                ],
            )
            .await
            .map_err(map_err)?
            .get(0);
        if let Some(job) = job {
            enqueue_pg(&tx, &job, now).await?;
        }
        insert_audit(&tx, &audit, now).await?;
        let row = tx
            .query_one(&format!("SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.id = $1"), &[&id])
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(invite_from(&row))
    }

    async fn invite_by_id(&self, id: i64) -> StoreResult<Option<Invite>> {
        let c = self.client().await?;
        let row = c
            .query_opt(&format!("SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.id = $1"), &[&id])
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| invite_from(&r)))
    }

    async fn invite_by_token(&self, hash: &KeyHash) -> StoreResult<Option<Invite>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.token_hash = $1"),
                &[&hash.as_slice()],
            )
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| invite_from(&r)))
    }

    async fn pending_team_invites(&self, team_id: i64, now: i64) -> StoreResult<Vec<Invite>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id
                     WHERE i.team_id = $1 AND i.resolved_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at, i.id"
                ),
                &[&team_id, &now],
            )
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(invite_from).collect())
    }

    async fn pending_user_invites(&self, user_id: i64, now: i64) -> StoreResult<Vec<Invite>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id
                     WHERE i.user_id = $1 AND i.kind = 'invite' AND i.resolved_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at, i.id"
                ),
                &[&user_id, &now],
            )
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(invite_from).collect())
    }

    async fn resolve_invite(
        &self,
        id: i64,
        resolution: &str,
        add: Option<(i64, String)>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let team_id: Option<i64> = tx
            .query_opt(
                "UPDATE team_invites SET resolved_at = $1, resolution = $2 WHERE id = $3 AND resolved_at IS NULL AND expires_at > $1 RETURNING team_id",
                &[&now, &resolution, &id],
            )
            .await
            .map_err(map_err)?
            .map(|r| r.get(0));
        let Some(team_id) = team_id else {
            return Ok(false);
        };
        if let Some((user_id, role)) = add {
            lock_team(&tx, team_id).await?;
            if role_of(&tx, team_id, user_id).await?.is_none() {
                insert_member(&tx, team_id, user_id, &role, now).await?;
            }
        }
        insert_audit(&tx, &audit, now).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn set_default_entity(
        &self,
        user_id: i64,
        entity_id: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "UPDATE users SET default_entity_id = $1 WHERE id = $2",
            &[&entity_id, &user_id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, crate::now_ms()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn set_hide_teams(&self, user_id: i64, hide: bool, audit: AuditEvent) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "UPDATE users SET hide_teams = $1 WHERE id = $2",
            &[&hide, &user_id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, crate::now_ms()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn put_email_token(
        &self,
        hash: KeyHash,
        user_id: i64,
        email: &str,
        now: i64,
        expires_at: i64,
        job: Option<NewJob>,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO email_tokens (token_hash, user_id, email_lower, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&hash.as_slice(), &user_id, &email.to_lowercase(), &now, &expires_at],
        )
        .await
        .map_err(map_err)?;
        if let Some(job) = job {
            enqueue_pg(&tx, &job, now).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn use_email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<i64>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let row = tx
            .query_opt("DELETE FROM email_tokens WHERE token_hash = $1 RETURNING user_id, email_lower, expires_at", &[&hash.as_slice()])
            .await
            .map_err(map_err)?;
        let verified = match row.map(|r| {
            (
                r.get::<_, i64>(0),
                r.get::<_, String>(1),
                r.get::<_, i64>(2),
            )
        }) {
            Some((user_id, email, expires_at)) if expires_at > now => {
                let n = tx
                    .execute("UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_lower = $3", &[&now, &user_id, &email])
                    .await
                    .map_err(map_err)?;
                (n == 1).then_some(user_id)
            }
            _ => None,
        };
        tx.commit().await.map_err(map_err)?;
        Ok(verified)
    }

    async fn set_email_verified(&self, user_id: i64, at: Option<i64>) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE users SET email_verified_at = $1 WHERE id = $2",
            &[&at, &user_id],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn create_service_account(
        &self,
        team_id: i64,
        user: NewUser,
        description: &str,
        audit: AuditEvent,
    ) -> StoreResult<User> {
        let mut c = self.client().await?;
        let now = crate::now_ms();
        let tx = c.transaction().await.map_err(map_err)?;
        let row = tx
            .query_one(
                &format!(
                    "WITH u AS (
                       INSERT INTO users (username, username_lower, email, email_lower, name, is_admin, account_type, created_at, service_team_id, description)
                       VALUES ($1, $2, $3, $4, $5, FALSE, 'SERVICE', $6, $7, $8) RETURNING *)
                     SELECT {USER_COLUMNS} FROM u"
                ),
                &[&user.username, &user.username.to_lowercase(), &user.email, &user.email.to_lowercase(), &user.name, &now, &team_id, &description],
            )
            .await
            .map_err(map_err)?;
        let created = user_from(&row, 0);
        insert_member(&tx, team_id, created.id, "member", now).await?;
        insert_audit(&tx, &audit, now).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(created)
    }
}
