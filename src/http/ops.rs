//! Health, readiness, metrics, the SDK's telemetry sink and the JSON fallbacks.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{read_body, AppState};
use crate::error::ApiError;

/// The SDK's own telemetry posts are small; anything larger is refused.
const MAX_OTEL_BODY: usize = 1024 * 1024;

pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Ready when the store answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.store.ping().await {
        Ok(()) => axum::Json(json!({ "status": "ready", "store": state.services.store.backend() }))
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the store does not answer",
            )
            .into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.services.metrics.render(),
    )
}

/// `wandb-core` forwards its OpenTelemetry data here; we accept and drop it.
pub async fn otel_sink(request: Request) -> Result<StatusCode, ApiError> {
    read_body(request.into_body(), MAX_OTEL_BODY).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "that method is not allowed here",
    )
}
