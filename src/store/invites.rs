//! Invitations and join requests.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;
use crate::keys::KeyHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub team_id: i64,
    pub team_name: String,
    /// `invite` (an admin invited someone) or `request` (someone asked to join).
    pub kind: String,
    pub email: Option<String>,
    pub user_id: Option<i64>,
    pub role: String,
    pub invited_by: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub resolved_at: Option<i64>,
    pub resolution: Option<String>,
}

pub struct NewInvite {
    pub team_id: i64,
    pub kind: &'static str,
    pub email: Option<String>,
    pub user_id: Option<i64>,
    pub role: String,
    pub token_hash: KeyHash,
    pub invited_by: Option<i64>,
    pub expires_at: i64,
}

/// How a pending invitation or join request ends; `join` (person, role) makes the membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteResolution {
    pub invite: i64,
    pub outcome: &'static str,
    pub join: Option<(i64, String)>,
    pub at: i64,
}

#[async_trait]
pub trait InviteStore: Send + Sync {
    /// Writes an invitation and, in the same transaction, the job that mails it. Refuses a
    /// second pending invitation for the same person (`Conflict("invite")`).
    async fn create_invite(
        &self,
        invite: NewInvite,
        job: Option<outbox::NewJob>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<Invite>;
    async fn invite_by_id(&self, id: i64) -> StoreResult<Option<Invite>>;
    async fn invite_by_token(&self, hash: &KeyHash) -> StoreResult<Option<Invite>>;
    async fn pending_team_invites(&self, team_id: i64, now: i64) -> StoreResult<Vec<Invite>>;
    async fn pending_user_invites(&self, user_id: i64, now: i64) -> StoreResult<Vec<Invite>>;
    /// Resolves a pending, unexpired invitation; with `add` also makes the membership.
    /// False when it was no longer pending.
    async fn resolve_invite(&self, r: InviteResolution, audit: AuditEvent) -> StoreResult<bool>;
}
