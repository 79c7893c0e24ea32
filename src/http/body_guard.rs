//! Refuses oversized bodies so that every client can read the refusal.
//!
//! Python's `http.client` (and so `urllib` and `requests`) sends the whole body before it
//! reads a response. A server that answers 413 and closes while such a client is still
//! sending makes it fail with "Broken pipe" instead of a readable 413. So: a declared
//! `Content-Length` over the route's limit is refused before the handler runs, and the body
//! is drained (up to a bound, for a bounded time) before the 413 goes out with
//! `Connection: close`. Chunked bodies are read here up to the limit; beyond it, the same.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::AppState;
use crate::error::{ApiError, ErrorCode};

/// Largest overflow read and thrown away so that the client can read the 413.
const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Sign-in forms and the SDK's telemetry have small limits of their own.
pub const FORM_LIMIT: usize = 16 * 1024;
pub const OTEL_LIMIT: usize = 1024 * 1024;

fn limit_for(path: &str, state: &AppState) -> (usize, ApiError) {
    let limit = if path == "/api/v1/avatar" {
        return (super::avatar::AVATAR_BODY_LIMIT, super::avatar::too_large());
    } else if path.starts_with("/api/v1/") {
        FORM_LIMIT
    } else if path.starts_with("/sdk/otel/") {
        OTEL_LIMIT
    } else if super::run_files::is_upload(path) {
        let max = state.services.config.runs.max_file_bytes;
        return (
            usize::try_from(max).unwrap_or(usize::MAX),
            ApiError::payload_too_large(max as usize),
        );
    } else if path.starts_with("/files/") && path.ends_with("/file_stream") {
        state.services.config.runs.file_stream_max_body_bytes
    } else {
        state.services.config.max_body_bytes
    };
    (limit, ApiError::payload_too_large(limit))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn refuse(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads and discards what is left of a body, within the drain bounds.
async fn drain(mut body: Body) {
    let work = async {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > DRAIN_MAX_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, work).await;
}

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (limit, too_large) = limit_for(request.uri().path(), &state);
    let (parts, body) = request.into_parts();
    // A client that waits for `100 Continue` has sent nothing yet: refuse without reading.
    let expects_continue = parts
        .headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if let Some(length) = declared_length(&parts.headers) {
        if length > limit as u64 {
            if !expects_continue {
                drain(body).await;
            }
            return refuse(too_large);
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    // Uploads stream to disk and count their bytes there; buffering them here would hold a
    // whole file in memory.
    if !parts.headers.contains_key(header::TRANSFER_ENCODING)
        || super::run_files::is_upload(parts.uri.path())
    {
        return next.run(Request::from_parts(parts, body)).await;
    }
    // Chunked: collect up to the limit here, so an overflow can still be drained.
    let mut body = body;
    let mut buffer = Vec::new();
    loop {
        match body.frame().await {
            None => break,
            Some(Err(_)) => {
                return ApiError::bad_request(
                    ErrorCode::BodyUnreadable,
                    "the request body could not be read",
                )
                .into_response()
            }
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    if buffer.len() + data.len() > limit {
                        drain(body).await;
                        return refuse(too_large);
                    }
                    buffer.extend_from_slice(data);
                }
            }
        }
    }
    let body = Body::from(Bytes::from(buffer));
    next.run(Request::from_parts(parts, body)).await
}
