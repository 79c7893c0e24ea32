//! `Invite`: an invitation or a join request.

use crate::graphql::Res;
use async_graphql::{Context, Object, ID};

use super::{iso, EntityNode, UserNode};
use crate::graphql::{ids, request_context, IntoGql};
use crate::store::{Entity, Invite, User};

pub struct InviteNode(pub Invite);

#[Object(name = "Invite")]
impl InviteNode {
    async fn id(&self) -> ID {
        ID(ids::encode("Invite", self.0.id))
    }

    /// `INVITE` (sent by a team admin) or `REQUEST` (someone asked to join).
    async fn kind(&self) -> String {
        self.0.kind.to_ascii_uppercase()
    }

    /// Who is invited (username, or email).
    async fn name(&self, ctx: &Context<'_>) -> Res<Option<String>> {
        Ok(self
            .to_user_inner(ctx)
            .await?
            .map(|u| u.username)
            .or_else(|| self.0.email.clone()))
    }

    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    async fn role(&self) -> &str {
        &self.0.role
    }

    async fn created_at(&self) -> String {
        iso(self.0.created_at)
    }

    async fn expires_at(&self) -> String {
        iso(self.0.expires_at)
    }

    async fn entity(&self) -> EntityNode {
        EntityNode::new(Entity::team(self.0.team_id, self.0.team_name.clone()))
    }

    async fn to_user(&self, ctx: &Context<'_>) -> Res<Option<UserNode>> {
        Ok(self.to_user_inner(ctx).await?.map(UserNode::new))
    }

    /// Who sent the invitation.
    #[graphql(name = "fromUser")]
    async fn sender(&self, ctx: &Context<'_>) -> Res<Option<UserNode>> {
        let Some(id) = self.0.invited_by else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let user = rc.services.user(id).await.gql()?;
        Ok(user.map(UserNode::new))
    }
}

impl InviteNode {
    async fn to_user_inner(&self, ctx: &Context<'_>) -> Res<Option<User>> {
        let Some(id) = self.0.user_id else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        rc.services.user(id).await.gql()
    }
}
