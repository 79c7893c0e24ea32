//! `User`: the person behind a request or a profile. Private fields (address, keys, default
//! team, invitations) are decided by `services::access`.

use crate::graphql::Res;
use async_graphql::{Context, Object, SimpleObject, ID};

use super::{iso, ApiKeyConnection, ApiKeyEdge, ApiKeyNode, EntityConnection, EntityEdge};
use super::{EntityNode, InviteNode, TeamMembership};
use crate::graphql::{ids, request_context, signed_in, IntoGql};
use crate::services::profile::photo_url;
use crate::store::{Profile, User};

pub struct UserNode {
    user: User,
    /// Loaded on first use: most SDK queries never ask for profile fields.
    profile: tokio::sync::OnceCell<Profile>,
}

impl UserNode {
    pub fn new(user: User) -> Self {
        Self {
            user,
            profile: tokio::sync::OnceCell::new(),
        }
    }

    async fn profile(&self, ctx: &Context<'_>) -> Res<&Profile> {
        let rc = request_context(ctx)?;
        self.profile
            .get_or_try_init(|| async { rc.services.profile_of(&self.user).await })
            .await
            .map_err(crate::graphql::gql_error)
    }

    /// Private fields (email, keys) are visible to the person themselves and to site admins.
    fn visible_to_viewer(&self, ctx: &Context<'_>) -> bool {
        let viewer = request_context(ctx).ok().and_then(|c| c.actor.as_ref());
        crate::services::access::sees_private(viewer, &self.user)
    }
}

#[Object(name = "User")]
impl UserNode {
    async fn id(&self) -> ID {
        ID(ids::encode("User", self.user.id))
    }

    /// Display name; the username when none is set.
    async fn name(&self) -> &str {
        self.user.shown_name()
    }

    async fn username(&self) -> Option<String> {
        Some(self.user.username.clone())
    }

    async fn email(&self, ctx: &Context<'_>) -> Option<String> {
        self.visible_to_viewer(ctx).then(|| self.user.email.clone())
    }

    /// The language of the mails the server sends this person (`en`, `ko`), as they last
    /// chose it; private, like the email address.
    async fn language(&self, ctx: &Context<'_>) -> Res<Option<String>> {
        if !self.visible_to_viewer(ctx) {
            return Ok(None);
        }
        Ok(self.profile(ctx).await?.language.clone())
    }

    async fn admin(&self) -> bool {
        self.user.is_admin
    }

    /// Per-user feature flags as a JSON object in a string. The SDK reads
    /// `code_saving_enabled`, present (true) when the Code saving beta feature is on.
    async fn flags(&self, ctx: &Context<'_>) -> Res<String> {
        let rc = request_context(ctx)?;
        rc.services.viewer_flags(&self.user).await.gql()
    }

    async fn account_type(&self) -> String {
        self.user.account_type.as_str().to_string()
    }

    /// The profile image (256 px square), or null.
    async fn photo_url(&self, ctx: &Context<'_>) -> Res<Option<String>> {
        Ok(self
            .profile(ctx)
            .await?
            .avatar
            .as_deref()
            .map(|a| photo_url(a, 256)))
    }

    async fn institution(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(self.profile(ctx).await?.institution.clone())
    }

    async fn bio(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(self.profile(ctx).await?.bio.clone())
    }

    async fn location(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(self.profile(ctx).await?.location.clone())
    }

    async fn website(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(self.profile(ctx).await?.website.clone())
    }

    /// The intro as Markdown, as written.
    async fn intro(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(self.profile(ctx).await?.intro.clone())
    }

    /// The intro rendered and sanitized (allow-list), safe to insert into a page.
    async fn intro_html(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(self.profile(ctx).await?.intro_html.clone())
    }

    async fn created_at(&self) -> String {
        iso(self.user.created_at)
    }

    async fn deleted_at(&self) -> Option<String> {
        self.user.deleted_at.map(iso)
    }

    /// The person's active keys, by Key ID. Empty for anyone but the owner and site admins.
    async fn api_keys(&self, ctx: &Context<'_>) -> Res<ApiKeyConnection> {
        if !self.visible_to_viewer(ctx) {
            return Ok(ApiKeyConnection { edges: vec![] });
        }
        let (rc, actor) = signed_in(ctx)?;
        let keys = rc.services.list_keys(actor, self.user.id).await.gql()?;
        Ok(ApiKeyConnection {
            edges: keys
                .into_iter()
                .map(|k| ApiKeyEdge {
                    node: ApiKeyNode::listed(k),
                })
                .collect(),
        })
    }

    /// The personal entity first, then teams. On other people's profiles, teams are
    /// hidden when they chose "Hide teams in public profile".
    async fn teams(&self, ctx: &Context<'_>) -> Res<EntityConnection> {
        let rc = request_context(ctx)?;
        let nodes = super::entity::user_entities(rc, &self.user).await?;
        Ok(EntityConnection {
            edges: nodes.into_iter().map(|node| EntityEdge { node }).collect(),
        })
    }

    /// The default entity new runs land in, as resolved now. Others see the personal entity:
    /// a chosen default team names a team the person may hide from their profile.
    async fn entity(&self, ctx: &Context<'_>) -> Res<String> {
        // The same answer `upsertBucket` gives for a run without an entity (DESIGN §4,
        // including the only team of a person in exactly one), so `api.default_entity` and
        // the runs agree.
        if !self.visible_to_viewer(ctx) {
            return Ok(self.user.username.clone());
        }
        let rc = request_context(ctx)?;
        let as_actor = crate::services::Actor {
            user: self.user.clone(),
            auth: crate::services::AuthMethod::Console,
            on_behalf_of: None,
            request: rc.meta.clone(),
        };
        match rc.services.resolve_entity(&as_actor, None).await {
            Ok(e) => Ok(e.name),
            Err(_) => Ok(self.user.username.clone()),
        }
    }

    async fn team_memberships(&self, ctx: &Context<'_>) -> Res<Vec<TeamMembership>> {
        super::entity::memberships(request_context(ctx)?, &self.user).await
    }

    /// Pending invitations to this person (only they and site admins see them).
    async fn invites(&self, ctx: &Context<'_>) -> Res<Vec<InviteNode>> {
        let rc = request_context(ctx)?;
        let invites = rc
            .services
            .invites_to(rc.actor.as_ref(), &self.user)
            .await
            .gql()?;
        Ok(invites.into_iter().map(InviteNode).collect())
    }

    /// Teams this person may join because of their verified email domain.
    async fn joinable_teams(&self, ctx: &Context<'_>) -> Res<Vec<EntityNode>> {
        let rc = request_context(ctx)?;
        let viewer = rc.actor.as_ref();
        let teams = rc.services.joinable_teams(viewer, &self.user).await.gql()?;
        Ok(teams.into_iter().map(EntityNode::from_team).collect())
    }

    /// Where this person can create projects (the Default team choices).
    async fn project_entities(&self, ctx: &Context<'_>) -> Res<Vec<EntityNode>> {
        let rc = request_context(ctx)?;
        let viewer = rc.actor.as_ref();
        let entities = rc
            .services
            .project_entities(viewer, &self.user)
            .await
            .gql()?;
        Ok(entities.into_iter().map(EntityNode::new).collect())
    }

    /// The chosen default team, or null for the personal entity.
    async fn default_entity(&self, ctx: &Context<'_>) -> Res<Option<EntityNode>> {
        let rc = request_context(ctx)?;
        let entity = rc
            .services
            .default_entity_of(rc.actor.as_ref(), &self.user)
            .await
            .gql()?;
        Ok(entity.map(EntityNode::new))
    }

    async fn hide_teams_in_profile(&self) -> bool {
        self.user.hide_teams
    }

    /// Whether the address is verified; null for anyone but the person and site admins.
    async fn email_verified(&self, ctx: &Context<'_>) -> Option<bool> {
        self.visible_to_viewer(ctx)
            .then_some(self.user.email_verified_at.is_some())
    }
}

#[derive(SimpleObject)]
pub struct UserConnection {
    pub edges: Vec<UserEdge>,
}

#[derive(SimpleObject)]
pub struct UserEdge {
    pub node: UserNode,
}
