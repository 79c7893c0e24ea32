//! `/api/v1/account/*`: the Account security section — password, email address,
//! sessions, sudo mode and recent security events. Every change goes through
//! `services::account_security`; forms are same-origin JSON, like sign-in.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::account::signed_out;
use super::extract::Signed;
use super::page::{PageAction, PageForm};
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::services::account_security::SessionView;
use crate::store::AuditRecord;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordForm {
    current_password: Zeroizing<String>,
    new_password: Zeroizing<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailForm {
    email: String,
    current_password: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct ReauthForm {
    password: Zeroizing<String>,
}

pub async fn password(
    State(state): State<AppState>,
    PageForm { actor, form }: PageForm<PasswordForm>,
) -> Result<Response, ApiError> {
    let ended = state
        .services
        .change_password(&actor, form.current_password, form.new_password)
        .await?;
    Ok(axum::Json(json!({ "ok": true, "sessionsEnded": ended })).into_response())
}

pub async fn email(
    State(state): State<AppState>,
    PageForm { actor, form }: PageForm<EmailForm>,
) -> Result<Response, ApiError> {
    state
        .services
        .request_email_change(&actor, &form.email, form.current_password)
        .await?;
    // Say whether the link actually leaves now, so the page does not claim a mail was
    // sent when it only waits in the queue.
    let mail_configured = state.services.config.mail.is_configured();
    Ok(axum::Json(json!({ "ok": true, "mailConfigured": mail_configured })).into_response())
}

pub async fn reauth(
    State(state): State<AppState>,
    PageForm { actor, form }: PageForm<ReauthForm>,
) -> Result<Response, ApiError> {
    state
        .services
        .confirm_password(&actor, form.password)
        .await?;
    Ok(axum::Json(json!({ "ok": true })).into_response())
}

pub async fn sessions(
    State(state): State<AppState>,
    Signed { actor }: Signed,
) -> Result<Response, ApiError> {
    let sessions = state.services.list_sessions(&actor).await?;
    let rows: Vec<_> = sessions.iter().map(session_json).collect();
    Ok(axum::Json(json!({ "sessions": rows })).into_response())
}

pub async fn end_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageAction { actor }: PageAction,
) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(ErrorCode::InvalidId, "a session id is a number"))?;
    let own = matches!(actor.auth, crate::services::AuthMethod::Session { session_id, .. } if session_id == id);
    state.services.end_session(&actor, id).await?;
    let body = json!({ "ok": true, "signedOut": own });
    // Ending the session that made the request signs this browser out.
    Ok(if own {
        signed_out(&state, body)
    } else {
        axum::Json(body).into_response()
    })
}

pub async fn end_others(
    State(state): State<AppState>,
    PageAction { actor }: PageAction,
) -> Result<Response, ApiError> {
    let ended = state.services.end_other_sessions(&actor).await?;
    Ok(axum::Json(json!({ "ok": true, "sessionsEnded": ended })).into_response())
}

pub async fn events(
    State(state): State<AppState>,
    Signed { actor }: Signed,
) -> Result<Response, ApiError> {
    let events = state.services.security_events(&actor).await?;
    let rows: Vec<_> = events.iter().map(event_json).collect();
    Ok(axum::Json(json!({ "events": rows })).into_response())
}

fn session_json(view: &SessionView) -> serde_json::Value {
    let s = &view.session;
    json!({
        "id": s.id.to_string(),
        "current": view.current,
        "createdAt": s.created_at,
        "lastSeenAt": s.last_seen_at,
        "signedInAt": s.signed_in_at,
        "ip": s.client.ip,
        "userAgent": s.client.user_agent,
    })
}

/// An audit row as the owner sees it: what, when, from where; not the raw detail (it may
/// name other people's ids).
fn event_json(e: &AuditRecord) -> serde_json::Value {
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
    json!({
        "id": e.id.to_string(),
        "at": e.at,
        "action": e.action,
        "ip": e.client.ip,
        "userAgent": e.client.user_agent,
        "via": detail.get("via"),
        "during": detail.get("during"),
    })
}
