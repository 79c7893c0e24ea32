//! Store conformance: server settings and the first-admin setup token.
//! Run against SQLite and a fresh PostgreSQL database (`tests/common/store.rs`).

#[macro_use]
mod common;

use common::store::*;

conformance! {
    store: [
        put_setting_is_an_upsert,
        first_admin_needs_the_right_unexpired_token_and_consumes_it,
        first_admin_is_refused_once_any_user_exists,
        concurrent_first_admin_calls_with_one_token_create_one_admin,
    ],
    with_sql: [
    ],
}

// ---------------------------------------------------------------------------------------
// Settings and the first admin
// ---------------------------------------------------------------------------------------

async fn put_setting_is_an_upsert(store: DynStore) {
    assert_eq!(store.get_setting("site.name").await.unwrap(), None);
    store.put_setting("site.name", "Fulcrum", 1).await.unwrap();
    assert_eq!(
        store.get_setting("site.name").await.unwrap().as_deref(),
        Some("Fulcrum")
    );
    store
        .put_setting("site.name", "Fulcrum Labs", 2)
        .await
        .unwrap();
    assert_eq!(
        store.get_setting("site.name").await.unwrap().as_deref(),
        Some("Fulcrum Labs")
    );
    store.put_setting("site.motd", "", 3).await.unwrap();
    assert_eq!(
        store.get_setting("site.motd").await.unwrap().as_deref(),
        Some("")
    );
    assert_eq!(
        store.get_setting("site.name").await.unwrap().as_deref(),
        Some("Fulcrum Labs")
    );
    // Keys are exact.
    assert_eq!(store.get_setting("Site.Name").await.unwrap(), None);
    let json = r#"{"nested":{"quotes":"'\"","unicode":"ü"}}"#;
    store.put_setting("site.json", json, 4).await.unwrap();
    assert_eq!(
        store.get_setting("site.json").await.unwrap().as_deref(),
        Some(json)
    );
}

fn first_admin() -> NewUser {
    NewUser {
        is_admin: true,
        ..new_user("Admin", "admin@example.com")
    }
}

async fn first_admin_needs_the_right_unexpired_token_and_consumes_it(store: DynStore) {
    let token = keys::random_token();
    let right = keys::hash_key(&token);
    let now = fulcrum::now_ms();
    let expires_at = now + 60_000;
    store
        .put_setup_token(
            OneTimeToken {
                hash: right,
                expires_at,
            },
            now,
        )
        .await
        .unwrap();
    assert!(store.get_setting("setup_token").await.unwrap().is_some());

    // The wrong token: nothing happens, and the right token stays usable.
    let wrong = keys::hash_key(&keys::random_token());
    assert_eq!(
        store
            .create_first_admin(
                FirstAdmin {
                    setup_token: wrong,
                    user: first_admin(),
                    now
                },
                event("user.create_first_admin")
            )
            .await
            .unwrap(),
        None
    );
    // The right token at or after its expiry: refused.
    for late in [expires_at, expires_at + 1, expires_at + 86_400_000] {
        assert_eq!(
            store
                .create_first_admin(
                    FirstAdmin {
                        setup_token: right,
                        user: first_admin(),
                        now: late
                    },
                    event("user.create_first_admin")
                )
                .await
                .unwrap(),
            None,
            "token presented at {late}, expiring at {expires_at}"
        );
    }
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(store.list_users().await.unwrap().is_empty());
    assert!(
        all_audit(&store).await.is_empty(),
        "refusals write no audit row"
    );
    assert!(
        store.get_setting("setup_token").await.unwrap().is_some(),
        "refusals keep the token"
    );

    // The right token in time: the admin is created and the token consumed.
    let admin = store
        .create_first_admin(
            FirstAdmin {
                setup_token: right,
                user: first_admin(),
                now: fulcrum::now_ms(),
            },
            event("user.create_first_admin"),
        )
        .await
        .unwrap()
        .expect("the right, unexpired token creates the first admin");
    assert!(admin.id > 0);
    assert!(admin.is_admin);
    assert_eq!(admin.username, "Admin");
    assert_eq!(admin.email, "admin@example.com");
    assert_eq!(
        admin.password_hash.as_deref(),
        Some("$argon2id$hash-of-Admin")
    );
    assert_eq!(store.list_users().await.unwrap(), vec![admin.clone()]);
    assert_eq!(
        store.user_by_username("admin").await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(
        store.get_setting("setup_token").await.unwrap(),
        None,
        "the token is consumed"
    );
    let rows = all_audit(&store).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "user.create_first_admin");

    // The same token again: refused (consumed, and a user exists anyway).
    assert_eq!(
        store
            .create_first_admin(
                FirstAdmin {
                    setup_token: right,
                    user: NewUser {
                        is_admin: true,
                        ..new_user("second", "second@example.com")
                    },
                    now
                },
                event("user.create_first_admin")
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(all_audit(&store).await.len(), 1);
}

async fn first_admin_is_refused_once_any_user_exists(store: DynStore) {
    let existing = create(&store, "early-bird").await;
    let token = keys::random_token();
    let hash = keys::hash_key(&token);
    let now = fulcrum::now_ms();
    store
        .put_setup_token(
            OneTimeToken {
                hash,
                expires_at: now + 60_000,
            },
            now,
        )
        .await
        .unwrap();

    assert_eq!(
        store
            .create_first_admin(
                FirstAdmin {
                    setup_token: hash,
                    user: first_admin(),
                    now
                },
                event("user.create_first_admin")
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list_users().await.unwrap(), vec![existing]);
    assert!(
        all_audit(&store)
            .await
            .iter()
            .all(|r| r.action != "user.create_first_admin"),
        "a refused first admin writes no audit row"
    );
}

async fn concurrent_first_admin_calls_with_one_token_create_one_admin(store: DynStore) {
    const TASKS: usize = 6;
    let hash = keys::hash_key(&keys::random_token());
    let now = fulcrum::now_ms();
    store
        .put_setup_token(
            OneTimeToken {
                hash,
                expires_at: now + 60_000,
            },
            now,
        )
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let user = NewUser {
                is_admin: true,
                ..new_user(&format!("admin{n}"), &format!("admin{n}@example.com"))
            };
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .create_first_admin(
                        FirstAdmin {
                            setup_token: hash,
                            user,
                            now,
                        },
                        event("user.create_first_admin"),
                    )
                    .await
            })
        })
        .collect();
    let mut admins = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(Some(admin)) => admins.push(admin),
            Ok(None) => {}
            Err(e) => panic!("unexpected error from a racing create_first_admin: {e:?}"),
        }
    }
    assert_eq!(admins.len(), 1, "one token creates one admin: {admins:?}");
    assert_eq!(store.list_users().await.unwrap(), admins);
    assert_eq!(store.get_setting("setup_token").await.unwrap(), None);
    assert_eq!(all_audit(&store).await.len(), 1);
}
