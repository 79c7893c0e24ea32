//! `/api/v1/*` sign-in endpoints for the web UI: first-admin setup, login, logout.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::credentials::cookie_value;
use super::extract::Caller;
use super::page::{check_origin, json_form, PageAction, MAX_FORM_BODY};
use super::{read_body, session_cookie_name, AppState};
use crate::error::{ApiError, ErrorCode};
use crate::services::accounts::NewAccount;
use crate::services::{Actor, RequestMeta};
use crate::store::User;

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    username: String,
    email: String,
    password: Zeroizing<String>,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: Zeroizing<String>,
}

fn user_json(u: &User) -> serde_json::Value {
    json!({ "username": u.username, "email": u.email, "name": u.name, "admin": u.is_admin })
}

pub struct Ctx {
    pub(super) meta: RequestMeta,
    headers: HeaderMap,
    pub(super) actor: Option<Actor>,
    body: axum::body::Bytes,
}

/// A sign-in request: who is asking (the same extractor as every route) and its small body.
impl FromRequest<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Ctx, ApiError> {
        let (mut parts, body) = request.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await?;
        Ok(Ctx {
            meta: caller.meta,
            actor: caller.actor,
            headers: parts.headers,
            body: read_body(body, MAX_FORM_BODY).await?,
        })
    }
}

impl Ctx {
    /// The sign-in form as `T`, once its origin is ours (or absent: a script).
    fn form<T: DeserializeOwned>(&self, state: &AppState) -> Result<T, ApiError> {
        check_origin(state, &self.headers)?;
        json_form(&self.headers, &self.body)
    }
}

fn session_cookie(state: &AppState, token: Option<&str>) -> HeaderValue {
    let config = &state.services.config;
    let name = session_cookie_name(config);
    let secure = if config.cookies_secure() {
        "; Secure"
    } else {
        ""
    };
    let value = match token {
        Some(t) => format!(
            "{name}={t}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            config.session_absolute_hours * 3600
        ),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

async fn signed_in(
    state: &AppState,
    ctx: &Ctx,
    user: User,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let previous = cookie_value(&ctx.headers, session_cookie_name(&state.services.config));
    let token = state
        .services
        .sign_in_session(previous, &user, &ctx.meta)
        .await?;
    let mut response = (status, axum::Json(json!({ "user": user_json(&user) }))).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, Some(&token)));
    Ok(response)
}

/// Who is signed in, and whether the server still waits for its first admin.
pub async fn session(State(state): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    let needs_setup = state.services.needs_setup().await?;
    let user = ctx.actor.as_ref().map(|a| user_json(&a.user));
    // Whether mailed links leave now, so pages never claim a mail was sent when it only
    // waits in the queue; told to signed-in people only.
    let mail_configured = ctx
        .actor
        .as_ref()
        .map(|_| state.services.config.mail.is_configured());
    Ok(axum::Json(json!({
        "user": user,
        "needsSetup": needs_setup,
        "mailConfigured": mail_configured,
    }))
    .into_response())
}

pub async fn setup(State(state): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    let form: SetupForm = ctx.form(&state)?;
    let account = NewAccount {
        username: form.username,
        email: form.email,
        name: form.name,
        admin: true,
        password: Some(form.password),
    };
    if account.username.trim().is_empty() {
        return Err(ApiError::validation(
            "username",
            ErrorCode::UsernameRequired,
            "a username is required",
        ));
    }
    let user = state
        .services
        .setup_first_admin(&form.token, account, &ctx.meta)
        .await?;
    signed_in(&state, &ctx, user, StatusCode::CREATED).await
}

pub async fn login(State(state): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    let form: LoginForm = ctx.form(&state)?;
    let user = state
        .services
        .login(&form.login, form.password, &ctx.meta)
        .await?;
    signed_in(&state, &ctx, user, StatusCode::OK).await
}

pub(super) fn signed_out(state: &AppState, body: serde_json::Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, None));
    response
}

pub async fn logout(
    State(state): State<AppState>,
    PageAction { actor }: PageAction,
) -> Result<Response, ApiError> {
    state.services.logout(&actor).await?;
    Ok(signed_out(&state, json!({ "ok": true })))
}

pub async fn logout_everywhere(
    State(state): State<AppState>,
    PageAction { actor }: PageAction,
) -> Result<Response, ApiError> {
    let ended = state.services.logout_everywhere(&actor).await?;
    Ok(signed_out(
        &state,
        json!({ "ok": true, "sessionsEnded": ended }),
    ))
}
