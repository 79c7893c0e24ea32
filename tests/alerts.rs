//! Settings → Alerts (the first slice of issue #10): each person's switches, on both
//! backends — email on for all three events at first, other channels off and refused
//! until they can be connected, one person's switches never another's, every change audited.

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(new_accounts_get_email_for_every_event_and_switches_stay_personal,);

const SWITCHES: &str = "query { alertSwitches { event channel enabled available } }";
const UPDATE: &str = "mutation($e: AlertEventKind!, $c: AlertChannelKind!, $on: Boolean!) { updateAlertSwitch(input: {event: $e, channel: $c, enabled: $on}) { event channel enabled } }";

fn on(switches: &Value) -> Vec<(String, String)> {
    switches
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["enabled"] == true)
        .map(|s| {
            (
                s["event"].as_str().unwrap().to_string(),
                s["channel"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn new_accounts_get_email_for_every_event_and_switches_stay_personal(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.person("bob").await;
    let (status, body) = app.gql("ada", SWITCHES).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let all = &body["data"]["alertSwitches"];
    assert_eq!(
        all.as_array().unwrap().len(),
        9,
        "three events × three channels"
    );
    let email = |e: &str| (e.to_string(), "EMAIL".to_string());
    assert_eq!(
        on(all),
        vec![
            email("RUNS_FINISHED"),
            email("RUN_CRASHED"),
            email("SCRIPTABLE_RUN_ALERTS")
        ]
    );
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .all(|s| (s["channel"] == "EMAIL") == (s["available"] == true)));

    let (status, body) = app
        .gql_with(
            "ada",
            UPDATE,
            json!({"e": "RUN_CRASHED", "c": "EMAIL", "on": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        on(&body["data"]["updateAlertSwitch"]),
        vec![email("RUNS_FINISHED"), email("SCRIPTABLE_RUN_ALERTS")]
    );
    let (_, body) = app.gql("ada", SWITCHES).await;
    assert_eq!(on(&body["data"]["alertSwitches"]).len(), 2, "kept");
    let (_, body) = app.gql("bob", SWITCHES).await;
    assert_eq!(
        on(&body["data"]["alertSwitches"]).len(),
        3,
        "bob's switches are his own"
    );

    let (status, body) = app
        .gql_with(
            "ada",
            UPDATE,
            json!({"e": "RUNS_FINISHED", "c": "SLACK", "on": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "alert_channel_not_connected"
    );
    let (status, _) = app
        .gql_with(
            "ada",
            UPDATE,
            json!({"e": "RUNS_FINISHED", "c": "SLACK", "on": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "switching off is always allowed");
    let (status, _) = app
        .gql_with(
            "ada",
            UPDATE,
            json!({"e": "NOPE", "c": "EMAIL", "on": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.gql("", SWITCHES).await.0, StatusCode::UNAUTHORIZED);

    let audit = app.services().store.recent_audit(100).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "alerts.update").count(),
        2
    );
    app.stop().await;
}
