//! The account's own data. `/api/v1/account/exports`: Settings → Export my data (list,
//! start one, download a ready one). `/api/v1/account/deletion`: Settings → Delete account
//! (`GET` says what deleting would do to the person's teams and when the data is purged;
//! `POST`, with the password and the username typed again, deletes the account and signs
//! the browser out).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::account::signed_out;
use super::extract::Signed;
use super::page::{PageAction, PageForm};
use super::AppState;
use crate::error::ApiError;
use crate::services::export::export_json;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteForm {
    current_password: Zeroizing<String>,
    username: String,
}

pub async fn preview(
    State(state): State<AppState>,
    Signed { actor }: Signed,
) -> Result<Response, ApiError> {
    let check = state.services.account_deletion_check(&actor).await?;
    Ok(axum::Json(json!({
        "blockingTeams": check.blocking,
        "soleTeams": check.sole,
        "lastSiteAdmin": check.last_site_admin,
        "purgeDays": state.services.config.account_purge_days,
    }))
    .into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    PageForm { actor, form }: PageForm<DeleteForm>,
) -> Result<Response, ApiError> {
    let check = state
        .services
        .delete_own_account(&actor, form.current_password, &form.username)
        .await?;
    Ok(signed_out(
        &state,
        json!({ "ok": true, "teamsDeleted": check.sole }),
    ))
}

pub async fn exports(
    State(state): State<AppState>,
    Signed { actor }: Signed,
) -> Result<Response, ApiError> {
    let rows = state.services.exports_of(&actor).await?;
    let list: Vec<_> = rows.iter().map(export_json).collect();
    Ok(axum::Json(json!({ "exports": list })).into_response())
}

pub async fn start_export(
    State(state): State<AppState>,
    PageAction { actor }: PageAction,
) -> Result<Response, ApiError> {
    let row = state.services.request_export(&actor).await?;
    Ok(axum::Json(json!({ "export": export_json(&row) })).into_response())
}

pub async fn download_export(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Signed { actor }: Signed,
) -> Result<Response, ApiError> {
    let (row, file) = state.services.open_export(&actor, &token).await?;
    let day = chrono::DateTime::from_timestamp_millis(row.created_at)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let name = format!("fulcrum-export-{}-{day}.zip", actor.user.username);
    Ok(super::run_files::file_response(
        file,
        super::run_files::disposition(&name),
    ))
}
