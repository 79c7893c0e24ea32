//! Alert mails (issue #10, email slice): a run's end writes one alert job with its state
//! change; the fan-out mails the run's person if their switch is on, once per transition
//! (a replayed final request sends nothing more), in their language, with a link to the run.

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use fulcrum::store::{AuditEvent, ProfileField, ProfileUpdate};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    a_run_that_ends_mails_its_person_once_as_they_asked,
    a_run_that_was_only_quiet_is_not_announced_as_crashed,
    run_alert_is_throttled_per_run_and_title,
);

/// wandb 0.31.0's document, as its `run.alert()` sends it.
const NOTIFY: &str = "mutation NotifyScriptableRunAlert($entityName: String!, $projectName: String!, $runName: String!, $title: String!, $text: String!, $severity: AlertSeverity = INFO, $waitDuration: Duration) { notifyScriptableRunAlert(input: {entityName: $entityName, projectName: $projectName, runName: $runName, title: $title, text: $text, severity: $severity, waitDuration: $waitDuration}) { success } }";

const UPSERT: &str = "mutation($n: String!) { upsertBucket(input: {name: $n, modelName: \"p\"}) { bucket { project { entity { name } } } } }";
const UPDATE: &str = "mutation($e: AlertEventKind!, $on: Boolean!) { updateAlertSwitch(input: {event: $e, channel: EMAIL, enabled: $on}) { enabled } }";

async fn end(app: &TestApp, who: &str, run: &str, exit: Option<i64>) {
    let (status, body) = app.gql_with(who, UPSERT, json!({"n": run})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let Some(code) = exit else { return };
    for _ in 0..2 {
        // the SDK retries: the second final request must not mail again
        let resp = app
            .t
            .http
            .post(app.t.url(&format!("/files/{who}/p/{run}/file_stream")))
            .basic_auth("api", Some(app.key(who)))
            .json(&json!({"complete": true, "exitcode": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
}

async fn wait_for_subject(app: &TestApp, to: &str, subject: &str) {
    for _ in 0..2000 {
        if app
            .mail_to(to)
            .iter()
            .any(|m| m.subject.starts_with(subject))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let got: Vec<String> = app.mail_to(to).into_iter().map(|m| m.subject).collect();
    panic!("no mail {subject:?} to {to} within 20 s; got {got:?}");
}

async fn a_run_that_ends_mails_its_person_once_as_they_asked(backend: Backend) {
    let mut app =
        TestApp::with_config(&backend, &[("FULCRUM_RUN_HEARTBEAT_TIMEOUT_SECS", "5")]).await;
    app.person("ada")
        .await
        .person("bob")
        .await
        .person("cat")
        .await;
    let ada = "ada@example.com";

    end(&app, "ada", "r1", Some(0)).await;
    wait_for_subject(&app, ada, "Run finished — r1 (ada/p)").await;
    end(&app, "ada", "r2", Some(3)).await;
    wait_for_subject(&app, ada, "Run failed — r2 (ada/p)").await;
    let failed = app
        .mail_to(ada)
        .into_iter()
        .find(|m| m.subject.starts_with("Run failed"))
        .unwrap();
    let flat = failed.raw.replace("=\r\n", "").replace("=3D", "=");
    assert!(
        flat.contains("/ada/p/runs/r2"),
        "the mail links to the run page"
    );
    assert!(flat.contains("exit code 3"), "and says how it ended");

    // Run crashed switched off: a failing run sends nothing.
    let (status, _) = app
        .gql_with("ada", UPDATE, json!({"e": "RUN_CRASHED", "on": false}))
        .await;
    assert_eq!(status, StatusCode::OK);
    end(&app, "ada", "r3", Some(1)).await;

    // bob reads Korean.
    let bob = app.t.user_row("bob").await;
    let korean: ProfileUpdate = [(ProfileField::Language, "ko".to_string())]
        .into_iter()
        .collect();
    let audit = AuditEvent {
        action: "profile.update",
        ..Default::default()
    };
    app.services()
        .store
        .update_profile(bob.id, korean, audit)
        .await
        .unwrap();
    end(&app, "bob", "r4", Some(0)).await;
    wait_for_subject(&app, "bob@example.com", "Run 완료 — r4").await;

    // cat's script is killed: no final request; the sweeper crashes the run after 5 s.
    end(&app, "cat", "r5", None).await;
    wait_for_subject(&app, "cat@example.com", "Run crashed — r5").await;

    // Once each: r1 and r2 (replayed) one mail each, r3 none.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let subjects: Vec<String> = app.mail_to(ada).into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    app.stop().await;
}

async fn state(app: &TestApp, who: &str, run: &str) -> String {
    let q = "query($e: String!, $r: String!) { project(name: \"p\", entityName: $e) { run(name: $r) { state } } }";
    let (_, body) = app.gql_with(who, q, json!({"e": who, "r": run})).await;
    body["data"]["project"]["run"]["state"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// A run the sweeper marked crashed that sends again within the settle time (half the
/// heartbeat timeout) was only quiet: nobody is told it crashed; its real end is announced.
async fn a_run_that_was_only_quiet_is_not_announced_as_crashed(backend: Backend) {
    let mut app =
        TestApp::with_config(&backend, &[("FULCRUM_RUN_HEARTBEAT_TIMEOUT_SECS", "5")]).await;
    app.person("dan").await;
    end(&app, "dan", "slow", None).await;
    for _ in 0..200 {
        if state(&app, "dan", "slow").await == "crashed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state(&app, "dan", "slow").await, "crashed");
    let path = "/files/dan/p/slow/file_stream";
    let resp = app
        .t
        .http
        .post(app.t.url(path))
        .basic_auth("api", Some(app.key("dan")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(state(&app, "dan", "slow").await, "running");
    // It even finishes before the crash alert is due: only its end is announced.
    end(&app, "dan", "slow", Some(0)).await;
    wait_for_subject(&app, "dan@example.com", "Run finished — slow").await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let subjects: Vec<String> = app
        .mail_to("dan@example.com")
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects.len(), 1, "no crash was announced: {subjects:?}");
    app.stop().await;
}

async fn alert(
    app: &TestApp,
    who: &str,
    title: &str,
    wait_ms: i64,
) -> (StatusCode, serde_json::Value) {
    let vars = json!({"entityName": who, "projectName": "p", "runName": "r1", "title": title,
        "text": "loss went <b>up</b>\nstep 100", "severity": "WARN", "waitDuration": wait_ms});
    app.gql_with(who, NOTIFY, vars).await
}

async fn run_alert_is_throttled_per_run_and_title(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.person("eve").await;
    end(&app, "ada", "r1", None).await;
    let ada = "ada@example.com";
    let (status, body) = alert(&app, "ada", "loss is nan", 300_000).await;
    assert_eq!(
        (
            status,
            body["data"]["notifyScriptableRunAlert"]["success"].clone()
        ),
        (StatusCode::OK, json!(true)),
        "{body}"
    );
    wait_for_subject(&app, ada, "[WARN] loss is nan — r1 (ada/p)").await;
    let mail = app.mail_to(ada).into_iter().next().unwrap();
    let parsed = common::smtp::Mime::parse(&mail.raw);
    assert!(parsed
        .part("text/plain")
        .decoded_body()
        .contains("loss went <b>up</b>"));
    let html = parsed.part("text/html").decoded_body();
    assert!(
        html.contains("loss went &lt;b&gt;up&lt;") && !html.contains("<b>up"),
        "plain text, escaped in HTML: {html}"
    );

    let (_, body) = alert(&app, "ada", "loss is nan", 300_000).await;
    assert_eq!(
        body["data"]["notifyScriptableRunAlert"]["success"], false,
        "same title within waitDuration"
    );
    let (_, body) = alert(&app, "ada", "accuracy dropped", 300_000).await;
    assert_eq!(
        body["data"]["notifyScriptableRunAlert"]["success"], true,
        "another title is another alert"
    );
    wait_for_subject(&app, ada, "[WARN] accuracy dropped").await;
    // early wandb-core builds sent absurd waits: clamped, not an error
    let (status, _) = alert(&app, "ada", "huge wait", i64::MAX).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = alert(&app, "ada", "short", 0).await;
    assert_eq!(body["data"]["notifyScriptableRunAlert"]["success"], true);
    let (_, body) = alert(&app, "ada", "short", 0).await;
    assert_eq!(
        body["data"]["notifyScriptableRunAlert"]["success"], true,
        "no wait, no throttle"
    );

    let (status, _) = alert(&app, "eve", "not mine", 0).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "eve cannot see ada's run");
    // Both "short" alerts arrive (the worker may lag under load).
    let shorts = |app: &TestApp| {
        let mails = app.mail_to(ada);
        mails.iter().filter(|m| m.subject.contains("short")).count()
    };
    for _ in 0..1000 {
        if shorts(&app) >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(shorts(&app), 2);
    // Scriptable run alerts switched off: accepted, not mailed (the switch is read when the
    // alert is delivered).
    let off = "mutation { updateAlertSwitch(input: {event: SCRIPTABLE_RUN_ALERTS, channel: EMAIL, enabled: false}) { enabled } }";
    assert_eq!(app.gql("ada", off).await.0, StatusCode::OK);
    alert(&app, "ada", "muted", 0).await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let subjects: Vec<String> = app.mail_to(ada).into_iter().map(|m| m.subject).collect();
    assert!(
        !subjects.iter().any(|s| s.contains("muted")),
        "{subjects:?}"
    );
    app.stop().await;
}
