//! Settings → Delete account (issue #12 §3) on both backends: refused, with the teams named,
//! while the person is the last admin of a team with other people; then at once sign-in
//! refused, keys and sessions revoked, the public profile gone, teams where they were alone
//! deleted, a confirmation mail; the purge after `account_purge_days` removes the personal
//! runs and their files and frees the username, while team runs stay with the team; a site
//! admin restores an account within the window.

#[macro_use]
mod common;

use common::app::TestApp;
use common::{code, Backend, ORIGIN, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    deletion_waits_for_the_last_admin_then_revokes_everything_at_once,
    the_purge_removes_personal_runs_and_frees_the_name,
    a_site_admin_restores_an_account_within_the_window,
);

const VIEWER: &str = "query { viewer { username } }";
const PROFILE: &str = "query { user(username: \"ada\") { username } }";

async fn call(
    app: &TestApp,
    cookie: &str,
    method: reqwest::Method,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app
        .t
        .http
        .request(method, app.t.url("/api/v1/account/deletion"))
        .header("cookie", cookie)
        .header("origin", ORIGIN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn delete(
    app: &TestApp,
    cookie: &str,
    password: &str,
    username: &str,
) -> (StatusCode, Value) {
    let body = json!({ "currentPassword": password, "username": username });
    call(app, cookie, reqwest::Method::POST, Some(body)).await
}

/// A run by its path, if it is there.
async fn find_run(app: &TestApp, entity: &str, run: &str) -> Option<fulcrum::store::Run> {
    let store = &app.services().store;
    let entity = app.services().entity_named(entity).await.unwrap()?;
    let project = store.project(entity.id, "p").await.unwrap()?;
    store.run(project.id, run).await.unwrap()
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| body["code"].as_str())
        .unwrap_or_default()
}

/// A run of `who` in `entity/p`, with one uploaded file; its blob's path on disk.
async fn run_with_file(app: &TestApp, who: &str, entity: &str, run: &str) -> std::path::PathBuf {
    let upsert = format!("mutation {{ upsertBucket(input: {{name: \"{run}\", modelName: \"p\", entityName: \"{entity}\"}}) {{ bucket {{ id }} }} }}");
    let (_, body) = app.gql(who, &upsert).await;
    assert!(body["errors"].is_null(), "{body}");
    let files = format!("mutation {{ createRunFiles(input: {{entityName: \"{entity}\", projectName: \"p\", runName: \"{run}\", files: [\"model.txt\"]}}) {{ files {{ uploadUrl }} }} }}");
    let (_, body) = app.gql(who, &files).await;
    let url = body["data"]["createRunFiles"]["files"][0]["uploadUrl"]
        .as_str()
        .unwrap();
    // Signed with the public URL; the test server listens elsewhere.
    let url = url.replace("http://127.0.0.1:8080", &app.t.base);
    let put = app.t.http.put(url).body("weights").send().await.unwrap();
    assert_eq!(put.status(), 200);
    let run_row = find_run(app, entity, run).await.unwrap();
    let file = &app.services().store.run_files(run_row.id).await.unwrap()[0];
    app.services()
        .config
        .data_dir
        .join("blobs/run-files")
        .join(&file.blob)
}

async fn deletion_waits_for_the_last_admin_then_revokes_everything_at_once(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await.team("solo").await;
    app.member("lab", "bob", "member").await;
    let cookie = app.browser_login("ada").await;
    run_with_file(&app, "ada", "lab", "team-run").await;

    let (status, preview) = call(&app, &cookie, reqwest::Method::GET, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        preview,
        json!({"blockingTeams": ["lab"], "soleTeams": ["solo"], "lastSiteAdmin": false, "purgeDays": 30})
    );

    let (status, body) = delete(&app, &cookie, PASSWORD, "Ada").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "confirmation_mismatch"),
        "{body}"
    );
    let (status, body) = delete(&app, &cookie, "wrong password", "ada").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "password_incorrect"),
        "{body}"
    );
    let (status, body) = delete(&app, &cookie, PASSWORD, "ada").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "last_team_admin"),
        "{body}"
    );
    assert!(
        body.to_string().contains("lab"),
        "the team is named: {body}"
    );

    let ada = app.actor("ada").await;
    app.services()
        .set_member_role(&ada, "lab", "bob", "admin")
        .await
        .unwrap();
    let (status, body) = delete(&app, &cookie, PASSWORD, "ada").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["teamsDeleted"], json!(["solo"]));

    let (status, _) = app.gql("ada", VIEWER).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the key is revoked");
    let (status, _) = call(&app, &cookie, reqwest::Method::GET, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session is gone");
    let login = app
        .t
        .http
        .post(app.t.url("/api/v1/login"))
        .json(&json!({"login": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED, "sign-in refused");
    let (_, body) = app.gql("bob", PROFILE).await;
    assert!(
        body["data"]["user"].is_null(),
        "the public profile is gone: {body}"
    );
    assert!(
        app.services().entity_named("solo").await.unwrap().is_none(),
        "her own team went with her"
    );
    assert!(
        find_run(&app, "lab", "team-run").await.is_some(),
        "team runs stay"
    );

    let mail = app.wait_for_mail("ada@example.com").await;
    assert_eq!(mail.subject, "Your Fulcrum account was deleted");
    assert!(mail.raw.contains("removed for good on"), "{}", mail.raw);
    let taken = app.services().store.user_by_username("ada").await.unwrap();
    assert!(
        taken.is_some_and(|u| u.deleted_at.is_some()),
        "the name stays taken until the purge"
    );
    let audit = app.services().store.recent_audit(100).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "account.delete"));
    app.stop().await;
}

async fn the_purge_removes_personal_runs_and_frees_the_name(backend: Backend) {
    let mut app = TestApp::with_config(&backend, &[("FULCRUM_ACCOUNT_PURGE_DAYS", "0")]).await;
    app.person("bob").await.team("lab").await;
    app.member("lab", "ada", "member").await;
    let personal_blob = run_with_file(&app, "ada", "ada", "mine").await;
    run_with_file(&app, "ada", "lab", "shared").await;
    assert!(personal_blob.exists());
    let ada_id = app.t.user_row("ada").await.id;

    let cookie = app.browser_login("ada").await;
    let (status, body) = delete(&app, &cookie, PASSWORD, "ada").await;
    assert_eq!(status, 200, "{body}");
    let store = app.services().store.clone();
    // The job deletes the rows, then (after that commit) the files: wait for both.
    for _ in 0..500 {
        if store.user_by_id(ada_id).await.unwrap().is_none() && !personal_blob.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        store.user_by_id(ada_id).await.unwrap().is_none(),
        "purged by the job"
    );
    assert!(
        !personal_blob.exists(),
        "the personal run's file is gone from disk"
    );
    assert!(app.services().entity_named("ada").await.unwrap().is_none());
    let shared = find_run(&app, "lab", "shared").await.unwrap();
    assert_eq!(
        shared.user_id, None,
        "the team keeps the run, attributed to a deleted user"
    );
    let (_, body) = app.gql("bob", "query { project(name: \"p\", entityName: \"lab\") { run(name: \"shared\") { user { username } } } }").await;
    assert!(body["data"]["project"]["run"]["user"].is_null(), "{body}");
    app.person("ada").await; // the username and address are free again
    let audit = store.recent_audit(100).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "account.purge"));
    app.stop().await;
}

async fn a_site_admin_restores_an_account_within_the_window(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.admin("root").await.person("ada").await;
    let ada_id = app.t.user_row("ada").await.id;
    let cookie = app.browser_login("ada").await;
    assert_eq!(delete(&app, &cookie, PASSWORD, "ada").await.0, 200);

    let root = app.actor("root").await;
    let services = app.services().clone();
    let root_cookie = app.browser_login("root").await;
    let (_, preview) = call(&app, &root_cookie, reqwest::Method::GET, None).await;
    assert_eq!(preview["lastSiteAdmin"], true);
    let (status, body) = delete(&app, &root_cookie, PASSWORD, "root").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "last_site_admin"),
        "the server keeps an admin: {body}"
    );
    let (_, body) = app.gql("ada", VIEWER).await;
    assert_eq!(code(&body), "invalid_api_key", "her key is revoked");
    let refused = services
        .restore_user(&app.actor("root").await, "nobody")
        .await;
    assert_eq!(refused.unwrap_err().code.as_str(), "user_not_found");
    services.restore_user(&root, "ada").await.unwrap();
    app.browser_login("ada").await; // signs in with her password again
    let (status, _) = app.gql("ada", VIEWER).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "her keys stay revoked");
    assert!(
        !services.purge_account(ada_id).await.unwrap(),
        "the due purge leaves her alone"
    );
    assert!(services.store.user_by_id(ada_id).await.unwrap().is_some());
    app.stop().await;
}
