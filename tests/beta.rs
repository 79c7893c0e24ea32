//! Settings → Beta features (issue #12 §1) on both backends: each person's switches and what
//! they change for the SDK (`viewer.flags.code_saving_enabled`, the
//! `STRUCTURED_CONSOLE_LOGS` server feature), a team's Code saving switch through W&B's
//! `updateEntity`, and a site admin withdrawing a feature for everyone.

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    switches_are_personal_and_change_what_the_sdk_is_told,
    a_team_switch_is_the_default_of_its_members_and_only_admins_flip_it,
    a_site_admin_withdraws_a_feature_for_everyone,
);

const LIST: &str = "query($team: String, $all: Boolean) { betaFeatures(team: $team, includeUnavailable: $all) { key name(language: \"ko\") enabled choice available } }";
const SET: &str = "mutation($key: String!, $on: Boolean, $team: String) { updateBetaFeature(input: {key: $key, enabled: $on, team: $team}) { key enabled choice } }";
const FLAGS: &str = "query { viewer { flags } }";
const FEATURES: &str = "query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }";
const UPDATE_ENTITY: &str = "mutation($e: String!, $on: Boolean) { updateEntity(input: {entity: $e, codeSavingEnabled: $on}) { entity { name codeSavingEnabled } } }";
const AVAILABILITY: &str = "mutation($key: String!, $on: Boolean!) { updateBetaFeatureAvailability(input: {key: $key, available: $on}) { key available } }";

async fn set(app: &TestApp, who: &str, key: &str, on: Option<bool>) -> (StatusCode, Value) {
    app.gql_with(who, SET, json!({ "key": key, "on": on }))
        .await
}

/// `viewer.flags`, parsed as the SDK parses it.
async fn flags(app: &TestApp, who: &str) -> Value {
    let (_, body) = app.gql(who, FLAGS).await;
    serde_json::from_str(body["data"]["viewer"]["flags"].as_str().unwrap()).unwrap()
}

async fn structured_logs(app: &TestApp, who: &str) -> bool {
    let (_, body) = app.gql(who, FEATURES).await;
    body["data"]["serverInfo"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "STRUCTURED_CONSOLE_LOGS" && f["isEnabled"] == true)
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

fn keys(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect()
}

async fn switches_are_personal_and_change_what_the_sdk_is_told(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.person("bob").await;

    let (status, body) = app.gql_with("ada", LIST, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = &body["data"]["betaFeatures"];
    assert_eq!(
        keys(list),
        ["dark_mode", "code_saving", "structured_console_logs"]
    );
    assert_eq!(
        list[0]["name"], "다크 모드",
        "names come in the asked language"
    );
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["enabled"] == false && f["choice"].is_null() && f["available"] == true));
    assert_eq!(
        flags(&app, "ada").await,
        json!({}),
        "no code saving by default"
    );
    assert!(!structured_logs(&app, "ada").await);

    let (_, body) = set(&app, "ada", "code_saving", Some(true)).await;
    assert_eq!(
        body["data"]["updateBetaFeature"][1]["choice"], true,
        "{body}"
    );
    set(&app, "ada", "structured_console_logs", Some(true)).await;
    assert_eq!(
        flags(&app, "ada").await,
        json!({"code_saving_enabled": true})
    );
    assert!(structured_logs(&app, "ada").await);
    assert_eq!(flags(&app, "bob").await, json!({}), "bob's stay his own");
    assert!(!structured_logs(&app, "bob").await);

    // Off is never sent as `false`: the SDK would then override `save_code=True`.
    set(&app, "ada", "code_saving", Some(false)).await;
    assert_eq!(flags(&app, "ada").await, json!({}));
    let (_, body) = set(&app, "ada", "dark_mode", Some(true)).await;
    assert_eq!(body["data"]["updateBetaFeature"][0]["enabled"], true);
    let (_, body) = set(&app, "ada", "dark_mode", None).await;
    assert!(
        body["data"]["updateBetaFeature"][0]["choice"].is_null(),
        "null forgets the choice: {body}"
    );

    let (status, body) = set(&app, "ada", "night", Some(true)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "beta_feature_unknown", "{body}");
    let audit = app.services().store.recent_audit(100).await.unwrap();
    let changes: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "beta_feature.change")
        .collect();
    assert_eq!(changes.len(), 5, "every change audited, refusals not");
    assert!(changes
        .iter()
        .all(|a| a.target.as_deref().is_some_and(|t| t.starts_with("u:"))));
    app.stop().await;
}

async fn a_team_switch_is_the_default_of_its_members_and_only_admins_flip_it(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await;
    app.member("lab", "bob", "member").await;
    let (_, body) = app
        .gql(
            "bob",
            "mutation { setDefaultEntity(input: {entityName: \"lab\"}) { user { id } } }",
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");

    let (_, body) = app.gql_with("ada", LIST, json!({ "team": "lab" })).await;
    assert_eq!(
        keys(&body["data"]["betaFeatures"]),
        ["code_saving"],
        "teams have only Code saving"
    );
    let (_, body) = app
        .gql_with("ada", UPDATE_ENTITY, json!({ "e": "lab", "on": true }))
        .await;
    assert_eq!(
        body["data"]["updateEntity"]["entity"],
        json!({"name": "lab", "codeSavingEnabled": true}),
        "{body}"
    );
    assert_eq!(
        flags(&app, "bob").await,
        json!({"code_saving_enabled": true}),
        "the default team's switch, while bob has not chosen"
    );
    assert_eq!(
        flags(&app, "ada").await,
        json!({}),
        "lab is not ada's default"
    );
    set(&app, "bob", "code_saving", Some(false)).await;
    assert_eq!(flags(&app, "bob").await, json!({}), "his own choice wins");

    let (_, body) = app
        .gql_with("bob", UPDATE_ENTITY, json!({ "e": "lab", "on": false }))
        .await;
    assert_eq!(code(&body), "team_admin_required", "{body}");
    let (_, body) = app
        .gql_with("bob", UPDATE_ENTITY, json!({ "e": "ada", "on": true }))
        .await;
    assert_eq!(code(&body), "not_your_entity", "{body}");
    let (_, body) = app
        .gql_with("bob", UPDATE_ENTITY, json!({ "e": "bob", "on": true }))
        .await;
    assert_eq!(
        body["data"]["updateEntity"]["entity"]["codeSavingEnabled"], true,
        "on one's own entity it is one's own switch: {body}"
    );
    let (_, body) = app
        .gql_with(
            "ada",
            SET,
            json!({ "key": "dark_mode", "on": true, "team": "lab" }),
        )
        .await;
    assert_eq!(code(&body), "beta_feature_not_for_teams", "{body}");
    app.stop().await;
}

async fn a_site_admin_withdraws_a_feature_for_everyone(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.admin("root").await.person("ada").await;
    set(&app, "ada", "code_saving", Some(true)).await;

    let (_, body) = app
        .gql_with(
            "ada",
            AVAILABILITY,
            json!({ "key": "code_saving", "on": false }),
        )
        .await;
    assert_eq!(code(&body), "admin_required", "{body}");
    let (_, body) = app
        .gql_with(
            "root",
            AVAILABILITY,
            json!({ "key": "code_saving", "on": false }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");

    let (_, body) = app.gql_with("ada", LIST, json!({ "all": true })).await;
    assert_eq!(
        keys(&body["data"]["betaFeatures"]),
        ["dark_mode", "structured_console_logs"],
        "withdrawn: not listed, even when asked"
    );
    assert_eq!(flags(&app, "ada").await, json!({}), "and off");
    let (_, body) = set(&app, "ada", "code_saving", Some(true)).await;
    assert_eq!(code(&body), "beta_feature_unavailable", "{body}");
    let (_, body) = app.gql_with("root", LIST, json!({ "all": true })).await;
    let withdrawn = &body["data"]["betaFeatures"][1];
    assert_eq!(withdrawn["key"], "code_saving");
    assert_eq!(withdrawn["available"], false, "admins see it, marked");

    app.gql_with(
        "root",
        AVAILABILITY,
        json!({ "key": "code_saving", "on": true }),
    )
    .await;
    assert_eq!(
        flags(&app, "ada").await,
        json!({"code_saving_enabled": true}),
        "offered again, ada's choice is back"
    );
    let audit = app.services().store.recent_audit(100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "setting.change"
                && a.target.as_deref() == Some("beta.code_saving.available"))
            .count(),
        2
    );
    app.stop().await;
}
