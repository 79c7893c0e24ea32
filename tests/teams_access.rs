//! Teams end to end over HTTP on SQLite and PostgreSQL: the default team, service accounts with
//! `X-Wandb-Username`, and an authorization matrix of team operations.

#[macro_use]
mod common;

use common::teams::*;
use common::{code, Backend, T};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    default_team_resolution,
    service_accounts_and_attribution,
    authorization_matrix,
);

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
