//! `POST /files/<entity>/<project>/<run>/file_stream`: the SDK's stream of history, summary,
//! system metrics and console lines. Answers `{}` (or `{"stopped": true}` once the run was
//! stopped from the web app) only after the write committed; bad bodies get a 4xx, which
//! the SDK does not retry, never a 5xx, which it would retry for days.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{json, Value};

use super::extract::Signed;
use super::{read_body, AppState};
use crate::error::{ApiError, ErrorCode};
use crate::services::runs::RunPath;

pub async fn file_stream(
    State(state): State<AppState>,
    Signed { actor, .. }: Signed,
    Path((entity, project, run)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<Value>, ApiError> {
    // FILESTREAM_GZIP is not advertised, so the SDK never compresses; refuse rather than
    // misread a body another client compressed.
    if headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "file_stream bodies must not be compressed on this server",
        ));
    }
    let limit = state.services.config.runs.file_stream_max_body_bytes;
    let bytes = read_body(body, limit).await?;
    let parsed = crate::services::file_stream::parse_body(&bytes)?;
    let outcome = state
        .services
        .file_stream(&actor, RunPath::new(&entity, &project, &run), parsed)
        .await?;
    Ok(Json(if outcome.stopped {
        json!({ "stopped": true })
    } else {
        json!({})
    }))
}
