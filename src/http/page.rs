//! What the web app's pages send once someone is signed in: a state change
//! ([`PageAction`]) or a JSON form ([`PageForm`]). Both refuse another site's `Origin`
//! before anything else (CSRF), so no handler can forget the check.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::credentials::verify_same_origin;
use super::extract::Signed;
use super::{read_body, AppState};
use crate::error::{ApiError, ErrorCode};
use crate::services::Actor;

/// Forms are tiny.
pub(super) const MAX_FORM_BODY: usize = super::body_guard::FORM_LIMIT;

/// A signed-in request that changes something, from one of our pages (or a script).
pub struct PageAction {
    pub actor: Actor,
}

/// A signed-in JSON form of type `T`, from one of our pages (or a script).
pub struct PageForm<T> {
    pub actor: Actor,
    pub form: T,
}

/// Forms posted from a page must come from our own origin; scripts send no `Origin`.
pub(super) fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key("origin") {
        verify_same_origin(&state.services.config, headers)?;
    }
    Ok(())
}

/// The body as `T`, which must be sent as `application/json`.
pub(super) fn json_form<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidJson,
            format!("the form is not valid: {e}"),
        )
    })
}

impl FromRequestParts<AppState> for PageAction {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check_origin(state, &parts.headers)?;
        let Signed { actor } = Signed::from_request_parts(parts, state).await?;
        Ok(PageAction { actor })
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for PageForm<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let PageAction { actor } = PageAction::from_request_parts(&mut parts, state).await?;
        let body = read_body(body, MAX_FORM_BODY).await?;
        let form = json_form(&parts.headers, &body)?;
        Ok(PageForm { actor, form })
    }
}
