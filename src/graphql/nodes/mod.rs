//! Every GraphQL output type with its own resolvers, in one place, named as W&B names them.

mod api_key;
mod entity;
mod invite;
mod run;
mod run_file;
mod user;

pub use api_key::{ApiKeyConnection, ApiKeyEdge, ApiKeyNode};
pub use entity::{EntityConnection, EntityEdge, EntityNode, TeamMembership};
pub use invite::InviteNode;
pub use run::{ProjectNode, RunNode};
pub use user::{UserConnection, UserEdge, UserNode};

pub(crate) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}
