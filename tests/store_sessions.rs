//! Store conformance: web sessions and password changes.
//! Run against SQLite and a fresh PostgreSQL database (`tests/common/store.rs`).

#[macro_use]
mod common;

use common::store::*;

conformance! {
    store: [
        session_round_trip_touch_and_delete,
        delete_user_sessions_returns_the_count_and_spares_other_users,
        set_password_replaces_the_hash_and_ends_every_session_of_that_user,
    ],
    with_sql: [
    ],
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

fn new_session(user_id: i64, hash: KeyHash, created_at: i64) -> NewSession {
    NewSession {
        token_hash: hash,
        user_id,
        created_at,
        idle_expires_at: created_at + 1_000,
        absolute_expires_at: created_at + 100_000,
        client: Client {
            ip: Some("198.51.100.4".into()),
            user_agent: Some("Firefox".into()),
        },
    }
}

async fn session_round_trip_touch_and_delete(store: DynStore) {
    let user = create(&store, "sessiongoer").await;
    let hash = random_hash();
    store
        .insert_session(new_session(user.id, hash, 1_000_000))
        .await
        .unwrap();

    let (session, owner) = store.session_by_hash(&hash).await.unwrap().unwrap();
    assert!(session.id > 0);
    assert_eq!(session.user_id, user.id);
    assert_eq!(session.created_at, 1_000_000);
    assert_eq!(
        session.last_seen_at, 1_000_000,
        "last seen starts at creation"
    );
    assert_eq!(session.idle_expires_at, 1_001_000);
    assert_eq!(session.absolute_expires_at, 1_100_000);
    assert_eq!(owner, user);
    assert!(store
        .session_by_hash(&random_hash())
        .await
        .unwrap()
        .is_none());

    // The same token hash cannot be stored twice.
    assert_conflict(
        store
            .insert_session(new_session(user.id, hash, 2_000_000))
            .await,
        "key",
        "duplicate session token hash",
    );

    store
        .touch_session(session.id, 1_000_500, 1_001_500)
        .await
        .unwrap();
    let (touched, _) = store.session_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(touched.id, session.id);
    assert_eq!(touched.last_seen_at, 1_000_500);
    assert_eq!(touched.idle_expires_at, 1_001_500);
    assert_eq!(
        touched.created_at, 1_000_000,
        "touch keeps the creation time"
    );
    assert_eq!(
        touched.absolute_expires_at, 1_100_000,
        "touch keeps the absolute expiry"
    );
    // Touching an unknown session is harmless.
    store.touch_session(session.id + 1000, 1, 2).await.unwrap();

    let other_hash = random_hash();
    store
        .insert_session(new_session(user.id, other_hash, 1_000_000))
        .await
        .unwrap();
    store.delete_session(&hash).await.unwrap();
    assert!(store.session_by_hash(&hash).await.unwrap().is_none());
    assert!(
        store.session_by_hash(&other_hash).await.unwrap().is_some(),
        "only that session ends"
    );
    // Deleting again, or something unknown, is harmless.
    store.delete_session(&hash).await.unwrap();
    store.delete_session(&random_hash()).await.unwrap();
}

async fn delete_user_sessions_returns_the_count_and_spares_other_users(store: DynStore) {
    let many = create(&store, "many-sessions").await;
    let bystander = create(&store, "bystander").await;
    let hashes: Vec<KeyHash> = (0..3).map(|_| random_hash()).collect();
    for (n, hash) in hashes.iter().enumerate() {
        store
            .insert_session(new_session(many.id, *hash, 1_000 + n as i64))
            .await
            .unwrap();
    }
    let spared = random_hash();
    store
        .insert_session(new_session(bystander.id, spared, 1_000))
        .await
        .unwrap();

    assert_eq!(store.delete_user_sessions(many.id).await.unwrap(), 3);
    for hash in &hashes {
        assert!(store.session_by_hash(hash).await.unwrap().is_none());
    }
    let (session, owner) = store.session_by_hash(&spared).await.unwrap().unwrap();
    assert_eq!((session.user_id, owner.id), (bystander.id, bystander.id));
    assert_eq!(store.delete_user_sessions(many.id).await.unwrap(), 0);
    assert_eq!(
        store
            .delete_user_sessions(bystander.id + 1000)
            .await
            .unwrap(),
        0
    );
}

async fn set_password_replaces_the_hash_and_ends_every_session_of_that_user(store: DynStore) {
    let user = create(&store, "changer").await;
    let bystander = create(&store, "unchanged").await;
    let (s1, s2, spared) = (random_hash(), random_hash(), random_hash());
    store
        .insert_session(new_session(user.id, s1, 1_000))
        .await
        .unwrap();
    store
        .insert_session(new_session(user.id, s2, 2_000))
        .await
        .unwrap();
    store
        .insert_session(new_session(bystander.id, spared, 1_000))
        .await
        .unwrap();
    let audit_before = all_audit(&store).await.len();

    let ended = store
        .set_password(PasswordChange {
            user_id: user.id,
            hash: "$argon2id$new-hash".into(),
            keep_session: None,
            audit: AuditEvent {
                actor_user_id: Some(user.id),
                target: Some("changer".into()),
                ..event("user.set_password")
            },
            notice: None,
        })
        .await
        .unwrap();
    assert_eq!(ended, 2);

    let after = store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(after.password_hash.as_deref(), Some("$argon2id$new-hash"));
    assert_eq!(
        User {
            password_hash: user.password_hash.clone(),
            ..after
        },
        user,
        "only the password hash changed"
    );
    assert!(store.session_by_hash(&s1).await.unwrap().is_none());
    assert!(store.session_by_hash(&s2).await.unwrap().is_none());
    assert_eq!(
        store.delete_user_sessions(user.id).await.unwrap(),
        0,
        "no session left"
    );
    assert!(
        store.session_by_hash(&spared).await.unwrap().is_some(),
        "other users keep theirs"
    );
    assert_eq!(
        store.user_by_id(bystander.id).await.unwrap().unwrap(),
        bystander
    );

    let rows = all_audit(&store).await;
    assert_eq!(rows.len(), audit_before + 1);
    assert_eq!(rows[0].action, "user.set_password");
    assert_eq!(rows[0].actor_user_id, Some(user.id));
    assert_eq!(rows[0].target.as_deref(), Some("changer"));
}
