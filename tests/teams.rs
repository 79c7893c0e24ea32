//! Teams end to end over HTTP on SQLite and PostgreSQL: the SDK's team documents, invitations
//! (with their mail job), roles and the last-admin rule, join policies, the default team,
//! service accounts with `X-Wandb-Username`, and an authorization matrix.

#[macro_use]
mod common;

use common::{code, Backend, T};
use reqwest::StatusCode;
use serde_json::{json, Value};

const GET_TEAM: &str = "query GetTeamEntity($name: String!) { entity(name: $name) { id name available photoUrl readOnly readOnlyAdmin isTeam entityType privateOnly storageBytes codeSavingEnabled defaultAccess isPaid members { id admin pending email username name photoUrl accountType apiKey } } }";
const CREATE_TEAM: &str = "mutation CreateTeam($teamName: String!, $teamAdminUserName: String) { result: createTeam(input: {teamName: $teamName, teamAdminUserName: $teamAdminUserName}) { entity { id name available photoUrl limits } } }";
const INVITE: &str = "mutation CreateInvite($entity: String!, $email: String, $username: String, $admin: Boolean) { result: createInvite(input: {entityName: $entity, email: $email, username: $username, admin: $admin}) { invite { id name email createdAt toUser { name } } } }";
const DELETE_INVITE: &str = "mutation DeleteInvite($id: String, $entity: String) { result: deleteInvite(input: {id: $id, entityName: $entity}) { success } }";
const CREATE_SA: &str = "mutation CreateServiceAccount($entity: String!, $description: String!) { result: createServiceAccount(input: {description: $description, entityName: $entity}) { user { id } } }";
const MY_INVITES: &str = "{ viewer { invites { id role entity { name } } } }";
const ACCEPT: &str =
    "mutation A($id: String) { acceptInvite(input: {id: $id}) { entity { name } } }";
const VIEWER_ENTITY: &str =
    "{ viewer { entity teams { edges { node { name isTeam } } } projectEntities { name } } }";

on_both_backends!(
    sdk_team_documents,
    invitations_roles_and_the_last_admin,
    join_policies_and_email_verification,
    default_team_resolution,
    service_accounts_and_attribution,
    authorization_matrix,
);

async fn create_team(t: &T, key: &str, name: &str) {
    let (status, body) = t
        .gql(
            Some(key),
            CREATE_TEAM,
            Some(""),
            json!({ "teamName": name }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn invite_and_accept(
    t: &T,
    admin_key: &str,
    team: &str,
    username: &str,
    user_key: &str,
    admin: bool,
) {
    let (status, body) = t
        .gql(
            Some(admin_key),
            INVITE,
            Some(""),
            json!({ "entity": team, "username": username, "admin": admin }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = t.gql(Some(user_key), MY_INVITES, None, json!({})).await;
    let id = body["data"]["viewer"]["invites"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = t
        .gql(Some(user_key), ACCEPT, None, json!({ "id": id }))
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn sdk_team_documents(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let alice = t.user("alice", false).await;
    create_team(&t, &alice, "vision").await;
    let (status, body) = t
        .gql(
            Some(&alice),
            CREATE_TEAM,
            Some(""),
            json!({ "teamName": "VISION" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "team_name_taken")
    );
    let (status, body) = t
        .gql(
            Some(&alice),
            CREATE_TEAM,
            Some(""),
            json!({ "teamName": "alice" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "team_name_taken"),
        "teams and people share names"
    );
    let (status, body) = t
        .gql(
            Some(&alice),
            CREATE_TEAM,
            Some(""),
            json!({ "teamName": "bad name!" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "team_name_invalid")
    );

    let (status, body) = t
        .gql(
            Some(&alice),
            GET_TEAM,
            Some(""),
            json!({ "name": "vision" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let e = &body["data"]["entity"];
    for field in [
        "id",
        "name",
        "readOnlyAdmin",
        "isTeam",
        "privateOnly",
        "storageBytes",
        "codeSavingEnabled",
        "defaultAccess",
        "members",
    ] {
        assert!(!e[field].is_null(), "{field} must be non-null: {e}");
    }
    assert_eq!(
        (e["isTeam"].as_bool(), e["members"][0]["username"].as_str()),
        (Some(true), Some("alice"))
    );
    assert_eq!(e["members"][0]["accountType"], "USER");
    assert_eq!(e["members"][0]["admin"], true);

    // A personal entity answers too, with the person as its only member.
    let (_, body) = t
        .gql(Some(&alice), GET_TEAM, Some(""), json!({ "name": "alice" }))
        .await;
    assert_eq!(body["data"]["entity"]["isTeam"], false);
    assert_eq!(body["data"]["entity"]["members"][0]["name"], "alice");

    // A new service account is listed last.
    let bob = t.user("bob", false).await;
    invite_and_accept(&t, &alice, "vision", "bob", &bob, false).await;
    let (status, body) = t
        .gql(
            Some(&alice),
            CREATE_SA,
            Some(""),
            json!({ "entity": "vision", "description": "CI runner" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = t
        .gql(
            Some(&alice),
            GET_TEAM,
            Some(""),
            json!({ "name": "vision" }),
        )
        .await;
    let members = body["data"]["entity"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[2]["accountType"], "SERVICE");
    assert_eq!(members[2]["apiKey"], Value::Null);

    // deleteInvite with a member's user id removes the member.
    let bob_id = members[1]["id"].as_str().unwrap().to_string();
    let (status, body) = t
        .gql(
            Some(&alice),
            DELETE_INVITE,
            Some(""),
            json!({ "id": bob_id, "entity": "vision" }),
        )
        .await;
    assert_eq!(
        (status, body["data"]["result"]["success"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (status, body) = t
        .gql(Some(&bob), GET_TEAM, Some(""), json!({ "name": "vision" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "not_team_member")
    );
    let (status, body) = t
        .gql(Some(&alice), GET_TEAM, Some(""), json!({ "name": "nope" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "entity_not_found")
    );

    let (_, body) = t.gql(Some(&alice), VIEWER_ENTITY, None, json!({})).await;
    let teams: Vec<&str> = body["data"]["viewer"]["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["alice", "vision"]);
    t.server.shutdown().await.unwrap();
}

async fn invitations_roles_and_the_last_admin(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let alice = t.user("alice", false).await;
    let bob = t.user("bob", false).await;
    create_team(&t, &alice, "vision").await;
    let jobs_before = job_count(&t).await;
    // By email; the invitation and its mail job are written together.
    let (status, body) = t
        .gql(
            Some(&alice),
            INVITE,
            Some(""),
            json!({ "entity": "vision", "email": "BOB@example.com" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"]["invite"]["toUser"]["name"], "bob");
    assert_eq!(job_count(&t).await, jobs_before + 1);
    let (status, body) = t
        .gql(
            Some(&alice),
            INVITE,
            Some(""),
            json!({ "entity": "vision", "username": "bob" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "invite_exists")
    );
    let (status, body) = t
        .gql(
            Some(&alice),
            INVITE,
            Some(""),
            json!({ "entity": "vision", "email": "ghost@example.com" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "user_not_found")
    );
    let (status, body) = t
        .gql(
            Some(&alice),
            INVITE,
            Some(""),
            json!({ "entity": "vision", "username": "alice" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "already_member")
    );
    assert_eq!(
        job_count(&t).await,
        jobs_before + 1,
        "refused invitations queue no mail"
    );

    // Decline, then a fresh invitation is possible and accepted.
    let (_, body) = t.gql(Some(&bob), MY_INVITES, None, json!({})).await;
    let id = body["data"]["viewer"]["invites"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let decline = "mutation D($id: String) { declineInvite(input: {id: $id}) { success } }";
    assert_eq!(
        t.gql(Some(&bob), decline, None, json!({ "id": id }))
            .await
            .0,
        200
    );
    let (status, body) = t.gql(Some(&bob), ACCEPT, None, json!({ "id": id })).await;
    assert_eq!((status, code(&body)), (StatusCode::GONE, "invite_used"));
    invite_and_accept(&t, &alice, "vision", "bob", &bob, false).await;

    // Roles: the last admin can neither leave nor be demoted.
    let leave = "mutation L($t: String!) { leaveTeam(input: {entityName: $t}) { success } }";
    let (status, body) = t
        .gql(Some(&alice), leave, None, json!({ "t": "vision" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "last_team_admin")
    );
    let role = "mutation R($t: String!, $u: String!, $r: String!) { updateMemberRole(input: {entityName: $t, username: $u, role: $r}) { entity { name } } }";
    let (status, body) = t
        .gql(
            Some(&alice),
            role,
            None,
            json!({ "t": "vision", "u": "alice", "r": "member" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "last_team_admin")
    );
    let (status, body) = t
        .gql(
            Some(&alice),
            role,
            None,
            json!({ "t": "vision", "u": "bob", "r": "owner" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "role_invalid")
    );
    assert_eq!(
        t.gql(
            Some(&alice),
            role,
            None,
            json!({ "t": "vision", "u": "bob", "r": "admin" })
        )
        .await
        .0,
        200
    );
    assert_eq!(
        t.gql(Some(&alice), leave, None, json!({ "t": "vision" }))
            .await
            .0,
        200,
        "bob is admin now"
    );

    // The mailed link's invitation is visible to its invitee only.
    let (status, body) = t
        .gql(
            Some(&bob),
            "query I($t: String!) { invite(token: $t) { role } }",
            None,
            json!({ "t": "x".repeat(43) }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "invite_not_found")
    );
    // Expired invitations are refused.
    let carol = t.user("carol", false).await;
    let (_, body) = t
        .gql(
            Some(&bob),
            INVITE,
            Some(""),
            json!({ "entity": "vision", "username": "carol" }),
        )
        .await;
    let id = body["data"]["result"]["invite"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    expire_invites(&t).await;
    let (status, body) = t.gql(Some(&carol), ACCEPT, None, json!({ "id": id })).await;
    assert_eq!((status, code(&body)), (StatusCode::GONE, "invite_expired"));

    // Delete the team (admins), with everything in it.
    let delete = "mutation X($t: String!) { deleteTeam(input: {entityName: $t}) { success } }";
    assert_eq!(
        t.gql(Some(&carol), delete, None, json!({ "t": "vision" }))
            .await
            .0,
        403
    );
    assert_eq!(
        t.gql(Some(&bob), delete, None, json!({ "t": "vision" }))
            .await
            .0,
        200
    );
    let (status, _) = t
        .gql(Some(&bob), GET_TEAM, None, json!({ "name": "vision" }))
        .await;
    assert_eq!(status, 404);
    t.server.shutdown().await.unwrap();
}

/// Invitation mail jobs in the queue, read with the backend's own SQL.
async fn job_count(t: &T) -> i64 {
    raw_sql(
        t,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'mail.team_invite'",
    )
    .await
}

async fn raw_sql(t: &T, sql: &str) -> i64 {
    let config = &t.server.services.config;
    if config.is_postgres() {
        let (client, conn) = tokio_postgres::connect(
            config.database_url.as_deref().unwrap(),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        if sql.starts_with("SELECT") {
            client.query_one(sql, &[]).await.unwrap().get(0)
        } else {
            client.execute(sql, &[]).await.unwrap() as i64
        }
    } else {
        let conn = rusqlite::Connection::open(config.sqlite_path()).unwrap();
        if sql.starts_with("SELECT") {
            conn.query_row(sql, [], |r| r.get(0)).unwrap()
        } else {
            conn.execute(sql, []).unwrap() as i64
        }
    }
}

async fn expire_invites(t: &T) {
    raw_sql(
        t,
        "UPDATE team_invites SET expires_at = 0 WHERE resolved_at IS NULL",
    )
    .await;
}

async fn join_policies_and_email_verification(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let alice = t.user("alice", false).await;
    let bob = t.user("bob", false).await;
    create_team(&t, &alice, "open").await;
    create_team(&t, &alice, "gated").await;
    let update = "mutation U($t: String!, $p: String, $d: String) { updateTeam(input: {entityName: $t, joinPolicy: $p, emailDomain: $d}) { entity { joinPolicy emailDomain } } }";
    let (status, body) = t
        .gql(
            Some(&alice),
            update,
            None,
            json!({ "t": "open", "p": "DOMAIN_DIRECT" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_domain_required")
    );
    assert_eq!(
        t.gql(
            Some(&alice),
            update,
            None,
            json!({ "t": "open", "p": "DOMAIN_DIRECT", "d": "Example.com" })
        )
        .await
        .0,
        200
    );
    assert_eq!(
        t.gql(
            Some(&alice),
            update,
            None,
            json!({ "t": "gated", "p": "DOMAIN_REQUEST", "d": "example.com" })
        )
        .await
        .0,
        200
    );
    assert_eq!(
        t.gql(
            Some(&bob),
            update,
            None,
            json!({ "t": "open", "p": "INVITE" })
        )
        .await
        .0,
        403
    );

    let joinable = "{ viewer { emailVerified joinableTeams { name joinPolicy } } }";
    let (_, body) = t.gql(Some(&bob), joinable, None, json!({})).await;
    assert_eq!(
        body["data"]["viewer"]["joinableTeams"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "unverified emails join nothing"
    );
    let join = "mutation J($t: String!) { joinTeam(input: {entityName: $t}) { entity { name } request { id } } }";
    let (status, body) = t.gql(Some(&bob), join, None, json!({ "t": "open" })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "email_not_verified")
    );

    // Operators can verify out of band; the mailed-link path is covered below.
    fulcrum::admin::verify_email(&t.server.services, "bob")
        .await
        .unwrap();
    let (_, body) = t.gql(Some(&bob), joinable, None, json!({})).await;
    let names: Vec<&str> = body["data"]["viewer"]["joinableTeams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gated", "open"]);
    let (status, body) = t.gql(Some(&bob), join, None, json!({ "t": "open" })).await;
    assert_eq!(
        (status, body["data"]["joinTeam"]["entity"]["name"].as_str()),
        (StatusCode::OK, Some("open"))
    );
    let (_, body) = t.gql(Some(&bob), join, None, json!({ "t": "gated" })).await;
    let request = body["data"]["joinTeam"]["request"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resolve = "mutation R($id: String!, $a: Boolean!) { resolveJoinRequest(input: {id: $id, approve: $a}) { success } }";
    assert_eq!(
        t.gql(
            Some(&bob),
            resolve,
            None,
            json!({ "id": request, "a": true })
        )
        .await
        .0,
        403,
        "only team admins approve"
    );
    let (_, body) = t
        .gql(
            Some(&alice),
            "{ entity(name: \"gated\") { invites { kind name } } }",
            None,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["entity"]["invites"][0]["kind"], "REQUEST");
    assert_eq!(
        t.gql(
            Some(&alice),
            resolve,
            None,
            json!({ "id": request, "a": true })
        )
        .await
        .0,
        200
    );
    let (_, body) = t
        .gql(
            Some(&bob),
            "{ viewer { teamMemberships { entity { name } role } } }",
            None,
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["viewer"]["teamMemberships"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A stranger with another domain cannot join.
    let carol = t.user("carol", false).await;
    fulcrum::admin::verify_email(&t.server.services, "carol")
        .await
        .unwrap();
    let (status, _) = t
        .gql(Some(&carol), join, None, json!({ "t": "open" }))
        .await;
    assert_eq!(status, 200, "carol@example.com shares the domain");
    // Email verification tokens: invalid ones are refused.
    let verify = "mutation V($t: String!) { verifyEmail(input: {token: $t}) { success } }";
    let (status, body) = t
        .gql(None, verify, None, json!({ "t": "x".repeat(43) }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::GONE, "email_token_invalid")
    );
    assert_eq!(
        t.gql(
            Some(&bob),
            "mutation { requestEmailVerification { success } }",
            None,
            json!({})
        )
        .await
        .0,
        200
    );
    t.server.shutdown().await.unwrap();
}

async fn default_team_resolution(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let alice = t.user("alice", false).await;
    let bob = t.user("bob", false).await;
    let (_, body) = t.gql(Some(&alice), VIEWER_ENTITY, None, json!({})).await;
    assert_eq!(body["data"]["viewer"]["entity"], "alice");
    assert_eq!(
        body["data"]["viewer"]["projectEntities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    create_team(&t, &bob, "shared").await;
    invite_and_accept(&t, &bob, "shared", "alice", &alice, false).await;
    let set = "mutation S($e: String) { setDefaultEntity(input: {entityName: $e}) { user { entity defaultEntity { name } } } }";
    let (status, body) = t
        .gql(Some(&alice), set, None, json!({ "e": "shared" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["setDefaultEntity"]["user"]["entity"], "shared");
    let (status, body) = t.gql(Some(&alice), set, None, json!({ "e": "bob" })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "entity_forbidden")
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("bob")
            && body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("alice")
    );

    // Explicit > default team > personal, checked by the service the runs will use.
    let services = &t.server.services;
    let actor = services
        .authenticate_key(&alice, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        services.resolve_entity(&actor, None).await.unwrap().name,
        "shared"
    );
    assert_eq!(
        services
            .resolve_entity(&actor, Some("alice"))
            .await
            .unwrap()
            .name,
        "alice"
    );
    let err = services
        .resolve_entity(&actor, Some("bob"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status.as_u16(), err.code.as_str()),
        (403, "entity_forbidden")
    );
    // Demoted to viewer: the default no longer applies.
    let role = "mutation R($t: String!, $u: String!, $r: String!) { updateMemberRole(input: {entityName: $t, username: $u, role: $r}) { entity { name } } }";
    assert_eq!(
        t.gql(
            Some(&bob),
            role,
            None,
            json!({ "t": "shared", "u": "alice", "r": "viewer" })
        )
        .await
        .0,
        200
    );
    let actor = services
        .authenticate_key(&alice, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        services.resolve_entity(&actor, None).await.unwrap().name,
        "alice"
    );
    assert!(services
        .resolve_entity(&actor, Some("shared"))
        .await
        .is_err());
    // Leaving clears the choice.
    let leave = "mutation L($t: String!) { leaveTeam(input: {entityName: $t}) { success } }";
    assert_eq!(
        t.gql(Some(&alice), leave, None, json!({ "t": "shared" }))
            .await
            .0,
        200
    );
    let (_, body) = t
        .gql(
            Some(&alice),
            "{ viewer { entity defaultEntity { name } } }",
            None,
            json!({}),
        )
        .await;
    assert_eq!(
        (
            body["data"]["viewer"]["entity"].as_str(),
            body["data"]["viewer"]["defaultEntity"].clone()
        ),
        (Some("alice"), Value::Null)
    );
    t.server.shutdown().await.unwrap();
}

async fn service_accounts_and_attribution(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let alice = t.user("alice", false).await;
    let bob = t.user("bob", false).await;
    let _mallory = t.user("mallory", false).await;
    create_team(&t, &alice, "infra").await;
    invite_and_accept(&t, &alice, "infra", "bob", &bob, false).await;
    let (_, body) = t
        .gql(
            Some(&alice),
            CREATE_SA,
            Some(""),
            json!({ "entity": "infra", "description": "nightly" }),
        )
        .await;
    let sa_id = body["data"]["result"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = t
        .gql(
            Some(&bob),
            CREATE_SA,
            Some(""),
            json!({ "entity": "infra", "description": "x" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "team_admin_required")
    );
    let mint = "mutation M($t: String!, $id: String!) { createServiceAccountApiKey(input: {entityName: $t, serviceAccountId: $id, description: \"ci\"}) { apiKey { id name } } }";
    assert_eq!(
        t.gql(Some(&bob), mint, None, json!({ "t": "infra", "id": sa_id }))
            .await
            .0,
        403
    );
    let (status, body) = t
        .gql(
            Some(&alice),
            mint,
            None,
            json!({ "t": "infra", "id": sa_id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sa_key = body["data"]["createServiceAccountApiKey"]["apiKey"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let key_node = body["data"]["createServiceAccountApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sa_key.starts_with("fsk-") && sa_key.len() == 44);

    // The service account is the viewer; its default entity is its team.
    let (status, body) = t
        .gql(
            Some(&sa_key),
            "{ viewer { username accountType entity teams { edges { node { name } } } } }",
            None,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["data"]["viewer"]["accountType"].as_str(),
            body["data"]["viewer"]["entity"].as_str()
        ),
        (Some("SERVICE"), Some("infra"))
    );

    // X-Wandb-Username: a member is attributed, anyone else refused with both names.
    let with_user = |who: &'static str| {
        t.http
            .post(t.url("/graphql"))
            .basic_auth("api", Some(&sa_key))
            .header("x-wandb-username", who)
            .json(&json!({ "query": "{ viewer { username } }" }))
            .send()
    };
    assert_eq!(with_user("bob").await.unwrap().status(), 200);
    assert_eq!(
        with_user("").await.unwrap().status(),
        200,
        "the SDK sends an empty header"
    );
    let r = with_user("mallory").await.unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "attribution_refused");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("mallory"));
    let services = &t.server.services;
    let mut actor = services
        .authenticate_key(&sa_key, &Default::default())
        .await
        .unwrap();
    services.attribute(&mut actor, "bob").await.unwrap();
    assert_eq!(actor.on_behalf_of.unwrap().username, "bob");

    // Team admins see and revoke the service account's keys.
    let (_, body) = t
        .gql(
            Some(&alice),
            "{ entity(name: \"infra\") { members { accountType apiKeys { id name } } } }",
            None,
            json!({}),
        )
        .await;
    let sa = body["data"]["entity"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["accountType"] == "SERVICE")
        .unwrap()
        .clone();
    assert_eq!(sa["apiKeys"].as_array().unwrap().len(), 1);
    let del = "mutation D($id: String!) { deleteApiKey(input: {id: $id}) { success } }";
    assert_eq!(
        t.gql(Some(&bob), del, None, json!({ "id": key_node }))
            .await
            .0,
        404
    );
    assert_eq!(
        t.gql(Some(&alice), del, None, json!({ "id": key_node }))
            .await
            .0,
        200
    );
    assert_eq!(
        t.gql(Some(&sa_key), "{ viewer { id } }", None, json!({}))
            .await
            .0,
        401
    );
    t.server.shutdown().await.unwrap();
}

/// Every team operation as each kind of caller, with the answer each must get.
async fn authorization_matrix(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let owner = t.user("owner", false).await;
    let member = t.user("member", false).await;
    let viewer = t.user("viewer", false).await;
    let other = t.user("other", false).await;
    let site_admin = t.user("root", true).await;
    let revoked = t.user("gone", false).await;
    create_team(&t, &owner, "matrix").await;
    invite_and_accept(&t, &owner, "matrix", "member", &member, false).await;
    t.gql(
        Some(&owner),
        INVITE,
        Some(""),
        json!({ "entity": "matrix", "username": "viewer" }),
    )
    .await;
    let (_, body) = t.gql(Some(&viewer), MY_INVITES, None, json!({})).await;
    let id = body["data"]["viewer"]["invites"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.gql(Some(&viewer), ACCEPT, None, json!({ "id": id }))
        .await;
    let role = "mutation R($u: String!, $r: String!) { updateMemberRole(input: {entityName: \"matrix\", username: $u, role: $r}) { entity { name } } }";
    assert_eq!(
        t.gql(
            Some(&owner),
            role,
            None,
            json!({ "u": "viewer", "r": "viewer" })
        )
        .await
        .0,
        200
    );
    let (_, body) = t
        .gql(
            Some(&revoked),
            "{ viewer { apiKeys { edges { node { id } } } } }",
            None,
            json!({}),
        )
        .await;
    let key_node = body["data"]["viewer"]["apiKeys"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.gql(
        Some(&revoked),
        "mutation D($id: String!) { deleteApiKey(input: {id: $id}) { success } }",
        None,
        json!({ "id": key_node }),
    )
    .await;

    let callers: [(&str, Option<&str>); 7] = [
        ("team admin", Some(&owner)),
        ("member", Some(&member)),
        ("viewer", Some(&viewer)),
        ("other user", Some(&other)),
        ("site admin", Some(&site_admin)),
        ("anonymous", None),
        ("revoked key", Some(&revoked)),
    ];
    // Expected status per caller, in the order above.
    let operations: [(&str, &str, Value, [u16; 7]); 6] = [
        ("read team", GET_TEAM, json!({ "name": "matrix" }), [200, 200, 200, 403, 200, 401, 401]),
        ("invite", INVITE, json!({ "entity": "matrix", "email": "nobody@example.com" }), [404, 403, 403, 403, 404, 401, 401]),
        ("change role", role, json!({ "u": "member", "r": "member" }), [200, 403, 403, 403, 200, 401, 401]),
        ("create service account", CREATE_SA, json!({ "entity": "matrix", "description": "d" }), [200, 403, 403, 403, 200, 401, 401]),
        ("update team", "mutation { updateTeam(input: {entityName: \"matrix\", description: \"x\"}) { entity { name } } }", json!({}), [200, 403, 403, 403, 200, 401, 401]),
        ("remove a member", DELETE_INVITE, json!({ "id": t.user_node("viewer").await, "entity": "matrix" }), [200, 403, 403, 403, 404, 401, 401]),
    ];
    for (what, query, vars, expected) in operations {
        for ((who, key), want) in callers.iter().zip(expected) {
            let (status, body) = t.gql(*key, query, None, vars.clone()).await;
            assert_eq!(status.as_u16(), want, "{what} as {who}: {body}");
        }
    }
    // Deleting the team last: only admins (team or site).
    let delete = "mutation { deleteTeam(input: {entityName: \"matrix\"}) { success } }";
    for key in [&member, &viewer, &other] {
        assert_eq!(t.gql(Some(key), delete, None, json!({})).await.0, 403);
    }
    assert_eq!(t.gql(None, delete, None, json!({})).await.0, 401);
    assert_eq!(
        t.gql(Some(&site_admin), delete, None, json!({})).await.0,
        200
    );
    t.server.shutdown().await.unwrap();
}
