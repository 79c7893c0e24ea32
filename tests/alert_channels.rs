//! Alerts on Slack and signed webhooks (issue #10), against a local Slack stand-in and a
//! webhook receiver that checks signatures, on both backends: connecting (pasted URL and
//! OAuth v2), Block Kit messages, Slack's error answers, SSRF refusals, team routing,
//! per-project mute and re-route, the minimum run duration, in-order redelivery after an
//! outage, and the run's alert log.

#[macro_use]
mod common;

use common::app::redirect_of;
use common::app::TestApp;
use common::slack::Standin;
use common::{code, Backend};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    slack_and_webhooks_get_every_alert_signed_and_sealed,
    slack_errors_are_handled_as_slack_documents_them,
    team_alerts_follow_the_team_and_projects_can_be_muted_or_rerouted,
    a_receiver_that_was_down_gets_every_alert_once_and_in_order,
    connect_slack_runs_oauth_bound_to_the_session,
);

const SLACK: &str = "mutation($url: String!, $team: String, $project: String) { connectSlackWebhook(input: {url: $url, team: $team, project: $project}) { id kind hint project } }";
const WEBHOOK: &str = "mutation($url: String!, $team: String) { createAlertWebhook(input: {url: $url, team: $team}) { channel { id hint } signingSecret } }";
const ROUTING: &str = "query($team: String) { alertRouting(team: $team) { slackApp mutedProjects minRunSeconds channels { id kind hint slackTeam slackChannel brokenReason project } } }";
const MUTE: &str = "mutation($p: String!, $team: String) { muteAlertProject(input: {project: $p, muted: true, team: $team}) }";
const MIN_RUN: &str = "mutation($s: Int!) { setAlertMinRunSeconds(input: {seconds: $s}) }";
const LOG: &str = "query($e: String!, $p: String!, $r: String!) { project(entityName: $e, name: $p) { run(name: $r) { alertDeliveries { event channel target status attempts lastError } } } }";
const UPSERT: &str = "mutation($n: String!, $e: String, $p: String!) { upsertBucket(input: {name: $n, entityName: $e, modelName: $p}) { bucket { id } } }";
const NOTIFY: &str = "mutation($e: String!, $p: String!, $r: String!, $t: String!) { notifyScriptableRunAlert(input: {entityName: $e, projectName: $p, runName: $r, title: $t, text: \"<b>not markup</b>\", severity: WARN}) { success } }";

async fn start(backend: &Backend, slack: &Standin) -> TestApp {
    let mut config: Vec<(&str, String)> = slack.config();
    config.push(("FULCRUM_JOB_BACKOFF_BASE_MS", "100".into()));
    config.push(("FULCRUM_JOB_POLL_MS", "50".into()));
    let pairs: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::with_config(backend, &pairs).await
}

/// Logs run `run` in `entity/project` as `who` and ends it with `exit`.
async fn finish(app: &TestApp, who: &str, path: (&str, &str, &str), exit: i64) {
    let (entity, project, run) = path;
    let (status, body) = app
        .gql_with(who, UPSERT, json!({"n": run, "e": entity, "p": project}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resp = app
        .t
        .http
        .post(
            app.t
                .url(&format!("/files/{entity}/{project}/{run}/file_stream")),
        )
        .basic_auth("api", Some(app.key(who)))
        .json(&json!({"complete": true, "exitcode": exit}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn log(app: &TestApp, who: &str, path: (&str, &str, &str)) -> Vec<Value> {
    let (_, body) = app
        .gql_with(who, LOG, json!({"e": path.0, "p": path.1, "r": path.2}))
        .await;
    body["data"]["project"]["run"]["alertDeliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The log once every delivery has settled (done or failed).
async fn settled_log(app: &TestApp, who: &str, path: (&str, &str, &str), n: usize) -> Vec<Value> {
    for _ in 0..500 {
        let l = log(app, who, path).await;
        if l.len() >= n
            && l.iter()
                .all(|d| d["status"] == "done" || d["status"] == "failed")
        {
            return l;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!(
        "alert log of {path:?} did not settle: {:?}",
        log(app, who, path).await
    );
}

fn channels(body: &Value) -> Vec<Value> {
    body["data"]["alertRouting"]["channels"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn slack_and_webhooks_get_every_alert_signed_and_sealed(backend: Backend) {
    let slack = Standin::start().await;
    let mut app = start(&backend, &slack).await;
    app.person("ada").await.person("eve").await;

    for bad in [
        "https://evil.example/services/T/B/x",
        "not a url",
        &format!("{}/api/oauth.v2.access", slack.base),
        "https://user:pw@hooks.slack.com/services/T/B/x",
    ] {
        let (status, body) = app.gql_with("ada", SLACK, json!({"url": bad})).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "alert_channel_invalid"),
            "{bad}"
        );
    }
    let url = slack.webhook("ok");
    let (status, body) = app.gql_with("ada", SLACK, json!({"url": url})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hint = body["data"]["connectSlackWebhook"]["hint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(hint.ends_with("…/ok") && !hint.contains("T0001"), "{hint}");

    for private in [
        "http://10.0.0.1/hook",
        "http://localhost:9/hook",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
    ] {
        let (status, body) = app.gql_with("ada", WEBHOOK, json!({"url": private})).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "alert_channel_invalid"),
            "{private}"
        );
    }
    let (status, body) = app
        .gql_with(
            "ada",
            WEBHOOK,
            json!({"url": format!("{}/hooks/ada", slack.base)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = body["data"]["createAlertWebhook"]["signingSecret"]
        .as_str()
        .unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    slack.set_secret(secret);

    // Sealed at rest: neither the URL nor the secret is in the database.
    let rows = app
        .services()
        .store
        .alert_channels(fulcrum::store::Owner::User(app.t.user_row("ada").await.id))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows.iter().map(|r| &r.spec) {
        assert!(!r.url_sealed.contains("127.0.0.1") && !r.url_sealed.contains("/services/"));
        assert!(r
            .secret_sealed
            .as_deref()
            .is_none_or(|s| !s.contains(secret)));
    }
    let (_, body) = app.gql("ada", ROUTING).await;
    assert_eq!(channels(&body).len(), 2);
    assert!(
        !body.to_string().contains(&url),
        "the URL is never shown again"
    );
    let (_, body) = app.gql("eve", ROUTING).await;
    assert!(channels(&body).is_empty(), "eve sees only her own");

    finish(&app, "ada", ("ada", "p", "r1"), 0).await;
    let hit = &slack.wait_hits("/services/ok", 1).await[0];
    assert_eq!(hit.body["blocks"][0]["text"]["text"], "Run finished — r1");
    assert!(hit.body["blocks"].to_string().contains("ada/p"));
    let hook = &slack.wait_hits("/hooks/ada", 1).await[0];
    assert!(hook.signed, "the receiver checked the signature");
    assert_eq!(hook.body["type"], "run.finished");
    assert_eq!(hook.body["run"]["id"], "r1");
    assert!(hook.headers["fulcrum-delivery"]
        .to_str()
        .unwrap()
        .starts_with("alert:"));
    app.wait_for_mail("ada@example.com").await;

    let (_, body) = app
        .gql_with(
            "ada",
            NOTIFY,
            json!({"e": "ada", "p": "p", "r": "r1", "t": "loss is NaN"}),
        )
        .await;
    assert_eq!(body["data"]["notifyScriptableRunAlert"]["success"], true);
    let hits = slack.wait_hits("/services/ok", 2).await;
    let text = hits[1].body.to_string();
    assert!(
        text.contains("[WARN] loss is NaN — r1") && text.contains("&lt;b&gt;not markup&lt;/b&gt;"),
        "{text}"
    );

    let l = settled_log(&app, "ada", ("ada", "p", "r1"), 6).await;
    let row = |event: &str, channel: &str| {
        l.iter()
            .find(|d| d["event"] == event && d["channel"] == channel)
            .unwrap_or_else(|| panic!("{event}/{channel} in {l:?}"))
            .clone()
    };
    assert_eq!(row("runs_finished", "email")["target"], "@ada");
    assert_eq!(row("runs_finished", "slack")["status"], "done");
    assert_eq!(row("scriptable", "webhook")["status"], "done");
    assert!(
        !serde_json::to_string(&l).unwrap().contains("example.com"),
        "no addresses in the log"
    );
    app.stop().await;
}

async fn slack_errors_are_handled_as_slack_documents_them(backend: Backend) {
    let slack = Standin::start().await;
    let mut app = start(&backend, &slack).await;
    app.person("ada").await.person("bob").await;

    // 429 with Retry-After: waited out, then delivered once.
    app.gql_with("bob", SLACK, json!({"url": slack.webhook("busy")}))
        .await;
    finish(&app, "bob", ("bob", "p", "r1"), 0).await;
    let l = settled_log(&app, "bob", ("bob", "p", "r1"), 2).await;
    let slack_row = l.iter().find(|d| d["channel"] == "slack").unwrap();
    assert_eq!(
        (slack_row["status"].as_str(), slack_row["attempts"].as_i64()),
        (Some("done"), Some(2)),
        "{l:?}"
    );
    assert_eq!(slack.hits("/services/busy").len(), 1);

    // 404 no_service: the integration is marked broken, its owner told, and it gets no more.
    app.gql_with("ada", SLACK, json!({"url": slack.webhook("gone")}))
        .await;
    finish(&app, "ada", ("ada", "p", "r1"), 1).await;
    let l = settled_log(&app, "ada", ("ada", "p", "r1"), 2).await;
    let failed = l.iter().find(|d| d["channel"] == "slack").unwrap();
    assert_eq!(failed["status"], "failed");
    assert!(failed["lastError"].as_str().unwrap().contains("no_service"));
    let mut notice = None;
    for _ in 0..500 {
        notice = app
            .mail_to("ada@example.com")
            .into_iter()
            .find(|m| m.subject.starts_with("Alerts stopped"));
        if notice.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(notice.is_some(), "the owner is told by email");
    let (_, body) = app.gql("ada", ROUTING).await;
    assert!(channels(&body)[0]["brokenReason"]
        .as_str()
        .unwrap()
        .contains("no_service"));
    finish(&app, "ada", ("ada", "p", "r2"), 0).await;
    let l = settled_log(&app, "ada", ("ada", "p", "r2"), 1).await;
    assert!(
        l.iter().all(|d| d["channel"] == "email"),
        "a broken channel gets no more: {l:?}"
    );

    // 410 channel_is_archived, and 400 invalid_payload never happens for our messages.
    app.gql_with("ada", SLACK, json!({"url": slack.webhook("archived")}))
        .await;
    finish(&app, "ada", ("ada", "p", "r3"), 0).await;
    let l = settled_log(&app, "ada", ("ada", "p", "r3"), 2).await;
    let archived = l.iter().find(|d| d["channel"] == "slack").unwrap();
    assert!(archived["lastError"]
        .as_str()
        .unwrap()
        .contains("channel_is_archived"));
    app.stop().await;
}

async fn team_alerts_follow_the_team_and_projects_can_be_muted_or_rerouted(backend: Backend) {
    let slack = Standin::start().await;
    let mut app = start(&backend, &slack).await;
    app.person("ada")
        .await
        .team("lab")
        .await
        .member("lab", "bob", "member")
        .await;

    let (status, body) = app
        .gql_with(
            "bob",
            SLACK,
            json!({"url": slack.webhook("team"), "team": "lab"}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "team_admin_required")
    );
    let (status, body) = app
        .gql_with(
            "ada",
            SLACK,
            json!({"url": slack.webhook("team"), "team": "lab"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    finish(&app, "bob", ("lab", "p1", "a"), 0).await;
    finish(&app, "bob", ("lab", "p2", "b"), 0).await;
    finish(&app, "bob", ("lab", "p3", "c"), 0).await;
    slack.wait_hits("/services/team", 3).await;

    let (status, body) = app
        .gql_with(
            "ada",
            SLACK,
            json!({"url": slack.webhook("p2"), "team": "lab", "project": "lab/p2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["connectSlackWebhook"]["project"], "lab/p2");
    let (status, body) = app
        .gql_with("ada", MUTE, json!({"p": "lab/p3", "team": "lab"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .gql_with("ada", MUTE, json!({"p": "ada/none", "team": "lab"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    finish(&app, "bob", ("lab", "p2", "b2"), 0).await;
    finish(&app, "bob", ("lab", "p3", "c2"), 0).await;
    finish(&app, "bob", ("lab", "p1", "a2"), 0).await;
    slack.wait_hits("/services/team", 4).await;
    let rerouted = slack.wait_hits("/services/p2", 1).await;
    assert!(rerouted[0].body.to_string().contains("b2"));
    let team_runs: Vec<String> = slack
        .hits("/services/team")
        .iter()
        .map(|h| h.body["text"].to_string())
        .collect();
    assert!(
        !team_runs
            .iter()
            .any(|t| t.contains("b2") || t.contains("c2")),
        "{team_runs:?}"
    );
    // bob still hears about his own runs, muted for the team or not.
    let l = settled_log(&app, "bob", ("lab", "p3", "c2"), 1).await;
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(
        (l[0]["channel"].as_str(), l[0]["target"].as_str()),
        (Some("email"), Some("@bob"))
    );

    // Another reader of the run sees the team's deliveries, not bob's own.
    settled_log(&app, "bob", ("lab", "p1", "a2"), 2).await;
    let seen_by_ada = log(&app, "ada", ("lab", "p1", "a2")).await;
    assert!(
        !seen_by_ada.is_empty(),
        "the team's Slack delivery is shown"
    );
    assert!(
        seen_by_ada.iter().all(|d| d["channel"] == "slack"),
        "{seen_by_ada:?}"
    );

    // A minimum run duration stops Runs finished for short runs, not Run crashed.
    let (status, _) = app.gql_with("bob", MIN_RUN, json!({"s": 3600})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.gql_with("bob", MIN_RUN, json!({"s": -1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    finish(&app, "bob", ("bob", "q", "short"), 0).await;
    finish(&app, "bob", ("bob", "q", "broke"), 2).await;
    settled_log(&app, "bob", ("bob", "q", "broke"), 1).await;
    assert!(log(&app, "bob", ("bob", "q", "short")).await.is_empty());
    let (_, body) = app.gql_with("ada", ROUTING, json!({"team": "lab"})).await;
    assert_eq!(
        body["data"]["alertRouting"]["mutedProjects"],
        json!(["lab/p3"])
    );
    let (status, _) = app.gql_with("bob", ROUTING, json!({"team": "lab"})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "team routing is for its admins"
    );
    app.stop().await;
}

async fn a_receiver_that_was_down_gets_every_alert_once_and_in_order(backend: Backend) {
    let slack = Standin::start().await;
    let mut app = start(&backend, &slack).await;
    app.person("ada").await;
    let (_, body) = app
        .gql_with(
            "ada",
            WEBHOOK,
            json!({"url": format!("{}/hooks/down", slack.base)}),
        )
        .await;
    slack.set_secret(
        body["data"]["createAlertWebhook"]["signingSecret"]
            .as_str()
            .unwrap(),
    );
    slack.set_down("/hooks/down", true);
    app.gql_with("ada", UPSERT, json!({"n": "r", "e": "ada", "p": "p"}))
        .await;
    for title in ["first", "second"] {
        app.gql_with(
            "ada",
            NOTIFY,
            json!({"e": "ada", "p": "p", "r": "r", "t": title}),
        )
        .await;
    }
    finish(&app, "ada", ("ada", "p", "r"), 0).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(slack.hits("/hooks/down").is_empty());
    slack.set_down("/hooks/down", false);
    let hits = slack.wait_hits("/hooks/down", 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got: Vec<String> = slack
        .hits("/hooks/down")
        .iter()
        .map(|h| {
            h.body["alert"]["title"]
                .as_str()
                .unwrap_or(h.body["type"].as_str().unwrap())
                .to_string()
        })
        .collect();
    assert_eq!(
        got,
        ["first", "second", "run.finished"],
        "once each, in order"
    );
    assert!(hits.iter().all(|h| h.signed));
    app.stop().await;
}

async fn connect_slack_runs_oauth_bound_to_the_session(backend: Backend) {
    let slack = Standin::start().await;
    let mut app = start(&backend, &slack).await;
    app.person("ada").await.person("eve").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ada = app.browser_login("ada").await;
    let eve = app.browser_login("eve").await;

    let to_slack = redirect_of(
        &client,
        &app.t.url("/api/v1/alerts/slack/connect"),
        Some(&ada),
    )
    .await;
    assert!(
        to_slack.starts_with(&format!("{}/oauth/v2/authorize?", slack.base)),
        "{to_slack}"
    );
    let back = redirect_of(&client, &to_slack, None).await;
    // Slack sends the browser to public_url; the test server listens elsewhere.
    let back = back.replace("http://127.0.0.1:8080", &app.t.base);
    assert!(
        back.contains("/api/v1/alerts/slack/callback?code=good-code&state="),
        "{back}"
    );

    let stolen = redirect_of(&client, &back, Some(&eve)).await;
    assert!(
        stolen.contains("slack_error=slack_state_invalid"),
        "another session cannot use it: {stolen}"
    );
    let forged = back.replace("state=", "state=x");
    assert!(redirect_of(&client, &forged, Some(&ada))
        .await
        .contains("slack_error=slack_state_invalid"));
    let bad_code = back.replace("code=good-code", "code=bad");
    assert!(redirect_of(&client, &bad_code, Some(&ada))
        .await
        .contains("slack_error=slack_connect_failed"));

    let done = redirect_of(&client, &back, Some(&ada)).await;
    assert_eq!(done, "/settings?slack=connected#alerts");
    let (_, body) = app.gql("ada", ROUTING).await;
    assert_eq!(body["data"]["alertRouting"]["slackApp"], true);
    let c = &channels(&body)[0];
    assert_eq!(
        (c["slackTeam"].as_str(), c["slackChannel"].as_str()),
        (Some("Lab Slack"), Some("#ml-alerts"))
    );
    finish(&app, "ada", ("ada", "p", "r1"), 0).await;
    slack.wait_hits("/services/oauth", 1).await;
    let (_, body) = app.gql("eve", ROUTING).await;
    assert!(channels(&body).is_empty());
    app.stop().await;
}
