//! Team helpers shared by the team test files: the SDK's team documents and a few steps.
#![allow(unused_imports)]

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::T;

pub const GET_TEAM: &str = "query GetTeamEntity($name: String!) { entity(name: $name) { id name available photoUrl readOnly readOnlyAdmin isTeam entityType privateOnly storageBytes codeSavingEnabled defaultAccess isPaid members { id admin pending email username name photoUrl accountType apiKey } } }";
pub const CREATE_TEAM: &str = "mutation CreateTeam($teamName: String!, $teamAdminUserName: String) { result: createTeam(input: {teamName: $teamName, teamAdminUserName: $teamAdminUserName}) { entity { id name available photoUrl limits } } }";
pub const INVITE: &str = "mutation CreateInvite($entity: String!, $email: String, $username: String, $admin: Boolean) { result: createInvite(input: {entityName: $entity, email: $email, username: $username, admin: $admin}) { invite { id name email createdAt toUser { name } } } }";
pub const DELETE_INVITE: &str = "mutation DeleteInvite($id: String, $entity: String) { result: deleteInvite(input: {id: $id, entityName: $entity}) { success } }";
pub const CREATE_SA: &str = "mutation CreateServiceAccount($entity: String!, $description: String!) { result: createServiceAccount(input: {description: $description, entityName: $entity}) { user { id } } }";
pub const MY_INVITES: &str = "{ viewer { invites { id role entity { name } } } }";
pub const ACCEPT: &str =
    "mutation A($id: String) { acceptInvite(input: {id: $id}) { entity { name } } }";
pub const VIEWER_ENTITY: &str =
    "{ viewer { entity teams { edges { node { name isTeam } } } projectEntities { name } } }";

pub async fn create_team(t: &T, key: &str, name: &str) {
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

pub async fn invite_and_accept(
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

/// Invitation mail jobs in the queue, read with the backend's own SQL.
pub async fn job_count(t: &T) -> i64 {
    raw_sql(
        t,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'mail.team_invite'",
    )
    .await
}

pub async fn raw_sql(t: &T, sql: &str) -> i64 {
    let config = &t.server.services.config;
    if config.is_postgres() {
        let (client, conn) = tokio_postgres::connect(
            config.database_url.as_ref().unwrap().expose(),
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

pub async fn expire_invites(t: &T) {
    raw_sql(
        t,
        "UPDATE team_invites SET expires_at = 0 WHERE resolved_at IS NULL",
    )
    .await;
}
