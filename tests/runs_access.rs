//! Who may do what with a team's runs (issue #9, "Who may do what"): an authorization
//! matrix of seven callers × six operations on one run, and service-account attribution
//! (`X-Wandb-Username`: the run belongs to the member named).

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    the_run_access_matrix_holds,
    a_service_account_writes_to_its_team_and_attributes_runs,
);

const UPSERT: &str = "mutation($n: String, $e: String, $notes: String) { upsertBucket(input: {name: $n, modelName: \"p\", entityName: $e, notes: $notes}) { bucket { id user { username } } } }";
const READ: &str = "query($r: String!) { project(name: \"p\", entityName: \"lab\") { run(name: $r) { id state } } }";

async fn status_of(app: &TestApp, who: &str, query: &str, vars: Value) -> StatusCode {
    let (status, body) = app.gql_with(who, query, vars).await;
    // A run the caller may not see reads as missing, like one that does not exist.
    if status == StatusCode::OK && body["data"]["project"]["run"].is_null() {
        return StatusCode::NOT_FOUND;
    }
    status
}

async fn stream(app: &TestApp, who: &str, run: &str) -> StatusCode {
    app.t
        .http
        .post(app.t.url(&format!("/files/lab/p/{run}/file_stream")))
        .basic_auth("api", Some(app.key(who)))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn service_account(app: &TestApp, team: &str, admin: &str) -> (String, String) {
    let services = app.services();
    let actor = app.actor(admin).await;
    let sa = services
        .create_service_account(&actor, team, None, "CI")
        .await
        .unwrap();
    let (_, key) = services
        .create_service_account_key(&actor, team, sa.id, "ci")
        .await
        .unwrap();
    (sa.username, key.to_string())
}

async fn the_run_access_matrix_holds(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await; // ada: team admin
    app.member("lab", "bob", "member").await; // bob owns the run
    app.member("lab", "cat", "member").await;
    app.member("lab", "vic", "viewer").await;
    app.person("eve").await; // outsider
    app.admin("root").await; // site admin
    let (_, sa_key) = service_account(&app, "lab", "ada").await;
    let (status, body) = app
        .gql_with("bob", UPSERT, json!({"n": "r", "e": "lab"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let run_id = body["data"]["upsertBucket"]["bucket"]["id"].clone();

    // read, write (upsert an existing run), file_stream: per caller.
    let expected: Vec<(&str, StatusCode, StatusCode, StatusCode)> = vec![
        ("bob", StatusCode::OK, StatusCode::OK, StatusCode::OK),
        ("ada", StatusCode::OK, StatusCode::OK, StatusCode::OK),
        (
            "cat",
            StatusCode::OK,
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
        ),
        (
            "vic",
            StatusCode::OK,
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
        ),
        (
            "eve",
            StatusCode::NOT_FOUND,
            StatusCode::FORBIDDEN,
            StatusCode::NOT_FOUND,
        ),
        ("root", StatusCode::OK, StatusCode::OK, StatusCode::OK),
    ];
    for (who, read, write, fs) in &expected {
        let r = status_of(&app, who, READ, json!({"r": "r"})).await;
        let w = app
            .gql_with(who, UPSERT, json!({"n": "r", "e": "lab", "notes": who}))
            .await
            .0;
        let f = stream(&app, who, "r").await;
        assert_eq!(
            (r, w, f),
            (*read, *write, *fs),
            "{who}: read, write, file_stream"
        );
    }
    // The team's service account writes too (its key is not a person's).
    let sa = app
        .t
        .http
        .post(app.t.url("/files/lab/p/r/file_stream"))
        .basic_auth("api", Some(&sa_key))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sa.status(),
        StatusCode::OK,
        "the team's service account writes to team runs"
    );

    // Stop and delete: the owner and admins only; the last one deletes.
    let stop = "mutation($id: ID!) { stopRun(input: {id: $id}) { success } }";
    let delete = "mutation($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }";
    for (who, want) in [
        ("cat", StatusCode::FORBIDDEN),
        ("vic", StatusCode::FORBIDDEN),
        ("eve", StatusCode::NOT_FOUND),
        ("ada", StatusCode::OK),
    ] {
        assert_eq!(
            app.gql_with(who, stop, json!({"id": run_id})).await.0,
            want,
            "stop by {who}"
        );
    }
    for (who, want) in [
        ("cat", StatusCode::FORBIDDEN),
        ("vic", StatusCode::FORBIDDEN),
        ("eve", StatusCode::NOT_FOUND),
        ("bob", StatusCode::OK),
    ] {
        assert_eq!(
            app.gql_with(who, delete, json!({"id": run_id})).await.0,
            want,
            "delete by {who}"
        );
    }
    assert_eq!(
        status_of(&app, "ada", READ, json!({"r": "r"})).await,
        StatusCode::NOT_FOUND,
        "deleted"
    );
    let audit = app.services().store.recent_audit(200).await.unwrap();
    assert!(
        audit.iter().any(|a| a.action == "run.delete")
            && audit.iter().any(|a| a.action == "run.stop")
    );
    app.stop().await;
}

async fn a_service_account_writes_to_its_team_and_attributes_runs(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await;
    app.member("lab", "bob", "member").await;
    app.person("eve").await;
    let (sa_name, sa_key) = service_account(&app, "lab", "ada").await;
    let post = |vars: Value, username: Option<&str>| {
        let mut req = app
            .t
            .http
            .post(app.t.url("/graphql"))
            .basic_auth("api", Some(&sa_key))
            .json(&json!({"query": UPSERT, "variables": vars}));
        if let Some(u) = username {
            req = req.header("X-Wandb-Username", u);
        }
        req.send()
    };
    let body: Value = post(json!({"n": "for-bob"}), Some("bob"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bucket = &body["data"]["upsertBucket"]["bucket"];
    assert_eq!(
        bucket["user"]["username"], "bob",
        "the run is the member's: {body}"
    );
    let body: Value = post(json!({"n": "its-own"}), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["upsertBucket"]["bucket"]["user"]["username"],
        json!(sa_name)
    );
    let refused = post(json!({"n": "x"}), Some("eve")).await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "eve is not in the team"
    );
    // bob may write to the run made for him; the run landed in the team (its only place).
    let (status, _) = app
        .gql_with(
            "bob",
            UPSERT,
            json!({"n": "for-bob", "e": "lab", "notes": "mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
