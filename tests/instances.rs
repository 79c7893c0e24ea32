//! Several instances, one truth (issue #13 §3): two servers on one PostgreSQL database.
//! A key revoked on one is refused by the other within a second, and so is a session
//! ended on one; what one instance writes, the other serves at once; and a sign-in limit
//! is one limit, however a load balancer spreads the guesses.

mod common;

use std::time::{Duration, Instant};

use common::app::TestApp;
use common::{Backend, ORIGIN};
use serde_json::json;

const MINT: &str =
    "mutation { generateApiKey(input: {description: \"twice\"}) { apiKey { id name } } }";
const REVOKE: &str = "mutation D($id: String!) { deleteApiKey(input: {id: $id}) { success } }";

async fn viewer_status(app: &TestApp, key: &str) -> u16 {
    app.t
        .http
        .post(app.t.url("/graphql"))
        .basic_auth("api", Some(key))
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// How long until `check` holds on the other instance, polled every 5 ms, at most 5 s.
async fn until<F, Fut>(mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("not within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_and_sign_outs_on_one_instance_hold_on_the_other_within_a_second() {
    let backend = Backend::postgres().await;
    let mut a = TestApp::start(&backend).await;
    let mut b = TestApp::start(&backend).await;
    a.person("ada").await;
    let ada_key = a.key("ada").to_string();
    b.adopt("ada", &ada_key);

    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let (_, minted) = a.gql("ada", MINT).await;
        let key = minted["data"]["generateApiKey"]["apiKey"].clone();
        let secret = key["name"].as_str().unwrap().to_string();
        assert_eq!(
            viewer_status(&b, &secret).await,
            200,
            "round {round}: B serves A's new key at once"
        );
        let (status, body) = a.gql_with("ada", REVOKE, json!({ "id": key["id"] })).await;
        assert_eq!(status, 200, "{body}");
        let took = until(|| async { viewer_status(&b, &secret).await == 401 }).await;
        worst = worst.max(took);
    }

    let cookie = a.browser_login("ada").await;
    let sessions = |app: &TestApp| {
        app.t
            .http
            .get(app.t.url("/api/v1/account/sessions"))
            .header("cookie", cookie.clone())
            .header("origin", ORIGIN)
            .send()
    };
    assert_eq!(
        sessions(&b).await.unwrap().status(),
        200,
        "a session from A works on B"
    );
    let r =
        a.t.http
            .post(a.t.url("/api/v1/logout"))
            .header("cookie", cookie.clone())
            .header("origin", ORIGIN)
            .send()
            .await
            .unwrap();
    assert!(r.status().is_success());
    let took = until(|| async { sessions(&b).await.unwrap().status() == 401 }).await;
    worst = worst.max(took);
    eprintln!("revocation seen by the other instance after at most {worst:?}");
    assert!(worst < Duration::from_secs(1), "{worst:?}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_limits_count_every_instance_s_attempts_together() {
    let backend = Backend::postgres().await;
    let settings = [
        ("FULCRUM_LOGIN_FAILURES_PER_ACCOUNT", "3"),
        ("FULCRUM_LOGIN_ATTEMPTS_PER_IP", "6"),
    ];
    let mut a = TestApp::with_config(&backend, &settings).await;
    let b = TestApp::with_config(&backend, &settings).await;
    a.person("ada").await;
    let login = |app: &TestApp, password: &str| {
        app.t
            .http
            .post(app.t.url("/api/v1/login"))
            .json(&json!({ "login": "ada", "password": password }))
            .send()
    };
    // Three wrong passwords, spread over both instances, lock the account on both.
    for (app, n) in [(&a, 1), (&b, 2), (&a, 3)] {
        let r = login(app, "wrong-password").await.unwrap();
        assert_eq!(r.status(), 401, "failure {n}");
    }
    for app in [&a, &b] {
        let r = login(app, common::PASSWORD).await.unwrap();
        assert_eq!(r.status(), 429, "locked on every instance");
        assert!(r.headers().contains_key("retry-after"));
    }
    // The address's attempts are counted together too: five so far, a sixth is allowed,
    // and past it everyone from this address waits.
    let stranger = |app: &TestApp| {
        app.t
            .http
            .post(app.t.url("/api/v1/login"))
            .json(&json!({ "login": "nobody", "password": "whatever-pass" }))
            .send()
    };
    assert_eq!(
        stranger(&b).await.unwrap().status(),
        401,
        "the sixth attempt"
    );
    assert_eq!(
        stranger(&a).await.unwrap().status(),
        429,
        "the seventh, on the other instance"
    );
    a.stop().await;
    b.stop().await;
}
