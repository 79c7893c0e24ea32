//! Teams, memberships, invitations, the default team and service accounts: the part of the
//! store behind `services::teams`. Every invariant that must hold across instances (a team
//! keeps an admin; one pending invitation per person) is checked inside the transaction.

use async_trait::async_trait;

use super::outbox;
use super::{AuditEvent, NewUser, User};
use crate::error::StoreResult;
use crate::keys::KeyHash;

/// A namespace for projects: a person's personal entity or a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub id: i64,
    pub name: String,
    pub is_team: bool,
    /// For personal entities, the person.
    pub user_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub join_policy: String,
    pub email_domain: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Membership {
    pub user: User,
    pub role: String,
    pub joined_at: i64,
    /// Service accounts carry a description.
    pub description: String,
}

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

#[async_trait]
pub trait TeamStore {
    async fn entity_by_name(&self, name: &str) -> StoreResult<Option<Entity>>;
    async fn entity_by_id(&self, id: i64) -> StoreResult<Option<Entity>>;
    /// Creates the team's entity, its row and the first admin's membership together.
    async fn create_team(
        &self,
        name: &str,
        description: &str,
        admin_id: i64,
        created_by: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<Team>;
    async fn team_by_id(&self, id: i64) -> StoreResult<Option<Team>>;
    async fn update_team(&self, team: Team, audit: AuditEvent) -> StoreResult<()>;
    /// Deletes the team with its memberships, invitations and service accounts.
    async fn delete_team(&self, team_id: i64, audit: AuditEvent) -> StoreResult<()>;
    /// Members by join time (so a new service account is last).
    async fn team_members(&self, team_id: i64) -> StoreResult<Vec<Membership>>;
    async fn member_role(&self, team_id: i64, user_id: i64) -> StoreResult<Option<String>>;
    async fn user_teams(&self, user_id: i64) -> StoreResult<Vec<(Team, String)>>;
    /// Teams whose join policy admits people of an email domain.
    async fn domain_teams(&self, domain: &str) -> StoreResult<Vec<Team>>;
    async fn add_member(
        &self,
        team_id: i64,
        user_id: i64,
        role: &str,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Changes a role; refuses (`Refused(ErrorCode::LastTeamAdmin)`) to demote the last admin.
    async fn set_member_role(
        &self,
        team_id: i64,
        user_id: i64,
        role: &str,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Removes a member (and their default-team choice of it); refuses the last admin.
    async fn remove_member(
        &self,
        team_id: i64,
        user_id: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool>;
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
    async fn resolve_invite(
        &self,
        id: i64,
        resolution: &str,
        add: Option<(i64, String)>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool>;
    async fn set_default_entity(
        &self,
        user_id: i64,
        entity_id: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// "Hide teams in public profile", with its audit row in the same transaction.
    async fn set_hide_teams(&self, user_id: i64, hide: bool, audit: AuditEvent) -> StoreResult<()>;
    /// Stores a verification token and, in the same transaction, the job that mails it.
    async fn put_email_token(
        &self,
        hash: KeyHash,
        user_id: i64,
        email: &str,
        now: i64,
        expires_at: i64,
        job: Option<outbox::NewJob>,
    ) -> StoreResult<()>;
    /// Marks the email verified if the token is valid and still matches the account's email.
    async fn use_email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<i64>>;
    async fn set_email_verified(&self, user_id: i64, at: Option<i64>) -> StoreResult<()>;
    /// A service account: a user row owned by a team, no password, no personal entity.
    async fn create_service_account(
        &self,
        team_id: i64,
        user: NewUser,
        description: &str,
        audit: AuditEvent,
    ) -> StoreResult<User>;
}
