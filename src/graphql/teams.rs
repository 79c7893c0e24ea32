//! Teams in the schema: `entity(name)` (the SDK's `GetTeamEntity`), invitations and the team
//! mutations. Every rule lives in the services; this only translates.

use super::Res;
use async_graphql::{Context, Object};

use super::nodes::{ApiKeyNode, EntityNode, InviteNode, UserNode};
use super::team_inputs::*;
use super::{gql_error, ids, request_context, signed_in, IntoGql, RequestContext};
use crate::error::{ApiError, ErrorCode};

#[derive(Default)]
pub struct TeamQuery;

#[Object]
impl TeamQuery {
    /// The pending invitation behind a mailed link, for its invitee only.
    async fn invite(&self, ctx: &Context<'_>, token: String) -> Res<InviteNode> {
        let (rc, actor) = signed_in(ctx)?;
        let (invite, _) = rc
            .services
            .own_invite(actor, None, Some(&token))
            .await
            .gql()?;
        Ok(InviteNode(invite))
    }

    /// A team (members and site admins) or a personal entity (its person and site admins).
    async fn entity(&self, ctx: &Context<'_>, name: String) -> Res<Option<EntityNode>> {
        let (rc, actor) = signed_in(ctx)?;
        let entity = rc.services.visible_entity(actor, &name).await.gql()?;
        Ok(Some(EntityNode::new(entity)))
    }
}

/// The invitation an answer names by id, if it names one (a mailed token may stand instead).
fn invite_id(input: &AnswerInviteInput) -> Res<Option<i64>> {
    input
        .id
        .as_deref()
        .map(|i| ids::decode("Invite", i))
        .transpose()
        .gql()
}

async fn team_payload(rc: &RequestContext, name: &str) -> Res<EntityPayload> {
    let entity = rc.services.entity_named(name).await.gql()?;
    Ok(EntityPayload {
        entity: entity.map(EntityNode::new),
    })
}

pub(crate) async fn fresh_user(rc: &RequestContext, id: i64) -> Res<UserNode> {
    let user = rc.services.user(id).await.gql()?;
    user.map(UserNode::new)
        .ok_or_else(|| gql_error(ApiError::not_found(ErrorCode::UserNotFound, "no such user")))
}

#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    async fn create_team(&self, ctx: &Context<'_>, input: CreateTeamInput) -> Res<EntityPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let description = input.description.unwrap_or_default();
        let team = rc
            .services
            .create_team(
                actor,
                &input.team_name,
                input.team_admin_user_name.as_deref(),
                &description,
            )
            .await
            .gql()?;
        Ok(EntityPayload::of_team(team))
    }

    async fn update_team(&self, ctx: &Context<'_>, input: UpdateTeamInput) -> Res<EntityPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let team = rc
            .services
            .update_team(
                actor,
                &input.entity_name,
                input.description.as_deref(),
                input.join_policy.as_deref(),
                input.email_domain.as_deref(),
            )
            .await
            .gql()?;
        Ok(EntityPayload::of_team(team))
    }

    async fn delete_team(&self, ctx: &Context<'_>, input: EntityNameInput) -> Res<SuccessPayload> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services
            .delete_team(actor, &input.entity_name)
            .await
            .gql()?;
        Ok(SuccessPayload::DONE)
    }

    /// Invites a person by username or email; `admin: true` means the admin role.
    async fn create_invite(
        &self,
        ctx: &Context<'_>,
        input: CreateInviteInput,
    ) -> Res<InvitePayload> {
        let (rc, actor) = signed_in(ctx)?;
        let who = input.username.or(input.email).unwrap_or_default();
        if who.trim().is_empty() {
            return Err(gql_error(ApiError::validation(
                "username",
                ErrorCode::UsernameRequired,
                "name the person to invite",
            )));
        }
        let role = input.role.unwrap_or_else(|| {
            if input.admin.unwrap_or(false) {
                "admin".into()
            } else {
                "member".into()
            }
        });
        let invite = rc
            .services
            .invite(actor, &input.entity_name, &who, &role)
            .await
            .gql()?;
        Ok(InvitePayload {
            invite: InviteNode(invite),
        })
    }

    /// Withdraws an invitation (an `Invite` id) or removes a member (a `User` id).
    async fn delete_invite(
        &self,
        ctx: &Context<'_>,
        input: DeleteInviteInput,
    ) -> Res<SuccessPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let id = input.id.unwrap_or_default();
        if let Ok(invite_id) = ids::decode("Invite", &id) {
            rc.services.cancel_invite(actor, invite_id).await.gql()?;
            return Ok(SuccessPayload::DONE);
        }
        let user_id = ids::decode("User", &id).gql()?;
        let team = input.entity_name.ok_or_else(|| {
            gql_error(ApiError::validation(
                "entityName",
                ErrorCode::EntityRequired,
                "name the team to remove the member from",
            ))
        })?;
        rc.services
            .remove_member(actor, &team, user_id)
            .await
            .gql()?;
        Ok(SuccessPayload::DONE)
    }

    async fn accept_invite(
        &self,
        ctx: &Context<'_>,
        input: AnswerInviteInput,
    ) -> Res<EntityPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let id = invite_id(&input)?;
        let invite = rc
            .services
            .answer_invite(actor, id, input.token.as_deref(), true)
            .await
            .gql()?;
        team_payload(rc, &invite.team_name).await
    }

    async fn decline_invite(
        &self,
        ctx: &Context<'_>,
        input: AnswerInviteInput,
    ) -> Res<SuccessPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let id = invite_id(&input)?;
        rc.services
            .answer_invite(actor, id, input.token.as_deref(), false)
            .await
            .gql()?;
        Ok(SuccessPayload::DONE)
    }

    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        input: UpdateMemberRoleInput,
    ) -> Res<EntityPayload> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services
            .set_member_role(actor, &input.entity_name, &input.username, &input.role)
            .await
            .gql()?;
        team_payload(rc, &input.entity_name).await
    }

    async fn leave_team(&self, ctx: &Context<'_>, input: EntityNameInput) -> Res<SuccessPayload> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services
            .remove_member(actor, &input.entity_name, actor.user.id)
            .await
            .gql()?;
        Ok(SuccessPayload::DONE)
    }

    async fn join_team(&self, ctx: &Context<'_>, input: EntityNameInput) -> Res<JoinTeamPayload> {
        let (rc, actor) = signed_in(ctx)?;
        match rc
            .services
            .join_team(actor, &input.entity_name)
            .await
            .gql()?
        {
            Some(request) => Ok(JoinTeamPayload {
                entity: None,
                request: Some(InviteNode(request)),
            }),
            None => Ok(JoinTeamPayload {
                entity: team_payload(rc, &input.entity_name).await?.entity,
                request: None,
            }),
        }
    }

    async fn resolve_join_request(
        &self,
        ctx: &Context<'_>,
        input: ResolveJoinRequestInput,
    ) -> Res<SuccessPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let id = ids::decode("Invite", &input.id).gql()?;
        rc.services
            .resolve_join_request(actor, id, input.approve)
            .await
            .gql()?;
        Ok(SuccessPayload::DONE)
    }

    async fn create_service_account(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceAccountInput,
    ) -> Res<ServiceAccountPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let user = rc
            .services
            .create_service_account(
                actor,
                &input.entity_name,
                input.name.as_deref(),
                &input.description,
            )
            .await
            .gql()?;
        Ok(ServiceAccountPayload {
            user: UserNode::new(user),
        })
    }

    async fn create_service_account_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceAccountApiKeyInput,
    ) -> Res<ServiceAccountKeyPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let id = ids::decode("User", &input.service_account_id).gql()?;
        let name = input.description.unwrap_or_default();
        let (record, full) = rc
            .services
            .create_service_account_key(actor, &input.entity_name, id, &name)
            .await
            .gql()?;
        let mut node = ApiKeyNode::listed(record);
        node.name = full.to_string();
        Ok(ServiceAccountKeyPayload { api_key: node })
    }

    /// Chooses the default team; null (or the person's own name) means the personal entity.
    async fn set_default_entity(
        &self,
        ctx: &Context<'_>,
        input: SetDefaultEntityInput,
    ) -> Res<UserPayload> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services
            .set_default_entity(actor, input.entity_name.as_deref())
            .await
            .gql()?;
        Ok(UserPayload {
            user: fresh_user(rc, actor.user.id).await?,
        })
    }

    async fn update_user_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserSettingsInput,
    ) -> Res<UserPayload> {
        let (rc, actor) = signed_in(ctx)?;
        if let Some(hide) = input.hide_teams_in_profile {
            rc.services.set_hide_teams(actor, hide).await.gql()?;
        }
        Ok(UserPayload {
            user: fresh_user(rc, actor.user.id).await?,
        })
    }

    /// Mails a verification link to the caller's address.
    async fn request_email_verification(&self, ctx: &Context<'_>) -> Res<SuccessPayload> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services.request_email_verification(actor).await.gql()?;
        Ok(SuccessPayload::DONE)
    }

    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        input: VerifyEmailInput,
    ) -> Res<SuccessPayload> {
        let rc = request_context(ctx)?;
        rc.services
            .verify_email(&input.token, &rc.meta)
            .await
            .gql()?;
        Ok(SuccessPayload::DONE)
    }
}
