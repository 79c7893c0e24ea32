//! The one request → actor step, as axum extractors. Every route that needs to know who is
//! asking takes [`Caller`] (anonymous allowed) or [`Signed`] (401 otherwise); both carry the
//! request's [`RequestMeta`] (IP, user agent, request id) for audit rows and rate limits:
//! a signed-in caller's inside its [`Actor`] (`actor.request`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::credentials::{client_meta, resolve_actor};
use super::AppState;
use crate::error::ApiError;
use crate::services::{Actor, RequestMeta};

/// The request id `observe` assigned, kept in the request's extensions for the extractors.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Who is asking, if anyone, and from where.
pub struct Caller {
    pub actor: Option<Actor>,
    pub meta: RequestMeta,
}

/// A caller with credentials: an API key or a session.
pub struct Signed {
    pub actor: Actor,
}

fn meta_of(state: &AppState, parts: &Parts) -> RequestMeta {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let mut meta = client_meta(&state.services.config, &parts.headers, peer);
    meta.request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
    meta
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let meta = meta_of(state, parts);
        let actor = resolve_actor(state, &parts.method, &parts.headers, &meta).await?;
        Ok(Caller { actor, meta })
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let actor = Caller::from_request_parts(parts, state).await?.actor;
        Ok(Signed {
            actor: actor.ok_or_else(ApiError::unauthenticated)?,
        })
    }
}
