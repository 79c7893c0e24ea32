//! Alerts under faults (issue #10, "exactly once"): two Fulcrum instances on one
//! PostgreSQL database, where runs end on either instance and runs that stop sending are
//! swept by both instances' crash sweepers, announce every event once on Slack and by mail;
//! and alert mail written while the SMTP server is down arrives once after it is
//! back (a real SMTP server on loopback).

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::app::TestApp;
use common::slack::Standin;
use common::smtp::{closed_port, settings, Sink};
use common::{Backend, T};
use reqwest::StatusCode;
use serde_json::json;

const SLACK: &str = "mutation($url: String!) { connectSlackWebhook(input: {url: $url}) { id } }";
const UPSERT: &str = "mutation($n: String!, $p: String!) { upsertBucket(input: {name: $n, entityName: \"ada\", modelName: $p}) { bucket { id } } }";

/// A POST with `key`, as the SDK sends it.
async fn post(t: &T, key: &str, path: &str, body: serde_json::Value) -> StatusCode {
    t.http
        .post(t.url(path))
        .basic_auth("api", Some(key))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn start(backend: &Backend, slack: &Standin) -> TestApp {
    let mut config: Vec<(&str, String)> = slack.config();
    config.push(("FULCRUM_JOB_POLL_MS", "50".into()));
    config.push(("FULCRUM_RUN_HEARTBEAT_TIMEOUT_SECS", "5".into()));
    let pairs: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::with_config(backend, &pairs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_every_alert_once() {
    let backend = Backend::postgres().await;
    let slack = Standin::start().await;
    let mut a = start(&backend, &slack).await;
    let b = start(&backend, &slack).await;
    a.person("ada").await;
    let key = a.key("ada").to_string();
    let (status, body) = a
        .gql_with("ada", SLACK, json!({"url": slack.webhook("ok")}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // 12 runs end on alternating instances; 4 more stop sending and are left to the sweepers.
    let instances = [&a, &b];
    for n in 0..16 {
        let on = instances[n % 2];
        let run = format!("r{n}");
        let vars = json!({"query": UPSERT, "variables": {"n": run, "p": "p"}});
        assert_eq!(post(&on.t, &key, "/graphql", vars).await, StatusCode::OK);
        if n < 12 {
            let end = json!({"complete": true, "exitcode": n % 3});
            let path = format!("/files/ada/p/{run}/file_stream");
            assert_eq!(post(&on.t, &key, &path, end).await, StatusCode::OK);
        }
    }

    slack.wait_hits("/services/ok", 12).await;
    // the crashes: 5 s of silence, the next sweep, then half the timeout to settle
    let hits = slack.wait_hits("/services/ok", 16).await;
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let mut per_run: BTreeMap<String, usize> = BTreeMap::new();
    for h in slack.hits("/services/ok") {
        let headline = h.body["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        *per_run.entry(headline).or_default() += 1;
    }
    assert_eq!(per_run.len(), 16, "{per_run:?} (first hits {})", hits.len());
    assert!(per_run.values().all(|&n| n == 1), "{per_run:?}");
    assert_eq!(
        per_run
            .keys()
            .filter(|h| h.starts_with("Run crashed"))
            .count(),
        4
    );

    let mut mails: BTreeMap<String, usize> = BTreeMap::new();
    for m in a
        .mail_to("ada@example.com")
        .into_iter()
        .chain(b.mail_to("ada@example.com"))
    {
        *mails.entry(m.subject).or_default() += 1;
    }
    assert_eq!(mails.len(), 16, "{mails:?}");
    assert!(mails.values().all(|&n| n == 1), "{mails:?}");
    a.stop().await;
    b.stop().await;
}

async fn alert_mail_waits_for_the_smtp_server(backend: Backend) {
    let port = closed_port().await.to_string();
    let t = T::start(&backend, &settings(&port, &[])).await;
    let key = t.user("ada", false).await;
    for (run, exit) in [("first", 0), ("second", 1)] {
        let body = json!({"query": UPSERT, "variables": {"n": run, "p": "p"}});
        assert_eq!(post(&t, &key, "/graphql", body).await, StatusCode::OK);
        let end = json!({"complete": true, "exitcode": exit});
        let path = format!("/files/ada/p/{run}/file_stream");
        assert_eq!(post(&t, &key, &path, end).await, StatusCode::OK);
    }
    // Let the mails fail against the closed port a few times, then open it.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let sink = Sink::start_on(port.parse().unwrap(), std::time::Duration::ZERO).await;
    for _ in 0..400 {
        if sink.messages().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m.rcpt_to.join(","))
        .collect();
    assert_eq!(got, ["ada@example.com", "ada@example.com"], "once each");
    let subjects: Vec<bool> = sink
        .messages()
        .iter()
        .map(|m| m.data.contains("Run failed"))
        .collect();
    assert_eq!(
        subjects.iter().filter(|f| **f).count(),
        1,
        "one of them is the failure"
    );
    t.server.shutdown().await.unwrap();
    sink.stop().await;
}

mod smtp_down {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::alert_mail_waits_for_the_smtp_server(super::Backend::sqlite().await).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::alert_mail_waits_for_the_smtp_server(super::Backend::postgres().await).await
    }
}
