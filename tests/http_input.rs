//! Bad input over HTTP on SQLite and PostgreSQL: malformed credentials and GraphQL requests get 4xx and write nothing; health, readiness and metrics.

#[macro_use]
mod common;

use common::{backend_name, code, Backend, T, VIEWER};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    health_readiness_and_metrics,
    malformed_credentials_are_4xx_and_write_nothing,
    bad_graphql_input_is_4xx,
);

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
