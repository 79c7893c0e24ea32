//! A local stand-in for Slack and for a webhook receiver, speaking their HTTP: incoming
//! webhooks answer as Slack documents (`ok`, 429 + `Retry-After`, 404 `no_service`, 410
//! `channel_is_archived`, 400 `invalid_payload`), `oauth.v2.access` answers with HTTP 200
//! and `ok`/`error` as Slack does, `/oauth/v2/authorize` plays the person who picks a channel
//! and allows, and `/hooks/*` checks Fulcrum's webhook signature. The server under test
//! reaches it only through configuration (`slack_*`, `webhook_allow_hosts`).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// What one endpoint received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub body: Value,
    pub headers: HeaderMap,
    /// For `/hooks/*`: whether the signature matched the secret.
    pub signed: bool,
}

#[derive(Default)]
struct Inner {
    hits: Vec<Hit>,
    /// How many more 429s `…/busy` answers before it accepts.
    busy: u32,
    /// The signing secret `/hooks/*` checks against.
    secret: String,
    /// Webhook paths answering 503 (down) until taken out.
    down: Vec<String>,
}

#[derive(Clone)]
pub struct Standin {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

pub const CLIENT_ID: &str = "111.222";
pub const CLIENT_SECRET: &str = "standin-client-secret";
pub const GOOD_CODE: &str = "good-code";

impl Standin {
    pub async fn start() -> Standin {
        let inner = Arc::new(Mutex::new(Inner {
            busy: 1,
            ..Inner::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let me = Standin { base, inner };
        let app = Router::new()
            .route("/services/{team}/{bot}/{hook}", post(incoming_webhook))
            .route("/api/oauth.v2.access", post(oauth_access))
            .route("/oauth/v2/authorize", get(authorize))
            .route("/hooks/{name}", post(signed_hook))
            .with_state(me.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        me
    }

    /// `host:port` for the allow-lists.
    pub fn host(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    pub fn config(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FULCRUM_SLACK_CLIENT_ID", CLIENT_ID.into()),
            ("FULCRUM_SLACK_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("FULCRUM_SLACK_URL", self.base.clone()),
            ("FULCRUM_SLACK_API_URL", format!("{}/api", self.base)),
            ("FULCRUM_SLACK_WEBHOOK_HOSTS", self.host()),
            ("FULCRUM_WEBHOOK_ALLOW_HOSTS", self.host()),
        ]
    }

    /// A Slack webhook URL whose last segment picks the behaviour: `ok`, `busy`, `gone`,
    /// `archived`, `bad`.
    pub fn webhook(&self, hook: &str) -> String {
        format!("{}/services/T0001/B0001/{hook}", self.base)
    }

    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = secret.to_string();
    }

    pub fn set_down(&self, path: &str, down: bool) {
        let mut inner = self.inner.lock().unwrap();
        inner.down.retain(|p| p != path);
        if down {
            inner.down.push(path.to_string());
        }
    }

    pub fn hits(&self, path_ends: &str) -> Vec<Hit> {
        let inner = self.inner.lock().unwrap();
        inner
            .hits
            .iter()
            .filter(|h| h.path.ends_with(path_ends))
            .cloned()
            .collect()
    }

    /// Waits up to 20 s for `n` hits at a path (a crash alert alone takes the heartbeat
    /// timeout, a sweep and the settle time).
    pub async fn wait_hits(&self, path_ends: &str, n: usize) -> Vec<Hit> {
        for _ in 0..2000 {
            let hits = self.hits(path_ends);
            if hits.len() >= n {
                return hits;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!(
            "{path_ends}: {} hits within 20 s, wanted {n}",
            self.hits(path_ends).len()
        );
    }

    fn record(&self, path: String, headers: HeaderMap, body: &[u8], signed: bool) {
        let body = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.inner.lock().unwrap().hits.push(Hit {
            path,
            body,
            headers,
            signed,
        });
    }
}

async fn incoming_webhook(
    State(s): State<Standin>,
    Path((_, _, hook)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let valid = serde_json::from_slice::<Value>(&body).is_ok_and(|v| v["text"].is_string());
    let path = format!("/services/{hook}");
    if s.inner.lock().unwrap().down.contains(&path) {
        return (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").into_response();
    }
    if hook == "busy" {
        let mut inner = s.inner.lock().unwrap();
        if inner.busy > 0 {
            inner.busy -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                "rate_limited",
            )
                .into_response();
        }
    }
    let answer = match hook.as_str() {
        _ if !valid => (StatusCode::BAD_REQUEST, "invalid_payload"),
        "gone" => (StatusCode::NOT_FOUND, "no_service"),
        "archived" => (StatusCode::GONE, "channel_is_archived"),
        "bad" => (StatusCode::BAD_REQUEST, "invalid_payload"),
        _ => (StatusCode::OK, "ok"),
    };
    if answer.0 == StatusCode::OK {
        s.record(format!("/services/{hook}"), headers, &body, false);
    }
    answer.into_response()
}

async fn oauth_access(State(s): State<Standin>, body: Bytes) -> Json<Value> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("client_id") != Some(CLIENT_ID) || get("client_secret") != Some(CLIENT_SECRET) {
        return Json(json!({"ok": false, "error": "invalid_client_id"}));
    }
    if get("code") != Some(GOOD_CODE) {
        return Json(json!({"ok": false, "error": "invalid_code"}));
    }
    Json(json!({
        "ok": true, "app_id": "A0001", "scope": "incoming-webhook", "token_type": "bot",
        "team": {"id": "T0001", "name": "Lab Slack"},
        "incoming_webhook": {
            "channel": "#ml-alerts", "channel_id": "C0001",
            "configuration_url": format!("{}/services/B0001", s.base),
            "url": s.webhook("oauth"),
        }
    }))
}

/// The person picks a channel and allows: back to the app with a code and the same state.
async fn authorize(Query(q): Query<Vec<(String, String)>>) -> Response {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if get("client_id") != CLIENT_ID || get("scope") != "incoming-webhook" {
        return (StatusCode::BAD_REQUEST, "invalid_client or scope").into_response();
    }
    let mut back = url::Url::parse(&get("redirect_uri")).unwrap();
    back.query_pairs_mut()
        .append_pair("code", GOOD_CODE)
        .append_pair("state", &get("state"));
    Redirect::to(back.as_str()).into_response()
}

async fn signed_hook(
    State(s): State<Standin>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/hooks/{name}");
    if s.inner.lock().unwrap().down.contains(&path) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let ts: i64 = header("fulcrum-timestamp").parse().unwrap_or(0);
    let secret = s.inner.lock().unwrap().secret.clone();
    let fresh = (fulcrum::now_ms() / 1000 - ts).abs() < 300;
    let signed = fresh
        && fulcrum::notify::webhook::signature(&secret, ts, &body) == header("fulcrum-signature");
    s.record(path, headers, &body, signed);
    if signed {
        (StatusCode::NO_CONTENT, "").into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "bad signature").into_response()
    }
}
