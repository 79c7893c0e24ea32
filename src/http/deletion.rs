//! `/api/v1/account/deletion`: Settings → Delete account. `GET` says what deleting would
//! do to the person's teams and when the data is purged; `POST` (the password and the
//! username typed again) deletes the account and signs the browser out.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::account::{json_form, signed_out, Ctx};
use super::AppState;
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteForm {
    current_password: Zeroizing<String>,
    username: String,
}

pub async fn preview(State(state): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    let actor = ctx.actor.as_ref().ok_or_else(ApiError::unauthenticated)?;
    let check = state.services.account_deletion_check(actor).await?;
    Ok(axum::Json(json!({
        "blockingTeams": check.blocking,
        "soleTeams": check.sole,
        "purgeDays": state.services.config.account_purge_days,
    }))
    .into_response())
}

pub async fn delete(State(state): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    ctx.check_origin(&state)?;
    let actor = ctx.actor.as_ref().ok_or_else(ApiError::unauthenticated)?;
    let form: DeleteForm = json_form(&ctx)?;
    let check = state
        .services
        .delete_own_account(actor, form.current_password, &form.username, &ctx.meta)
        .await?;
    Ok(signed_out(
        &state,
        json!({ "ok": true, "teamsDeleted": check.sole }),
    ))
}
