//! Store conformance: what the Account security section stores — the sessions a person
//! sees and ends, sudo mode, a password change that keeps the current session, and an
//! email change by a mailed token. Run against SQLite and a fresh PostgreSQL database.

#[macro_use]
mod common;

use common::store::*;
use fulcrum::keys::hash_key;

conformance! {
    store: [
        sessions_are_listed_live_and_newest_seen_first,
        ending_a_session_needs_its_owner_and_writes_the_audit_row,
        ending_the_other_sessions_keeps_the_current_one,
        reauth_moves_the_sign_in_time,
        an_email_change_to_a_taken_address_is_a_conflict_and_changes_nothing,
    ],
    with_sql: [
        a_password_change_can_keep_the_session_that_made_it,
        an_email_change_by_token_moves_the_address_once,
    ],
}

fn session(user_id: i64, hash: KeyHash, seen: i64) -> NewSession {
    NewSession {
        token_hash: hash,
        user_id,
        created_at: seen,
        idle_expires_at: seen + 1_000_000,
        absolute_expires_at: seen + 10_000_000,
        client: Client {
            ip: Some("198.51.100.4".into()),
            user_agent: Some("Firefox".into()),
        },
    }
}

/// Three sessions of `who` seen at 1,000, 2,000 and 3,000; their ids, oldest first.
async fn three_sessions(store: &DynStore, who: &User) -> Vec<i64> {
    let mut ids = Vec::new();
    for seen in [1_000, 2_000, 3_000] {
        let hash = random_hash();
        store
            .insert_session(session(who.id, hash, seen))
            .await
            .unwrap();
        ids.push(store.session_by_hash(&hash).await.unwrap().unwrap().0.id);
    }
    ids
}

fn audit(who: &User, action: &'static str) -> AuditEvent {
    AuditEvent {
        actor_user_id: Some(who.id),
        target: Some(who.username.clone()),
        ..event(action)
    }
}

async fn sessions_are_listed_live_and_newest_seen_first(store: DynStore) {
    let ann = create(&store, "ann").await;
    let bob = create(&store, "bob").await;
    let ids = three_sessions(&store, &ann).await;
    three_sessions(&store, &bob).await;
    let listed = store.sessions_of(ann.id, 5_000).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[2], ids[1], ids[0]]
    );
    let first = &listed[2];
    assert_eq!(first.client.ip.as_deref(), Some("198.51.100.4"));
    assert_eq!(first.client.user_agent.as_deref(), Some("Firefox"));
    assert_eq!(
        first.signed_in_at, first.created_at,
        "signed in when created"
    );
    // The oldest is idle-expired at 1,001,000: no longer listed.
    let later = store.sessions_of(ann.id, 1_001_500).await.unwrap();
    assert_eq!(later.len(), 2);
}

async fn ending_a_session_needs_its_owner_and_writes_the_audit_row(store: DynStore) {
    let ann = create(&store, "ann").await;
    let bob = create(&store, "bob").await;
    let ids = three_sessions(&store, &ann).await;
    let before = all_audit(&store).await.len();
    assert!(
        !store
            .end_session(bob.id, ids[0], audit(&bob, "session.end"))
            .await
            .unwrap(),
        "not bob's"
    );
    assert_eq!(
        all_audit(&store).await.len(),
        before,
        "no row for a refusal"
    );
    assert!(store
        .end_session(ann.id, ids[0], audit(&ann, "session.end"))
        .await
        .unwrap());
    assert!(!store
        .end_session(ann.id, ids[0], audit(&ann, "session.end"))
        .await
        .unwrap());
    let rows = all_audit(&store).await;
    assert_eq!(rows.len(), before + 1);
    assert_eq!(rows[0].action, "session.end");
    assert_eq!(store.sessions_of(ann.id, 5_000).await.unwrap().len(), 2);
}

async fn ending_the_other_sessions_keeps_the_current_one(store: DynStore) {
    let ann = create(&store, "ann").await;
    let bob = create(&store, "bob").await;
    let ids = three_sessions(&store, &ann).await;
    three_sessions(&store, &bob).await;
    let ended = store
        .end_other_sessions(ann.id, ids[1], audit(&ann, "session.end_others"))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    let left: Vec<_> = store.sessions_of(ann.id, 5_000).await.unwrap();
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), [ids[1]]);
    assert_eq!(store.sessions_of(bob.id, 5_000).await.unwrap().len(), 3);
    let row = &all_audit(&store).await[0];
    assert_eq!(row.action, "session.end_others");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&row.detail).unwrap()["sessions"],
        2
    );
}

async fn reauth_moves_the_sign_in_time(store: DynStore) {
    let ann = create(&store, "ann").await;
    let hash = random_hash();
    store
        .insert_session(session(ann.id, hash, 1_000))
        .await
        .unwrap();
    let (s, _) = store.session_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(s.signed_in_at, 1_000);
    store
        .mark_reauth(s.id, 9_000, audit(&ann, "session.reauth"))
        .await
        .unwrap();
    let (s, _) = store.session_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!((s.signed_in_at, s.created_at), (9_000, 1_000));
    assert_eq!(all_audit(&store).await[0].action, "session.reauth");
}

async fn a_password_change_can_keep_the_session_that_made_it(store: DynStore, sql: RawSql) {
    let ann = create(&store, "ann").await;
    let ids = three_sessions(&store, &ann).await;
    let notice = notice_job(1);
    let ended = store
        .set_password(PasswordChange {
            user_id: ann.id,
            hash: "$argon2id$changed".into(),
            keep_session: Some(ids[0]),
            audit: audit(&ann, "user.password_change"),
            notice: Some(notice),
        })
        .await
        .unwrap();
    assert_eq!(ended, 2);
    let left = store.sessions_of(ann.id, 5_000).await.unwrap();
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), [ids[0]]);
    let row = &all_audit(&store).await[0];
    assert_eq!(row.action, "user.password_change");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&row.detail).unwrap()["sessions"],
        2
    );
    assert_eq!(
        notices(&sql).await,
        1,
        "the notice is written with the change"
    );
}

async fn put_token(store: &DynStore, who: &User, token: &str, email: &str, expires_at: i64) {
    store
        .put_email_token(
            NewEmailToken {
                hash: hash_key(token),
                user_id: who.id,
                email: email.into(),
                created_at: 0,
                expires_at,
            },
            None,
            audit(who, "user.email_change_request"),
        )
        .await
        .unwrap();
}

fn change(who: &User, token: &str, to: &str, now: i64) -> EmailChange {
    EmailChange {
        token: hash_key(token),
        user_id: who.id,
        old_email: who.email.clone(),
        new_email: to.into(),
        now,
        audit: audit(who, "user.email_change"),
        notice: Some(notice_job(now)),
    }
}

async fn an_email_change_by_token_moves_the_address_once(store: DynStore, sql: RawSql) {
    let ann = create(&store, "ann").await;
    put_token(&store, &ann, "new", "Ann.New@Example.com", 10_000).await;
    put_token(&store, &ann, "late", "late@example.com", 100).await;
    assert_eq!(
        store.email_token(hash_key("new"), 500).await.unwrap(),
        Some((ann.id, "ann.new@example.com".to_string()))
    );
    assert_eq!(
        store.email_token(hash_key("late"), 500).await.unwrap(),
        None,
        "expired"
    );
    assert!(!store
        .change_email(change(&ann, "late", "late@example.com", 500))
        .await
        .unwrap());

    assert!(store
        .change_email(change(&ann, "new", "Ann.New@Example.com", 500))
        .await
        .unwrap());
    let after = store.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(after.email, "Ann.New@Example.com");
    assert_eq!(after.email_verified_at, Some(500));
    assert_eq!(all_audit(&store).await[0].action, "user.email_change");
    assert_eq!(
        notices(&sql).await,
        1,
        "the notice is written with the change"
    );
    assert!(
        !store
            .change_email(change(&ann, "new", "Ann.New@Example.com", 600))
            .await
            .unwrap(),
        "a token works once"
    );
    assert!(store
        .user_by_username_or_email("ann.new@example.com")
        .await
        .unwrap()
        .is_some());
}

async fn an_email_change_to_a_taken_address_is_a_conflict_and_changes_nothing(store: DynStore) {
    let ann = create(&store, "ann").await;
    let bob = create(&store, "bob").await;
    put_token(&store, &ann, "bobs", &bob.email, 10_000).await;
    let audit_before = all_audit(&store).await.len();
    assert_conflict(
        store
            .change_email(change(&ann, "bobs", &bob.email, 500))
            .await,
        "email",
        "bob has it",
    );
    assert_eq!(store.user_by_id(ann.id).await.unwrap().unwrap(), ann);
    assert_eq!(all_audit(&store).await.len(), audit_before);
    assert!(
        store
            .email_token(hash_key("bobs"), 500)
            .await
            .unwrap()
            .is_some(),
        "the refused change keeps its token"
    );
}

fn notice_job(now: i64) -> NewJob {
    NewJob {
        kind: "mail.security_notice",
        payload: json!({ "to": "ann@example.com" }),
        dedup_key: None,
        max_attempts: 3,
        run_after: now,
    }
}

async fn notices(sql: &RawSql) -> i64 {
    sql.count("jobs WHERE kind = 'mail.security_notice'").await
}
