//! One error type for every client-facing failure.
//!
//! Each error carries an HTTP status, a stable machine `code` (the web UI translates by it)
//! and a human message in English. Internal failures are logged with their cause and reach
//! the client only as `internal_error`, never with details.
//!
//! Use `ApiError` in services and handlers, `StoreError` inside the store, and `anyhow` only
//! for start-up and CLI plumbing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The input field at fault, for inline validation messages.
    pub field: Option<&'static str>,
    /// Seconds to wait before trying again (rate limits).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
    }

    pub fn conflict(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message).with_field(field)
    }

    /// The one answer for any unusable API key: unknown, wrong secret, revoked or expired.
    pub fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "invalid api key",
        )
    }

    pub fn malformed_credentials(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "malformed_credentials", message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "you must sign in or send an API key",
        )
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many attempts; try again later",
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        )
    }

    /// The GraphQL-style envelope the W&B SDK reads messages from.
    pub fn body(&self) -> serde_json::Value {
        let mut extensions = json!({ "code": self.code });
        if let Some(field) = self.field {
            extensions["field"] = json!(field);
        }
        json!({ "errors": [{ "message": self.message, "extensions": extensions }] })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = secs.to_string().parse() {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}

/// Failures of the storage layer, mapped to `ApiError` at the service boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the payload names the logical field.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("limit reached")]
    LimitReached,
    /// An invariant refused the change; the payload is the stable code.
    #[error("refused: {0}")]
    Refused(&'static str),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => ApiError::conflict(
                field,
                "already_exists",
                format!("that {field} is already taken"),
            ),
            StoreError::LimitReached => ApiError::bad_request("limit_reached", "limit reached"),
            StoreError::Refused(code) => ApiError::new(
                axum::http::StatusCode::CONFLICT,
                code,
                code.replace('_', " "),
            ),
            StoreError::Other(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "store failure");
                ApiError::internal()
            }
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
