//! Teams end to end over HTTP on SQLite and PostgreSQL: the SDK's team documents, invitations
//! (with their mail job), roles and the last-admin rule, join policies and email verification.

#[macro_use]
mod common;

use common::teams::*;
use common::{code, Backend, T};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    sdk_team_documents,
    invitations_roles_and_the_last_admin,
    join_policies_and_email_verification,
);

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
