//! Entities, teams, memberships and roles, the default team and service accounts.

use super::*;

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
        let row = tx
            .query_one(&format!("SELECT {TEAM_COLUMNS} FROM teams t JOIN entities e ON e.id = t.entity_id WHERE e.id = $1"), &[&id])
            .await
            .map_err(map_err)?;
        commit_audited(tx, &audit, None, now).await?;
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
        self.execute_audited(
            "UPDATE teams SET description = $1, join_policy = $2, email_domain = $3 WHERE entity_id = $4",
            &[&team.description, &team.join_policy, &team.email_domain, &team.id],
            audit,
        )
        .await
    }

    async fn delete_team(&self, team_id: i64, audit: AuditEvent) -> StoreResult<()> {
        self.execute_audited(
            "DELETE FROM entities WHERE id = $1 AND kind = 'team'",
            &[&team_id],
            audit,
        )
        .await
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
        commit_audited(tx, &audit, None, now).await
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
        commit_audited(tx, &audit, None, now).await
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
        commit_audited(tx, &audit, None, now).await?;
        Ok(true)
    }

    async fn set_default_entity(
        &self,
        user_id: i64,
        entity_id: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.execute_audited(
            "UPDATE users SET default_entity_id = $1 WHERE id = $2",
            &[&entity_id, &user_id],
            audit,
        )
        .await
    }

    async fn set_hide_teams(&self, user_id: i64, hide: bool, audit: AuditEvent) -> StoreResult<()> {
        self.execute_audited(
            "UPDATE users SET hide_teams = $1 WHERE id = $2",
            &[&hide, &user_id],
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
        commit_audited(tx, &audit, None, now).await?;
        Ok(created)
    }
}
