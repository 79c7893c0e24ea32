//! Teams, memberships, invitations, the default team and service accounts: the part of the
//! store behind `services::teams`. Every invariant that must hold across instances (a team
//! keeps an admin; one pending invitation per person) is checked inside the transaction.

use async_trait::async_trait;

use super::{AuditEvent, NewUser, User};
use crate::error::StoreResult;

/// A team's service account to create: its user row and what it is for.
#[derive(Debug, Clone)]
pub struct NewServiceAccount {
    pub team_id: i64,
    pub user: NewUser,
    pub description: String,
}

/// A namespace for projects: a person's personal entity or a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub id: i64,
    pub name: String,
    pub is_team: bool,
    /// For personal entities, the person.
    pub user_id: Option<i64>,
}

impl Entity {
    /// A team's entity (a team has no owning person).
    pub fn team(id: i64, name: String) -> Self {
        Entity {
            id,
            name,
            is_team: true,
            user_id: None,
        }
    }
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

/// A team to create, with its first admin.
#[derive(Debug, Clone)]
pub struct NewTeam {
    pub name: String,
    pub description: String,
    pub admin_id: i64,
    pub created_by: Option<i64>,
}

/// A person's place in a team as a change names it: who, which team, in what role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub team_id: i64,
    pub user_id: i64,
    pub role: String,
}

#[derive(Debug, Clone)]
pub struct Membership {
    pub user: User,
    pub role: String,
    pub joined_at: i64,
    /// Service accounts carry a description.
    pub description: String,
}

#[async_trait]
pub trait TeamStore: Send + Sync {
    async fn entity_by_name(&self, name: &str) -> StoreResult<Option<Entity>>;
    async fn entity_by_id(&self, id: i64) -> StoreResult<Option<Entity>>;
    /// Creates the team's entity, its row and the first admin's membership together.
    async fn create_team(&self, team: NewTeam, audit: AuditEvent) -> StoreResult<Team>;
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
    async fn add_member(&self, seat: Seat, audit: AuditEvent) -> StoreResult<()>;
    /// Changes a role; refuses (`Refused(ErrorCode::LastTeamAdmin)`) to demote the last admin.
    async fn set_member_role(&self, seat: Seat, audit: AuditEvent) -> StoreResult<()>;
    /// Removes a member (and their default-team choice of it); refuses the last admin.
    async fn remove_member(
        &self,
        team_id: i64,
        user_id: i64,
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
    /// A service account: a user row owned by a team, no password, no personal entity.
    async fn create_service_account(
        &self,
        account: NewServiceAccount,
        audit: AuditEvent,
    ) -> StoreResult<User>;
}
