//! Invitations and join requests.

use async_trait::async_trait;

use super::teams::{insert_member, lock_team, role_of};
use super::{audited, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::keys::KeyHash;
use crate::store::outbox::NewJob;
use crate::store::rows::invite_cols;
use crate::store::*;

const INVITE_BY_ID: &Sql = sql!(
    "SELECT ",
    invite_cols!(),
    " FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.id = $1"
);

const INVITE_BY_TOKEN: &Sql = sql!(
    "SELECT ",
    invite_cols!(),
    " FROM team_invites i JOIN entities e ON e.id = i.team_id WHERE i.token_hash = $1"
);
const PENDING_TEAM_INVITES: &Sql = sql!("SELECT ", invite_cols!(), " FROM team_invites i JOIN entities e ON e.id = i.team_id
      WHERE i.team_id = $1 AND i.resolved_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at, i.id");
const PENDING_USER_INVITES: &Sql = sql!("SELECT ", invite_cols!(), " FROM team_invites i JOIN entities e ON e.id = i.team_id
      WHERE i.user_id = $1 AND i.kind = 'invite' AND i.resolved_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at, i.id");

#[async_trait]
impl<B: Backend> InviteStore for SqlStore<B> {
    async fn create_invite(
        &self,
        invite: NewInvite,
        job: Option<NewJob>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<Invite> {
        work!(self, tx, |c| {
            lock_team(c, invite.team_id).await?;
            let email = invite.email.as_ref().map(|e| e.to_lowercase());
            let (pending,): (i64,) = c
                .one(
                    sql!("SELECT COUNT(*) FROM team_invites WHERE team_id = $1 AND resolved_at IS NULL AND expires_at > $2
                          AND (user_id = $3 OR (email_lower IS NOT NULL AND email_lower = $4))"),
                    &[&invite.team_id, &now, &invite.user_id, &email],
                )
                .await?;
            if pending > 0 {
                return Err(StoreError::Conflict("invite"));
            }
            let (id,): (i64,) = c
                .one(
                    sql!("INSERT INTO team_invites (team_id, kind, email_lower, user_id, role, token_hash, invited_by, created_at, expires_at)
                          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"),
                    &[&invite.team_id, &invite.kind, &email, &invite.user_id, &invite.role,
                      &invite.token_hash.as_slice(), &invite.invited_by, &now, &invite.expires_at],
                )
                .await?;
            let created = c.one(INVITE_BY_ID, &[&id]).await?;
            audited(c, &audit, job.as_ref(), now).await?;
            Ok(created)
        })
    }

    async fn invite_by_id(&self, id: i64) -> StoreResult<Option<Invite>> {
        self.read_opt(INVITE_BY_ID, (id,)).await
    }

    async fn invite_by_token(&self, hash: &KeyHash) -> StoreResult<Option<Invite>> {
        self.read_opt(INVITE_BY_TOKEN, (hash.to_vec(),)).await
    }

    async fn pending_team_invites(&self, team_id: i64, now: i64) -> StoreResult<Vec<Invite>> {
        self.read_all(PENDING_TEAM_INVITES, (team_id, now)).await
    }

    async fn pending_user_invites(&self, user_id: i64, now: i64) -> StoreResult<Vec<Invite>> {
        self.read_all(PENDING_USER_INVITES, (user_id, now)).await
    }

    async fn resolve_invite(&self, r: InviteResolution, audit: AuditEvent) -> StoreResult<bool> {
        let InviteResolution {
            invite: id,
            outcome: resolution,
            join: add,
            at: now,
        } = r;
        work!(self, tx, |c| {
            let team: Option<(i64,)> = c
                .opt(
                    sql!("UPDATE team_invites SET resolved_at = $1, resolution = $2
                          WHERE id = $3 AND resolved_at IS NULL AND expires_at > $1 RETURNING team_id"),
                    &[&now, &resolution, &id],
                )
                .await?;
            let Some((team_id,)) = team else {
                return Ok(false);
            };
            if let Some((user_id, role)) = add {
                lock_team(c, team_id).await?;
                if role_of(c, team_id, user_id).await?.is_none() {
                    insert_member(c, team_id, user_id, &role, now).await?;
                }
            }
            audited(c, &audit, None, now).await?;
            Ok(true)
        })
    }
}
