//! Storage (issue #12 §3) on both backends: what an entity stores, by project (run files;
//! streamed lines, config and summary), seen by its person or its team's members only, not
//! inflated by a replayed `file_stream`; and the operator's quota, past which uploads are
//! refused with a 4xx and nothing is kept.

#[macro_use]
mod common;

use base64::Engine;
use common::app::TestApp;
use common::{code, Backend};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    storage_is_counted_by_project_and_seen_by_its_people,
    uploads_past_the_quota_are_refused
);

const STORAGE: &str = "query($e: String!) { entity(name: $e) { storageBytes storage { totalBytes quotaBytes avatarBytes projects { name runCount fileBytes dataBytes } } } }";

fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"))
    )
}

async fn new_run(app: &TestApp, who: &str, entity: &str, project: &str, run: &str) {
    let q = format!("mutation {{ upsertBucket(input: {{name: \"{run}\", modelName: \"{project}\", entityName: \"{entity}\"}}) {{ bucket {{ id }} }} }}");
    let (_, body) = app.gql(who, &q).await;
    assert!(body["errors"].is_null(), "{body}");
}

async fn stream(app: &TestApp, who: &str, path: &str, body: Value) {
    let r = app
        .t
        .http
        .post(app.t.url(&format!("/files/{path}/file_stream")))
        .header("authorization", basic(app.key(who)))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Uploads `bytes` as `name` to the run; the status of the PUT and its body.
async fn upload(
    app: &TestApp,
    who: &str,
    (entity, project, run): (&str, &str, &str),
    name: &str,
    bytes: usize,
) -> (StatusCode, Value) {
    let q = format!("mutation {{ createRunFiles(input: {{entityName: \"{entity}\", projectName: \"{project}\", runName: \"{run}\", files: [\"{name}\"]}}) {{ files {{ uploadUrl }} }} }}");
    let (_, body) = app.gql(who, &q).await;
    let url = body["data"]["createRunFiles"]["files"][0]["uploadUrl"]
        .as_str()
        .unwrap();
    let url = url.replace("http://127.0.0.1:8080", &app.t.base);
    let r = app
        .t
        .http
        .put(url)
        .body(vec![b'x'; bytes])
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn storage(app: &TestApp, who: &str, entity: &str) -> Value {
    let (_, body) = app.gql_with(who, STORAGE, json!({ "e": entity })).await;
    body
}

async fn storage_is_counted_by_project_and_seen_by_its_people(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await;
    app.member("lab", "bob", "viewer").await;
    app.person("eve").await;

    new_run(&app, "ada", "ada", "small", "r1").await;
    new_run(&app, "ada", "ada", "big", "r2").await;
    let lines = json!({ "files": { "wandb-history.jsonl": { "offset": 0, "content": ["{\"loss\": 1}", "{\"loss\": 2}"] } } });
    stream(&app, "ada", "ada/small/r1", lines.clone()).await;
    stream(&app, "ada", "ada/small/r1", lines).await; // the SDK retried: nothing new
    assert_eq!(
        upload(&app, "ada", ("ada", "big", "r2"), "model.bin", 5000)
            .await
            .0,
        200
    );

    let body = storage(&app, "ada", "ada").await;
    let s = &body["data"]["entity"]["storage"];
    assert_eq!(s["quotaBytes"], Value::Null);
    let projects = s["projects"].as_array().unwrap();
    assert_eq!(projects[0]["name"], "big", "largest first: {body}");
    assert_eq!(projects[0]["fileBytes"], 5000);
    let small = &projects[1];
    let meta = 4; // config and summary are `{}` each
    assert_eq!(
        (small["runCount"].as_i64(), small["fileBytes"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        small["dataBytes"],
        json!(22 + meta),
        "two 11-byte lines, counted once"
    );
    let total = s["totalBytes"].as_i64().unwrap();
    assert_eq!(total, 5000 + 22 + 2 * meta);
    assert_eq!(body["data"]["entity"]["storageBytes"], total);

    let (_, body) = app.gql_with("eve", STORAGE, json!({ "e": "ada" })).await;
    assert!(
        !body["errors"].is_null() && body["data"].is_null(),
        "not hers: {body}"
    );
    new_run(&app, "ada", "lab", "p", "t1").await;
    assert_eq!(
        upload(&app, "ada", ("lab", "p", "t1"), "a.txt", 10).await.0,
        200
    );
    let body = storage(&app, "bob", "lab").await;
    assert_eq!(
        body["data"]["entity"]["storage"]["projects"][0]["fileBytes"], 10,
        "a viewer sees the team's: {body}"
    );
    let (_, body) = app.gql_with("eve", STORAGE, json!({ "e": "lab" })).await;
    assert!(!body["errors"].is_null(), "not a member: {body}");
    app.stop().await;
}

async fn uploads_past_the_quota_are_refused(backend: Backend) {
    let mut app = TestApp::with_config(
        &backend,
        &[
            ("FULCRUM_USER_STORAGE_QUOTA_BYTES", "1000"),
            ("FULCRUM_TEAM_STORAGE_QUOTA_BYTES", "0"),
        ],
    )
    .await;
    app.person("ada").await.team("lab").await;
    new_run(&app, "ada", "ada", "p", "r1").await;
    let run = ("ada", "p", "r1");
    assert_eq!(upload(&app, "ada", run, "a.bin", 600).await.0, 200);
    let (status, body) = upload(&app, "ada", run, "b.bin", 600).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "it would pass the quota: {body}"
    );
    assert_eq!(code(&body), "storage_quota_exceeded", "{body}");
    let s = storage(&app, "ada", "ada").await;
    assert_eq!(s["data"]["entity"]["storage"]["quotaBytes"], 1000);
    assert_eq!(
        s["data"]["entity"]["storage"]["projects"][0]["fileBytes"], 600,
        "nothing kept of the refused upload"
    );
    let files = std::fs::read_dir(app.services().config.data_dir.join("blobs/run-files"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "no partial blob left behind");
    // 600 bytes of files and 4 of config and summary: 396 still fit, to the byte.
    assert_eq!(
        upload(&app, "ada", run, "c.bin", 396).await.0,
        200,
        "what fits is taken"
    );
    let (status, body) = upload(&app, "ada", run, "d.bin", 1).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "storage_quota_exceeded"),
        "full"
    );
    let (status, body) = app
        .gql("ada", "mutation { upsertBucket(input: {name: \"r2\", modelName: \"p\", entityName: \"ada\"}) { bucket { id } } }")
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "storage_quota_exceeded"),
        "no new run, where wandb.init shows why: {body}"
    );
    let (_, body) = app
        .gql("ada", "mutation { upsertBucket(input: {name: \"r1\", modelName: \"p\", entityName: \"ada\", notes: \"n\"}) { bucket { id } } }")
        .await;
    assert!(
        body["errors"].is_null(),
        "a run already there still finishes: {body}"
    );

    new_run(&app, "ada", "lab", "p", "t1").await;
    assert_eq!(
        upload(&app, "ada", ("lab", "p", "t1"), "big.bin", 5000)
            .await
            .0,
        200,
        "teams have no quota here"
    );
    app.stop().await;
}
