//! `TeamStore` on SQLite.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::outbox::{enqueue_sqlite, NewJob};
use super::sqlite::{insert_audit, map_err, user_from, SqliteStore, USER_COLUMNS};
use super::teams::*;
use super::{AuditEvent, NewUser, User};
use crate::error::{ErrorCode, StoreError, StoreResult};
use crate::keys::KeyHash;

const TEAM_COLUMNS: &str =
    "e.id, e.name, t.description, t.join_policy, t.email_domain, t.created_at";
const INVITE_COLUMNS: &str = "i.id, i.team_id, e.name, i.kind, i.email_lower, i.user_id, i.role, i.invited_by, i.created_at, i.expires_at, i.resolved_at, i.resolution";

fn team_from(r: &Row<'_>) -> rusqlite::Result<Team> {
    Ok(Team {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        join_policy: r.get(3)?,
        email_domain: r.get(4)?,
        created_at: r.get(5)?,
    })
}

fn invite_from(r: &Row<'_>) -> rusqlite::Result<Invite> {
    Ok(Invite {
        id: r.get(0)?,
        team_id: r.get(1)?,
        team_name: r.get(2)?,
        kind: r.get(3)?,
        email: r.get(4)?,
        user_id: r.get(5)?,
        role: r.get(6)?,
        invited_by: r.get(7)?,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        resolved_at: r.get(10)?,
        resolution: r.get(11)?,
    })
}

fn entity_from(r: &Row<'_>) -> rusqlite::Result<Entity> {
    Ok(Entity {
        id: r.get(0)?,
        name: r.get(1)?,
        is_team: r.get::<_, String>(2)? == "team",
        user_id: r.get(3)?,
    })
}

fn admin_count(conn: &Connection, team_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM team_members m JOIN users u ON u.id = m.user_id
         WHERE m.team_id = ?1 AND m.role = 'admin' AND u.deleted_at IS NULL",
        [team_id],
        |r| r.get(0),
    )
}

fn role_of(conn: &Connection, team_id: i64, user_id: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT role FROM team_members WHERE team_id = ?1 AND user_id = ?2",
        [team_id, user_id],
        |r| r.get(0),
    )
    .optional()
}

fn insert_member(
    conn: &Connection,
    team_id: i64,
    user_id: i64,
    role: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![team_id, user_id, role, now],
    )?;
    Ok(())
}

#[async_trait]
impl TeamStore for SqliteStore {
    async fn entity_by_name(&self, name: &str) -> StoreResult<Option<Entity>> {
        let lower = name.to_lowercase();
        self.read(|c| {
            c.prepare_cached("SELECT id, name, kind, user_id FROM entities WHERE name_lower = ?1")?
                .query_row([lower], entity_from)
                .optional()
        })
    }

    async fn entity_by_id(&self, id: i64) -> StoreResult<Option<Entity>> {
        self.read(|c| {
            c.prepare_cached("SELECT id, name, kind, user_id FROM entities WHERE id = ?1")?
                .query_row([id], entity_from)
                .optional()
        })
    }

    async fn create_team(
        &self,
        name: &str,
        description: &str,
        admin_id: i64,
        created_by: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<Team> {
        let (name, description) = (name.to_string(), description.to_string());
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "INSERT INTO entities (name, name_lower, kind, user_id, created_at) VALUES (?1, ?2, 'team', NULL, ?3)",
                params![name, name.to_lowercase(), now],
            )
            .map_err(map_err)?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO teams (entity_id, description, join_policy, created_by, created_at) VALUES (?1, ?2, 'INVITE', ?3, ?4)",
                params![id, description, created_by, now],
            )
            .map_err(map_err)?;
            insert_member(&tx, id, admin_id, "admin", now).map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            let team = tx
                .query_row(&format!("SELECT {TEAM_COLUMNS} FROM teams t JOIN entities e ON e.id = t.entity_id WHERE e.id = ?1"), [id], team_from)
                .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(team)
        })
        .await
    }

    async fn team_by_id(&self, id: i64) -> StoreResult<Option<Team>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {TEAM_COLUMNS} FROM teams t JOIN entities e ON e.id = t.entity_id WHERE e.id = ?1"))?
                .query_row([id], team_from)
                .optional()
        })
    }

    async fn update_team(&self, team: Team, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "UPDATE teams SET description = ?1, join_policy = ?2, email_domain = ?3 WHERE entity_id = ?4",
                params![team.description, team.join_policy, team.email_domain, team.id],
            )
            .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn delete_team(&self, team_id: i64, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            // Service accounts go with their team (users.service_team_id cascades).
            tx.execute(
                "DELETE FROM entities WHERE id = ?1 AND kind = 'team'",
                [team_id],
            )
            .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn team_members(&self, team_id: i64) -> StoreResult<Vec<Membership>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, m.role, m.created_at, u.description FROM team_members m JOIN users u ON u.id = m.user_id
                 WHERE m.team_id = ?1 AND u.deleted_at IS NULL ORDER BY m.created_at, u.id"
            ))?;
            let rows = stmt.query_map([team_id], |r| {
                Ok(Membership { user: user_from(r, 0)?, role: r.get(14)?, joined_at: r.get(15)?, description: r.get(16)? })
            })?;
            rows.collect()
        })
    }

    async fn member_role(&self, team_id: i64, user_id: i64) -> StoreResult<Option<String>> {
        self.read(|c| role_of(c, team_id, user_id))
    }

    async fn user_teams(&self, user_id: i64) -> StoreResult<Vec<(Team, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TEAM_COLUMNS}, m.role FROM team_members m JOIN teams t ON t.entity_id = m.team_id
                 JOIN entities e ON e.id = t.entity_id WHERE m.user_id = ?1 ORDER BY e.name_lower"
            ))?;
            let rows = stmt.query_map([user_id], |r| Ok((team_from(r)?, r.get(6)?)))?;
            rows.collect()
        })
    }

    async fn domain_teams(&self, domain: &str) -> StoreResult<Vec<Team>> {
        let domain = domain.to_lowercase();
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TEAM_COLUMNS} FROM teams t JOIN entities e ON e.id = t.entity_id
                 WHERE t.email_domain = ?1 AND t.join_policy IN ('DOMAIN_DIRECT', 'DOMAIN_REQUEST') ORDER BY e.name_lower"
            ))?;
            let rows = stmt.query_map([domain], team_from)?;
            rows.collect()
        })
    }

    async fn add_member(
        &self,
        team_id: i64,
        user_id: i64,
        role: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let role = role.to_string();
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            if role_of(&tx, team_id, user_id).map_err(map_err)?.is_some() {
                return Err(StoreError::Refused(ErrorCode::AlreadyMember));
            }
            insert_member(&tx, team_id, user_id, &role, now).map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn set_member_role(
        &self,
        team_id: i64,
        user_id: i64,
        role: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let role = role.to_string();
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            let current = role_of(&tx, team_id, user_id)
                .map_err(map_err)?
                .ok_or(StoreError::Refused(ErrorCode::NotTeamMember))?;
            if current == "admin"
                && role != "admin"
                && admin_count(&tx, team_id).map_err(map_err)? <= 1
            {
                return Err(StoreError::Refused(ErrorCode::LastTeamAdmin));
            }
            tx.execute(
                "UPDATE team_members SET role = ?1 WHERE team_id = ?2 AND user_id = ?3",
                params![role, team_id, user_id],
            )
            .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn remove_member(
        &self,
        team_id: i64,
        user_id: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            let Some(current) = role_of(&tx, team_id, user_id).map_err(map_err)? else {
                return Ok(false);
            };
            if current == "admin" && admin_count(&tx, team_id).map_err(map_err)? <= 1 {
                return Err(StoreError::Refused(ErrorCode::LastTeamAdmin));
            }
            tx.execute("DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2", [team_id, user_id]).map_err(map_err)?;
            tx.execute("UPDATE users SET default_entity_id = NULL WHERE id = ?1 AND default_entity_id = ?2", [user_id, team_id])
                .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn create_invite(
        &self,
        invite: NewInvite,
        job: Option<NewJob>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<Invite> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let email = invite.email.as_ref().map(|e| e.to_lowercase());
            let pending: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM team_invites WHERE team_id = ?1 AND resolved_at IS NULL AND expires_at > ?2
                     AND (user_id = ?3 OR (email_lower IS NOT NULL AND email_lower = ?4))",
                    params![invite.team_id, now, invite.user_id, email],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if pending > 0 {
                return Err(StoreError::Conflict("invite"));
            }
            tx.execute(
                "INSERT INTO team_invites (team_id, kind, email_lower, user_id, role, token_hash, invited_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![invite.team_id, invite.kind, email, invite.user_id, invite.role, invite.token_hash.as_slice(), invite.invited_by, now, invite.expires_at],
            )
            .map_err(map_err)?;
            let id = tx.last_insert_rowid();
            if let Some(job) = job {
                enqueue_sqlite(&tx, &job, now).map_err(map_err)?;
            }
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            let created = tx
                .query_row(&format!("SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.id = ?1"), [id], invite_from)
                .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(created)
        })
        .await
    }

    async fn invite_by_id(&self, id: i64) -> StoreResult<Option<Invite>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.id = ?1"))?
                .query_row([id], invite_from)
                .optional()
        })
    }

    async fn invite_by_token(&self, hash: &KeyHash) -> StoreResult<Option<Invite>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.token_hash = ?1"))?
                .query_row([hash.as_slice()], invite_from)
                .optional()
        })
    }

    async fn pending_team_invites(&self, team_id: i64, now: i64) -> StoreResult<Vec<Invite>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id
                 WHERE i.team_id = ?1 AND i.resolved_at IS NULL AND i.expires_at > ?2 ORDER BY i.created_at, i.id"
            ))?;
            let rows = stmt.query_map(params![team_id, now], invite_from)?;
            rows.collect()
        })
    }

    async fn pending_user_invites(&self, user_id: i64, now: i64) -> StoreResult<Vec<Invite>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id
                 WHERE i.user_id = ?1 AND i.kind = 'invite' AND i.resolved_at IS NULL AND i.expires_at > ?2 ORDER BY i.created_at, i.id"
            ))?;
            let rows = stmt.query_map(params![user_id, now], invite_from)?;
            rows.collect()
        })
    }

    async fn resolve_invite(
        &self,
        id: i64,
        resolution: &str,
        add: Option<(i64, String)>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        let resolution = resolution.to_string();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let changed = tx
                .execute(
                    "UPDATE team_invites SET resolved_at = ?1, resolution = ?2 WHERE id = ?3 AND resolved_at IS NULL AND expires_at > ?1",
                    params![now, resolution, id],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Ok(false);
            }
            if let Some((user_id, role)) = add {
                let team_id: i64 = tx.query_row("SELECT team_id FROM team_invites WHERE id = ?1", [id], |r| r.get(0)).map_err(map_err)?;
                if role_of(&tx, team_id, user_id).map_err(map_err)?.is_none() {
                    insert_member(&tx, team_id, user_id, &role, now).map_err(map_err)?;
                }
            }
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn set_default_entity(
        &self,
        user_id: i64,
        entity_id: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "UPDATE users SET default_entity_id = ?1 WHERE id = ?2",
                params![entity_id, user_id],
            )
            .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn set_hide_teams(&self, user_id: i64, hide: bool, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "UPDATE users SET hide_teams = ?1 WHERE id = ?2",
                params![hide, user_id],
            )
            .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
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
        let email = email.to_lowercase();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "INSERT INTO email_tokens (token_hash, user_id, email_lower, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash.as_slice(), user_id, email, now, expires_at],
            )
            .map_err(map_err)?;
            if let Some(job) = job {
                enqueue_sqlite(&tx, &job, now).map_err(map_err)?;
            }
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn use_email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<i64>> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let row: Option<(i64, String, i64)> = tx
                .query_row("SELECT user_id, email_lower, expires_at FROM email_tokens WHERE token_hash = ?1", [hash.as_slice()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(map_err)?;
            tx.execute("DELETE FROM email_tokens WHERE token_hash = ?1", [hash.as_slice()]).map_err(map_err)?;
            let verified = match row {
                Some((user_id, email, expires_at)) if expires_at > now => {
                    let n = tx
                        .execute("UPDATE users SET email_verified_at = ?1 WHERE id = ?2 AND email_lower = ?3", params![now, user_id, email])
                        .map_err(map_err)?;
                    (n == 1).then_some(user_id)
                }
                _ => None,
            };
            tx.commit().map_err(map_err)?;
            Ok(verified)
        })
        .await
    }

    async fn set_email_verified(&self, user_id: i64, at: Option<i64>) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE users SET email_verified_at = ?1 WHERE id = ?2",
                params![at, user_id],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn create_service_account(
        &self,
        team_id: i64,
        user: NewUser,
        description: &str,
        audit: AuditEvent,
    ) -> StoreResult<User> {
        let description = description.to_string();
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "INSERT INTO users (username, username_lower, email, email_lower, name, is_admin, account_type, created_at, service_team_id, description)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, 'SERVICE', ?6, ?7, ?8)",
                params![user.username, user.username.to_lowercase(), user.email, user.email.to_lowercase(), user.name, now, team_id, description],
            )
            .map_err(map_err)?;
            let id = tx.last_insert_rowid();
            insert_member(&tx, team_id, id, "member", now).map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            let created = tx
                .query_row(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"), [id], |r| user_from(r, 0))
                .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(created)
        })
        .await
    }
}
