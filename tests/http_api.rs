//! End-to-end tests of the HTTP surface: the real server on 127.0.0.1:0, driven over TCP,
//! against SQLite and against a fresh PostgreSQL database.

#[macro_use]
mod common;

use common::{code, Backend, ORIGIN, PASSWORD, T};
use reqwest::StatusCode;
use serde_json::{json, Value};

const VIEWER: &str = "query Viewer { viewer { id entity username email flags admin teams { edges { node { name } } } apiKeys { edges { node { id name description } } } } }";

on_both_backends!(
    health_readiness_and_metrics,
    sdk_viewer_and_key_round_trip,
    revocation_takes_effect_at_once,
    admin_only_user_creation,
    key_minting_with_a_key_can_be_forbidden,
    malformed_credentials_are_4xx_and_write_nothing,
    bad_graphql_input_is_4xx,
    first_admin_setup_login_and_logout,
    session_mutations_need_same_origin,
    login_is_rate_limited_with_one_generic_error,
    last_used_is_recorded_off_the_request_path,
    key_cap_per_user,
    expired_keys_are_refused,
    profile_fields_and_public_profile,
    avatar_upload_is_re_encoded_and_replaced,
);

const PROFILE: &str = "mutation P($input: UpdateProfileInput!) { updateProfile(input: $input) { user { name institution bio location website } } }";

async fn profile_fields_and_public_profile(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    let input = json!({ "name": "Alice Liddell", "institution": "Wonderland U", "bio": "Falls\ndown holes.", "location": "Oxford", "website": "https://alice.example" });
    let (status, body) = t
        .gql(Some(&key), PROFILE, None, json!({ "input": input }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["updateProfile"]["user"]["institution"],
        "Wonderland U"
    );
    // Each bad field: 422 naming the field, and nothing changed.
    for (field, value, expected) in [
        ("website", json!("javascript:alert(1)"), "website_invalid"),
        ("website", json!("ftp://files.example"), "website_invalid"),
        ("bio", json!("x".repeat(1001)), "bio_invalid"),
        ("location", json!("a\u{0}b"), "location_invalid"),
        ("institution", json!("i".repeat(101)), "institution_invalid"),
        ("name", json!("n".repeat(65)), "name_invalid"),
    ] {
        let (status, body) = t
            .gql(
                Some(&key),
                PROFILE,
                None,
                json!({ "input": { field: value } }),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, expected),
            "{field}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    let intro = "mutation I($intro: String!) { updateIntro(input: {intro: $intro}) { user { intro introHtml } } }";
    let md = "# Hi\n\n<script>window.__xss=1</script>\n\n[![X: @weights_biases](https://img.shields.io/twitter/follow/weights_biases?style=social)](https://x.com/intent/follow?screen_name=weights_biases)\n\n<img src=\"https://img.shields.io/badge/a-b-blue\" width=\"120\">";
    let (status, body) = t.gql(Some(&key), intro, None, json!({ "intro": md })).await;
    assert_eq!(status, 200, "{body}");
    let html = body["data"]["updateIntro"]["user"]["introHtml"]
        .as_str()
        .unwrap();
    assert!(
        !html.contains("<script") && html.contains("<h1>Hi</h1>"),
        "{html}"
    );
    assert!(html.contains("rel=\"nofollow noopener noreferrer ugc\"><img src=\"https://img.shields.io/twitter/follow/weights_biases?style=social\""), "{html}");
    assert!(
        html.contains("width=\"120\"") && !html.contains("height"),
        "{html}"
    );
    let (status, body) = t
        .gql(
            Some(&key),
            intro,
            None,
            json!({ "intro": "x".repeat(20_001) }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "intro_too_long")
    );

    // The public page needs no sign-in and shows no private fields.
    let public = "query U($u: String!) { user(username: $u) { username name institution bio location website intro introHtml photoUrl email apiKeys { edges { node { id } } } } }";
    let (status, body) = t.gql(None, public, None, json!({ "u": "ALICE" })).await;
    assert_eq!(status, 200, "{body}");
    let u = &body["data"]["user"];
    assert_eq!(
        (u["name"].as_str(), u["bio"].as_str(), u["website"].as_str()),
        (
            Some("Alice Liddell"),
            Some("Falls\ndown holes."),
            Some("https://alice.example")
        )
    );
    assert_eq!(u["intro"], md);
    assert_eq!(u["email"], Value::Null);
    assert_eq!(u["apiKeys"]["edges"].as_array().unwrap().len(), 0);
    assert_eq!(u["photoUrl"], Value::Null);
    let (_, body) = t.gql(None, public, None, json!({ "u": "nobody" })).await;
    assert_eq!(body["data"]["user"], Value::Null);
    let audit = t.server.services.store.recent_audit(100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "profile.update")
            .count(),
        1,
        "refused updates write nothing"
    );
    t.server.shutdown().await.unwrap();
}

fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([0, 120, 200, 255]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn upload(t: &T, key: &str, bytes: Vec<u8>, filename: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
    );
    t.http
        .post(t.url("/api/v1/avatar"))
        .basic_auth("api", Some(key))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn avatar_upload_is_re_encoded_and_replaced(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    let r = upload(&t, &key, png_bytes(400, 300), "me.png").await;
    assert_eq!(r.status(), 200);
    let first = r.json::<Value>().await.unwrap()["photoUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t.http.get(t.url(&first)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (256, 256));

    let r = upload(&t, &key, png_bytes(64, 64), "again.png").await;
    let second = r.json::<Value>().await.unwrap()["photoUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    assert_eq!(
        t.http.get(t.url(&first)).send().await.unwrap().status(),
        404,
        "the old image is deleted"
    );
    let (_, body) = t
        .gql(Some(&key), "{ viewer { photoUrl } }", None, json!({}))
        .await;
    assert_eq!(body["data"]["viewer"]["photoUrl"], second);

    let r = upload(
        &t,
        &key,
        b"#!/bin/sh\necho not an image\n".to_vec(),
        "fake.png",
    )
    .await;
    assert_eq!(
        (r.status(), code(&r.json().await.unwrap()).to_string()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "image_type_unsupported".into()
        )
    );
    let r = upload(&t, &key, vec![0x89; 5 * 1024 * 1024 + 10], "huge.png").await;
    assert_eq!(
        (r.status(), code(&r.json().await.unwrap()).to_string()),
        (StatusCode::PAYLOAD_TOO_LARGE, "image_too_large".into())
    );
    let r = t
        .http
        .post(t.url("/api/v1/avatar"))
        .multipart(reqwest::multipart::Form::new().text("file", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for bad in [
        "/avatars/..%2Fsecret.key",
        "/avatars/x.svg",
        "/avatars/nope-256.png",
    ] {
        assert_eq!(
            t.http.get(t.url(bad)).send().await.unwrap().status(),
            404,
            "{bad}"
        );
    }

    let r = t
        .http
        .delete(t.url("/api/v1/avatar"))
        .basic_auth("api", Some(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        t.http.get(t.url(&second)).send().await.unwrap().status(),
        404
    );
    let (_, body) = t
        .gql(Some(&key), "{ viewer { photoUrl } }", None, json!({}))
        .await;
    assert_eq!(body["data"]["viewer"]["photoUrl"], Value::Null);
    t.server.shutdown().await.unwrap();
}

async fn expired_keys_are_refused(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    let gen = "mutation G($d: Int) { generateApiKey(input: {description: \"ci\", expiresInDays: $d}) { apiKey { name expiresAt } } }";
    let (status, body) = t.gql(Some(&key), gen, None, json!({ "d": 0 })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "expiry_invalid")
    );
    let (status, body) = t.gql(Some(&key), gen, None, json!({ "d": 30 })).await;
    assert_eq!(status, 200);
    assert!(body["data"]["generateApiKey"]["apiKey"]["expiresAt"].is_string());
    // A key whose expiry has passed is refused like an unknown one.
    let user = t
        .server
        .services
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    let generated = fulcrum::keys::generate(fulcrum::keys::KeyKind::Personal);
    let new_key = fulcrum::store::NewApiKey {
        key_id: generated.key_id.clone(),
        secret_hash: generated.hash,
        user_id: user.id,
        name: "old".into(),
        origin: fulcrum::store::KeyOrigin::Generated,
        created_by: Some(user.id),
        expires_at: Some(fulcrum::now_ms() - 1),
    };
    t.server
        .services
        .store
        .insert_api_key(new_key, 100, Default::default())
        .await
        .unwrap();
    let (status, body) = t.gql(Some(&generated.full), VIEWER, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );
    t.server.shutdown().await.unwrap();
}

async fn health_readiness_and_metrics(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_METRICS_TOKEN", "scrape-token-1234")]).await;
    let r = t.http.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = t.http.get(t.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["store"],
        backend_name(&backend)
    );
    let r = t
        .http
        .post(t.url("/sdk/otel/v1/metrics"))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    t.http
        .post(t.url("/graphql"))
        .basic_auth("api", Some("fk-x"))
        .send()
        .await
        .unwrap();
    // Only with the token (security review: request counts are nobody else's business).
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic c2NyYXBlLXRva2VuLTEyMzQ="),
    ] {
        let mut r = t.http.get(t.url("/metrics"));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
    }
    let metrics = t
        .http
        .get(t.url("/metrics"))
        .bearer_auth("scrape-token-1234")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fulcrum_http_requests_total{route=\"/healthz\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fulcrum_auth_failures_total{reason=\"malformed_key\"} 1"),
        "{metrics}"
    );
    let r = t
        .http
        .get(t.url("/api/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(code(&r.json().await.unwrap()), "not_found");
    let r = t.http.post(t.url("/settings")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Page paths are the web app's, with a policy that forbids inline scripts.
    for page in ["/", "/settings", "/alice", "/login"] {
        let r = t.http.get(t.url(page)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
    }
    t.server.shutdown().await.unwrap();
}

fn backend_name(b: &Backend) -> &'static str {
    match b {
        Backend::Sqlite(_) => "sqlite",
        Backend::Postgres(..) => "postgres",
    }
}

async fn sdk_viewer_and_key_round_trip(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    // wandb-core: operationName set, no variables.
    let resp = t
        .http
        .post(t.url("/graphql"))
        .basic_auth("api", Some(&key))
        .json(&json!({ "query": VIEWER, "operationName": "Viewer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let viewer = &body["data"]["viewer"];
    assert_eq!(viewer["username"], "alice");
    assert_eq!(viewer["entity"], "alice");
    assert_eq!(viewer["email"], "alice@example.com");
    assert_eq!(viewer["flags"], "{}");
    assert_eq!(viewer["teams"]["edges"][0]["node"]["name"], "alice");
    let listed = viewer["apiKeys"]["edges"][0]["node"]["name"]
        .as_str()
        .unwrap();
    assert!(
        key.starts_with(listed) && listed.len() == 13,
        "key ID {listed} must be a prefix"
    );

    // Bearer works too; the Public API sends operationName "" and aliases the root field.
    let gen = "mutation GenerateApiKey($description: String) { result: generateApiKey(input: {description: $description}) { apiKey { id name description } } }";
    let (status, body) = t
        .gql(
            Some(&key),
            gen,
            Some(""),
            json!({ "description": "laptop" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let new_key = body["data"]["result"]["apiKey"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let new_id = body["data"]["result"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body["data"]["result"]["apiKey"]["description"], "laptop");
    let r = t
        .http
        .post(t.url("/graphql"))
        .bearer_auth(&new_key)
        .json(&json!({ "query": "{ viewer { username } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["viewer"]["username"],
        "alice"
    );

    // Listings never show the full key again.
    let (_, body) = t.gql(Some(&key), VIEWER, None, json!({})).await;
    let names: Vec<&str> = body["data"]["viewer"]["apiKeys"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&new_key.as_str()));

    let del = "mutation DeleteApiKey($id: String!) { result: deleteApiKey(input: {id: $id}) { success } }";
    let (status, body) = t
        .gql(Some(&key), del, Some(""), json!({ "id": new_id }))
        .await;
    assert_eq!(
        (status, body["data"]["result"]["success"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (status, body) = t.gql(Some(&new_key), VIEWER, None, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["message"], "invalid api key");

    // SearchUsers: others' private fields stay private.
    t.user("bob", false).await;
    let search = "query SearchUsers($query: String) { users(query: $query) { edges { node { id name username email apiKeys { edges { node { name } } } } } } }";
    let (_, body) = t
        .gql(Some(&key), search, Some(""), json!({ "query": "bob" }))
        .await;
    let bob = &body["data"]["users"]["edges"][0]["node"];
    assert_eq!(bob["username"], "bob");
    assert_eq!(bob["email"], Value::Null);
    assert_eq!(bob["apiKeys"]["edges"].as_array().unwrap().len(), 0);
    let (_, body) = t
        .gql(
            Some(&key),
            search,
            Some(""),
            json!({ "query": "nobody-here" }),
        )
        .await;
    assert_eq!(body["data"]["users"]["edges"].as_array().unwrap().len(), 0);

    let audit = t.server.services.store.recent_audit(50).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        actions.contains(&"api_key.create") && actions.contains(&"api_key.revoke"),
        "{actions:?}"
    );
    assert!(audit
        .iter()
        .any(|a| a.action == "api_key.create" && a.detail.contains("\"via\":\"api_key\"")));
    t.server.shutdown().await.unwrap();
}

async fn revocation_takes_effect_at_once(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let alice = t.user("alice", false).await;
    let mallory = t.user("mallory", false).await;
    let (_, body) = t.gql(Some(&alice), VIEWER, None, json!({})).await;
    let id = body["data"]["viewer"]["apiKeys"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let del = "mutation D($id: String!) { deleteApiKey(input: {id: $id}) { success } }";
    // Someone else's key: indistinguishable from a missing one.
    let (status, body) = t.gql(Some(&mallory), del, None, json!({ "id": id })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "api_key_not_found")
    );
    let (status, _) = t.gql(Some(&alice), VIEWER, None, json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = t.gql(Some(&alice), del, None, json!({ "id": id })).await;
    assert_eq!(status, 200);
    let (status, body) = t.gql(Some(&alice), VIEWER, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );
    let (status, body) = t
        .gql(Some(&mallory), del, None, json!({ "id": "not-an-id" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_id")
    );
    t.server.shutdown().await.unwrap();
}

async fn admin_only_user_creation(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let admin = t.user("root", true).await;
    let alice = t.user("alice", false).await;
    let create = "mutation CreateUserFromAdmin($email: String!, $admin: Boolean) { result: createUser(input: {email: $email, admin: $admin}) { user { id name username email admin } } }";
    let (status, body) = t
        .gql(
            Some(&alice),
            create,
            Some(""),
            json!({ "email": "new@example.com", "admin": false }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "admin_required")
    );
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("admin"));
    let before = t.server.services.store.count_users().await.unwrap();
    let (status, body) = t
        .gql(
            Some(&admin),
            create,
            Some(""),
            json!({ "email": "new.person@example.com", "admin": false }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"]["user"]["username"], "new-person");
    assert_eq!(
        body["data"]["result"]["user"]["email"],
        "new.person@example.com"
    );
    // Duplicate email: 409 with a stable code, nothing written.
    let (status, body) = t
        .gql(
            Some(&admin),
            create,
            Some(""),
            json!({ "email": "NEW.person@example.com" }),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "email_taken"));
    let (status, body) = t
        .gql(
            Some(&admin),
            create,
            Some(""),
            json!({ "email": "not an email" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_invalid")
    );
    let with_name = "mutation { createUser(input: {email: \"x@example.com\", username: \"settings\"}) { user { id } } }";
    let (status, body) = t.gql(Some(&admin), with_name, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "username_reserved")
    );
    let dup_name = "mutation { createUser(input: {email: \"y@example.com\", username: \"ALICE\"}) { user { id } } }";
    let (status, body) = t.gql(Some(&admin), dup_name, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "username_taken")
    );
    assert_eq!(
        t.server.services.store.count_users().await.unwrap(),
        before + 1
    );
    t.server.shutdown().await.unwrap();
}

async fn key_minting_with_a_key_can_be_forbidden(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    let gen = "mutation { generateApiKey(input: {description: \"x\"}) { apiKey { name } } }";
    assert_eq!(t.gql(Some(&key), gen, None, json!({})).await.0, 200);
    fulcrum::admin::setting(
        &t.server.services,
        "allow_key_minting_with_key",
        Some("false"),
    )
    .await
    .unwrap();
    let (status, body) = t.gql(Some(&key), gen, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "key_minting_forbidden")
    );
    t.server.shutdown().await.unwrap();
}

async fn malformed_credentials_are_4xx_and_write_nothing(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    let audit_before = t
        .server
        .services
        .store
        .recent_audit(1000)
        .await
        .unwrap()
        .len();
    let mut tampered = key.clone().into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    use base64::Engine;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"Basic !!!notbase64".to_vec(), "malformed_credentials"),
        (
            format!("Basic {}", b64(b"api-no-colon")).into_bytes(),
            "malformed_credentials",
        ),
        (b"".to_vec(), "malformed_credentials"),
        (b"Basic ".to_vec(), "malformed_credentials"),
        (
            format!("Basic {}", "QUJD".repeat(2600)).into_bytes(),
            "malformed_credentials",
        ),
        (
            format!("Basic {}", b64(&[b'a', b'p', b'i', b':', 0xff, 0xfe])).into_bytes(),
            "malformed_credentials",
        ),
        (b"Basic \xff\xfe".to_vec(), "malformed_credentials"),
        (
            format!("Basic {}", b64(format!("api:{tampered}").as_bytes())).into_bytes(),
            "malformed_credentials",
        ),
        (
            format!(
                "Basic {}",
                b64(format!("api:{}", "0".repeat(40)).as_bytes())
            )
            .into_bytes(),
            "invalid_api_key",
        ),
        (b"Token abc".to_vec(), "malformed_credentials"),
    ];
    for (header, expected) in cases {
        let value = reqwest::header::HeaderValue::from_bytes(&header).unwrap();
        let r = t
            .http
            .post(t.url("/graphql"))
            .header("authorization", value)
            .json(&json!({ "query": "{ viewer { id } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            401,
            "header {:?}",
            String::from_utf8_lossy(&header[..header.len().min(40)])
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), expected, "{body}");
        assert!(!body["errors"][0]["message"].as_str().unwrap().is_empty());
    }
    // Still serving, and nothing was written.
    assert_eq!(t.gql(Some(&key), VIEWER, None, json!({})).await.0, 200);
    assert_eq!(
        t.server
            .services
            .store
            .recent_audit(1000)
            .await
            .unwrap()
            .len(),
        audit_before
    );
    t.server.shutdown().await.unwrap();
}

async fn bad_graphql_input_is_4xx(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_MAX_BODY_BYTES", "65536")]).await;
    let key = t.user("alice", false).await;
    let post = |body: Vec<u8>, ct: &'static str| {
        t.http
            .post(t.url("/graphql"))
            .basic_auth("api", Some(&key))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = post(
        b"{\"query\": \"{ viewer { id \"}".to_vec(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(&r.json().await.unwrap()), "graphql_invalid");
    let r = post(
        json!({ "query": VIEWER, "operationName": "Nope" })
            .to_string()
            .into_bytes(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let r = post(
        json!({ "query": "{ viewer { nosuchfield } }" })
            .to_string()
            .into_bytes(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    // Valid but too deep: introspection types nest without end.
    let deep = format!(
        "{{ __type(name: \"User\") {{ fields {{ type {} name {} }} }} }}",
        "{ ofType ".repeat(20),
        "}".repeat(20)
    );
    let r = post(
        json!({ "query": deep }).to_string().into_bytes(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("nested too deep"));
    let nested = format!("{{ {} }}", "a { ".repeat(5000) + &"}".repeat(5000));
    let r = post(
        json!({ "query": nested }).to_string().into_bytes(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let r = post(vec![b' '; 70_000], "application/json").await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(code(&r.json().await.unwrap()), "payload_too_large");
    let r = post(b"not json".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(
        (r.status(), code(&r.json().await.unwrap()).to_string()),
        (StatusCode::BAD_REQUEST, "invalid_json".into())
    );
    let r = post(
        json!({ "query": VIEWER }).to_string().into_bytes(),
        "text/plain",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 415);
    let r = post(
        json!({ "query": VIEWER, "variables": [1] })
            .to_string()
            .into_bytes(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    // Anonymous viewer is null, not an error; anonymous mutations are refused.
    let (status, body) = t.gql(None, "{ viewer { id } }", None, json!({})).await;
    assert_eq!(
        (status, body["data"]["viewer"].clone()),
        (StatusCode::OK, Value::Null)
    );
    let (status, body) = t
        .gql(
            None,
            "mutation { generateApiKey(input: {}) { apiKey { name } } }",
            None,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    assert_eq!(t.gql(Some(&key), VIEWER, None, json!({})).await.0, 200);
    t.server.shutdown().await.unwrap();
}

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

async fn last_used_is_recorded_off_the_request_path(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_LAST_USED_FLUSH_MS", "600000")]).await;
    let key = t.user("alice", false).await;
    let resp = t
        .http
        .post(t.url("/graphql"))
        .basic_auth("api", Some(&key))
        .header("user-agent", "wandb-core")
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let services = t.server.services.clone();
    let user = services
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    let keys = services.store.list_api_keys(user.id).await.unwrap();
    assert_eq!(
        keys[0].last_used_at, None,
        "not written on the request path"
    );
    assert_eq!(services.usage.pending_len(), 1);
    // Graceful shutdown flushes what is pending.
    t.server.shutdown().await.unwrap();
    let keys = services.store.list_api_keys(user.id).await.unwrap();
    assert!(keys[0].last_used_at.is_some());
    assert_eq!(keys[0].last_used_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(keys[0].last_used_ua.as_deref(), Some("wandb-core"));
}

async fn key_cap_per_user(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_MAX_KEYS_PER_USER", "2")]).await;
    let key = t.user("alice", false).await;
    let gen = "mutation { generateApiKey(input: {description: \"x\"}) { apiKey { name } } }";
    assert_eq!(t.gql(Some(&key), gen, None, json!({})).await.0, 200);
    let (status, body) = t.gql(Some(&key), gen, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "key_limit_reached")
    );
    t.server.shutdown().await.unwrap();
}
