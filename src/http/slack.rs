//! **Connect Slack** in the browser: a link to `/api/v1/alerts/slack/connect` sends the
//! person to Slack's OAuth page; Slack sends them back to the callback, which connects the
//! channel they picked and returns them to Settings (or the team page) with the outcome in
//! the query (`slack=connected` or `slack_error=<code>`).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::Signed;
use super::AppState;
use crate::error::ApiError;
use crate::services::slack_oauth::SlackFlow;

#[derive(Deserialize)]
pub struct ConnectQuery {
    team: Option<String>,
    project: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// `access_denied` when the person cancelled on Slack's page.
    error: Option<String>,
}

/// Back to where the flow started, with its outcome.
fn back(state: &AppState, team: Option<&str>, outcome: (&str, &str)) -> Response {
    let mut url = match team {
        Some(t) => state.services.config.public_link([t]),
        None => state.services.config.public_link(["settings"]),
    };
    url.query_pairs_mut().append_pair(outcome.0, outcome.1);
    url.set_fragment(Some("alerts"));
    // A path, not the absolute URL: the app is served from the same origin.
    let target = format!("{}?{}#alerts", url.path(), url.query().unwrap_or(""));
    Redirect::to(&target).into_response()
}

fn failed(state: &AppState, team: Option<&str>, e: &ApiError) -> Response {
    back(state, team, ("slack_error", e.code.as_str()))
}

pub async fn connect(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<ConnectQuery>,
) -> Response {
    let flow = SlackFlow {
        team: q.team.filter(|t| !t.trim().is_empty()),
        project: q.project.filter(|p| !p.trim().is_empty()),
    };
    match state
        .services
        .slack_authorize_url(&signed.actor, &flow)
        .await
    {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(e) => failed(&state, flow.team.as_deref(), &e),
    }
}

pub async fn callback(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let flow = match state
        .services
        .slack_flow(&signed.actor, q.state.as_deref().unwrap_or(""))
    {
        Ok(flow) => flow,
        Err(e) => return failed(&state, None, &e),
    };
    let team = flow.team.as_deref();
    if q.error.is_some() {
        return back(&state, team, ("slack_error", "slack_cancelled"));
    }
    let Some(code) = q.code.filter(|c| !c.is_empty() && c.len() <= 512) else {
        return back(&state, team, ("slack_error", "slack_connect_failed"));
    };
    match state
        .services
        .finish_slack_connect(&signed.actor, &flow, &code)
        .await
    {
        Ok(()) => back(&state, team, ("slack", "connected")),
        Err(e) => failed(&state, team, &e),
    }
}
