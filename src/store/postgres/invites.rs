//! Invitations and join requests.

use super::*;

#[async_trait]
impl InviteStore for PgStore {
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
        let row = tx
            .query_one(&format!("SELECT {INVITE_COLUMNS} FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.id = $1"), &[&id])
            .await
            .map_err(map_err)?;
        commit_audited(tx, &audit, job.as_ref(), now).await?;
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
        commit_audited(tx, &audit, None, now).await?;
        Ok(true)
    }
}
