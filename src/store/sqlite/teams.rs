//! Entities, teams, memberships and roles, the default team and service accounts.

use super::*;

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
            let team = tx
                .query_row(&format!("SELECT {TEAM_COLUMNS} FROM teams t JOIN entities e ON e.id = t.entity_id WHERE e.id = ?1"), [id], team_from)
                .map_err(map_err)?;
            commit_audited(tx, &audit, None, now)?;
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
        self.execute_audited(
            "UPDATE teams SET description = ?1, join_policy = ?2, email_domain = ?3 WHERE entity_id = ?4",
            (team.description, team.join_policy, team.email_domain, team.id),
            audit,
        )
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
            commit_audited(tx, &audit, None, now)
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
            commit_audited(tx, &audit, None, now)
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
            commit_audited(tx, &audit, None, now)
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
            commit_audited(tx, &audit, None, now)?;
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
        self.execute_audited(
            "UPDATE users SET default_entity_id = ?1 WHERE id = ?2",
            (entity_id, user_id),
            audit,
        )
        .await
    }

    async fn set_hide_teams(&self, user_id: i64, hide: bool, audit: AuditEvent) -> StoreResult<()> {
        self.execute_audited(
            "UPDATE users SET hide_teams = ?1 WHERE id = ?2",
            (hide, user_id),
            audit,
        )
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
            let created = tx
                .query_row(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"), [id], |r| user_from(r, 0))
                .map_err(map_err)?;
            commit_audited(tx, &audit, None, now)?;
            Ok(created)
        })
        .await
    }
}
