//! Personal GitHub integration (issue #12 §2) on both backends, against a local stand-in
//! that speaks GitHub's OAuth and REST protocol: Connect Github bound to the browser
//! session, GitHub's errors turned into clear codes, the token sealed, one GitHub account
//! per person, Disconnect revoking the grant; teams that admit the members of a GitHub
//! organization (checked with GitHub at join time); run pages linking to GitHub.

#[macro_use]
mod common;

use common::app::{redirect_of, TestApp};
use common::github::{GithubStandin, CLIENT_ID};
use common::{code, Backend};
use serde_json::{json, Value};

on_both_backends!(
    connect_github_is_bound_to_the_session_and_reports_githubs_errors,
    members_of_a_github_organization_join_the_team,
);

const CONNECTION: &str = "query { githubConnection { configured connected login avatarUrl profileUrl organizations grantUrl } }";
const DISCONNECT: &str = "mutation { disconnectGithub { connected } }";
const JOINABLE: &str = "query { viewer { joinableTeams { name } } }";
const JOIN: &str =
    "mutation($n: String!) { joinTeam(input: {entityName: $n}) { entity { name } } }";
const SET_ORG: &str = "mutation($n: String!, $o: String) { setTeamGithubOrganization(input: {entityName: $n, organization: $o}) { organization entity { githubOrganization } } }";

async fn start(backend: &Backend, github: &GithubStandin) -> TestApp {
    let config: Vec<(&str, String)> = github.config();
    let pairs: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::with_config(backend, &pairs).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Connect Github as `login` on GitHub's page: the callback URL GitHub sends the browser to.
async fn consent(app: &TestApp, cookie: &str, login: &str) -> String {
    let client = no_redirects();
    let to_github = redirect_of(&client, &app.t.url("/api/v1/github/connect"), Some(cookie)).await;
    let back = redirect_of(&client, &format!("{to_github}&login={login}"), None).await;
    // GitHub sends the browser to public_url; the test server listens elsewhere.
    back.replace("http://127.0.0.1:8080", &app.t.base)
}

async fn connect(app: &TestApp, cookie: &str, login: &str) -> String {
    let back = consent(app, cookie, login).await;
    redirect_of(&no_redirects(), &back, Some(cookie)).await
}

async fn connection(app: &TestApp, who: &str) -> Value {
    let (_, body) = app.gql(who, CONNECTION).await;
    body["data"]["githubConnection"].clone()
}

async fn connect_github_is_bound_to_the_session_and_reports_githubs_errors(backend: Backend) {
    let mut plain = TestApp::start(&backend).await;
    plain.person("pat").await;
    assert_eq!(connection(&plain, "pat").await["configured"], false);
    let pat = plain.browser_login("pat").await;
    let refused = redirect_of(
        &no_redirects(),
        &plain.t.url("/api/v1/github/connect"),
        Some(&pat),
    )
    .await;
    assert_eq!(
        refused,
        "/settings?github_error=github_not_configured#github"
    );
    plain.stop().await;

    let github = GithubStandin::start().await;
    github.account("octo", 583231, &["Acme", "octo-labs"]);
    let mut app = start(&backend, &github).await;
    app.person("ada").await.person("eve").await;
    let ada = app.browser_login("ada").await;
    let eve = app.browser_login("eve").await;
    let client = no_redirects();

    let to_github = redirect_of(&client, &app.t.url("/api/v1/github/connect"), Some(&ada)).await;
    let authorize = url::Url::parse(&to_github).unwrap();
    assert_eq!(authorize.path(), "/login/oauth/authorize");
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(
        (q["client_id"].as_str(), q["scope"].as_str()),
        (CLIENT_ID, "read:org")
    );
    assert!(q["redirect_uri"].ends_with("/api/v1/github/callback"));

    let back = consent(&app, &ada, "octo").await;
    let outcome = |url: String, cookie: String| {
        let client = client.clone();
        async move { redirect_of(&client, &url, Some(&cookie)).await }
    };
    assert_eq!(
        outcome(back.clone(), eve.clone()).await,
        "/settings?github_error=github_state_invalid#github",
        "another session cannot finish it"
    );
    let forged = back.replace("state=", "state=x");
    assert!(outcome(forged, ada.clone())
        .await
        .contains("github_error=github_state_invalid"));
    let denied = consent(&app, &ada, "deny").await;
    assert_eq!(
        outcome(denied, ada.clone()).await,
        "/settings?github_error=github_denied#github",
        "Cancel on GitHub's page"
    );
    let wrong_code = back.replace("code=code-octo", "code=code-nobody");
    assert_eq!(
        outcome(wrong_code, ada.clone()).await,
        "/settings?github_error=github_code_invalid#github",
        "GitHub's 200 + bad_verification_code"
    );
    assert_eq!(
        connection(&app, "ada").await["connected"],
        false,
        "nothing kept"
    );

    assert_eq!(
        outcome(back, ada.clone()).await,
        "/settings?github=connected#github"
    );
    let c = connection(&app, "ada").await;
    assert_eq!(c["login"], "octo");
    assert_eq!(c["organizations"], json!(["acme", "octo-labs"]));
    assert_eq!(c["avatarUrl"], "https://avatars.example/u/583231");
    assert_eq!(c["profileUrl"], format!("{}/octo", github.base));
    assert_eq!(
        c["grantUrl"],
        format!(
            "{}/settings/connections/applications/{CLIENT_ID}",
            github.base
        ),
        "GitHub's own page grants more organizations"
    );
    let ada_id = app.t.user_row("ada").await.id;
    let link = app
        .services()
        .store
        .github_link(ada_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !link.token_sealed.contains("gho_octo"),
        "the token is sealed at rest"
    );
    assert_eq!(link.github_id, 583231, "keyed on GitHub's numeric id");

    assert_eq!(
        connect(&app, &eve, "octo").await,
        "/settings?github_error=github_account_taken#github",
        "one GitHub account, one person"
    );

    let (_, body) = app.gql("ada", DISCONNECT).await;
    assert_eq!(
        body["data"]["disconnectGithub"]["connected"], false,
        "{body}"
    );
    assert!(
        !github.token_valid("octo"),
        "the grant is revoked on GitHub"
    );
    let (_, body) = app.gql("ada", DISCONNECT).await;
    assert_eq!(code(&body), "github_not_connected");
    let audit = app.services().store.recent_audit(100).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|a| a.action.starts_with("github."))
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(actions, ["github.disconnect", "github.connect"]);
    app.stop().await;
}

async fn members_of_a_github_organization_join_the_team(backend: Backend) {
    let github = GithubStandin::start().await;
    github.account("bobgh", 7, &["acme"]);
    let mut app = start(&backend, &github).await;
    app.person("ada").await.team("lab").await;
    app.person("bob").await.person("carol").await;

    let (_, body) = app
        .gql_with("bob", SET_ORG, json!({"n": "lab", "o": "acme"}))
        .await;
    assert_eq!(code(&body), "not_team_member", "{body}");
    let (_, body) = app
        .gql_with("ada", SET_ORG, json!({"n": "lab", "o": "not valid"}))
        .await;
    assert_eq!(code(&body), "github_org_invalid");
    let (_, body) = app
        .gql_with("ada", SET_ORG, json!({"n": "lab", "o": "Acme"}))
        .await;
    assert_eq!(
        body["data"]["setTeamGithubOrganization"],
        json!({"organization": "acme", "entity": {"githubOrganization": "acme"}}),
        "{body}"
    );

    let (_, body) = app.gql_with("carol", JOIN, json!({"n": "lab"})).await;
    assert_eq!(code(&body), "github_not_connected", "{body}");
    let bob = app.browser_login("bob").await;
    assert_eq!(
        connect(&app, &bob, "bobgh").await,
        "/settings?github=connected#github"
    );
    let (_, body) = app.gql("bob", JOINABLE).await;
    assert_eq!(
        body["data"]["viewer"]["joinableTeams"],
        json!([{"name": "lab"}])
    );

    github.set_orgs("bobgh", &[]);
    let (_, body) = app.gql_with("bob", JOIN, json!({"n": "lab"})).await;
    assert_eq!(
        code(&body),
        "github_not_in_org",
        "checked with GitHub now: {body}"
    );
    let (_, body) = app.gql("bob", JOINABLE).await;
    assert_eq!(
        body["data"]["viewer"]["joinableTeams"],
        json!([]),
        "and remembered"
    );

    github.set_orgs("bobgh", &["acme"]);
    let (_, body) = app.gql_with("bob", JOIN, json!({"n": "lab"})).await;
    assert_eq!(body["data"]["joinTeam"]["entity"]["name"], "lab", "{body}");
    let lab = app.services().entity_named("lab").await.unwrap().unwrap();
    let members = app.services().store.team_members(lab.id).await.unwrap();
    let bob_seat = members.iter().find(|m| m.user.username == "bob").unwrap();
    assert_eq!(bob_seat.role, "member");

    // Runs link to GitHub when their remote is on this server's GitHub.
    let host = github
        .base
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let upsert = "mutation($r: String) { upsertBucket(input: {name: \"r1\", modelName: \"p\", entityName: \"ada\", jobRepo: $r, commit: \"0123456789abcdef0123456789abcdef01234567\"}) { bucket { repoUrl commitUrl } } }";
    for (remote, want) in [
        (
            format!("git@{host}:acme/vision.git"),
            json!({"repoUrl": format!("{}/acme/vision", github.base), "commitUrl": format!("{}/acme/vision/commit/0123456789abcdef0123456789abcdef01234567", github.base)}),
        ),
        (
            "https://gitlab.com/acme/vision.git".to_string(),
            json!({"repoUrl": null, "commitUrl": null}),
        ),
    ] {
        let (_, body) = app.gql_with("ada", upsert, json!({"r": remote})).await;
        assert_eq!(
            body["data"]["upsertBucket"]["bucket"], want,
            "{remote}: {body}"
        );
    }
    app.stop().await;
}
