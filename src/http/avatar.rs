//! Profile image upload (`POST /api/v1/avatar`, multipart field `file`), removal, and the
//! images themselves (`GET /avatars/<name>.png`) with a fixed type and a strict policy.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::Signed;
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::images::MAX_UPLOAD_BYTES;

/// The route's body limit: the image plus the multipart framing.
pub const AVATAR_BODY_LIMIT: usize = MAX_UPLOAD_BYTES + 64 * 1024;

pub(super) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::ImageTooLarge,
        "the profile image may be at most 5 MiB",
    )
}

pub async fn upload(
    State(state): State<AppState>,
    Signed { actor }: Signed,
    request: Request,
) -> Result<Response, ApiError> {
    let mut multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|e| {
            ApiError::bad_request(
                ErrorCode::MultipartInvalid,
                format!("send the image as multipart/form-data: {e}"),
            )
        })?;
    let mut upload = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|_| too_large())? {
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| too_large())? {
            if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        upload = Some(bytes);
        break;
    }
    let bytes = upload.ok_or_else(|| {
        ApiError::validation(
            "file",
            ErrorCode::ImageMissing,
            "choose an image file to upload",
        )
    })?;
    let url = state.services.set_avatar(&actor, bytes).await?;
    Ok(axum::Json(json!({ "photoUrl": url })).into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    Signed { actor }: Signed,
) -> Result<Response, ApiError> {
    state.services.remove_avatar(&actor).await?;
    Ok(axum::Json(json!({ "photoUrl": null })).into_response())
}

pub async fn image(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(ErrorCode::NotFound, "no such image");
    if !crate::blobs::valid_name(&name) {
        return Err(not_found());
    }
    let bytes = state
        .services
        .blobs
        .get(&name)
        .await
        .map_err(ApiError::blob_failure("read a profile image"))?
        .ok_or_else(not_found)?;
    let headers = [
        (header::CONTENT_TYPE, "image/png"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ),
        // Names are random and never reused, so the bytes behind one never change.
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
    ];
    Ok((headers, bytes).into_response())
}
