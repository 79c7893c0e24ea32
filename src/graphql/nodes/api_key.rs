//! `ApiKey`: a key as listed (by Key ID), and in the one answer that shows it whole.

use async_graphql::{SimpleObject, ID};

use super::iso;
use crate::graphql::ids;
use crate::store::ApiKeyRecord;

#[derive(SimpleObject)]
pub struct ApiKeyConnection {
    pub edges: Vec<ApiKeyEdge>,
}

#[derive(SimpleObject)]
pub struct ApiKeyEdge {
    pub node: ApiKeyNode,
}

#[derive(SimpleObject)]
#[graphql(name = "ApiKey")]
pub struct ApiKeyNode {
    pub id: ID,
    /// The Key ID; only in the `generateApiKey` answer is this the full key (the SDK's
    /// `generate_api_key()` returns this field).
    pub name: String,
    /// The name people gave the key.
    pub description: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
}

impl ApiKeyNode {
    pub fn listed(k: ApiKeyRecord) -> Self {
        Self {
            id: ID(ids::encode("ApiKey", k.id)),
            name: k.key_id,
            description: Some(k.name),
            created_at: iso(k.created_at),
            last_used_at: k.last_used_at.map(iso),
            expires_at: k.expires_at.map(iso),
        }
    }
}
