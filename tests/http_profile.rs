//! The Profile section over HTTP on SQLite and PostgreSQL: fields, the public profile, and the avatar upload.

#[macro_use]
mod common;

use common::{code, Backend, T};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
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
        ("language", json!("fr"), "language_invalid"),
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
    // The language the top bar's switch sends: the mails' language.
    let (status, body) = t
        .gql(
            Some(&key),
            PROFILE,
            None,
            json!({ "input": { "language": " KO " } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let alice = t.user_row("alice").await;
    let stored = t.server.services.profile_of(&alice).await.unwrap();
    assert_eq!(stored.language.as_deref(), Some("ko"));
    assert_eq!(stored.institution, "Wonderland U", "other fields kept");
    let language = "query L($u: String!) { viewer { language } user(username: $u) { language } }";
    let vars = json!({ "u": "alice" });
    let (_, body) = t.gql(Some(&key), language, None, vars.clone()).await;
    assert_eq!(body["data"]["viewer"]["language"], "ko", "{body}");
    let (_, body) = t.gql(None, language, None, vars).await;
    assert_eq!(
        body["data"]["user"]["language"],
        Value::Null,
        "private: {body}"
    );
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
        2,
        "the fields and the language; refused updates write nothing"
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
