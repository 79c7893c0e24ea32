//! The read cache of the request path (issue #13 §5, `crate::cache`): what the SDK's
//! Viewer and a run's requests read on every call (the key, memberships, entities, beta
//! states) is served from memory, and never outlives a change: on the instance that made
//! it at once, on the others when PostgreSQL's notification arrives, and not at all while
//! an instance cannot hear them.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::app::TestApp;
use common::outage::Relay;
use common::{Backend, TestDb};
use serde_json::{json, Value};

on_both_backends!(cached_reads_never_outlive_a_change_on_the_same_instance);

const VIEWER: &str = "{ viewer { entity flags teams { edges { node { name } } } } }";
const MINT: &str =
    "mutation { generateApiKey(input: {description: \"cached\"}) { apiKey { id name } } }";
const REVOKE: &str = "mutation D($id: String!) { deleteApiKey(input: {id: $id}) { success } }";
const BETA: &str = "mutation($key: String!, $on: Boolean) { updateBetaFeature(input: {key: $key, enabled: $on}) { key enabled } }";

async fn viewer(base: &str, key: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .basic_auth("api", Some(key))
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn teams(body: &Value) -> Vec<String> {
    body["data"]["viewer"]["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect()
}

async fn cached_reads_never_outlive_a_change_on_the_same_instance(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("bob").await.team("lab").await;
    app.person("ada").await;
    let base = app.t.base.clone();
    // Twice, so the second answer comes from the cache.
    for _ in 0..2 {
        let (status, body) = viewer(&base, app.key("ada")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(teams(&body), ["ada"]);
        assert_eq!(body["data"]["viewer"]["entity"], "ada");
    }

    // Joining the only team makes it the default entity: seen by the very next request.
    app.member("lab", "ada", "member").await;
    let (_, body) = viewer(&base, app.key("ada")).await;
    assert_eq!(teams(&body), ["ada", "lab"]);
    assert_eq!(body["data"]["viewer"]["entity"], "lab");

    let (_, body) = app
        .gql_with("ada", BETA, json!({"key": "code_saving", "on": true}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let (_, body) = viewer(&base, app.key("ada")).await;
    let flags: Value =
        serde_json::from_str(body["data"]["viewer"]["flags"].as_str().unwrap()).unwrap();
    assert_eq!(flags["code_saving_enabled"], true, "{flags}");

    let (_, minted) = app.gql("ada", MINT).await;
    let key = minted["data"]["generateApiKey"]["apiKey"].clone();
    let secret = key["name"].as_str().unwrap().to_string();
    assert_eq!(viewer(&base, &secret).await.0, 200);
    assert_eq!(viewer(&base, &secret).await.0, 200);
    let (_, body) = app
        .gql_with("ada", REVOKE, json!({ "id": key["id"] }))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        viewer(&base, &secret).await.0,
        401,
        "refused by the next request"
    );
    app.stop().await;
}

/// Waits (at most 5 s) until `server` caches (`live`) or has stopped caching.
async fn caching_becomes(server: &fulcrum::app::RunningServer, live: bool, failure: &str) {
    let started = Instant::now();
    while server.services.store.cache_epoch().current().is_some() != live {
        assert!(started.elapsed() < Duration::from_secs(5), "{failure}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A second instance reaches PostgreSQL through a relay that the test cuts: its listener
/// loses the connection, so while it cannot hear other instances' changes it must not
/// serve what it cached before. A key revoked on the first instance meanwhile is refused by
/// the second on its first request after the database comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_cannot_hear_changes_does_not_serve_its_cache() {
    let backend = Backend::postgres().await;
    let mut a = TestApp::start(&backend).await;
    a.person("ada").await;
    let Backend::Postgres(_, TestDb { url, .. }) = &backend else {
        unreachable!()
    };
    let mut relayed = url::Url::parse(url).unwrap();
    let upstream = format!(
        "{}:{}",
        relayed.host_str().unwrap(),
        relayed.port().unwrap_or(5432)
    );
    let relay = Relay::start(upstream.parse().unwrap()).await;
    relayed.set_port(Some(relay.addr.port())).unwrap();
    let mut config = backend.config(&[]);
    config.database_url = Some(fulcrum::config::Secret::new(relayed.to_string()));
    let services = fulcrum::app::services(config, false).await.unwrap();
    let b = fulcrum::app::RunningServer::start(services).await.unwrap();
    let b_base = format!("http://{}", b.addr);

    let (_, minted) = a.gql("ada", MINT).await;
    let key = minted["data"]["generateApiKey"]["apiKey"].clone();
    let secret = key["name"].as_str().unwrap().to_string();
    // B's listener starts after B does; once it listens, B caches the key.
    caching_becomes(&b, true, "B's listener never connected").await;
    for _ in 0..3 {
        assert_eq!(viewer(&b_base, &secret).await.0, 200);
    }

    relay.cut();
    caching_becomes(&b, false, "B never noticed its listener was cut").await;
    let (_, body) = a.gql_with("ada", REVOKE, json!({ "id": key["id"] })).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        viewer(&b_base, &secret).await.0,
        503,
        "B cannot reach the database"
    );
    relay.restore();
    let started = Instant::now();
    let status = loop {
        let (status, _) = viewer(&b_base, &secret).await;
        if status != 503 || started.elapsed() > Duration::from_secs(15) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, 401, "the key revoked while B was deaf is refused");
    b.shutdown().await.unwrap();
    a.stop().await;
}
