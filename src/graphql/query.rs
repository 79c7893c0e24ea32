use async_graphql::{Context, Object, SimpleObject};

use super::nodes::{UserConnection, UserEdge, UserNode};
use super::Res;
use super::{request_context, signed_in, IntoGql};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The account behind the request's credentials; null when anonymous.
    async fn viewer(&self, ctx: &Context<'_>) -> Res<Option<UserNode>> {
        let rc = request_context(ctx)?;
        Ok(rc.actor.as_ref().map(|a| UserNode::new(a.user.clone())))
    }

    /// Users whose username contains `query`, or whose email equals it (site admins: contains
    /// it); exact matches first.
    async fn users(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> Res<UserConnection> {
        let (rc, actor) = signed_in(ctx)?;
        let query = query.unwrap_or_default();
        let users = rc
            .services
            .search_users(actor, &query, i64::from(first))
            .await
            .gql()?;
        Ok(UserConnection {
            edges: users
                .into_iter()
                .map(|u| UserEdge {
                    node: UserNode::new(u),
                })
                .collect(),
        })
    }

    /// A person's public profile; null when there is no such user. Needs no sign-in.
    async fn user(&self, ctx: &Context<'_>, username: String) -> Res<Option<UserNode>> {
        let rc = request_context(ctx)?;
        let user = rc.services.public_user(&username).await.gql()?;
        Ok(user.map(UserNode::new))
    }

    /// The features reflect the caller's beta switches (the SDK asks with the run's key).
    async fn server_info(&self, ctx: &Context<'_>) -> Res<ServerInfo> {
        let rc = request_context(ctx)?;
        let features = rc.services.server_features(rc.actor.as_ref()).await.gql()?;
        Ok(ServerInfo::current(features))
    }
}

#[derive(SimpleObject)]
pub struct ServerFeature {
    pub name: String,
    pub is_enabled: bool,
}

#[derive(SimpleObject)]
pub struct LocalVersionInfo {
    pub out_of_date: bool,
    pub latest_version_string: String,
    pub version_on_this_instance_string: String,
}

#[derive(SimpleObject)]
pub struct ServerInfo {
    /// Optional W&B server features and whether they are on for the caller; the SDK treats
    /// a feature not listed as off.
    pub features: Vec<ServerFeature>,
    /// Asked for by older SDKs (0.19) to suggest CLI upgrades; null means "no advice".
    pub cli_version_info: Option<async_graphql::Json<serde_json::Value>>,
    /// Asked for by older SDKs next to `cliVersionInfo`; this server is never out of date
    /// relative to itself.
    pub latest_local_version_info: LocalVersionInfo,
}

impl ServerInfo {
    fn current(features: Vec<(&str, bool)>) -> Self {
        let version = env!("CARGO_PKG_VERSION").to_string();
        Self {
            features: features
                .into_iter()
                .map(|(name, is_enabled)| ServerFeature {
                    name: name.to_string(),
                    is_enabled,
                })
                .collect(),
            cli_version_info: None,
            latest_local_version_info: LocalVersionInfo {
                out_of_date: false,
                latest_version_string: version.clone(),
                version_on_this_instance_string: version,
            },
        }
    }
}
