//! The Account security section over HTTP, on SQLite and PostgreSQL: change password
//! (other sessions end, the owner is mailed), change email (a link to the new address,
//! the old one told), sessions (listed, one or all others ended), sudo mode before
//! creating an API key, and the security events that record all of it.

#[macro_use]
mod common;

use common::app::TestApp;
use common::smtp::quoted_printable;
use common::{code, Backend, ORIGIN, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    changing_the_password_ends_other_sessions_and_tells_the_owner,
    changing_the_email_waits_for_the_new_address_and_tells_the_old,
    sessions_are_listed_and_ended_one_or_all_others,
    an_old_sign_in_must_confirm_the_password_before_making_a_key,
    security_events_show_sign_ins_failures_and_changes,
    mailed_links_are_limited_per_person,
);

const NEW_PASSWORD: &str = "a much longer passphrase";

/// A browser of one person: its session cookie, sent with our own `Origin`.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
}

impl<'a> Browser<'a> {
    async fn sign_in(app: &'a TestApp, login: &str, password: &str) -> Browser<'a> {
        let r = app
            .t
            .http
            .post(app.t.url("/api/v1/login"))
            .header("origin", ORIGIN)
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
            )
            .json(&json!({ "login": login, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "sign in as {login}");
        let set = r.headers()["set-cookie"].to_str().unwrap();
        let cookie = set.split(';').next().unwrap().to_string();
        Browser { app, cookie }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .app
            .t
            .http
            .request(method, self.app.t.url(path))
            .header("cookie", &self.cookie)
            .header("origin", ORIGIN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn end_session(&self, id: &str) -> (StatusCode, Value) {
        let path = format!("/api/v1/account/sessions/{id}");
        self.send(reqwest::Method::DELETE, &path, None).await
    }

    async fn signed_in_as(&self) -> Value {
        self.get("/api/v1/session").await.1["user"]["username"].clone()
    }

    async fn gql(&self, query: &str) -> Value {
        self.post("/graphql", json!({ "query": query })).await.1
    }
}

async fn changing_the_password_ends_other_sessions_and_tells_the_owner(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ann").await;
    let here = Browser::sign_in(&app, "ann", PASSWORD).await;
    let there = Browser::sign_in(&app, "ann", PASSWORD).await;

    let wrong = json!({ "currentPassword": "not it at all", "newPassword": NEW_PASSWORD });
    let (status, body) = here.post("/api/v1/account/password", wrong).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "password_incorrect")
    );
    let short = json!({ "currentPassword": PASSWORD, "newPassword": "short" });
    let (status, body) = here.post("/api/v1/account/password", short).await;
    assert_eq!((status.as_u16(), code(&body)), (422, "password_too_short"));
    assert_eq!(there.signed_in_as().await, "ann", "refusals change nothing");

    // Without a display name, the mail greets the person by their username.
    let unnamed = here
        .gql(r#"mutation { updateProfile(input: {name: ""}) { user { name } } }"#)
        .await;
    let shown = &unnamed["data"]["updateProfile"]["user"]["name"];
    assert_eq!(shown, "ann", "the profile shows the username: {unnamed}");
    let change = json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD });
    let (status, body) = here.post("/api/v1/account/password", change).await;
    assert_eq!(
        (status, &body["sessionsEnded"]),
        (StatusCode::OK, &json!(1))
    );
    assert_eq!(here.signed_in_as().await, "ann", "this session stays");
    assert_eq!(there.signed_in_as().await, Value::Null, "the other ended");

    let mail = app.wait_for_mail("ann@example.com").await;
    assert_eq!(mail.subject, "Your Fulcrum password was changed");
    assert!(mail.raw.contains("Hello ann,"), "{}", mail.raw);
    assert!(mail.raw.contains("/settings#security"), "{}", mail.raw);
    Browser::sign_in(&app, "ann", NEW_PASSWORD).await;
    app.stop().await;
}

async fn changing_the_email_waits_for_the_new_address_and_tells_the_old(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ann").await.person("bob").await;
    let ann = Browser::sign_in(&app, "ann", PASSWORD).await;
    let ask = |email: &str, password: &str| json!({ "email": email, "currentPassword": password });

    let cases = [
        (ask("bob@example.com", PASSWORD), 409, "email_taken"),
        (ask("ANN@example.com", PASSWORD), 422, "email_unchanged"),
        (ask("not an address", PASSWORD), 422, "email_invalid"),
        (
            ask("ann@new.example", "wrong password"),
            403,
            "password_incorrect",
        ),
    ];
    for (form, status, expected) in cases {
        let (got, body) = ann.post("/api/v1/account/email", form).await;
        assert_eq!((got.as_u16(), code(&body)), (status, expected));
    }
    let (status, body) = ann
        .post("/api/v1/account/email", ask("Ann@New.example", PASSWORD))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mailConfigured"], false, "TestApp has no SMTP host");

    let link = app.wait_for_mail("Ann@New.example").await;
    assert_eq!(link.subject, "Confirm your new email address for Fulcrum");
    let user = app.t.user_row("ann").await;
    assert_eq!(
        user.email, "ann@example.com",
        "nothing changes before the link is opened"
    );
    let flat = quoted_printable(&link.raw.replace("\r\n", "\n"));
    let at = flat.find("/verify-email#token=").expect("a link") + 20;
    let token: String = flat[at..].chars().take(43).collect();

    let verify = format!("mutation {{ verifyEmail(input: {{token: \"{token}\"}}) {{ success }} }}");
    let body = ann.gql(&verify).await;
    assert_eq!(body["data"]["verifyEmail"]["success"], true, "{body}");
    let user = app.t.user_row("ann").await;
    assert_eq!(user.email, "ann@new.example");
    assert!(
        user.email_verified_at.is_some(),
        "the link proved the new address"
    );
    let told = common::smtp::wait_for("the old address told", 5, || async {
        app.mail_to("ann@example.com")
            .into_iter()
            .find(|m| m.subject == "Your Fulcrum email address was changed")
    })
    .await;
    assert!(quoted_printable(&told.raw).contains("ann@new.example"));
    let again = ann.gql(&verify).await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"],
        "email_token_invalid"
    );
    Browser::sign_in(&app, "ann@new.example", PASSWORD).await;
    app.stop().await;
}

async fn sessions_are_listed_and_ended_one_or_all_others(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ann").await.person("bob").await;
    let one = Browser::sign_in(&app, "ann", PASSWORD).await;
    let two = Browser::sign_in(&app, "ann", PASSWORD).await;
    let three = Browser::sign_in(&app, "ann", PASSWORD).await;
    let bob = Browser::sign_in(&app, "bob", PASSWORD).await;

    let (status, body) = one.get("/api/v1/account/sessions").await;
    assert_eq!(status, 200);
    let sessions = body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions
        .iter()
        .all(|s| s["userAgent"].as_str().unwrap().contains("Firefox")));
    assert!(sessions.iter().all(|s| s["ip"] == "127.0.0.1"));
    let current = sessions.iter().find(|s| s["current"] == true).unwrap()["id"].clone();
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].clone();
    let other = other.as_str().unwrap();

    let (status, body) = bob.end_session(other).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "session_not_found")
    );
    let (status, body) = one.end_session("x1").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_id")
    );
    let (status, body) = one.end_session(other).await;
    assert_eq!(
        (status, &body["signedOut"]),
        (StatusCode::OK, &json!(false))
    );
    let alive = [two.signed_in_as().await, three.signed_in_as().await];
    assert_eq!(
        alive.iter().filter(|u| **u == "ann").count(),
        1,
        "exactly one ended"
    );

    let (status, body) = one
        .post("/api/v1/account/sessions/end-others", json!({}))
        .await;
    assert_eq!(
        (status, &body["sessionsEnded"]),
        (StatusCode::OK, &json!(1))
    );
    assert_eq!(two.signed_in_as().await, Value::Null);
    assert_eq!(three.signed_in_as().await, Value::Null);
    assert_eq!(bob.signed_in_as().await, "bob", "other people keep theirs");

    let (status, body) = one.end_session(current.as_str().unwrap()).await;
    assert_eq!((status, &body["signedOut"]), (StatusCode::OK, &json!(true)));
    assert_eq!(one.signed_in_as().await, Value::Null);

    // A cross-site page cannot end sessions.
    let r = app
        .t
        .http
        .post(app.t.url("/api/v1/account/sessions/end-others"))
        .header("cookie", &bob.cookie)
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(bob.signed_in_as().await, "bob");
    app.stop().await;
}

async fn an_old_sign_in_must_confirm_the_password_before_making_a_key(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ann").await;
    let ann = Browser::sign_in(&app, "ann", PASSWORD).await;
    let make_key =
        "mutation { generateApiKey(input: {description: \"laptop\"}) { apiKey { id name } } }";
    let body = ann.gql(make_key).await;
    assert!(
        body["data"]["generateApiKey"]["apiKey"]["name"].is_string(),
        "fresh sign-in: {body}"
    );

    // Twenty minutes later (the default sudo window is ten minutes).
    let (_, listed) = ann.get("/api/v1/account/sessions").await;
    let id: i64 = listed["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let past = fulcrum::now_ms() - 20 * 60_000;
    let store = &app.services().store;
    store
        .mark_reauth(id, past, Default::default())
        .await
        .unwrap();

    let body = ann.gql(make_key).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "reauth_required",
        "{body}"
    );
    let (status, body) = ann
        .post("/api/v1/account/reauth", json!({ "password": "nope" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "password_incorrect")
    );
    let (status, _) = ann
        .post("/api/v1/account/reauth", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(status, 200);
    let body = ann.gql(make_key).await;
    assert!(
        body["data"]["generateApiKey"]["apiKey"]["name"].is_string(),
        "{body}"
    );

    // An API key carries no password to type again: the SDK and scripts are not asked.
    let (_, body) = app.gql("ann", make_key).await;
    assert!(
        body["errors"].is_null() || body["errors"][0]["extensions"]["code"] != "reauth_required"
    );
    app.stop().await;
}

async fn security_events_show_sign_ins_failures_and_changes(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ann").await.person("bob").await;
    let r = app
        .t
        .http
        .post(app.t.url("/api/v1/login"))
        .header("origin", ORIGIN)
        .header("user-agent", "curl/8.5")
        .json(&json!({ "login": "ann", "password": "a wrong guess" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ann = Browser::sign_in(&app, "ann", PASSWORD).await;
    Browser::sign_in(&app, "bob", PASSWORD).await;
    let change = json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD });
    assert_eq!(ann.post("/api/v1/account/password", change).await.0, 200);

    let (status, body) = ann.get("/api/v1/account/security-events").await;
    assert_eq!(status, 200);
    let events = body["events"].as_array().unwrap();
    let actions: Vec<_> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user.password_change", "login.success", "login.failure"]
    );
    assert_eq!(events[2]["userAgent"], "curl/8.5");
    assert_eq!(events[2]["ip"], "127.0.0.1");
    assert!(events[1]["userAgent"].as_str().unwrap().contains("Firefox"));
    assert!(
        events.iter().all(|e| e.get("detail").is_none()),
        "no raw detail"
    );

    let (status, _) = app
        .t
        .http
        .get(app.t.url("/api/v1/account/security-events"))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, 401, "only the signed-in person");
    app.stop().await;
}

async fn mailed_links_are_limited_per_person(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ann").await.person("bob").await;
    let ask = "mutation { requestEmailVerification { success } }";
    for _ in 0..fulcrum::services::MAIL_LINKS_PER_HOUR {
        let (_, body) = app.gql("ann", ask).await;
        assert_eq!(
            body["data"]["requestEmailVerification"]["success"], true,
            "{body}"
        );
    }
    let (_, body) = app.gql("ann", ask).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "rate_limited",
        "{body}"
    );
    // the email change counts against the same allowance
    let ann = Browser::sign_in(&app, "ann", PASSWORD).await;
    let form = json!({ "email": "ann@new.example", "currentPassword": PASSWORD });
    let (status, body) = ann.post("/api/v1/account/email", form).await;
    assert_eq!((status.as_u16(), code(&body)), (429, "rate_limited"));
    let (_, body) = app.gql("bob", ask).await;
    assert_eq!(
        body["data"]["requestEmailVerification"]["success"], true,
        "others are not limited"
    );
    app.stop().await;
}
