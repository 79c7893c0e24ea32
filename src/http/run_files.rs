//! Run files over HTTP: the SDK's upload PUT to a signed URL (no credentials; the URL is
//! the authority) and downloads, authorised like the run, served as attachments.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::extract::Signed;
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::services::run_files::UploadTicket;
use crate::services::runs::RunPath;

const UPLOADS: &str = "/files/uploads/";

pub fn is_upload(path: &str) -> bool {
    path.starts_with(UPLOADS)
}

#[derive(Deserialize)]
pub struct UploadQuery {
    name: String,
    exp: i64,
    sig: String,
}

pub async fn upload(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Response {
    match store_upload(state, run_id, query, body).await {
        Ok(done) => done.into_response(),
        // A refusal may leave part of the body unread, and the server drops such a
        // connection after answering; saying so keeps a pooling client from reusing it.
        Err(error) => {
            let mut response = error.into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

async fn store_upload(
    state: AppState,
    run_id: String,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let invalid = || {
        ApiError::forbidden(
            ErrorCode::UploadUrlInvalid,
            "this upload URL is not valid; ask createRunFiles for a new one",
        )
    };
    let Query(q) = query.map_err(|_| invalid())?;
    let ticket = UploadTicket {
        run_id: run_id.parse().map_err(|_| invalid())?,
        name: q.name,
        expires: q.exp,
        signature: q.sig,
    };
    let file = state
        .services
        .upload_run_file(ticket, body.into_data_stream())
        .await?;
    Ok(Json(
        json!({ "name": file.name, "sizeBytes": file.size_bytes }),
    ))
}

/// `attachment; filename="…"` with the last path segment, ASCII-safe, plus the UTF-8 form.
pub(super) fn disposition(name: &str) -> HeaderValue {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ascii: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(base.as_bytes()).collect();
    let value = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        encoded.replace('+', "%20")
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

pub async fn download(
    State(state): State<AppState>,
    Signed { actor, .. }: Signed,
    Path((entity, project, run, name)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let (file, opened) = state
        .services
        .open_run_file(&actor, RunPath::new(&entity, &project, &run), &name)
        .await?;
    Ok(file_response(opened, disposition(&file.name)))
}

/// A blob streamed as a download, never cached.
pub(super) fn file_response(read: crate::blobs::BlobRead, disposition: HeaderValue) -> Response {
    let fixed = |v| HeaderValue::from_static(v);
    let headers = [
        (header::CONTENT_TYPE, fixed("application/octet-stream")),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CONTENT_LENGTH, HeaderValue::from(read.size)),
        (header::X_CONTENT_TYPE_OPTIONS, fixed("nosniff")),
        (header::CACHE_CONTROL, fixed("private, no-store")),
    ];
    (headers, Body::from_stream(read.body)).into_response()
}
