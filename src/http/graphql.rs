//! `POST /graphql`: the SDK's and the web UI's one API.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::Caller;
use super::{read_body, AppState};
use crate::error::{ApiError, ErrorCode};
use crate::graphql::RequestContext;

/// Longest query text accepted; the SDK's largest documents are a few kilobytes.
const MAX_QUERY_LEN: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphqlBody {
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Value>,
}

pub async fn graphql(
    State(state): State<AppState>,
    Caller { actor, meta }: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // JSON only: a cross-site form or text/plain POST cannot reach a mutation.
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send GraphQL requests as application/json",
        ));
    }
    let bytes = read_body(body, state.services.config.max_body_bytes).await?;
    let parsed: GraphqlBody = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidJson,
            format!("the request body is not a GraphQL JSON request: {e}"),
        )
    })?;
    if parsed.query.len() > MAX_QUERY_LEN {
        return Err(ApiError::payload_too_large(MAX_QUERY_LEN));
    }
    let variables = match parsed.variables {
        None | Some(serde_json::Value::Null) => async_graphql::Variables::default(),
        Some(v @ serde_json::Value::Object(_)) => async_graphql::Variables::from_json(v),
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidVariables,
                "variables must be a JSON object",
            ))
        }
    };
    let anonymous = actor.is_none();
    let mut gql = async_graphql::Request::new(parsed.query)
        .variables(variables)
        .data(RequestContext {
            services: state.services.clone(),
            actor,
            meta,
        });
    // Old SDKs probe the schema, with credentials; strangers need no map of it.
    if anonymous && !state.services.config.graphql_anonymous_introspection {
        gql = gql.disable_introspection();
    }
    // Public API clients send `operationName: ""`: that means "the only operation".
    if let Some(name) = parsed.operation_name.filter(|n| !n.is_empty()) {
        gql = gql.operation_name(name);
    }
    let response = state.schema.execute(gql).await;
    Ok(into_http(response))
}

/// Errors that came from a service carry their HTTP status; errors without one are the
/// document's fault (syntax, validation, limits, unknown operation) and become 400.
fn into_http(response: async_graphql::Response) -> Response {
    if response.errors.is_empty() {
        return axum::Json(response).into_response();
    }
    let mut status = StatusCode::OK;
    let mut retry_after = None;
    let mut body = match serde_json::to_value(&response) {
        Ok(v) => v,
        Err(_) => return ApiError::internal().into_response(),
    };
    if let Some(errors) = body.get_mut("errors").and_then(|e| e.as_array_mut()) {
        let data_is_null = response.data == async_graphql::Value::Null;
        for error in errors.iter_mut() {
            let ext = error.as_object_mut().map(|o| {
                o.entry("extensions")
                    .or_insert_with(|| serde_json::json!({}))
            });
            let Some(ext) = ext.and_then(|e| e.as_object_mut()) else {
                continue;
            };
            let code_status = ext.remove("status").and_then(|s| s.as_u64());
            if let Some(secs) = ext.remove("retry_after").and_then(|s| s.as_u64()) {
                retry_after = Some(secs);
            }
            match code_status {
                Some(s) => {
                    if status == StatusCode::OK {
                        status = StatusCode::from_u16(s as u16).unwrap_or(StatusCode::BAD_REQUEST);
                    }
                }
                None => {
                    ext.entry("code")
                        .or_insert_with(|| ErrorCode::GraphqlInvalid.as_str().into());
                    if data_is_null && status == StatusCode::OK {
                        status = StatusCode::BAD_REQUEST;
                    }
                }
            }
        }
    }
    if body.get("data").is_none() {
        body["data"] = serde_json::Value::Null;
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(v) = retry_after.and_then(|s| s.to_string().parse().ok()) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v);
    }
    response
}
