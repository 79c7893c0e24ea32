//! **Connect Github** in the browser: a link to `/api/v1/github/connect` sends the person to
//! GitHub's authorize page; GitHub sends them back to the callback, which connects their
//! account and returns them to Settings with the outcome in the query (`github=connected`
//! or `github_error=<code>`). GitHub's page is where "Organization access" is granted.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::Signed;
use super::AppState;

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// `access_denied` when the person cancelled; `redirect_uri_mismatch` or
    /// `application_suspended` when the app is set up wrong.
    error: Option<String>,
}

/// Back to Settings → GitHub with the outcome.
fn back(state: &AppState, outcome: (&str, &str)) -> Response {
    let mut url = state.services.config.public_link(["settings"]);
    url.query_pairs_mut().append_pair(outcome.0, outcome.1);
    // A path, not the absolute URL: the app is served from the same origin.
    let target = format!("{}?{}#github", url.path(), url.query().unwrap_or(""));
    Redirect::to(&target).into_response()
}

fn failed(state: &AppState, code: &str) -> Response {
    back(state, ("github_error", code))
}

pub async fn connect(State(state): State<AppState>, signed: Signed) -> Response {
    match state.services.github_authorize_url(&signed.actor) {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(e) => failed(&state, e.code.as_str()),
    }
}

pub async fn callback(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let services = &state.services;
    if let Err(e) = services.check_github_state(&signed.actor, q.state.as_deref().unwrap_or("")) {
        return failed(&state, e.code.as_str());
    }
    match q.error.as_deref() {
        Some("access_denied") => return failed(&state, "github_denied"),
        Some(_) => return failed(&state, "github_app_misconfigured"),
        None => {}
    }
    let Some(code) = q.code.filter(|c| !c.is_empty() && c.len() <= 512) else {
        return failed(&state, "github_code_invalid");
    };
    match services.finish_github_connect(&signed.actor, &code).await {
        Ok(_) => back(&state, ("github", "connected")),
        Err(e) => failed(&state, e.code.as_str()),
    }
}
