//! Where new projects and runs go (DESIGN §4): an explicit entity wins, then the person's
//! chosen default team, then the only team of a person in exactly one, then their personal
//! entity; a service account writes to its team.
//! An entity the account may not write to is refused, naming both.

use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::store::{AccountType, Entity, User};

fn forbidden(entity: &str, account: &str) -> ApiError {
    ApiError::forbidden(
        ErrorCode::EntityForbidden,
        format!(
            "the account {account} cannot create projects in the entity {}",
            crate::validate::echo(entity)
        ),
    )
}

impl Services {
    /// Whether `user` may create projects in `entity` (own entity, or admin/member of the team).
    pub async fn may_write(&self, user: &User, entity: &Entity) -> Result<bool, ApiError> {
        if !entity.is_team {
            return Ok(entity.user_id == Some(user.id) && user.account_type == AccountType::User);
        }
        let role = self.member_role(entity.id, user.id).await?;
        Ok(role
            .as_deref()
            .and_then(super::access::Role::parse)
            .is_some_and(super::access::Role::writes))
    }

    pub async fn resolve_entity(
        &self,
        actor: &Actor,
        explicit: Option<&str>,
    ) -> Result<Entity, ApiError> {
        let user = &actor.user;
        if let Some(name) = explicit.map(str::trim).filter(|n| !n.is_empty()) {
            let entity = self
                .entity_by_name(name)
                .await?
                .ok_or_else(|| forbidden(name, &user.username))?;
            // Site admins may write anywhere, as they may edit any run.
            let access = self.entity_run_access(user, &entity).await?;
            if access < super::runs::RunAccess::Write {
                return Err(forbidden(&entity.name, &user.username));
            }
            return Ok(entity);
        }
        if let Some(team_id) = user.service_team_id {
            let team = self
                .entity_by_id(team_id)
                .await?
                .ok_or_else(|| forbidden("?", &user.username))?;
            // The same write check as for people: a service account demoted to viewer, or
            // removed from its team, no longer writes there.
            if !self.may_write(user, &team).await? {
                return Err(forbidden(&team.name, &user.username));
            }
            return Ok(team);
        }
        if let Some(default_id) = user.default_entity_id {
            if let Some(entity) = self.entity_by_id(default_id).await? {
                // A default team the person has since left or been demoted in no longer counts.
                if self.may_write(user, &entity).await? {
                    return Ok(entity);
                }
            }
        }
        // The seed: "if you are a member of only one team, that team is the default".
        if let [(team, role)] = self.user_teams(user.id).await?.as_slice() {
            if super::access::Role::parse(role).is_some_and(super::access::Role::writes) {
                if let Some(entity) = self.entity_by_id(team.id).await? {
                    return Ok(entity);
                }
            }
        }
        self.entity_by_name(&user.username).await?.ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::EntityNotFound,
                format!("{} has no personal entity", user.username),
            )
        })
    }

    /// Chooses the default team (None → the personal entity).
    pub async fn set_default_entity(
        &self,
        actor: &Actor,
        name: Option<&str>,
    ) -> Result<(), ApiError> {
        let entity = match name
            .map(str::trim)
            .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&actor.user.username))
        {
            None => None,
            Some(n) => {
                let entity = self
                    .entity_by_name(n)
                    .await?
                    .ok_or_else(|| forbidden(n, &actor.user.username))?;
                if !entity.is_team || !self.may_write(&actor.user, &entity).await? {
                    return Err(forbidden(&entity.name, &actor.user.username));
                }
                Some(entity)
            }
        };
        let event = actor
            .audit("user.default_entity", &actor.user.username)
            .with(serde_json::json!({ "entity": entity.as_ref().map(|e| e.name.clone()) }));
        self.store
            .set_default_entity(actor.user.id, entity.map(|e| e.id), event)
            .await?;
        Ok(())
    }

    /// Applies `X-Wandb-Username` to a service account's request: the named person must be
    /// a member of the service account's team.
    pub async fn attribute(&self, actor: &mut Actor, username: &str) -> Result<(), ApiError> {
        let username = username.trim();
        let Some(team_id) = actor.user.service_team_id else {
            return Ok(());
        };
        if username.is_empty() {
            return Ok(());
        }
        let refused = || {
            ApiError::forbidden(
                ErrorCode::AttributionRefused,
                format!(
                    "{username} is not a member of the team of the service account {}",
                    actor.user.username
                ),
            )
        };
        let person = self
            .store
            .user_by_username(username)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or_else(refused)?;
        if self.store.member_role(team_id, person.id).await?.is_none() {
            return Err(refused());
        }
        actor.on_behalf_of = Some(person);
        Ok(())
    }
}
