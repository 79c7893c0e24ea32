//! Invitations and join requests.

use super::*;

#[async_trait]
impl InviteStore for SqliteStore {
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
            let created = tx
                .query_row(&format!("SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.id = ?1"), [id], invite_from)
                .map_err(map_err)?;
            commit_audited(tx, &audit, job.as_ref(), now)?;
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
            commit_audited(tx, &audit, None, now)?;
            Ok(true)
        })
        .await
    }
}
