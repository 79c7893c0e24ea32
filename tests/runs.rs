//! Runs over HTTP, as the SDK makes them: `UpsertBucket` landing in the entity DESIGN §4
//! chooses (or refused, naming entity and account), `file_stream` replays that change
//! nothing, bad bodies that get a 4xx and change nothing, other people's runs, and Stop.

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    runs_land_in_the_entity_design_section_4_chooses,
    a_replayed_file_stream_changes_nothing_and_bad_bodies_change_nothing,
    nobody_writes_to_another_persons_run,
    a_stopped_run_is_told_to_stop_and_ends_killed,
);

/// The SDK's document (wandb 0.31.0 and 0.19.11 send the same one).
const UPSERT: &str = "mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $groupName: String, $description: String, $displayName: String, $notes: String, $commit: String, $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String, $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString) { upsertBucket(input: {id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity, description: $description, displayName: $displayName, notes: $notes, config: $config, commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo, jobType: $jobType, state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics}) { bucket { id name displayName description config sweepName project { id name entity { id name } } historyLineCount } inserted } }";

const RUN: &str = "query Run($entity: String, $project: String!, $run: String!) { model(name: $project, entityName: $entity) { bucket(name: $run, missingOk: true) { id name state exitcode stopped historyLineCount eventsLineCount logLineCount summaryMetrics historyTail } } }";

async fn upsert(app: &TestApp, who: &str, vars: Value) -> (StatusCode, Value) {
    app.gql_with(who, UPSERT, vars).await
}

async fn new_run(app: &TestApp, who: &str, entity: Option<&str>, run: &str) -> String {
    let (status, body) = upsert(
        app,
        who,
        json!({"name": run, "project": "p", "entity": entity}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entity = &body["data"]["upsertBucket"]["bucket"]["project"]["entity"]["name"];
    entity.as_str().unwrap().to_string()
}

async fn run_state(app: &TestApp, who: &str, entity: &str, run: &str) -> Value {
    let vars = json!({"entity": entity, "project": "p", "run": run});
    let (status, body) = app.gql_with(who, RUN, vars).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["model"]["bucket"].clone()
}

async fn stream(app: &TestApp, who: &str, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    stream_with(app, who, path, body, None).await
}

async fn stream_with(
    app: &TestApp,
    who: &str,
    path: &str,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = app
        .t
        .http
        .post(app.t.url(&format!("/files/{path}/file_stream")))
        .basic_auth("api", Some(app.key(who)))
        .header("content-type", "application/json")
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn history(offset: i64, steps: std::ops::Range<i64>) -> Vec<u8> {
    let content: Vec<String> = steps
        .map(|i| json!({"_step": i, "loss": 1.0 / (i + 1) as f64}).to_string())
        .collect();
    json!({"files": {"wandb-history.jsonl": {"offset": offset, "content": content}}})
        .to_string()
        .into_bytes()
}

async fn runs_land_in_the_entity_design_section_4_chooses(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada")
        .await
        .team("lab")
        .await
        .team("vision")
        .await;
    app.member("lab", "bob", "member").await;
    app.member("lab", "vic", "viewer").await;
    // ada: two teams and no choice → her personal entity; bob: exactly one team → it;
    // vic: a viewer of his only team cannot write there → personal.
    assert_eq!(new_run(&app, "ada", None, "a1").await, "ada");
    assert_eq!(new_run(&app, "bob", None, "b1").await, "lab");
    assert_eq!(new_run(&app, "vic", None, "v1").await, "vic");
    let (status, body) = app
        .gql(
            "ada",
            r#"mutation { setDefaultEntity(input: {entityName: "vision"}) { user { id } } }"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(new_run(&app, "ada", None, "a2").await, "vision");
    assert_eq!(
        new_run(&app, "ada", Some("lab"), "a3").await,
        "lab",
        "an explicit entity wins"
    );

    let (status, body) = upsert(
        &app,
        "bob",
        json!({"name": "x", "project": "p", "entity": "vision"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "entity_forbidden");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("vision") && message.contains("bob"),
        "{message}"
    );
    let (status, _) = upsert(
        &app,
        "vic",
        json!({"name": "x", "project": "p", "entity": "lab"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "viewers read a team's runs but do not write"
    );

    let (status, body) = upsert(&app, "ada", json!({"name": "bad id!", "project": "p"})).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("run_id_invalid"))
    );
    let (status, body) = upsert(&app, "ada", json!({"project": "p", "config": "[1,2]"})).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("run_field_invalid"))
    );
    // No run ID: the server makes one, like the SDK's.
    let (_, body) = upsert(&app, "ada", json!({"project": "p"})).await;
    let made = body["data"]["upsertBucket"]["bucket"]["name"]
        .as_str()
        .unwrap();
    assert_eq!(made.len(), 8);
    app.stop().await;
}

async fn a_replayed_file_stream_changes_nothing_and_bad_bodies_change_nothing(backend: Backend) {
    let limits = [
        ("FULCRUM_FILE_STREAM_MAX_LINES", "50"),
        ("FULCRUM_FILE_STREAM_MAX_LINE_BYTES", "300"),
        ("FULCRUM_FILE_STREAM_MAX_BODY_BYTES", "8192"),
        ("FULCRUM_RUN_MAX_LINES", "100"),
    ];
    let mut app = TestApp::with_config(&backend, &limits).await;
    app.person("ada").await;
    new_run(&app, "ada", None, "r1").await;
    let path = "ada/p/r1";
    for _ in 0..3 {
        let (status, body) = stream(&app, "ada", path, history(0, 0..10)).await;
        assert_eq!((status, body), (StatusCode::OK, json!({})));
    }
    let (status, _) = stream(&app, "ada", path, b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::OK, "a heartbeat is an empty object");
    let (status, _) = stream(&app, "ada", path, Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "and an empty body is one too");

    let long = json!({"files": {"output.log": {"offset": 0, "content": ["x".repeat(400)]}}});
    let not_object = json!({"files": {"wandb-history.jsonl": {"offset": 10, "content": ["[1]"]}}});
    let bad_summary = json!({"files": {"wandb-summary.json": {"offset": 0, "content": ["nope"]}}});
    let past_the_end = json!({"files": {"wandb-events.jsonl": {"offset": 100, "content": ["{}"]}}});
    let negative = json!({"files": {"wandb-history.jsonl": {"offset": -1, "content": ["{}"]}}});
    let wrong_type = json!({"files": {"wandb-history.jsonl": {"offset": "zero", "content": []}}});
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            wrong_type.to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            not_object.to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "file_stream_invalid",
        ),
        (
            bad_summary.to_string().into_bytes(),
            StatusCode::BAD_REQUEST,
            "file_stream_invalid",
        ),
        (
            history(10, 10..70),
            StatusCode::PAYLOAD_TOO_LARGE,
            "run_too_large",
        ),
        (
            long.to_string().into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "run_too_large",
        ),
        (
            past_the_end.to_string().into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "run_too_large",
        ),
        (
            negative.to_string().into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "run_too_large",
        ),
        (
            vec![b' '; 10_000],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (body, want, code) in cases {
        let (status, answer) = stream(&app, "ada", path, body).await;
        assert_eq!(
            (status, answer["errors"][0]["extensions"]["code"].as_str()),
            (want, Some(code)),
            "{answer}"
        );
    }
    let (status, _) = stream_with(&app, "ada", path, history(10, 10..11), Some("gzip")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = stream(&app, "ada", "ada/p/nope", history(0, 0..1)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let run = run_state(&app, "ada", "ada", "r1").await;
    assert_eq!(
        run["historyLineCount"], 10,
        "nothing was duplicated or half-applied: {run}"
    );
    assert_eq!(
        (run["logLineCount"].clone(), run["state"].clone()),
        (json!(0), json!("running"))
    );
    let tail: Vec<String> = serde_json::from_str(run["historyTail"].as_str().unwrap()).unwrap();
    assert!(tail[0].contains("\"_step\":9"), "{tail:?}");
    app.stop().await;
}

async fn nobody_writes_to_another_persons_run(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await;
    app.member("lab", "bob", "member").await;
    app.member("lab", "cat", "member").await;
    app.person("eve").await;
    new_run(&app, "ada", Some("ada"), "mine").await;
    new_run(&app, "cat", Some("lab"), "cats").await;
    // eve cannot see ada's personal run at all; bob reads cat's team run but may not write.
    let (status, _) = stream(&app, "eve", "ada/p/mine", history(0, 0..1)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = stream(&app, "bob", "lab/p/cats", history(0, 0..1)).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("run_forbidden"))
    );
    let (status, _) = upsert(
        &app,
        "bob",
        json!({"name": "cats", "project": "p", "entity": "lab", "notes": "mine now"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        run_state(&app, "eve", "ada", "mine").await.is_null(),
        "a run eve may not read is missing"
    );
    let cats = run_state(&app, "bob", "lab", "cats").await;
    assert_eq!(cats["historyLineCount"], 0, "nothing changed: {cats}");
    // The team's admin may write to any run in the team.
    let (status, _) = stream(&app, "ada", "lab/p/cats", history(0, 0..2)).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

async fn a_stopped_run_is_told_to_stop_and_ends_killed(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await;
    app.member("lab", "vic", "viewer").await;
    new_run(&app, "ada", Some("lab"), "long").await;
    let id = run_state(&app, "ada", "lab", "long").await["id"].clone();
    let stop = "mutation Stop($id: ID!) { stopRun(input: {id: $id}) { success } }";
    let (status, _) = app.gql_with("vic", stop, json!({"id": id})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer may not stop a run");
    let (status, body) = app.gql_with("ada", stop, json!({"id": id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, answer) = stream(&app, "ada", "lab/p/long", b"{}".to_vec()).await;
    assert_eq!(answer, json!({"stopped": true}));
    // wandb 0.19.11 polls RunStoppedStatus instead of reading the file_stream answer.
    let polled = "query RunStoppedStatus($entityName: String, $projectName: String, $runId: String!) { project(name: $projectName, entityName: $entityName) { run(name: $runId) { stopped } } }";
    let vars = json!({"entityName": "lab", "projectName": "p", "runId": "long"});
    let (_, body) = app.gql_with("ada", polled, vars).await;
    assert_eq!(body["data"]["project"]["run"]["stopped"], true, "{body}");
    let end = json!({"complete": true, "exitcode": 255})
        .to_string()
        .into_bytes();
    stream(&app, "ada", "lab/p/long", end).await;
    let run = run_state(&app, "ada", "lab", "long").await;
    assert_eq!(
        (run["state"].clone(), run["exitcode"].clone()),
        (json!("killed"), json!(255))
    );
    let (status, body) = app.gql_with("ada", stop, json!({"id": id})).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (StatusCode::CONFLICT, json!("run_not_live"))
    );
    app.stop().await;
}
