//! Regression tests for the limits the security review (issue #7) found missing, on SQLite and
//! PostgreSQL: mutations per request, intro complexity, sign-in lockout, avatar pixels, and
//! the same classes found elsewhere (see `tests/security.rs` for the rest).

#[macro_use]
mod common;

use common::{code, Backend, PASSWORD, T};
use serde_json::{json, Value};

on_both_backends!(
    aliased_mutations_are_refused_whole,
    deeply_nested_intros_are_refused,
    lockout_is_per_account_and_resists_strangers,
    oversized_avatars_are_refused_from_their_header,
    the_same_classes_elsewhere,
);

async fn gql(t: &T, key: &str, query: &str, vars: Value) -> (reqwest::StatusCode, Value) {
    t.gql(Some(key), query, None, vars).await
}

/// Finding 12 (and 5): ninety-nine aliased `generateApiKey`s past the cap created keys nobody
/// saw; ten aliased `updateIntro`s took seconds. Such documents are refused before anything runs.
async fn aliased_mutations_are_refused_whole(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_MAX_KEYS_PER_USER", "3")]).await;
    let key = t.user("ada", false).await;
    let s = t.server.services.clone();
    let ada = t.user_row("ada").await;
    let aliased: String = (0..5)
        .map(|i| {
            format!(
                "k{i}: generateApiKey(input: {{description: \"k{i}\"}}) {{ apiKey {{ name }} }} "
            )
        })
        .collect();
    let (status, body) = gql(&t, &key, &format!("mutation {{ {aliased} }}"), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "too_many_mutations");
    assert_eq!(
        s.store.list_api_keys(ada.id).await.unwrap().len(),
        1,
        "none created"
    );
    let intros: String = (0..10)
        .map(|i| format!("i{i}: updateIntro(input: {{intro: \"# {i}\"}}) {{ user {{ id }} }} "))
        .collect();
    let (status, body) = gql(&t, &key, &format!("mutation {{ {intros} }}"), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "too_many_mutations");
    assert_eq!(s.profile_of(&ada).await.unwrap().intro, "");
    // One of each is what the SDK and the web UI send; that works, up to the cap.
    let one = "mutation { generateApiKey(input: {description: \"one\"}) { apiKey { name } } }";
    for _ in 0..2 {
        let (status, body) = gql(&t, &key, one, json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = gql(&t, &key, one, json!({})).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (400, "key_limit_reached"),
        "{body}"
    );
    t.server.shutdown().await.unwrap();
}

/// Finding 5: `"1. " × 6600` took a second to render.
async fn deeply_nested_intros_are_refused(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("ada", false).await;
    let q = "mutation($i: String!) { updateIntro(input: {intro: $i}) { user { introHtml } } }";
    for (intro, want) in [
        ("1. ".repeat(6600), "intro_too_deep"),
        ("> ".repeat(6600), "intro_too_deep"),
        ("<b><i>".repeat(1000), "intro_too_many_tags"),
    ] {
        let (status, body) = gql(&t, &key, q, json!({ "i": intro })).await;
        assert_eq!((status.as_u16(), code(&body)), (422, want), "{body}");
    }
    let (status, body) = gql(&t, &key, q, json!({ "i": "1. one\n   1. two\n" })).await;
    assert_eq!(status, 200, "{body}");
    t.server.shutdown().await.unwrap();
}

fn meta(ip: &str) -> fulcrum::services::RequestMeta {
    fulcrum::services::RequestMeta {
        client: fulcrum::store::Client::new(Some(ip.into()), None),
        ..Default::default()
    }
}

async fn try_login(t: &T, login: &str, pw: &str, ip: &str) -> Result<(), &'static str> {
    t.server
        .services
        .login(login, zeroize::Zeroizing::new(pw.into()), &meta(ip))
        .await
        .map(|_| ())
        .map_err(|e| e.code.as_str())
}

/// Finding 14: ten wrong passwords from anywhere locked the owner out; the email form had a
/// counter of its own; the audit log kept whatever was typed as the login.
async fn lockout_is_per_account_and_resists_strangers(backend: Backend) {
    let t = T::start(
        &backend,
        &[
            ("FULCRUM_LOGIN_FAILURES_PER_ACCOUNT", "4"),
            ("FULCRUM_LOGIN_ATTEMPTS_PER_IP", "1000"),
        ],
    )
    .await;
    t.user("ada", false).await;
    // Username and email count against one account: 2 + 2 failures reach the limit of 4.
    for login in ["ada", "ADA", "ada@example.com", "Ada@Example.com"] {
        assert_eq!(
            try_login(&t, login, "wrong", "10.0.0.1").await,
            Err("login_failed")
        );
    }
    assert_eq!(
        try_login(&t, "ada@example.com", PASSWORD, "10.0.0.1").await,
        Err("rate_limited")
    );
    assert_eq!(
        try_login(&t, "ada", PASSWORD, "10.0.0.1").await,
        Err("rate_limited")
    );
    // The owner, elsewhere, still signs in.
    assert_eq!(try_login(&t, "ada", PASSWORD, "192.168.1.7").await, Ok(()));
    // Many addresses together hit the account-wide cap (10 × the per-address limit).
    for i in 0..40 {
        let _ = try_login(&t, "ada", "wrong", &format!("10.1.0.{i}")).await;
    }
    assert_eq!(
        try_login(&t, "ada", PASSWORD, "192.168.1.8").await,
        Err("rate_limited")
    );
    // What the audit log keeps of a failed login: the account, or a login-shaped text.
    let _ = try_login(&t, "my secret pass\u{1b}[0m", "x", "10.2.0.1").await;
    let _ = try_login(&t, "nobody@example.com", "x", "10.2.0.1").await;
    let audit = t.server.services.store.recent_audit(200).await.unwrap();
    let targets: Vec<String> = audit
        .iter()
        .filter(|a| a.action == "login.failure")
        .filter_map(|a| a.target.clone())
        .collect();
    assert!(targets
        .iter()
        .all(|t| !t.chars().any(char::is_control) && t.len() <= 64));
    assert!(
        targets.contains(&"(not a username or email)".to_string()),
        "{targets:?}"
    );
    assert!(targets.contains(&"nobody@example.com".to_string()));
    assert!(!targets.iter().any(|t| t.contains("secret")));
    assert!(
        targets.iter().filter(|t| *t == "ada").count() >= 4,
        "{targets:?}"
    );
    t.server.shutdown().await.unwrap();
}

/// A 1 × 1 PNG whose header claims `w` × `h` pixels, with a valid header checksum.
fn claims(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(1, 1, image::Rgba([1, 2, 3, 255]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

async fn upload(t: &T, key: &str, bytes: Vec<u8>) -> (reqwest::StatusCode, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("a.png");
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = t
        .http
        .post(t.url("/api/v1/avatar"))
        .basic_auth("api", Some(key))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Finding 3: a 249 kB 8000 × 8000 PNG raised peak memory by 533 MB. The pixel budget is
/// checked from the header; decodes are bounded server-wide (measured in `bench/avatar-memory.sh`).
async fn oversized_avatars_are_refused_from_their_header(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("ada", false).await;
    for (w, h) in [(8000, 8000), (8192, 4096), (100_000, 1)] {
        let (status, body) = upload(&t, &key, claims(w, h)).await;
        assert_eq!(status, 422, "{w}x{h}: {body}");
        assert_eq!(code(&body), "image_too_many_pixels");
    }
    // Several real uploads at once all succeed: they wait for a decode slot.
    let img = image::RgbaImage::from_pixel(600, 400, image::Rgba([9, 99, 199, 255]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let uploads = (0..4).map(|_| upload(&t, &key, png.clone()));
    for (status, body) in futures_util::future::join_all(uploads).await {
        assert_eq!(status, 200, "{body}");
    }
    t.server.shutdown().await.unwrap();
}

/// The same classes of bug found elsewhere: unauthenticated CPU (the setup form hashed a
/// password before looking at its token) and unbounded input echoed back in messages.
async fn the_same_classes_elsewhere(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_LOGIN_ATTEMPTS_PER_IP", "3")]).await;
    let key = t.user("ada", false).await;
    let setup = json!({ "token": "x".repeat(43), "username": "eve", "email": "eve@example.com", "password": "long enough password" });
    let mut codes = Vec::new();
    for _ in 0..4 {
        let r = t
            .http
            .post(t.url("/api/v1/setup"))
            .json(&setup)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        codes.push((status, code(&body).to_string()));
    }
    assert_eq!(
        codes,
        [
            (403, "setup_token_invalid".to_string()),
            (403, "setup_token_invalid".to_string()),
            (403, "setup_token_invalid".to_string()),
            (429, "rate_limited".to_string()),
        ]
    );
    let long = "x".repeat(100_000);
    for q in [
        "query($n: String!) { entity(name: $n) { name } }",
        "mutation($n: String!) { updateMemberRole(input: {entityName: $n, username: $n, role: \"member\"}) { entity { name } } }",
    ] {
        let (status, body) = gql(&t, &key, q, json!({ "n": long })).await;
        assert_eq!(status, 404, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.len() < 200, "{} bytes echoed", message.len());
    }
    t.server.shutdown().await.unwrap();
}
