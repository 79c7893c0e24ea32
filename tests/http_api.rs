//! The SDK's HTTP surface on SQLite and PostgreSQL: the real server on 127.0.0.1:0, the Viewer and API keys end to end (creation, revocation, caps, expiry, last used, minting with a key, admin-only user creation).

#[macro_use]
mod common;

use common::{code, Backend, T, VIEWER};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    sdk_viewer_and_key_round_trip,
    revocation_takes_effect_at_once,
    admin_only_user_creation,
    key_minting_with_a_key_can_be_forbidden,
    last_used_is_recorded_off_the_request_path,
    key_cap_per_user,
    expired_keys_are_refused,
);

async fn sdk_viewer_and_key_round_trip(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    // wandb-core: operationName set, no variables.
    let resp = t
        .http
        .post(t.url("/graphql"))
        .basic_auth("api", Some(&key))
        .json(&json!({ "query": VIEWER, "operationName": "Viewer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let viewer = &body["data"]["viewer"];
    assert_eq!(viewer["username"], "alice");
    assert_eq!(viewer["entity"], "alice");
    assert_eq!(viewer["email"], "alice@example.com");
    assert_eq!(viewer["flags"], "{}");
    assert_eq!(viewer["teams"]["edges"][0]["node"]["name"], "alice");
    let listed = viewer["apiKeys"]["edges"][0]["node"]["name"]
        .as_str()
        .unwrap();
    assert!(
        key.starts_with(listed) && listed.len() == 13,
        "key ID {listed} must be a prefix"
    );

    // Bearer works too; the Public API sends operationName "" and aliases the root field.
    let gen = "mutation GenerateApiKey($description: String) { result: generateApiKey(input: {description: $description}) { apiKey { id name description } } }";
    let (status, body) = t
        .gql(
            Some(&key),
            gen,
            Some(""),
            json!({ "description": "laptop" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let new_key = body["data"]["result"]["apiKey"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let new_id = body["data"]["result"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body["data"]["result"]["apiKey"]["description"], "laptop");
    let r = t
        .http
        .post(t.url("/graphql"))
        .bearer_auth(&new_key)
        .json(&json!({ "query": "{ viewer { username } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["viewer"]["username"],
        "alice"
    );

    // Listings never show the full key again.
    let (_, body) = t.gql(Some(&key), VIEWER, None, json!({})).await;
    let names: Vec<&str> = body["data"]["viewer"]["apiKeys"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&new_key.as_str()));

    let del = "mutation DeleteApiKey($id: String!) { result: deleteApiKey(input: {id: $id}) { success } }";
    let (status, body) = t
        .gql(Some(&key), del, Some(""), json!({ "id": new_id }))
        .await;
    assert_eq!(
        (status, body["data"]["result"]["success"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (status, body) = t.gql(Some(&new_key), VIEWER, None, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["message"], "invalid api key");

    // SearchUsers: others' private fields stay private.
    t.user("bob", false).await;
    let search = "query SearchUsers($query: String) { users(query: $query) { edges { node { id name username email apiKeys { edges { node { name } } } } } } }";
    let (_, body) = t
        .gql(Some(&key), search, Some(""), json!({ "query": "bob" }))
        .await;
    let bob = &body["data"]["users"]["edges"][0]["node"];
    assert_eq!(bob["username"], "bob");
    assert_eq!(bob["email"], Value::Null);
    assert_eq!(bob["apiKeys"]["edges"].as_array().unwrap().len(), 0);
    let (_, body) = t
        .gql(
            Some(&key),
            search,
            Some(""),
            json!({ "query": "nobody-here" }),
        )
        .await;
    assert_eq!(body["data"]["users"]["edges"].as_array().unwrap().len(), 0);

    let audit = t.server.services.store.recent_audit(50).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        actions.contains(&"api_key.create") && actions.contains(&"api_key.revoke"),
        "{actions:?}"
    );
    assert!(audit
        .iter()
        .any(|a| a.action == "api_key.create" && a.detail.contains("\"via\":\"api_key\"")));
    t.server.shutdown().await.unwrap();
}

async fn revocation_takes_effect_at_once(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let alice = t.user("alice", false).await;
    let mallory = t.user("mallory", false).await;
    let (_, body) = t.gql(Some(&alice), VIEWER, None, json!({})).await;
    let id = body["data"]["viewer"]["apiKeys"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let del = "mutation D($id: String!) { deleteApiKey(input: {id: $id}) { success } }";
    // Someone else's key: indistinguishable from a missing one.
    let (status, body) = t.gql(Some(&mallory), del, None, json!({ "id": id })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "api_key_not_found")
    );
    let (status, _) = t.gql(Some(&alice), VIEWER, None, json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = t.gql(Some(&alice), del, None, json!({ "id": id })).await;
    assert_eq!(status, 200);
    let (status, body) = t.gql(Some(&alice), VIEWER, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );
    let (status, body) = t
        .gql(Some(&mallory), del, None, json!({ "id": "not-an-id" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_id")
    );
    t.server.shutdown().await.unwrap();
}

async fn admin_only_user_creation(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let admin = t.user("root", true).await;
    let alice = t.user("alice", false).await;
    let create = "mutation CreateUserFromAdmin($email: String!, $admin: Boolean) { result: createUser(input: {email: $email, admin: $admin}) { user { id name username email admin } } }";
    let (status, body) = t
        .gql(
            Some(&alice),
            create,
            Some(""),
            json!({ "email": "new@example.com", "admin": false }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "admin_required")
    );
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("admin"));
    let before = t.server.services.store.count_users().await.unwrap();
    let (status, body) = t
        .gql(
            Some(&admin),
            create,
            Some(""),
            json!({ "email": "new.person@example.com", "admin": false }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"]["user"]["username"], "new-person");
    assert_eq!(
        body["data"]["result"]["user"]["email"],
        "new.person@example.com"
    );
    // Duplicate email: 409 with a stable code, nothing written.
    let (status, body) = t
        .gql(
            Some(&admin),
            create,
            Some(""),
            json!({ "email": "NEW.person@example.com" }),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "email_taken"));
    let (status, body) = t
        .gql(
            Some(&admin),
            create,
            Some(""),
            json!({ "email": "not an email" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_invalid")
    );
    let with_name = "mutation { createUser(input: {email: \"x@example.com\", username: \"settings\"}) { user { id } } }";
    let (status, body) = t.gql(Some(&admin), with_name, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "username_reserved")
    );
    let dup_name = "mutation { createUser(input: {email: \"y@example.com\", username: \"ALICE\"}) { user { id } } }";
    let (status, body) = t.gql(Some(&admin), dup_name, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "username_taken")
    );
    assert_eq!(
        t.server.services.store.count_users().await.unwrap(),
        before + 1
    );
    t.server.shutdown().await.unwrap();
}

async fn key_minting_with_a_key_can_be_forbidden(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    let gen = "mutation { generateApiKey(input: {description: \"x\"}) { apiKey { name } } }";
    assert_eq!(t.gql(Some(&key), gen, None, json!({})).await.0, 200);
    fulcrum::admin::setting(
        &t.server.services,
        "allow_key_minting_with_key",
        Some("false"),
    )
    .await
    .unwrap();
    let (status, body) = t.gql(Some(&key), gen, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "key_minting_forbidden")
    );
    t.server.shutdown().await.unwrap();
}

async fn last_used_is_recorded_off_the_request_path(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_LAST_USED_FLUSH_MS", "600000")]).await;
    let key = t.user("alice", false).await;
    let resp = t
        .http
        .post(t.url("/graphql"))
        .basic_auth("api", Some(&key))
        .header("user-agent", "wandb-core")
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let services = t.server.services.clone();
    let user = services
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    let keys = services.store.list_api_keys(user.id).await.unwrap();
    assert_eq!(
        keys[0].last_used_at, None,
        "not written on the request path"
    );
    assert_eq!(services.usage.pending_len(), 1);
    // Graceful shutdown flushes what is pending.
    t.server.shutdown().await.unwrap();
    let keys = services.store.list_api_keys(user.id).await.unwrap();
    assert!(keys[0].last_used_at.is_some());
    assert_eq!(keys[0].last_used_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(keys[0].last_used_ua.as_deref(), Some("wandb-core"));
}

async fn key_cap_per_user(backend: Backend) {
    let t = T::start(&backend, &[("FULCRUM_MAX_KEYS_PER_USER", "2")]).await;
    let key = t.user("alice", false).await;
    let gen = "mutation { generateApiKey(input: {description: \"x\"}) { apiKey { name } } }";
    assert_eq!(t.gql(Some(&key), gen, None, json!({})).await.0, 200);
    let (status, body) = t.gql(Some(&key), gen, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "key_limit_reached")
    );
    t.server.shutdown().await.unwrap();
}

async fn expired_keys_are_refused(backend: Backend) {
    let t = T::start(&backend, &[]).await;
    let key = t.user("alice", false).await;
    let gen = "mutation G($d: Int) { generateApiKey(input: {description: \"ci\", expiresInDays: $d}) { apiKey { name expiresAt } } }";
    let (status, body) = t.gql(Some(&key), gen, None, json!({ "d": 0 })).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "expiry_invalid")
    );
    let (status, body) = t.gql(Some(&key), gen, None, json!({ "d": 30 })).await;
    assert_eq!(status, 200);
    assert!(body["data"]["generateApiKey"]["apiKey"]["expiresAt"].is_string());
    // A key whose expiry has passed is refused like an unknown one.
    let user = t
        .server
        .services
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    let generated = fulcrum::keys::generate(fulcrum::keys::KeyKind::Personal);
    let new_key = fulcrum::store::NewApiKey {
        key_id: generated.key_id.clone(),
        secret_hash: generated.hash,
        user_id: user.id,
        name: "old".into(),
        origin: fulcrum::store::KeyOrigin::Generated,
        created_by: Some(user.id),
        expires_at: Some(fulcrum::now_ms() - 1),
    };
    t.server
        .services
        .store
        .insert_api_key(new_key, 100, Default::default())
        .await
        .unwrap();
    let (status, body) = t.gql(Some(&generated.full), VIEWER, None, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );
    t.server.shutdown().await.unwrap();
}
