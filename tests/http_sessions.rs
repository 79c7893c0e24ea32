//! Web sign-in over HTTP on SQLite and PostgreSQL: first-admin setup, login and logout, the same-origin rule, rate limits.

#[macro_use]
mod common;

use common::{code, Backend, ORIGIN, PASSWORD, T};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    first_admin_setup_login_and_logout,
    session_mutations_need_same_origin,
    login_is_rate_limited_with_one_generic_error,
);

fn session_cookie(resp: &reqwest::Response) -> String {
    let set = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}

async fn first_admin_setup_login_and_logout(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let link = t.server.services.issue_setup_link().await.unwrap().unwrap();
    let token = link.split("#token=").nth(1).unwrap().to_string();
    assert!(link.starts_with("http://127.0.0.1:8080/setup#token="));
    let r = t.http.get(t.url("/api/v1/session")).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["needsSetup"], true);
    let form = |token: &str| json!({ "token": token, "username": "boss", "email": "boss@example.com", "password": PASSWORD });
    let r = t
        .http
        .post(t.url("/api/v1/setup"))
        .json(&form("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = t.http.post(t.url("/api/v1/setup")).json(&json!({ "token": token, "username": "boss", "email": "boss@example.com", "password": "short" })).send().await.unwrap();
    assert_eq!(
        (r.status(), code(&r.json().await.unwrap()).to_string()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "password_too_short".into()
        )
    );
    let r = t
        .http
        .post(t.url("/api/v1/setup"))
        .json(&form(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookie = session_cookie(&r);
    assert!(cookie.starts_with("fulcrum_session="));
    let r = t
        .http
        .post(t.url("/api/v1/setup"))
        .json(&form(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a setup link works once");

    let r = t
        .http
        .get(t.url("/api/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (
            body["user"]["username"].clone(),
            body["user"]["admin"].clone(),
            body["needsSetup"].clone()
        ),
        (json!("boss"), json!(true), json!(false))
    );

    // Log in on a second "device", then log out everywhere from the first.
    let r = t
        .http
        .post(t.url("/api/v1/login"))
        .json(&json!({ "login": "BOSS@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = session_cookie(&r);
    assert_ne!(second, cookie);
    let r = t
        .http
        .post(t.url("/api/v1/logout-everywhere"))
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["sessionsEnded"], 2);
    for c in [&cookie, &second] {
        let r = t
            .http
            .get(t.url("/api/v1/session"))
            .header("cookie", c)
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<Value>().await.unwrap()["user"], Value::Null);
    }
    // Logout ends just this session, and login rotates a presented session id.
    let r = t
        .http
        .post(t.url("/api/v1/login"))
        .json(&json!({ "login": "boss", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let third = session_cookie(&r);
    let r = t
        .http
        .post(t.url("/api/v1/login"))
        .header("cookie", &third)
        .header("origin", ORIGIN)
        .json(&json!({ "login": "boss", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let fourth = session_cookie(&r);
    let r = t
        .http
        .get(t.url("/api/v1/session"))
        .header("cookie", &third)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["user"],
        Value::Null,
        "the old id was rotated out"
    );
    let r = t
        .http
        .post(t.url("/api/v1/logout"))
        .header("cookie", &fourth)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let r = t
        .http
        .get(t.url("/api/v1/session"))
        .header("cookie", &fourth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["user"], Value::Null);
    let audit = t.server.services.store.recent_audit(100).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "user.create_first_admin"));
    assert!(audit.iter().any(|a| a.action == "login.success"));
    t.server.shutdown().await.unwrap();
}

async fn session_mutations_need_same_origin(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    t.user("alice", false).await;
    let r = t
        .http
        .post(t.url("/api/v1/login"))
        .json(&json!({ "login": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&r);
    let gen = json!({ "query": "mutation { generateApiKey(input: {description: \"web\"}) { apiKey { name } } }" });
    let send = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut req = t
            .http
            .post(t.url("/graphql"))
            .header("cookie", &cookie)
            .json(&gen);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        req.send()
    };
    let r = send(None, None).await.unwrap();
    assert_eq!(
        (r.status(), code(&r.json().await.unwrap()).to_string()),
        (StatusCode::FORBIDDEN, "csrf_check_failed".into())
    );
    let r = send(Some("http://evil.example"), None).await.unwrap();
    assert_eq!(r.status(), 403);
    let r = send(None, Some("cross-site")).await.unwrap();
    assert_eq!(r.status(), 403);
    let r = send(None, Some("same-origin")).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = send(Some(ORIGIN), None).await.unwrap();
    assert_eq!(r.status(), 200);
    let key = r.json::<Value>().await.unwrap()["data"]["generateApiKey"]["apiKey"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with("fk-") && key.len() == 43);
    // Cross-site form posts cannot reach GraphQL at all.
    let r = t
        .http
        .post(t.url("/graphql"))
        .header("cookie", &cookie)
        .header("origin", ORIGIN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = t
        .http
        .post(t.url("/api/v1/login"))
        .header("origin", "http://evil.example")
        .json(&json!({ "login": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "login CSRF");
    // Nor sign people out: every signed-in page action checks the origin first.
    for path in ["/api/v1/logout", "/api/v1/logout-everywhere"] {
        let r = t
            .http
            .post(t.url(path))
            .header("cookie", &cookie)
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = send(Some(ORIGIN), None).await.unwrap();
    assert_eq!(r.status(), 200, "still signed in");
    t.server.shutdown().await.unwrap();
}

async fn login_is_rate_limited_with_one_generic_error(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_LOGIN_FAILURES_PER_ACCOUNT", "3")]).await;
    t.user("alice", false).await;
    let login = |who: &'static str, pw: &'static str| {
        t.http
            .post(t.url("/api/v1/login"))
            .json(&json!({ "login": who, "password": pw }))
            .send()
    };
    let unknown: Value = login("nobody", "whatever-pass")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wrong = login("alice", "wrong-password").await.unwrap();
    assert_eq!(wrong.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(
        unknown["errors"][0]["message"], wrong["errors"][0]["message"],
        "same answer for unknown user and wrong password"
    );
    assert_eq!(code(&wrong), "login_failed");
    login("alice", "wrong-password").await.unwrap();
    login("alice", "wrong-password").await.unwrap();
    let r = login("alice", PASSWORD).await.unwrap();
    assert_eq!(
        r.status(),
        429,
        "the account is locked for a while after 3 failures"
    );
    assert!(r.headers().contains_key("retry-after"));
    let audit = t.server.services.store.recent_audit(100).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "login.failure").count(),
        4
    );
    t.server.shutdown().await.unwrap();
}
