//! A local stand-in for GitHub, speaking the parts of its OAuth and REST protocol that the
//! Personal GitHub integration uses, errors included: `/login/oauth/authorize` plays the
//! person who authorizes (or cancels: `deny` in the login hint), `/login/oauth/access_token`
//! answers HTTP 200 with `access_token` or with `error` (`bad_verification_code`,
//! `incorrect_client_credentials`) and honours `Accept: application/json`, `GET /user` and
//! `GET /user/orgs` need `Authorization: Bearer` (401 `Bad credentials` for a revoked
//! token), and `DELETE /applications/{client_id}/grant` needs Basic auth and answers 204.
//! The server under test reaches it only through `github_url` and `github_api_url`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "Iv1.standin0000";
pub const CLIENT_SECRET: &str = "standin-github-secret";

/// A GitHub account the stand-in knows: the code its consent page hands out is
/// `code-<login>`, its token `gho_<login>`.
#[derive(Clone)]
struct Account {
    id: i64,
    orgs: Vec<String>,
}

#[derive(Default)]
struct Inner {
    accounts: HashMap<String, Account>,
    /// Tokens still valid (revoked by DELETE …/grant).
    tokens: Vec<String>,
    /// Requests seen, as "METHOD path".
    hits: Vec<String>,
}

#[derive(Clone)]
pub struct GithubStandin {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl GithubStandin {
    pub async fn start() -> GithubStandin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let me = GithubStandin {
            base,
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/v3/user", get(user))
            .route("/api/v3/user/orgs", get(orgs))
            .route("/api/v3/applications/{client_id}/grant", delete(revoke))
            .with_state(me.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        me
    }

    /// The configuration that points Fulcrum here (as at a GitHub Enterprise Server).
    pub fn config(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FULCRUM_GITHUB_CLIENT_ID", CLIENT_ID.into()),
            ("FULCRUM_GITHUB_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("FULCRUM_GITHUB_URL", self.base.clone()),
            ("FULCRUM_GITHUB_API_URL", format!("{}/api/v3", self.base)),
        ]
    }

    pub fn account(&self, login: &str, id: i64, orgs: &[&str]) {
        let orgs = orgs.iter().map(|o| o.to_string()).collect();
        let mut inner = self.inner.lock().unwrap();
        inner
            .accounts
            .insert(login.to_string(), Account { id, orgs });
    }

    pub fn set_orgs(&self, login: &str, orgs: &[&str]) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(a) = inner.accounts.get_mut(login) {
            a.orgs = orgs.iter().map(|o| o.to_string()).collect();
        }
    }

    pub fn token_valid(&self, login: &str) -> bool {
        let inner = self.inner.lock().unwrap();
        inner.tokens.contains(&format!("gho_{login}"))
    }

    pub fn hits(&self) -> Vec<String> {
        self.inner.lock().unwrap().hits.clone()
    }

    fn hit(&self, what: String) {
        self.inner.lock().unwrap().hits.push(what);
    }

    /// The account a Bearer token belongs to, if the token is valid.
    fn bearer(&self, headers: &HeaderMap) -> Option<(String, Account)> {
        let token = headers
            .get("authorization")?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .to_string();
        let inner = self.inner.lock().unwrap();
        if !inner.tokens.contains(&token) {
            return None;
        }
        let login = token.strip_prefix("gho_")?;
        let account = inner.accounts.get(login)?.clone();
        Some((login.to_string(), account))
    }
}

fn bad_credentials() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})),
    )
        .into_response()
}

/// The consent page, played by the person: `login` names the account (`deny` cancels).
async fn authorize(
    State(gh): State<GithubStandin>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    gh.hit("GET /login/oauth/authorize".into());
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("scope").map(String::as_str) != Some("read:org")
    {
        return (StatusCode::NOT_FOUND, "unknown OAuth app or scope").into_response();
    }
    let login = q.get("login").cloned().unwrap_or_else(|| "octo".into());
    let mut back = url::Url::parse(&redirect).unwrap();
    if login == "deny" {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair(
                "error_description",
                "The user has denied your application access.",
            )
            .append_pair("state", &state);
    } else {
        back.query_pairs_mut()
            .append_pair("code", &format!("code-{login}"))
            .append_pair("state", &state);
    }
    Redirect::to(back.as_str()).into_response()
}

async fn access_token(
    State(gh): State<GithubStandin>,
    headers: HeaderMap,
    body: String,
) -> Response {
    gh.hit("POST /login/oauth/access_token".into());
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let json_wanted = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let answer = |fields: Value| -> Response {
        if json_wanted {
            Json(fields).into_response()
        } else {
            // GitHub's default answer is form-encoded.
            let pairs: Vec<String> = fields
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            pairs.join("&").into_response()
        }
    };
    let credentials_ok = form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
    if !credentials_ok {
        return answer(
            json!({"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."}),
        );
    }
    let login = form
        .get("code")
        .and_then(|c| c.strip_prefix("code-"))
        .unwrap_or_default()
        .to_string();
    let known = gh.inner.lock().unwrap().accounts.contains_key(&login);
    if !known {
        return answer(
            json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}),
        );
    }
    let token = format!("gho_{login}");
    gh.inner.lock().unwrap().tokens.push(token.clone());
    answer(json!({"access_token": token, "token_type": "bearer", "scope": "read:org"}))
}

async fn user(State(gh): State<GithubStandin>, headers: HeaderMap) -> Response {
    gh.hit("GET /user".into());
    match gh.bearer(&headers) {
        Some((login, a)) => Json(json!({
            "login": login, "id": a.id, "avatar_url": format!("https://avatars.example/u/{}", a.id),
            "html_url": format!("https://github.example/{login}"), "type": "User",
        }))
        .into_response(),
        None => bad_credentials(),
    }
}

async fn orgs(
    State(gh): State<GithubStandin>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    gh.hit("GET /user/orgs".into());
    let Some((_, a)) = gh.bearer(&headers) else {
        return bad_credentials();
    };
    // GitHub's paging: pages count from 1 (0 reads as 1), 30 a page by default, 100 at most.
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let per: usize = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let list: Vec<Value> = a
        .orgs
        .iter()
        .skip((page - 1) * per)
        .take(per)
        .map(|o| json!({"login": o, "id": 1, "url": format!("https://api.github.example/orgs/{o}"), "description": ""}))
        .collect();
    Json(list).into_response()
}

async fn revoke(
    State(gh): State<GithubStandin>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    gh.hit("DELETE /applications/grant".into());
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Basic {basic}"));
    if client_id != CLIENT_ID || !authorized {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
    }
    let token = body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut inner = gh.inner.lock().unwrap();
    if !inner.tokens.contains(&token) {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
    }
    // A grant's revocation ends every token of the app for that person.
    let login = token.trim_start_matches("gho_").to_string();
    inner
        .tokens
        .retain(|t| t.trim_start_matches("gho_") != login);
    StatusCode::NO_CONTENT.into_response()
}
