//! Several instances, one truth (issue #13 §3): two servers on one PostgreSQL database.
//! A key revoked on one is refused by the other within a second, and so is a session
//! ended on one; what one instance writes, the other serves at once.

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
