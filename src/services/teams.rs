//! Teams: creation, settings, membership and roles, and the checks for them. A team never
//! loses its last admin (the store enforces that inside its transactions). Invitations and
//! join requests are in `invitations.rs`, service accounts in `service_accounts.rs`.

use serde_json::json;

use super::access::{sees_private, team_access, JoinPolicy, Role, TeamAccess};
use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode, StoreError};
use crate::store::{AccountType, Entity, NewTeam, Seat, Team, User};
use crate::validate;

const DESCRIPTION_MAX: usize = 500;

fn team_not_found(name: &str) -> ApiError {
    ApiError::not_found(
        ErrorCode::EntityNotFound,
        format!("there is no team named {}", validate::echo(name)),
    )
}

pub(super) fn validate_role(role: &str) -> Result<String, ApiError> {
    Role::parse(role)
        .map(|r| r.as_str().to_string())
        .ok_or_else(|| {
            ApiError::validation(
                "role",
                ErrorCode::RoleInvalid,
                "the role must be admin, member or viewer",
            )
        })
}

/// A team's (or service account's) description.
pub(super) const DESCRIPTION: validate::TextRule = validate::TextRule {
    field: "description",
    code: ErrorCode::DescriptionInvalid,
    what: "a description",
    max: DESCRIPTION_MAX,
    multiline: true,
};

/// Team names live in the same namespace as usernames and follow the same rules.
fn team_name(raw: &str) -> Result<String, ApiError> {
    validate::username(raw).map_err(|e| {
        let code = match e.code {
            ErrorCode::UsernameReserved => ErrorCode::TeamNameReserved,
            _ => ErrorCode::TeamNameInvalid,
        };
        ApiError::validation("teamName", code, e.message.replace("username", "team name"))
    })
}

impl Services {
    /// The team named `name`, with the caller's role in it (None when not a member).
    pub async fn team_for(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<(Team, Option<Role>), ApiError> {
        let entity = self
            .store
            .entity_by_name(name)
            .await?
            .filter(|e| e.is_team)
            .ok_or_else(|| team_not_found(name))?;
        let team = self
            .store
            .team_by_id(entity.id)
            .await?
            .ok_or_else(|| team_not_found(name))?;
        let role = self.role_in(Some(actor), team.id).await?;
        Ok((team, role))
    }

    /// Members and site admins may see a team.
    pub async fn visible_team(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<(Team, Option<Role>), ApiError> {
        let (team, role) = self.team_for(actor, name).await?;
        if team_access(actor, role) == TeamAccess::None {
            return Err(ApiError::forbidden(
                ErrorCode::NotTeamMember,
                format!(
                    "{} is not a member of the team {}",
                    actor.user.username, team.name
                ),
            ));
        }
        Ok((team, role))
    }

    /// Team admins (and site admins) manage a team.
    pub async fn managed_team(&self, actor: &Actor, name: &str) -> Result<Team, ApiError> {
        let (team, role) = self.visible_team(actor, name).await?;
        if team_access(actor, role) != TeamAccess::Manage {
            return Err(ApiError::forbidden(
                ErrorCode::TeamAdminRequired,
                format!(
                    "only admins of {} can do this; {} is not one",
                    team.name, actor.user.username
                ),
            ));
        }
        Ok(team)
    }

    pub(super) fn require_person(actor: &Actor) -> Result<(), ApiError> {
        if actor.user.account_type == AccountType::Service {
            return Err(ApiError::forbidden(
                ErrorCode::ServiceAccountForbidden,
                "service accounts cannot do this",
            ));
        }
        Ok(())
    }

    pub async fn create_team(
        &self,
        actor: &Actor,
        name: &str,
        admin_username: Option<&str>,
        desc: &str,
    ) -> Result<Team, ApiError> {
        Self::require_person(actor)?;
        let name = team_name(name)?;
        let desc = DESCRIPTION.check(desc)?;
        let admin = match admin_username
            .map(str::trim)
            .filter(|u| !u.is_empty() && !u.eq_ignore_ascii_case(&actor.user.username))
        {
            Some(other) => {
                actor.require_admin("make someone else the admin of a new team")?;
                self.store
                    .user_by_username(other)
                    .await?
                    .filter(|u| u.account_type == AccountType::User)
                    .ok_or_else(|| {
                        ApiError::not_found(
                            ErrorCode::UserNotFound,
                            format!("there is no user named {}", validate::echo(other)),
                        )
                    })?
            }
            None => actor.user.clone(),
        };
        let event = actor
            .audit("team.create", &name)
            .with(json!({ "admin": admin.username }));
        self.store
            .create_team(
                NewTeam {
                    name: name.clone(),
                    description: desc,
                    admin_id: admin.id,
                    created_by: actor.recorded_id(),
                },
                event,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ApiError::conflict(
                    "teamName",
                    ErrorCode::TeamNameTaken,
                    format!("the name {name} is already taken"),
                ),
                other => other.into(),
            })
    }

    pub async fn update_team(
        &self,
        actor: &Actor,
        name: &str,
        desc: Option<&str>,
        policy: Option<&str>,
        domain: Option<&str>,
    ) -> Result<Team, ApiError> {
        let mut team = self.managed_team(actor, name).await?;
        if let Some(d) = desc {
            team.description = DESCRIPTION.check(d)?;
        }
        if let Some(p) = policy {
            let policy = JoinPolicy::parse(p).ok_or_else(|| {
                ApiError::validation(
                    "joinPolicy",
                    ErrorCode::JoinPolicyInvalid,
                    "the join policy must be INVITE, DOMAIN_DIRECT or DOMAIN_REQUEST",
                )
            })?;
            team.join_policy = policy.as_str().to_string();
        }
        if let Some(d) = domain {
            let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            team.email_domain = if d.is_empty() {
                None
            } else {
                validate::email(&format!("x@{d}")).map_err(|_| {
                    ApiError::validation(
                        "emailDomain",
                        ErrorCode::EmailDomainInvalid,
                        "enter a domain such as example.com",
                    )
                })?;
                Some(d)
            };
        }
        if JoinPolicy::parse(&team.join_policy) != Some(JoinPolicy::Invite)
            && team.email_domain.is_none()
        {
            return Err(ApiError::validation(
                "emailDomain",
                ErrorCode::EmailDomainRequired,
                "domain-based joining needs an email domain",
            ));
        }
        let event = actor
            .audit("team.update", &team.name)
            .with(json!({ "join_policy": team.join_policy }));
        self.store.update_team(team.clone(), event).await?;
        Ok(team)
    }

    pub async fn delete_team(&self, actor: &Actor, name: &str) -> Result<(), ApiError> {
        let team = self.managed_team(actor, name).await?;
        let event = actor.audit("team.delete", &team.name);
        self.store.delete_team(team.id, event).await?;
        Ok(())
    }

    pub async fn remove_member(
        &self,
        actor: &Actor,
        team: &str,
        user_id: i64,
    ) -> Result<(), ApiError> {
        let (team, role) = self.visible_team(actor, team).await?;
        let is_self = user_id == actor.user.id;
        if !is_self && team_access(actor, role) != TeamAccess::Manage {
            return Err(ApiError::forbidden(
                ErrorCode::TeamAdminRequired,
                format!("only admins of {} can remove members", team.name),
            ));
        }
        let action = if is_self {
            "team.leave"
        } else {
            "team.remove_member"
        };
        let event = actor
            .audit(action, &team.name)
            .with(json!({ "user_id": user_id }));
        if !self
            .store
            .remove_member(team.id, user_id, event)
            .await
            .map_err(last_admin)?
        {
            return Err(ApiError::not_found(
                ErrorCode::NotTeamMember,
                "that person is not a member of this team",
            ));
        }
        Ok(())
    }

    pub async fn set_member_role(
        &self,
        actor: &Actor,
        team: &str,
        username: &str,
        role: &str,
    ) -> Result<(), ApiError> {
        let team = self.managed_team(actor, team).await?;
        let role = validate_role(role)?;
        let member = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(
                    ErrorCode::UserNotFound,
                    format!("there is no user named {}", validate::echo(username)),
                )
            })?;
        let event = actor
            .audit("team.set_role", &team.name)
            .with(json!({ "member": member.username, "role": role }));
        self.store
            .set_member_role(
                Seat {
                    team_id: team.id,
                    user_id: member.id,
                    role,
                },
                event,
            )
            .await
            .map_err(last_admin)
    }

    /// Entities the person can create projects in: their own, then teams where they are
    /// admin or member. Private: empty for anyone but the person and site admins.
    pub async fn project_entities(
        &self,
        viewer: Option<&Actor>,
        user: &User,
    ) -> Result<Vec<Entity>, ApiError> {
        if !sees_private(viewer, user) {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        if user.account_type == AccountType::User {
            if let Some(own) = self.entity_by_name(&user.username).await? {
                out.push(own);
            }
        }
        for (team, role) in self.user_teams(user.id).await? {
            if Role::parse(&role).is_some_and(Role::writes) {
                out.push(Entity::team(team.id, team.name));
            }
        }
        Ok(out)
    }
}

fn last_admin(e: StoreError) -> ApiError {
    match e {
        StoreError::Refused(ErrorCode::LastTeamAdmin) => ApiError::conflict(
            "role",
            ErrorCode::LastTeamAdmin,
            "a team must keep at least one admin",
        ),
        StoreError::Refused(ErrorCode::NotTeamMember) => ApiError::not_found(
            ErrorCode::NotTeamMember,
            "that person is not a member of this team",
        ),
        other => other.into(),
    }
}
