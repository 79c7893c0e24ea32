//! Regression tests for the security review (issue #7), one per finding, on SQLite and
//! PostgreSQL where the store is involved. The privacy matrix over every field that returns
//! another person's data is in `tests/privacy_matrix.rs`; the transport-level findings
//! (slowloris, readable 413s) are in `tests/transport.rs`.

#[macro_use]
mod common;

use common::{code, Backend, PASSWORD, T};
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
    aliased_mutations_are_refused_whole,
    deeply_nested_intros_are_refused,
    lockout_is_per_account_and_resists_strangers,
    oversized_avatars_are_refused_from_their_header,
    the_same_classes_elsewhere,
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

async fn user_row(t: &T, username: &str) -> fulcrum::store::User {
    t.server
        .services
        .store
        .user_by_username(username)
        .await
        .unwrap()
        .unwrap()
}

fn actor_for(user: fulcrum::store::User) -> Actor {
    Actor {
        user,
        auth: AuthMethod::Console,
        on_behalf_of: None,
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
    assert!(user_row(&t, "guest").await.email_verified_at.is_none());
    // Accepting by id alone joins the team but proves no mailbox.
    let (status, body) = gql(&t, &guest, ACCEPT, json!({ "id": id })).await;
    assert_eq!(status, 200, "{body}");
    assert!(user_row(&t, "guest").await.email_verified_at.is_none());
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
    s.request_email_verification(&actor_for(user_row(&t, "owner").await), &Default::default())
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
    assert!(user_row(&t, "guest").await.email_verified_at.is_some());
    // The secret is the generated `secret.key` of the data directory.
    let secret = fulcrum::links::server_secret(&s.config).unwrap();
    let file = std::fs::read_to_string(s.config.data_dir.join("secret.key")).unwrap();
    assert_eq!(secret.as_str(), file.trim());
    let verify = jobs.iter().find(|j| j.kind == "mail.verify_email").unwrap();
    let nonce = verify.payload["link_nonce"].as_str().unwrap();
    let token = fulcrum::links::LinkSigner::new(&secret).token(fulcrum::links::VERIFY_EMAIL, nonce);
    s.verify_email(&token).await.unwrap();
    assert!(user_row(&t, "owner").await.email_verified_at.is_some());
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
    let sa = actor_for(user_row(&t, &sa_name).await);
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
    let owner_actor = actor_for(user_row(&t, "owner").await);
    s.remove_member(&owner_actor, "lab", sa.user.id, &Default::default())
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

/// Finding 12 (and 5): ninety-nine aliased `generateApiKey`s past the cap created keys nobody
/// saw; ten aliased `updateIntro`s took seconds. Such documents are refused before anything runs.
async fn aliased_mutations_are_refused_whole(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_MAX_KEYS_PER_USER", "3")]).await;
    let key = t.user("ada", false).await;
    let s = t.server.services.clone();
    let ada = user_row(&t, "ada").await;
    let aliased: String = (0..5)
        .map(|i| {
            format!(
                "k{i}: generateApiKey(input: {{description: \"k{i}\"}}) {{ apiKey {{ name }} }} "
            )
        })
        .collect();
    let (status, body) = gql(&t, &key, &format!("mutation {{ {aliased} }}"), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "too_many_mutations");
    assert_eq!(
        s.store.list_api_keys(ada.id).await.unwrap().len(),
        1,
        "none created"
    );
    let intros: String = (0..10)
        .map(|i| format!("i{i}: updateIntro(input: {{intro: \"# {i}\"}}) {{ user {{ id }} }} "))
        .collect();
    let (status, body) = gql(&t, &key, &format!("mutation {{ {intros} }}"), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "too_many_mutations");
    assert_eq!(s.profile_of(&ada).await.unwrap().intro, "");
    // One of each is what the SDK and the web UI send; that works, up to the cap.
    let one = "mutation { generateApiKey(input: {description: \"one\"}) { apiKey { name } } }";
    for _ in 0..2 {
        let (status, body) = gql(&t, &key, one, json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = gql(&t, &key, one, json!({})).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (400, "key_limit_reached"),
        "{body}"
    );
    t.server.shutdown().await.unwrap();
}

/// Finding 5: `"1. " × 6600` took a second to render.
async fn deeply_nested_intros_are_refused(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("ada", false).await;
    let q = "mutation($i: String!) { updateIntro(input: {intro: $i}) { user { introHtml } } }";
    for (intro, want) in [
        ("1. ".repeat(6600), "intro_too_deep"),
        ("> ".repeat(6600), "intro_too_deep"),
        ("<b><i>".repeat(1000), "intro_too_many_tags"),
    ] {
        let (status, body) = gql(&t, &key, q, json!({ "i": intro })).await;
        assert_eq!((status.as_u16(), code(&body)), (422, want), "{body}");
    }
    let (status, body) = gql(&t, &key, q, json!({ "i": "1. one\n   1. two\n" })).await;
    assert_eq!(status, 200, "{body}");
    t.server.shutdown().await.unwrap();
}

fn meta(ip: &str) -> fulcrum::services::RequestMeta {
    fulcrum::services::RequestMeta {
        ip: Some(ip.into()),
        user_agent: None,
    }
}

async fn try_login(t: &T, login: &str, pw: &str, ip: &str) -> Result<(), &'static str> {
    t.server
        .services
        .login(login, zeroize::Zeroizing::new(pw.into()), &meta(ip))
        .await
        .map(|_| ())
        .map_err(|e| e.code)
}

/// Finding 14: ten wrong passwords from anywhere locked the owner out; the email form had a
/// counter of its own; the audit log kept whatever was typed as the login.
async fn lockout_is_per_account_and_resists_strangers(backend: Backend) {
    let t = T::start(
        &backend,
        &[
            ("FULCRUM_LOGIN_FAILURES_PER_ACCOUNT", "4"),
            ("FULCRUM_LOGIN_ATTEMPTS_PER_IP", "1000"),
        ],
    )
    .await;
    t.user("ada", false).await;
    // Username and email count against one account: 2 + 2 failures reach the limit of 4.
    for login in ["ada", "ADA", "ada@example.com", "Ada@Example.com"] {
        assert_eq!(
            try_login(&t, login, "wrong", "10.0.0.1").await,
            Err("login_failed")
        );
    }
    assert_eq!(
        try_login(&t, "ada@example.com", PASSWORD, "10.0.0.1").await,
        Err("rate_limited")
    );
    assert_eq!(
        try_login(&t, "ada", PASSWORD, "10.0.0.1").await,
        Err("rate_limited")
    );
    // The owner, elsewhere, still signs in.
    assert_eq!(try_login(&t, "ada", PASSWORD, "192.168.1.7").await, Ok(()));
    // Many addresses together hit the account-wide cap (10 × the per-address limit).
    for i in 0..40 {
        let _ = try_login(&t, "ada", "wrong", &format!("10.1.0.{i}")).await;
    }
    assert_eq!(
        try_login(&t, "ada", PASSWORD, "192.168.1.8").await,
        Err("rate_limited")
    );
    // What the audit log keeps of a failed login: the account, or a login-shaped text.
    let _ = try_login(&t, "my secret pass\u{1b}[0m", "x", "10.2.0.1").await;
    let _ = try_login(&t, "nobody@example.com", "x", "10.2.0.1").await;
    let audit = t.server.services.store.recent_audit(200).await.unwrap();
    let targets: Vec<String> = audit
        .iter()
        .filter(|a| a.action == "login.failure")
        .filter_map(|a| a.target.clone())
        .collect();
    assert!(targets
        .iter()
        .all(|t| !t.chars().any(char::is_control) && t.len() <= 64));
    assert!(
        targets.contains(&"(not a username or email)".to_string()),
        "{targets:?}"
    );
    assert!(targets.contains(&"nobody@example.com".to_string()));
    assert!(!targets.iter().any(|t| t.contains("secret")));
    assert!(
        targets.iter().filter(|t| *t == "ada").count() >= 4,
        "{targets:?}"
    );
    t.server.shutdown().await.unwrap();
}

/// A 1 × 1 PNG whose header claims `w` × `h` pixels, with a valid header checksum.
fn claims(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(1, 1, image::Rgba([1, 2, 3, 255]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

async fn upload(t: &T, key: &str, bytes: Vec<u8>) -> (reqwest::StatusCode, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("a.png");
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = t
        .http
        .post(t.url("/api/v1/avatar"))
        .basic_auth("api", Some(key))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Finding 3: a 249 kB 8000 × 8000 PNG raised peak memory by 533 MB. The pixel budget is
/// checked from the header; decodes are bounded server-wide (measured in `bench/avatar-memory.sh`).
async fn oversized_avatars_are_refused_from_their_header(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("ada", false).await;
    for (w, h) in [(8000, 8000), (8192, 4096), (100_000, 1)] {
        let (status, body) = upload(&t, &key, claims(w, h)).await;
        assert_eq!(status, 422, "{w}x{h}: {body}");
        assert_eq!(code(&body), "image_too_many_pixels");
    }
    // Several real uploads at once all succeed: they wait for a decode slot.
    let img = image::RgbaImage::from_pixel(600, 400, image::Rgba([9, 99, 199, 255]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let uploads = (0..4).map(|_| upload(&t, &key, png.clone()));
    for (status, body) in futures_util::future::join_all(uploads).await {
        assert_eq!(status, 200, "{body}");
    }
    t.server.shutdown().await.unwrap();
}

/// The same classes of bug found elsewhere: unauthenticated CPU (the setup form hashed a
/// password before looking at its token) and unbounded input echoed back in messages.
async fn the_same_classes_elsewhere(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_LOGIN_ATTEMPTS_PER_IP", "3")]).await;
    let key = t.user("ada", false).await;
    let setup = json!({ "token": "x".repeat(43), "username": "eve", "email": "eve@example.com", "password": "long enough password" });
    let mut codes = Vec::new();
    for _ in 0..4 {
        let r = t
            .http
            .post(t.url("/api/v1/setup"))
            .json(&setup)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        codes.push((status, code(&body).to_string()));
    }
    assert_eq!(
        codes,
        [
            (403, "setup_token_invalid".to_string()),
            (403, "setup_token_invalid".to_string()),
            (403, "setup_token_invalid".to_string()),
            (429, "rate_limited".to_string()),
        ]
    );
    let long = "x".repeat(100_000);
    for q in [
        "query($n: String!) { entity(name: $n) { name } }",
        "mutation($n: String!) { updateMemberRole(input: {entityName: $n, username: $n, role: \"member\"}) { entity { name } } }",
    ] {
        let (status, body) = gql(&t, &key, q, json!({ "n": long })).await;
        assert_eq!(status, 404, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.len() < 200, "{} bytes echoed", message.len());
    }
    t.server.shutdown().await.unwrap();
}
