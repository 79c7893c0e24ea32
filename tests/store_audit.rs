//! Store conformance: audit rows written with their changes.
//! Run against SQLite and a fresh PostgreSQL database (`tests/common/store.rs`).

#[macro_use]
mod common;

use common::store::*;

conformance! {
    store: [
        create_user_writes_exactly_one_audit_row_with_its_action,
        a_conflicting_create_user_writes_no_audit_row,
        recent_audit_is_newest_first_and_limited,
        security_events_are_the_persons_own_and_failures_naming_them,
    ],
    with_sql: [
    ],
}

// ---------------------------------------------------------------------------------------
// Audit rows
// ---------------------------------------------------------------------------------------

async fn create_user_writes_exactly_one_audit_row_with_its_action(store: DynStore) {
    let admin = create(&store, "root").await;
    let before_rows = all_audit(&store).await.len();

    let before = fulcrum::now_ms();
    let erin = store
        .create_user(
            new_user("erin", "erin@example.com"),
            AuditEvent {
                actor_user_id: Some(admin.id),
                action: "user.create_by_admin",
                target: None,
                client: Client {
                    ip: Some("192.0.2.7".into()),
                    user_agent: Some("probe/1.0".into()),
                },
                detail: json!({ "via": "session", "admin": true }),
            },
        )
        .await
        .unwrap();

    let rows = all_audit(&store).await;
    assert_eq!(rows.len(), before_rows + 1, "exactly one new audit row");
    let row = &rows[0];
    assert_eq!(row.action, "user.create_by_admin");
    assert_eq!(row.actor_user_id, Some(admin.id));
    // Without an explicit target, the new username is the target.
    assert_eq!(row.target.as_deref(), Some("erin"));
    assert_eq!(row.client.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(row.client.user_agent.as_deref(), Some("probe/1.0"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&row.detail).unwrap(),
        json!({ "via": "session", "admin": true })
    );
    assert_recent(row.at, before, "audit_log.at");
    assert_eq!(
        row.at, erin.created_at,
        "the row and the user share one timestamp"
    );

    // An explicit target is kept.
    store
        .create_user(
            new_user("frank", "frank@example.com"),
            AuditEvent {
                target: Some("custom-target".into()),
                ..event("user.create")
            },
        )
        .await
        .unwrap();
    let rows = all_audit(&store).await;
    assert_eq!(rows.len(), before_rows + 2);
    assert_eq!(rows[0].action, "user.create");
    assert_eq!(rows[0].target.as_deref(), Some("custom-target"));
    assert_eq!(
        rows[0].detail, "null",
        "a default (null) detail is stored as JSON null"
    );
}

async fn a_conflicting_create_user_writes_no_audit_row(store: DynStore) {
    create(&store, "gina").await;
    let rows = all_audit(&store).await;
    assert_eq!(rows.len(), 1);

    assert_conflict(
        store
            .create_user(new_user("GINA", "g2@example.com"), event("user.create.dup"))
            .await,
        "username",
        "duplicate username",
    );
    assert_conflict(
        store
            .create_user(
                new_user("gina2", "Gina@Example.com"),
                event("user.create.dup"),
            )
            .await,
        "email",
        "duplicate email",
    );
    assert_eq!(
        all_audit(&store).await,
        rows,
        "a refused create_user leaves no audit row"
    );
}

async fn recent_audit_is_newest_first_and_limited(store: DynStore) {
    assert!(all_audit(&store).await.is_empty());
    for (at, action) in [(100, "a.first"), (300, "a.second"), (200, "a.third")] {
        store
            .audit(
                AuditEvent {
                    actor_user_id: Some(42),
                    action,
                    target: Some(format!("t-{action}")),
                    client: Client {
                        ip: None,
                        user_agent: None,
                    },
                    detail: json!({ "n": at }),
                },
                at,
            )
            .await
            .unwrap();
    }
    let rows = all_audit(&store).await;
    // Newest written first (by id), whatever the `at` values say.
    let actions: Vec<_> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["a.third", "a.second", "a.first"]);
    assert_eq!(
        rows.iter().map(|r| r.at).collect::<Vec<_>>(),
        [200, 300, 100]
    );
    assert!(rows.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(rows[2].actor_user_id, Some(42));
    assert_eq!(rows[2].target.as_deref(), Some("t-a.first"));
    assert_eq!(rows[2].client.ip, None);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&rows[2].detail).unwrap(),
        json!({ "n": 100 })
    );

    let two = store.recent_audit(2).await.unwrap();
    assert_eq!(two, rows[..2].to_vec());
}

async fn security_events_are_the_persons_own_and_failures_naming_them(store: DynStore) {
    let ann = create(&store, "ann").await;
    let bob = create(&store, "bob").await;
    let write = |actor: Option<i64>, action: &'static str, target: &str| {
        let store = store.clone();
        let target = target.to_string();
        async move {
            let event = AuditEvent {
                actor_user_id: actor,
                target: Some(target),
                ..event(action)
            };
            store.audit(event, 1).await.unwrap();
        }
    };
    write(Some(ann.id), "login.success", "ann").await;
    write(None, "login.failure", "ann").await;
    write(Some(ann.id), "api_key.create", "fk-1").await;
    write(Some(ann.id), "team.create", "lab").await; // not a security event
    write(Some(bob.id), "login.success", "bob").await; // someone else's
    write(None, "login.failure", "bob").await;
    write(Some(bob.id), "user.reset_password", "ann").await; // an admin reset ann's
    write(None, "team.create", "ann").await; // names ann, but not a security action

    let events = store.security_events(ann.id, "ann", 50).await.unwrap();
    let seen: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        seen,
        [
            "user.reset_password",
            "api_key.create",
            "login.failure",
            "login.success"
        ]
    );
    let two = store.security_events(ann.id, "ann", 2).await.unwrap();
    assert_eq!(two, events[..2].to_vec());
}
