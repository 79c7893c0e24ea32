//! Everything Fulcrum sends to or stores in goes away at once, for a while (issue #13 §2):
//! the SMTP server, Slack and the object store. Meanwhile runs end and people upload:
//! uploads are refused with a clear 503 and nothing is recorded for them, the alerts wait
//! in the job queue; once all three are back, every alert arrives by mail and on Slack
//! exactly once, and uploads work again, with no restart.
//!
//! `OUTAGE_SECS` (default 6) sets how long they are away; `bench/outage.sh` runs it for
//! minutes.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::s3::S3Server;
use common::slack::Standin;
use common::smtp::{settings, Sink};
use common::{Backend, T};
use serde_json::{json, Value};

const SLACK: &str = "mutation($url: String!) { connectSlackWebhook(input: {url: $url}) { id } }";
const UPSERT: &str = "mutation($n: String!) { upsertBucket(input: {name: $n, entityName: \"ada\", modelName: \"p\"}) { bucket { id } } }";
const RUNS: usize = 8;

fn outage() -> Duration {
    let secs = std::env::var("OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    Duration::from_secs(secs)
}

async fn end_run(t: &T, key: &str, run: &str, exit: usize) {
    let (status, body) = t.gql(Some(key), UPSERT, None, json!({ "n": run })).await;
    assert_eq!(status, 200, "{body}");
    let r = t
        .http
        .post(t.url(&format!("/files/ada/p/{run}/file_stream")))
        .basic_auth("api", Some(key))
        .json(&json!({"complete": true, "exitcode": exit % 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a run ends whatever is down");
}

/// `key`'s person uploads `png` as their profile image, as the web app does.
async fn upload_avatar(t: &T, key: &str, png: Vec<u8>) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(png).file_name("me.png");
    t.http
        .post(t.url("/api/v1/avatar"))
        .basic_auth("api", Some(key))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

/// Subjects (mail) or headlines (Slack) with how often each arrived.
fn tally(items: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for item in items {
        *out.entry(item).or_default() += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_slack_and_the_object_store_away_together_lose_nothing() {
    let away = outage();
    let mut s3 = S3Server::start();
    s3.export_env();
    s3.create_bucket("outage").await;
    let slack = Standin::start().await;
    let sink = Sink::start().await;
    let port = sink.port();
    let mut config: Vec<(&str, String)> = slack.config();
    config.push(("FULCRUM_BLOB_URL", "s3://outage/blobs".into()));
    // Enough attempts, backing off to at most 5 s, to outlast the longest outage run.
    config.push(("FULCRUM_JOB_MAX_ATTEMPTS", "100".into()));
    let mut pairs: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs = settings(&port, &pairs);
    pairs.retain(|(k, _)| *k != "FULCRUM_JOB_BACKOFF_MAX_MS");
    pairs.push(("FULCRUM_JOB_BACKOFF_MAX_MS", "5000"));
    let backend = Backend::sqlite().await;
    // The mail goes through the configured SMTP transport, to the sink.
    let t = T::start(&backend, &pairs).await;
    let key = t.user("ada", false).await;
    let vars = json!({"url": slack.webhook("ok")});
    let (_, body) = t.gql(Some(&key), SLACK, None, vars).await;
    assert!(body["errors"].is_null(), "{body}");
    let before = upload_avatar(&t, &key, common::png(64, 64)).await;
    assert_eq!(before.status(), 200);
    let photo = before.json::<Value>().await.unwrap()["photoUrl"].clone();

    // Everything goes away.
    s3.halt();
    sink.stop().await;
    slack.set_down("/services/ok", true);
    let went = Instant::now();
    for n in 0..RUNS {
        end_run(&t, &key, &format!("r{n}"), n).await;
    }
    let r = upload_avatar(&t, &key, common::png(32, 32)).await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        common::code(&r.json().await.unwrap()),
        "blob_store_unavailable"
    );
    let (_, body) = t
        .gql(Some(&key), "{ viewer { photoUrl } }", None, json!({}))
        .await;
    assert_eq!(
        body["data"]["viewer"]["photoUrl"], photo,
        "nothing recorded for it"
    );
    tokio::time::sleep(away.saturating_sub(went.elapsed())).await;
    assert!(slack.hits("/services/ok").is_empty(), "nothing got through");

    // Everything comes back, on the same addresses.
    s3.resume();
    s3.create_bucket("outage").await;
    let sink = Sink::start_on(port.parse().unwrap(), Duration::ZERO).await;
    slack.set_down("/services/ok", false);
    let back = Instant::now();
    while sink.messages().len() < RUNS || slack.hits("/services/ok").len() < RUNS {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "after 30 s: {} mails, {} Slack messages",
            sink.messages().len(),
            slack.hits("/services/ok").len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = back.elapsed();
    // Anything sent twice would arrive in the next retry rounds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = tally(sink.messages().into_iter().map(|m| {
        common::smtp::Mime::parse(&m.data)
            .header("subject")
            .map(common::smtp::decode_header)
            .unwrap_or_default()
    }));
    let posts = tally(slack.hits("/services/ok").into_iter().map(|h| {
        h.body["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }));
    assert_eq!(mails.len(), RUNS, "every run's mail: {mails:?}");
    assert!(mails.values().all(|&n| n == 1), "none twice: {mails:?}");
    assert_eq!(posts.len(), RUNS, "every run on Slack: {posts:?}");
    assert!(posts.values().all(|&n| n == 1), "none twice: {posts:?}");
    eprintln!(
        "away {:?}: {RUNS} run ends, every alert delivered once by mail and Slack {delivered:?} after the return",
        away
    );

    let after = upload_avatar(&t, &key, common::png(48, 48)).await;
    assert_eq!(after.status(), 200, "uploads work again without a restart");
    sink.stop().await;
    t.server.shutdown().await.unwrap();
}
