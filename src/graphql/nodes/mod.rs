//! Every GraphQL output type with its own resolvers, in one place, named as W&B names them.

mod api_key;
mod entity;
mod invite;
mod project;
mod run;
mod run_file;
mod user;

pub use api_key::{ApiKeyConnection, ApiKeyEdge, ApiKeyNode};
pub use entity::{EntityConnection, EntityEdge, EntityNode, TeamMembership};
pub use invite::InviteNode;
pub use project::{ProjectConnection, ProjectEdge, ProjectNode};
pub use run::RunNode;
pub use user::{UserConnection, UserEdge, UserNode};

pub(crate) fn iso(ms: i64) -> String {
    crate::iso_ms(ms)
}
