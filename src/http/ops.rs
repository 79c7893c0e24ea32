//! Health, readiness, metrics, the SDK's telemetry sink and the JSON fallbacks.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{read_body, AppState};
use crate::error::{ApiError, ErrorCode};

/// The SDK's own telemetry posts are small; anything larger is refused.
const MAX_OTEL_BODY: usize = super::body_guard::OTEL_LIMIT;

pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Ready when the store answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.ready().await {
        Ok(backend) => axum::Json(json!({ "status": "ready", "store": backend })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::store_unavailable().into_response()
        }
    }
}

/// Prometheus text. Request counts by route tell an outsider too much about who uses the
/// server, so it is served only with `metrics_token` as a Bearer token, or to anyone when
/// the operator set `metrics_public`.
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let config = &state.services.config;
    if !config.metrics_public {
        let Some(expected) = config
            .metrics_token
            .as_ref()
            .map(crate::config::Secret::expose)
        else {
            return Err(ApiError::not_found(
                ErrorCode::MetricsDisabled,
                "metrics are not served; set metrics_token (or metrics_public = true)",
            ));
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let ok = crate::keys::hashes_equal(
            &crate::keys::hash_key(expected),
            crate::keys::hash_key(presented).as_slice(),
        );
        if !ok {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::MetricsTokenInvalid,
                "send the metrics token as Authorization: Bearer <metrics_token>",
            ));
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.services.metrics.render(),
    )
        .into_response())
}

/// `wandb-core` forwards its OpenTelemetry data here; we accept and drop it.
pub async fn otel_sink(request: Request) -> Result<StatusCode, ApiError> {
    read_body(request.into_body(), MAX_OTEL_BODY).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "that method is not allowed here",
    )
}
