//! HTTP: the router, cross-cutting middleware and the request → actor step.

mod account;
mod account_data;
mod avatar;
mod body_guard;
mod credentials;
mod extract;
mod file_stream;
mod github;
mod graphql;
mod observe;
mod ops;
mod page;
mod run_files;
mod security;
pub mod serve;
mod slack;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::{ApiError, ErrorCode};
use crate::graphql::FulcrumSchema;
use crate::services::Services;

pub use credentials::{client_meta, session_cookie_name};

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub schema: FulcrumSchema,
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", post(graphql::graphql))
        .route("/api/v1/session", get(account::session))
        .route("/api/v1/setup", post(account::setup))
        .route("/api/v1/login", post(account::login))
        .route("/api/v1/logout", post(account::logout))
        .route(
            "/api/v1/logout-everywhere",
            post(account::logout_everywhere),
        )
        .route(
            "/api/v1/account/deletion",
            get(account_data::preview).post(account_data::delete),
        )
        .route(
            "/api/v1/account/exports",
            get(account_data::exports).post(account_data::start_export),
        )
        .route(
            "/api/v1/account/exports/{token}/download",
            get(account_data::download_export),
        )
        .route("/api/v1/account/password", post(security::password))
        .route("/api/v1/account/email", post(security::email))
        .route("/api/v1/account/reauth", post(security::reauth))
        .route("/api/v1/account/sessions", get(security::sessions))
        .route(
            "/api/v1/account/sessions/end-others",
            post(security::end_others),
        )
        .route(
            "/api/v1/account/sessions/{id}",
            axum::routing::delete(security::end_one),
        )
        .route("/api/v1/account/security-events", get(security::events))
        .route(
            "/api/v1/avatar",
            post(avatar::upload)
                .delete(avatar::remove)
                .layer(DefaultBodyLimit::max(avatar::AVATAR_BODY_LIMIT)),
        )
        .route("/avatars/{name}", get(avatar::image))
        .route(
            "/files/{entity}/{project}/{run}/file_stream",
            post(file_stream::file_stream),
        )
        .route(
            "/files/uploads/{run_id}",
            axum::routing::put(run_files::upload),
        )
        .route(
            "/files/{entity}/{project}/{run}/{*name}",
            get(run_files::download),
        )
        .route("/api/v1/github/connect", get(github::connect))
        .route(
            crate::services::github::CALLBACK_PATH,
            get(github::callback),
        )
        .route("/api/v1/alerts/slack/connect", get(slack::connect))
        .route(
            crate::services::slack_oauth::CALLBACK_PATH,
            get(slack::callback),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/sdk/otel/v1/{*signal}", post(ops::otel_sink))
        .route_layer(axum::middleware::from_fn(observe::tag_route))
        .fallback(ui::fallback)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            body_guard::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .layer(TimeoutLayer::new(REQUEST_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
        .with_state(state)
}

/// Reads a whole body up to `limit` bytes, answering 413 beyond it.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::bad_request(
                ErrorCode::BodyUnreadable,
                "the request body could not be read",
            )
        }
    })
}
