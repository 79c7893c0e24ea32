//! Regression tests for the security review (issue #7), one per finding, on SQLite and
//! PostgreSQL: who may read what, and what a token proves. The limits (mutations per request,
//! intros, avatars, sign-in) are in `tests/security_limits.rs`, the privacy matrix over every
//! field that returns another person's data in `tests/privacy_matrix.rs`, and the
//! transport-level findings (slowloris, readable 413s) in `tests/transport.rs`.

#[macro_use]
mod common;

use common::{code, Backend, T};
use fulcrum::services::{Actor, AuthMethod};
use serde_json::{json, Value};

const CREATE_TEAM: &str =
    "mutation($n: String!) { createTeam(input: {teamName: $n}) { entity { name } } }";
const INVITE: &str = "mutation($e: String!, $u: String, $m: String) { createInvite(input: {entityName: $e, username: $u, email: $m}) { invite { id name email toUser { email } } } }";
const MY_INVITES: &str = "{ viewer { invites { id } } }";
const ACCEPT: &str = "mutation($id: String, $t: String) { acceptInvite(input: {id: $id, token: $t}) { entity { name } } }";
const ROLE: &str = "mutation($e: String!, $u: String!, $r: String!) { updateMemberRole(input: {entityName: $e, username: $u, role: $r}) { entity { name } } }";

on_both_backends!(
    invitations_by_username_never_expose_the_address,
    a_made_up_token_does_not_verify_an_address,
    mail_jobs_hold_no_usable_link_token,
    user_search_is_no_email_oracle,
    the_default_team_stays_private,
    a_demoted_service_account_loses_its_team,
    service_account_names_are_validated,
);

async fn gql(t: &T, key: &str, query: &str, vars: Value) -> (reqwest::StatusCode, Value) {
    t.gql(Some(key), query, None, vars).await
}

async fn team(t: &T, key: &str, name: &str) {
    let (status, body) = gql(t, key, CREATE_TEAM, json!({ "n": name })).await;
    assert_eq!(status, 200, "{body}");
}

async fn first_invite_id(t: &T, key: &str) -> String {
    let (_, body) = gql(t, key, MY_INVITES, json!({})).await;
    body["data"]["viewer"]["invites"][0]["id"]
        .as_str()
        .expect("a pending invitation")
        .to_string()
}

fn actor_for(user: fulcrum::store::User) -> Actor {
    Actor {
        user,
        auth: AuthMethod::Console,
        on_behalf_of: None,
        request: Default::default(),
    }
}

/// Finding 1: `createInvite(username:)` returned the invitee's private address.
async fn invitations_by_username_never_expose_the_address(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let owner = t.user("owner", false).await;
    t.user("victim", false).await;
    t.user("typed", false).await;
    team(&t, &owner, "lab").await;
    let (status, body) = gql(&t, &owner, INVITE, json!({ "e": "lab", "u": "victim" })).await;
    assert_eq!(status, 200, "{body}");
    let invite = &body["data"]["createInvite"]["invite"];
    assert_eq!(invite["email"], Value::Null, "{body}");
    assert_eq!(invite["toUser"]["email"], Value::Null, "{body}");
    assert_eq!(invite["name"], "victim");
    let (_, body) = gql(
        &t,
        &owner,
        "{ entity(name: \"lab\") { invites { name email toUser { email } } } }",
        json!({}),
    )
    .await;
    let listed = &body["data"]["entity"]["invites"][0];
    assert_eq!(listed["name"], "victim", "{body}");
    assert_eq!(listed["email"], Value::Null, "{body}");
    assert_eq!(listed["toUser"]["email"], Value::Null, "{body}");
    // An address the admin typed is theirs to see again.
    let (_, body) = gql(
        &t,
        &owner,
        INVITE,
        json!({ "e": "lab", "m": "typed@example.com" }),
    )
    .await;
    assert_eq!(
        body["data"]["createInvite"]["invite"]["email"], "typed@example.com",
        "{body}"
    );
    t.server.shutdown().await.unwrap();
}

/// Finding 2: `acceptInvite(id:, token: "anything")` verified the caller's address.
async fn a_made_up_token_does_not_verify_an_address(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let owner = t.user("owner", false).await;
    let guest = t.user("guest", false).await;
    team(&t, &owner, "lab").await;
    gql(&t, &owner, INVITE, json!({ "e": "lab", "u": "guest" })).await;
    let id = first_invite_id(&t, &guest).await;
    let made_up = "a".repeat(43);
    for token in ["anything", made_up.as_str()] {
        let (status, body) = gql(&t, &guest, ACCEPT, json!({ "id": id, "t": token })).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(code(&body), "invite_not_found");
    }
    assert!(t.user_row("guest").await.email_verified_at.is_none());
    // Accepting by id alone joins the team but proves no mailbox.
    let (status, body) = gql(&t, &guest, ACCEPT, json!({ "id": id })).await;
    assert_eq!(status, 200, "{body}");
    assert!(t.user_row("guest").await.email_verified_at.is_none());
    t.server.shutdown().await.unwrap();
}

/// Finding 8: invitation and verification links sat in clear text in `jobs.payload`.
async fn mail_jobs_hold_no_usable_link_token(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let s = t.server.services.clone();
    let owner = t.user("owner", false).await;
    let guest = t.user("guest", false).await;
    team(&t, &owner, "lab").await;
    gql(&t, &owner, INVITE, json!({ "e": "lab", "u": "guest" })).await;
    s.request_email_verification(&actor_for(t.user_row("owner").await))
        .await
        .unwrap();
    let jobs = s.jobs.list_jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        let text = job.payload.to_string();
        assert!(!text.contains("token"), "a token in {text}");
        // No 43-character run of letters and digits (the shape of every link token).
        let longest = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 43, "{text}");
    }
    // The mailer derives the token from the nonce and the server secret: it accepts the
    // invitation and, found through its token, proves the mailbox.
    let invite = jobs.iter().find(|j| j.kind == "mail.team_invite").unwrap();
    let nonce = invite.payload["link_nonce"].as_str().unwrap();
    let token = s.links.token(fulcrum::links::INVITE, nonce);
    // Another server secret gives another token, which opens nothing.
    let other = fulcrum::links::LinkSigner::new("another server's secret key");
    let wrong = other.token(fulcrum::links::INVITE, nonce);
    let (status, _) = gql(&t, &guest, ACCEPT, json!({ "t": wrong.as_str() })).await;
    assert_eq!(status, 404);
    let (status, body) = gql(&t, &guest, ACCEPT, json!({ "t": token.as_str() })).await;
    assert_eq!(status, 200, "{body}");
    assert!(t.user_row("guest").await.email_verified_at.is_some());
    // The secret is the generated `secret.key` of the data directory.
    let secret = fulcrum::links::server_secret(&s.config).unwrap();
    let file = std::fs::read_to_string(s.config.data_dir.join("secret.key")).unwrap();
    assert_eq!(secret.as_str(), file.trim());
    let verify = jobs.iter().find(|j| j.kind == "mail.verify_email").unwrap();
    let nonce = verify.payload["link_nonce"].as_str().unwrap();
    let token = fulcrum::links::LinkSigner::new(&secret).token(fulcrum::links::VERIFY_EMAIL, nonce);
    s.verify_email(&token, &Default::default()).await.unwrap();
    assert!(t.user_row("owner").await.email_verified_at.is_some());
    t.server.shutdown().await.unwrap();
}

const SEARCH: &str = "query($q: String) { users(query: $q) { edges { node { username } } } }";

async fn found(t: &T, key: &str, q: &str) -> Vec<String> {
    let (status, body) = gql(t, key, SEARCH, json!({ "q": q })).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["username"].as_str().unwrap().to_string())
        .collect()
}

/// Finding 4: `users(query:)` matched substrings of addresses the caller cannot read.
async fn user_search_is_no_email_oracle(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let snoop = t.user("snoop", false).await;
    let admin = t.user("root", true).await;
    t.user("hidden", false).await;
    assert!(found(&t, &snoop, "@example.com").await.is_empty());
    assert!(found(&t, &snoop, "hidden@ex").await.is_empty());
    assert!(found(&t, &snoop, "example").await.is_empty());
    assert_eq!(found(&t, &snoop, "hidden@example.com").await, ["hidden"]);
    assert_eq!(found(&t, &snoop, "hid").await, ["hidden"]);
    assert_eq!(found(&t, &admin, "hidden@ex").await, ["hidden"]);
    t.server.shutdown().await.unwrap();
}

/// Finding 9: `user(username:) { entity }` told anyone the chosen default team, even with
/// "Hide teams in public profile" on.
async fn the_default_team_stays_private(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let ada = t.user("ada", false).await;
    let other = t.user("other", false).await;
    team(&t, &ada, "secret-lab").await;
    let (status, body) = gql(
        &t,
        &ada,
        "mutation { setDefaultEntity(input: {entityName: \"secret-lab\"}) { user { entity } } updateUserSettings(input: {hideTeamsInProfile: true}) { user { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let q = "{ user(username: \"ada\") { entity defaultEntity { name } } }";
    for caller in [None, Some(other.as_str())] {
        let (_, body) = t.gql(caller, q, None, json!({})).await;
        assert_eq!(body["data"]["user"]["entity"], "ada", "{body}");
        assert_eq!(body["data"]["user"]["defaultEntity"], Value::Null);
    }
    let (_, body) = gql(&t, &ada, q, json!({})).await;
    assert_eq!(body["data"]["user"]["entity"], "secret-lab", "{body}");
    // The switch goes through a service now, with its audit row.
    let audit = t.server.services.store.recent_audit(20).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "user.hide_teams"
        && a.target.as_deref() == Some("ada")
        && a.detail.contains("\"hide\":true")));
    t.server.shutdown().await.unwrap();
}

/// Finding 10: a service account kept writing to its team after being demoted or removed.
async fn a_demoted_service_account_loses_its_team(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let s = t.server.services.clone();
    let owner = t.user("owner", false).await;
    team(&t, &owner, "lab").await;
    let (_, body) = gql(
        &t,
        &owner,
        "mutation { createServiceAccount(input: {entityName: \"lab\", description: \"ci\"}) { user { username } } }",
        json!({}),
    )
    .await;
    let sa_name = body["data"]["createServiceAccount"]["user"]["username"]
        .as_str()
        .unwrap()
        .to_string();
    let sa = actor_for(t.user_row(&sa_name).await);
    assert_eq!(s.resolve_entity(&sa, None).await.unwrap().name, "lab");
    let (status, body) = gql(
        &t,
        &owner,
        ROLE,
        json!({ "e": "lab", "u": sa_name, "r": "viewer" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let err = s.resolve_entity(&sa, None).await.unwrap_err();
    assert_eq!(err.code, "entity_forbidden");
    assert!(err.message.contains("lab") && err.message.contains(&sa_name));
    gql(
        &t,
        &owner,
        ROLE,
        json!({ "e": "lab", "u": sa_name, "r": "member" }),
    )
    .await;
    assert_eq!(s.resolve_entity(&sa, None).await.unwrap().name, "lab");
    let owner_actor = actor_for(t.user_row("owner").await);
    s.remove_member(&owner_actor, "lab", sa.user.id)
        .await
        .unwrap();
    assert_eq!(
        s.resolve_entity(&sa, None).await.unwrap_err().code,
        "entity_forbidden"
    );
    t.server.shutdown().await.unwrap();
}

/// Finding 11: `createServiceAccount.name` took 1 MiB, NUL, ANSI escapes and CRLF.
async fn service_account_names_are_validated(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let owner = t.user("owner", false).await;
    team(&t, &owner, "lab").await;
    let q = "mutation($n: String) { createServiceAccount(input: {entityName: \"lab\", description: \"d\", name: $n}) { user { name } } }";
    let huge = "x".repeat(1 << 20);
    for bad in [
        "nul\u{0}",
        "\u{1b}[31mred",
        "a\r\nBcc: x",
        "rtl\u{202e}txt",
        huge.as_str(),
    ] {
        let (status, body) = gql(&t, &owner, q, json!({ "n": bad })).await;
        assert_eq!(status, 422, "{bad:?}: {body}");
        assert_eq!(code(&body), "name_invalid");
    }
    let (status, body) = gql(&t, &owner, q, json!({ "n": "nightly CI" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["createServiceAccount"]["user"]["name"],
        "nightly CI"
    );
    t.server.shutdown().await.unwrap();
}
