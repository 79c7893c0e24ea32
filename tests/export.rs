//! Export my data (issue #12 §3) on both backends: a job builds one ZIP with the account
//! and every run the person logged (history as JSONL and CSV, system metrics, console,
//! files), the owner is mailed and downloads it signed in, nobody else can, and it is gone
//! when its link expires. The store allows one pending export per person.

#[macro_use]
mod common;

use std::io::Read;

use common::app::TestApp;
use common::{Backend, ORIGIN};
use fulcrum::store::exports::NewExport;
use fulcrum::store::AuditEvent;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    an_export_holds_the_account_and_every_run_and_expires,
    one_export_at_a_time
);

async fn api(
    app: &TestApp,
    cookie: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::Response {
    app.t
        .http
        .request(method, app.t.url(path))
        .header("cookie", cookie)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap()
}

fn read(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> String {
    let mut text = String::new();
    zip.by_name(name)
        .unwrap_or_else(|_| panic!("{name} is in the archive"))
        .read_to_string(&mut text)
        .unwrap();
    text
}

async fn an_export_holds_the_account_and_every_run_and_expires(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await;
    app.member("lab", "bob", "member").await;
    app.person("eve").await;
    app.logged_run("ada", "ada", "r1").await;
    app.logged_run("ada", "lab", "t1").await;
    app.logged_run("bob", "lab", "b1").await;
    let ada = app.browser_login("ada").await;

    let r = api(&app, &ada, reqwest::Method::POST, "/api/v1/account/exports").await;
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["export"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut listed = Value::Null;
    for _ in 0..500 {
        listed = api(&app, &ada, reqwest::Method::GET, "/api/v1/account/exports")
            .await
            .json()
            .await
            .unwrap();
        if listed["exports"][0]["status"] != "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(listed["exports"][0]["status"], "ready", "{listed}");
    let mail = app.wait_for_mail("ada@example.com").await;
    assert_eq!(mail.subject, "Your Fulcrum data export is ready");

    let path = format!("/api/v1/account/exports/{token}/download");
    let eve = app.browser_login("eve").await;
    assert_eq!(
        api(&app, &eve, reqwest::Method::GET, &path).await.status(),
        StatusCode::NOT_FOUND,
        "only hers"
    );
    let r = api(&app, &ada, reqwest::Method::GET, &path).await;
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("fulcrum-export-ada-"), "{disposition}");
    let bytes = r.bytes().await.unwrap().to_vec();
    assert_eq!(
        Some(bytes.len() as i64),
        listed["exports"][0]["bytes"].as_i64()
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();

    let account: Value = serde_json::from_str(&read(&mut zip, "account.json")).unwrap();
    assert_eq!(
        (account["username"].as_str(), account["email"].as_str()),
        (Some("ada"), Some("ada@example.com"))
    );
    let keys = read(&mut zip, "api_keys.json");
    assert!(
        keys.contains("key_id") && !keys.contains(app.key("ada")),
        "key metadata, never a secret"
    );
    let teams: Value = serde_json::from_str(&read(&mut zip, "teams.json")).unwrap();
    assert_eq!(teams, json!([{"team": "lab", "role": "admin"}]));
    for file in [
        "alerts.json",
        "beta_features.json",
        "github.json",
        "intro.md",
    ] {
        read(&mut zip, file);
    }
    let run: Value = serde_json::from_str(&read(&mut zip, "runs/ada/p/r1/run.json")).unwrap();
    assert_eq!(run["config"]["lr"]["value"], 0.1);
    assert_eq!(
        read(&mut zip, "runs/ada/p/r1/history.jsonl")
            .lines()
            .count(),
        2
    );
    assert_eq!(
        read(&mut zip, "runs/ada/p/r1/history.csv"),
        "_step,loss,note\n0,1.5,\"a,b\"\n1,0.5,\n"
    );
    assert_eq!(
        read(&mut zip, "runs/ada/p/r1/console.log"),
        "2026-12-07T09:00:00Z epoch 1\n"
    );
    assert_eq!(
        read(&mut zip, "runs/ada/p/r1/system_metrics.jsonl"),
        "{\"system.cpu\": 12}\n"
    );
    assert_eq!(
        read(&mut zip, "runs/ada/p/r1/files/model.txt"),
        "weights of r1"
    );
    assert_eq!(
        read(&mut zip, "runs/lab/p/t1/files/model.txt"),
        "weights of t1",
        "her runs in team projects too"
    );
    assert!(zip.by_name("runs/lab/p/b1/run.json").is_err(), "not bob's");

    app.services().expire_data_export(&token).await.unwrap();
    let r = api(&app, &ada, reqwest::Method::GET, &path).await;
    assert_eq!(r.status(), StatusCode::GONE, "the link has ended");
    let left = std::fs::read_dir(app.services().config.data_dir.join("blobs/exports"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "and the archive is deleted");
    let audit = app.services().store.recent_audit(100).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "account.export"));
    app.stop().await;
}

async fn one_export_at_a_time(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await;
    let s = app.services().store.clone();
    let ada = app.t.user_row("ada").await.id;
    let job = |token: &str| fulcrum::store::outbox::NewJob {
        kind: "test.noop",
        payload: json!({}),
        dedup_key: Some(format!("noop:{token}")),
        max_attempts: 1,
        run_after: i64::MAX / 2,
    };
    let audit = || AuditEvent {
        action: "account.export",
        ..Default::default()
    };
    let export = |token: &str, stale_before| NewExport {
        token: token.into(),
        user_id: ada,
        stale_before,
        job: job(token),
    };
    let first = s
        .create_export(export("t1", 0), audit())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.status, "pending");
    assert_eq!(
        s.create_export(export("t2", 0), audit()).await.unwrap(),
        None,
        "one pending at a time"
    );
    s.fail_export("t1", "disk full").await.unwrap();
    assert!(
        s.create_export(export("t3", 0), audit())
            .await
            .unwrap()
            .is_some(),
        "after a failure, again"
    );
    let listed = s.exports_of(ada, 5).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.token.as_str()).collect::<Vec<_>>(),
        ["t3", "t1"]
    );
    assert_eq!(listed[1].error.as_deref(), Some("disk full"));
    assert_eq!(
        s.expire_export("t3").await.unwrap(),
        None,
        "only a ready export expires"
    );
    let later = fulcrum::now_ms() + 1;
    assert!(
        s.create_export(export("t4", later), audit())
            .await
            .unwrap()
            .is_some(),
        "a pending one older than the cut-off was interrupted: another may start"
    );
    let listed = s.exports_of(ada, 5).await.unwrap();
    assert_eq!(
        (listed[1].token.as_str(), listed[1].status.as_str()),
        ("t3", "failed")
    );
    assert_eq!(listed[1].error.as_deref(), Some("interrupted"));
    app.stop().await;
}
