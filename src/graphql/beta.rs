//! Settings → Beta features over GraphQL, and W&B's `updateEntity(codeSavingEnabled)`.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::nodes::EntityNode;
use super::{acting, signed_in, IntoGql, Res};
use crate::services::beta::BetaSwitch;

/// One beta feature as the signed-in person (or a team they administer) sees it.
pub(crate) struct BetaFeatureNode(BetaSwitch);

#[Object(name = "BetaFeature")]
impl BetaFeatureNode {
    /// The stable key (`dark_mode`, `code_saving`, `structured_console_logs`).
    async fn key(&self) -> &str {
        self.0.info.key
    }

    /// The name in `language` (`en` or `ko`).
    async fn name(&self, #[graphql(default = "en")] language: String) -> &str {
        self.0.info.name.in_language(&language)
    }

    async fn description(&self, #[graphql(default = "en")] language: String) -> &str {
        self.0.info.description.in_language(&language)
    }

    /// Whether it is in effect.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// The choice made; null until one is (then the default applies).
    async fn choice(&self) -> Option<bool> {
        self.0.choice
    }

    async fn default_enabled(&self) -> bool {
        self.0.info.default
    }

    /// Whether this server offers it; false only in the lists site admins ask for.
    async fn available(&self) -> bool {
        self.0.available
    }
}

fn nodes(switches: Vec<BetaSwitch>) -> Vec<BetaFeatureNode> {
    switches.into_iter().map(BetaFeatureNode).collect()
}

#[derive(Default)]
pub struct BetaQuery;

#[Object]
impl BetaQuery {
    /// The beta features the signed-in person (or `team`, for its admins) can switch. A
    /// feature a site admin withdrew is left out, except for site admins who ask for
    /// `includeUnavailable`.
    async fn beta_features(
        &self,
        ctx: &Context<'_>,
        team: Option<String>,
        include_unavailable: Option<bool>,
    ) -> Res<Vec<BetaFeatureNode>> {
        let (rc, actor, owner) = acting(ctx, team.as_deref()).await?;
        let with_withdrawn = include_unavailable.unwrap_or(false);
        let services = &rc.services;
        let shown = services.shown_beta_switches(actor, owner, with_withdrawn);
        Ok(nodes(shown.await.gql()?))
    }
}

#[derive(InputObject)]
pub struct UpdateBetaFeatureInput {
    key: String,
    /// On or off; null forgets the choice (the default applies again, and the web app's
    /// theme follows the system).
    enabled: Option<bool>,
    /// A team's switch (team admins); none for the signed-in person's.
    team: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateBetaFeatureAvailabilityInput {
    key: String,
    available: bool,
}

/// W&B's `UpdateEntityInput`; Fulcrum changes only `codeSavingEnabled` through it.
#[derive(InputObject)]
pub struct UpdateEntityInput {
    entity: String,
    code_saving_enabled: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateEntityPayload {
    entity: EntityNode,
}

#[derive(Default)]
pub struct BetaMutation;

#[Object]
impl BetaMutation {
    /// Flips one switch; answers the whole list.
    async fn update_beta_feature(
        &self,
        ctx: &Context<'_>,
        input: UpdateBetaFeatureInput,
    ) -> Res<Vec<BetaFeatureNode>> {
        let (rc, actor, owner) = acting(ctx, input.team.as_deref()).await?;
        let services = &rc.services;
        services
            .set_beta_feature(actor, owner, &input.key, input.enabled)
            .await
            .gql()?;
        let shown = services.shown_beta_switches(actor, owner, false);
        Ok(nodes(shown.await.gql()?))
    }

    /// Offers a beta feature on this server, or withdraws it for everyone (site admins).
    /// Answers the admin's own list, withdrawn features included.
    async fn update_beta_feature_availability(
        &self,
        ctx: &Context<'_>,
        input: UpdateBetaFeatureAvailabilityInput,
    ) -> Res<Vec<BetaFeatureNode>> {
        let (rc, actor) = signed_in(ctx)?;
        let services = &rc.services;
        services
            .set_beta_available(actor, &input.key, input.available)
            .await
            .gql()?;
        let mine = crate::store::Owner::User(actor.user.id);
        let shown = services.shown_beta_switches(actor, mine, true);
        Ok(nodes(shown.await.gql()?))
    }

    /// W&B's entity settings: `codeSavingEnabled` is the team's Code saving switch (team
    /// admins), or on one's own entity one's own.
    async fn update_entity(
        &self,
        ctx: &Context<'_>,
        input: UpdateEntityInput,
    ) -> Res<UpdateEntityPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let services = &rc.services;
        let entity = match input.code_saving_enabled {
            Some(on) => services
                .set_entity_code_saving(actor, &input.entity, on)
                .await
                .gql()?,
            None => services.visible_entity(actor, &input.entity).await.gql()?,
        };
        Ok(UpdateEntityPayload {
            entity: EntityNode::new(entity),
        })
    }
}
