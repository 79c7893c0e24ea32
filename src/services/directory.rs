//! Reads the GraphQL schema needs — people, entities, teams, members, invitations — each
//! with its access check, so that no transport reads the store or decides who sees what.

use serde_json::json;

use super::access::{sees_private, team_access, Role, TeamAccess};
use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::store::{AccountType, EmailMatch, Entity, Invite, Membership, Team, User};

/// Longest search text; the SDK searches by whole usernames and addresses.
pub const MAX_SEARCH_LEN: usize = 256;
pub const MAX_SEARCH_RESULTS: i64 = 100;

impl Services {
    pub async fn user(&self, id: i64) -> Result<Option<User>, ApiError> {
        Ok(self.store.user_by_id(id).await?)
    }

    pub async fn entity_named(&self, name: &str) -> Result<Option<Entity>, ApiError> {
        Ok(self.entity_by_name(name).await?)
    }

    pub async fn entity(&self, id: i64) -> Result<Option<Entity>, ApiError> {
        Ok(self.entity_by_id(id).await?)
    }

    pub async fn team(&self, entity_id: i64) -> Result<Option<Team>, ApiError> {
        Ok(self.store.team_by_id(entity_id).await?)
    }

    /// The caller's role in a team; none for anonymous callers and non-members.
    pub async fn role_in(
        &self,
        actor: Option<&Actor>,
        team_id: i64,
    ) -> Result<Option<Role>, ApiError> {
        let Some(actor) = actor else { return Ok(None) };
        let role = self.member_role(team_id, actor.user.id).await?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    /// What the caller may do with a team.
    pub async fn access_to(&self, actor: &Actor, team_id: i64) -> Result<TeamAccess, ApiError> {
        let role = self.role_in(Some(actor), team_id).await?;
        Ok(team_access(actor, role))
    }

    /// `users(query:)`: usernames by substring; addresses whole, or by substring for site
    /// admins (who may read every address).
    pub async fn search_users(
        &self,
        actor: &Actor,
        query: &str,
        limit: i64,
    ) -> Result<Vec<User>, ApiError> {
        if query.len() > MAX_SEARCH_LEN {
            return Err(ApiError::bad_request(
                ErrorCode::QueryTooLong,
                format!("a search has at most {MAX_SEARCH_LEN} bytes"),
            ));
        }
        let email = if actor.user.is_admin {
            EmailMatch::Substring
        } else {
            EmailMatch::Exact
        };
        let limit = limit.clamp(1, MAX_SEARCH_RESULTS);
        Ok(self.store.search_users(query.trim(), email, limit).await?)
    }

    /// An entity by name: a team for its members and site admins, a personal entity for its
    /// person and site admins.
    pub async fn visible_entity(&self, actor: &Actor, name: &str) -> Result<Entity, ApiError> {
        let entity = self.entity_named(name).await?.ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::EntityNotFound,
                format!("there is no entity named {}", crate::validate::echo(name)),
            )
        })?;
        if entity.is_team {
            self.visible_team(actor, &entity.name).await?;
        } else if entity.user_id != Some(actor.user.id) && !actor.user.is_admin {
            return Err(ApiError::forbidden(
                ErrorCode::NotTeamMember,
                format!(
                    "{} cannot see the entity {}",
                    actor.user.username, entity.name
                ),
            ));
        }
        Ok(entity)
    }

    /// A team's members for those who may read the team, and whether the caller manages it.
    /// A personal entity lists its person, for them and site admins.
    pub async fn members_of(
        &self,
        actor: &Actor,
        entity: &Entity,
    ) -> Result<(Vec<Membership>, bool), ApiError> {
        if !entity.is_team {
            let own = entity.user_id == Some(actor.user.id) || actor.user.is_admin;
            let user = match entity.user_id.filter(|_| own) {
                Some(id) => self.user(id).await?,
                None => None,
            };
            let members = user
                .map(|user| Membership {
                    joined_at: user.created_at,
                    user,
                    role: Role::Admin.as_str().into(),
                    description: String::new(),
                })
                .into_iter()
                .collect();
            return Ok((members, own));
        }
        let access = self.access_to(actor, entity.id).await?;
        if access == TeamAccess::None {
            return Err(ApiError::forbidden(
                ErrorCode::NotTeamMember,
                format!("{} is not a member of {}", actor.user.username, entity.name),
            ));
        }
        let members = self.store.team_members(entity.id).await?;
        Ok((members, access == TeamAccess::Manage))
    }

    /// Pending invitations and join requests of a team, for those who manage it; none for
    /// anybody else.
    pub async fn invites_of(
        &self,
        actor: Option<&Actor>,
        entity: &Entity,
    ) -> Result<Vec<Invite>, ApiError> {
        let Some(actor) = actor.filter(|_| entity.is_team) else {
            return Ok(vec![]);
        };
        if self.access_to(actor, entity.id).await? != TeamAccess::Manage {
            return Ok(vec![]);
        }
        Ok(self
            .store
            .pending_team_invites(entity.id, crate::now_ms())
            .await?)
    }

    /// Pending invitations to a person, for them and site admins.
    pub async fn invites_to(
        &self,
        viewer: Option<&Actor>,
        person: &User,
    ) -> Result<Vec<Invite>, ApiError> {
        if !sees_private(viewer, person) {
            return Ok(vec![]);
        }
        Ok(self
            .store
            .pending_user_invites(person.id, crate::now_ms())
            .await?)
    }

    /// The person's teams with their roles, unless they hide them from this viewer.
    pub async fn teams_of(
        &self,
        viewer: Option<&Actor>,
        person: &User,
    ) -> Result<Vec<(Team, String)>, ApiError> {
        if person.hide_teams && !sees_private(viewer, person) {
            return Ok(vec![]);
        }
        Ok(self.user_teams(person.id).await?)
    }

    /// The personal entity (people only, as stored when it exists) followed by the teams
    /// the viewer may see.
    pub async fn entities_of(
        &self,
        viewer: Option<&Actor>,
        person: &User,
    ) -> Result<Vec<Entity>, ApiError> {
        let mut out = Vec::new();
        if person.account_type == AccountType::User {
            let own = self.entity_named(&person.username).await?;
            out.push(own.unwrap_or_else(|| Entity {
                id: 0,
                name: person.username.clone(),
                is_team: false,
                user_id: Some(person.id),
            }));
        }
        for (team, _) in self.teams_of(viewer, person).await? {
            out.push(Entity::team(team.id, team.name));
        }
        Ok(out)
    }

    /// The chosen default team, for the person and site admins.
    pub async fn default_entity_of(
        &self,
        viewer: Option<&Actor>,
        person: &User,
    ) -> Result<Option<Entity>, ApiError> {
        match person.default_entity_id {
            Some(id) if sees_private(viewer, person) => self.entity(id).await,
            _ => Ok(None),
        }
    }

    /// "Hide teams in public profile".
    pub async fn set_hide_teams(&self, actor: &Actor, hide: bool) -> Result<(), ApiError> {
        let event = actor
            .audit("user.hide_teams", &actor.user.username)
            .with(json!({ "hide": hide }));
        self.store
            .set_hide_teams(actor.user.id, hide, event)
            .await?;
        Ok(())
    }
}
