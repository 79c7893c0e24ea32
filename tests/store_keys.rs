//! Store conformance: API keys (look-ups, caps, conflicts, revocation, last used, concurrency).
//! Run against SQLite and a fresh PostgreSQL database (`tests/common/store.rs`).

#[macro_use]
mod common;

use common::store::*;

conformance! {
    store: [
        api_key_resolves_by_key_id_and_by_hash_with_secret_hash_and_owner,
        list_api_keys_lists_active_keys_oldest_first_per_user,
        api_key_cap_returns_limit_reached_and_writes_nothing,
        duplicate_key_id_or_secret_hash_is_a_conflict,
        revoke_api_key_is_true_once_and_hides_the_key_from_the_list_only,
        record_key_usage_sets_last_used_and_never_moves_it_backwards,
        concurrent_key_inserts_with_a_cap_of_one_let_exactly_one_through,
        concurrent_usage_flushes_in_different_key_orders_all_succeed,
    ],
    with_sql: [
    ],
}

// ---------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------

async fn api_key_resolves_by_key_id_and_by_hash_with_secret_hash_and_owner(store: DynStore) {
    let owner = create(&store, "keyowner").await;
    let admin = create(&store, "keyadmin").await;

    let generated = keys::generate(KeyKind::Personal);
    let before = fulcrum::now_ms();
    let record = store
        .insert_api_key(
            NewApiKey {
                key_id: generated.key_id.clone(),
                secret_hash: generated.hash,
                user_id: owner.id,
                name: "laptop".into(),
                origin: KeyOrigin::Generated,
                created_by: Some(admin.id),
                expires_at: None,
            },
            5,
            event("api_key.create"),
        )
        .await
        .unwrap();
    assert!(record.id > 0);
    assert_eq!(record.key_id, generated.key_id);
    assert!(record.key_id.starts_with("fk-"));
    assert_eq!(record.user_id, owner.id);
    assert_eq!(record.name, "laptop");
    assert_eq!(record.origin, "generated");
    assert_recent(record.created_at, before, "api_keys.created_at");
    assert_eq!(record.expires_at, None);
    assert_eq!(record.last_used_at, None);
    assert_eq!(record.last_used_ip, None);
    assert_eq!(record.last_used_ua, None);
    assert_eq!(record.revoked_at, None);

    let by_id = store
        .key_auth_by_key_id(&generated.key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_id.key, record);
    assert_eq!(by_id.secret_hash, generated.hash.to_vec());
    assert!(keys::hashes_equal(
        &keys::hash_key(&generated.full),
        &by_id.secret_hash
    ));
    assert_eq!(by_id.user, owner);

    let by_hash = store
        .key_auth_by_hash(&generated.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.key, record);
    assert_eq!(by_hash.secret_hash, generated.hash.to_vec());
    assert_eq!(by_hash.user, owner);

    assert_eq!(
        store.api_key_by_id(record.id).await.unwrap(),
        Some(record.clone())
    );

    // An imported key keeps its origin and expiry.
    let imported = keys::generate(KeyKind::Service);
    let imported_record = store
        .insert_api_key(
            NewApiKey {
                key_id: imported.key_id.clone(),
                secret_hash: imported.hash,
                user_id: owner.id,
                name: "legacy".into(),
                origin: KeyOrigin::Imported,
                created_by: None,
                expires_at: Some(4_102_444_800_000),
            },
            5,
            event("api_key.import"),
        )
        .await
        .unwrap();
    assert_eq!(imported_record.origin, "imported");
    assert_eq!(imported_record.expires_at, Some(4_102_444_800_000));
    let auth = store
        .key_auth_by_hash(&imported.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth.key, imported_record);
    assert_eq!(auth.user, owner);

    // Unknown ids and hashes resolve to nothing.
    assert!(store
        .key_auth_by_key_id("fk-0000000000")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .key_auth_by_hash(&random_hash())
        .await
        .unwrap()
        .is_none());
    assert!(store
        .api_key_by_id(imported_record.id + 1000)
        .await
        .unwrap()
        .is_none());

    // One audit row per inserted key, with the action given.
    let actions: Vec<_> = all_audit(&store)
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "api_key.import",
            "api_key.create",
            "user.create",
            "user.create"
        ]
    );
}

async fn list_api_keys_lists_active_keys_oldest_first_per_user(store: DynStore) {
    let ann = create(&store, "ann").await;
    let ben = create(&store, "ben").await;
    assert!(store.list_api_keys(ann.id).await.unwrap().is_empty());

    let mut ann_keys = Vec::new();
    for name in ["first", "second", "third"] {
        ann_keys.push(insert_key(&store, ann.id, name, 10).await);
        // Distinct creation times, so "oldest first" is about time and not only ids.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let ben_key = insert_key(&store, ben.id, "bens", 10).await;

    let listed = store.list_api_keys(ann.id).await.unwrap();
    assert_eq!(listed, ann_keys);
    assert!(listed.windows(2).all(|w| w[0].created_at < w[1].created_at));
    assert_eq!(store.list_api_keys(ben.id).await.unwrap(), vec![ben_key]);
    assert!(store.list_api_keys(ben.id + 1000).await.unwrap().is_empty());
}

async fn api_key_cap_returns_limit_reached_and_writes_nothing(store: DynStore) {
    let capped = create(&store, "capped").await;
    let other = create(&store, "uncapped").await;
    let k1 = insert_key(&store, capped.id, "one", 2).await;
    let k2 = insert_key(&store, capped.id, "two", 2).await;
    let audit_before = all_audit(&store).await;

    let (generated, key) = new_key(capped.id, "three");
    match store.insert_api_key(key, 2, event("api_key.create")).await {
        Err(StoreError::LimitReached) => {}
        other => panic!("expected LimitReached for a third key with max_active=2, got {other:?}"),
    }
    // Nothing was written: no key, no audit row.
    assert_eq!(
        store.list_api_keys(capped.id).await.unwrap(),
        vec![k1.clone(), k2.clone()]
    );
    assert!(store
        .key_auth_by_key_id(&generated.key_id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .key_auth_by_hash(&generated.hash)
        .await
        .unwrap()
        .is_none());
    assert_eq!(all_audit(&store).await, audit_before);

    // A cap of zero refuses even the first key.
    let (_, key) = new_key(other.id, "zero");
    assert!(matches!(
        store.insert_api_key(key, 0, event("api_key.create")).await,
        Err(StoreError::LimitReached)
    ));

    // The cap is per user: another user is unaffected.
    insert_key(&store, other.id, "others-one", 2).await;
    insert_key(&store, other.id, "others-two", 2).await;

    // Revoked keys do not count: revoking one frees a slot.
    assert!(store
        .revoke_api_key(
            KeyRevocation {
                key: k1.id,
                at: fulcrum::now_ms(),
                by: Some(capped.id)
            },
            event("api_key.revoke")
        )
        .await
        .unwrap());
    let k3 = insert_key(&store, capped.id, "three", 2).await;
    assert_eq!(store.list_api_keys(capped.id).await.unwrap(), vec![k2, k3]);
}

async fn duplicate_key_id_or_secret_hash_is_a_conflict(store: DynStore) {
    let owner = create(&store, "dupowner").await;
    let other = create(&store, "dupother").await;
    let (original, key) = new_key(owner.id, "original");
    let record = store
        .insert_api_key(key, 10, event("api_key.create"))
        .await
        .unwrap();
    let audit_before = all_audit(&store).await;

    // Same key_id, different secret, even for another user.
    let (_, mut same_id) = new_key(other.id, "same-id");
    same_id.key_id = original.key_id.clone();
    assert_conflict(
        store
            .insert_api_key(same_id, 10, event("api_key.create"))
            .await,
        "key",
        "duplicate key_id",
    );
    // Same secret hash under a new key_id.
    let (_, mut same_hash) = new_key(other.id, "same-hash");
    same_hash.secret_hash = original.hash;
    assert_conflict(
        store
            .insert_api_key(same_hash, 10, event("api_key.create"))
            .await,
        "key",
        "duplicate secret_hash",
    );

    assert!(store.list_api_keys(other.id).await.unwrap().is_empty());
    assert_eq!(
        store.list_api_keys(owner.id).await.unwrap(),
        vec![record.clone()]
    );
    assert_eq!(
        store
            .key_auth_by_key_id(&original.key_id)
            .await
            .unwrap()
            .unwrap()
            .key,
        record
    );
    assert_eq!(
        all_audit(&store).await,
        audit_before,
        "a refused key writes no audit row"
    );
}

async fn revoke_api_key_is_true_once_and_hides_the_key_from_the_list_only(store: DynStore) {
    let owner = create(&store, "revoker").await;
    let admin = create(&store, "revokeadmin").await;
    let (generated, key) = new_key(owner.id, "to-revoke");
    let doomed = store
        .insert_api_key(key, 10, event("api_key.create"))
        .await
        .unwrap();
    let kept = insert_key(&store, owner.id, "kept", 10).await;
    let audit_before = all_audit(&store).await.len();

    let revoked_at = 1_700_000_000_123;
    assert!(store
        .revoke_api_key(
            KeyRevocation {
                key: doomed.id,
                at: revoked_at,
                by: Some(admin.id)
            },
            event("api_key.revoke")
        )
        .await
        .unwrap());
    // A second revocation changes nothing and says so.
    assert!(!store
        .revoke_api_key(
            KeyRevocation {
                key: doomed.id,
                at: revoked_at + 5_000,
                by: Some(owner.id)
            },
            event("api_key.revoke")
        )
        .await
        .unwrap());
    // Unknown ids are not revoked either.
    assert!(!store
        .revoke_api_key(
            KeyRevocation {
                key: kept.id + 1000,
                at: revoked_at,
                by: None
            },
            event("api_key.revoke")
        )
        .await
        .unwrap());

    let rows = all_audit(&store).await;
    assert_eq!(
        rows.len(),
        audit_before + 1,
        "only the effective revocation is audited"
    );
    assert_eq!(rows[0].action, "api_key.revoke");
    assert_eq!(rows[0].at, revoked_at);

    assert_eq!(
        store.list_api_keys(owner.id).await.unwrap(),
        vec![kept.clone()]
    );

    // The request path still finds the key, and sees it revoked at the first time given.
    let expected = ApiKeyRecord {
        revoked_at: Some(revoked_at),
        ..doomed.clone()
    };
    let by_id = store
        .key_auth_by_key_id(&generated.key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_id.key, expected);
    assert_eq!(by_id.secret_hash, generated.hash.to_vec());
    assert_eq!(by_id.user, owner);
    let by_hash = store
        .key_auth_by_hash(&generated.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.key, expected);
    assert_eq!(
        store.api_key_by_id(doomed.id).await.unwrap(),
        Some(expected)
    );
    assert_eq!(store.api_key_by_id(kept.id).await.unwrap(), Some(kept));
}

async fn record_key_usage_sets_last_used_and_never_moves_it_backwards(store: DynStore) {
    let owner = create(&store, "user-of-keys").await;
    let a = insert_key(&store, owner.id, "a", 10).await;
    let b = insert_key(&store, owner.id, "b", 10).await;
    let untouched = insert_key(&store, owner.id, "untouched", 10).await;
    let usage = |key: &ApiKeyRecord, at: i64, ip: &str, ua: &str| KeyUsage {
        key_pk: key.id,
        at,
        client: Client {
            ip: Some(ip.into()),
            user_agent: Some(ua.into()),
        },
    };
    let last_used = |r: ApiKeyRecord| (r.last_used_at, r.last_used_ip, r.last_used_ua);
    let expect =
        |at: i64, ip: &str, ua: &str| (Some(at), Some(ip.to_string()), Some(ua.to_string()));
    let audit_before = all_audit(&store).await;

    store.record_key_usage(&[]).await.unwrap();
    store
        .record_key_usage(&[
            usage(&a, 10_000, "10.0.0.1", "wandb/0.19"),
            usage(&b, 20_000, "10.0.0.2", "curl/8"),
        ])
        .await
        .unwrap();
    assert_eq!(
        last_used(store.api_key_by_id(a.id).await.unwrap().unwrap()),
        expect(10_000, "10.0.0.1", "wandb/0.19")
    );
    assert_eq!(
        last_used(store.api_key_by_id(b.id).await.unwrap().unwrap()),
        expect(20_000, "10.0.0.2", "curl/8")
    );
    assert_eq!(
        last_used(store.api_key_by_id(untouched.id).await.unwrap().unwrap()),
        (None, None, None)
    );

    // A later batch carrying an older observation changes nothing (time, ip or agent).
    store
        .record_key_usage(&[usage(&a, 9_999, "10.9.9.9", "old/1")])
        .await
        .unwrap();
    assert_eq!(
        last_used(store.api_key_by_id(a.id).await.unwrap().unwrap()),
        expect(10_000, "10.0.0.1", "wandb/0.19")
    );

    // A newer one moves it forward, together with ip and agent.
    store
        .record_key_usage(&[usage(&a, 15_000, "10.0.0.3", "wandb/0.20")])
        .await
        .unwrap();
    assert_eq!(
        last_used(store.api_key_by_id(a.id).await.unwrap().unwrap()),
        expect(15_000, "10.0.0.3", "wandb/0.20")
    );

    // Within one batch, out of order: the newest observation wins.
    store
        .record_key_usage(&[
            usage(&b, 30_000, "10.0.0.30", "new/3"),
            usage(&b, 25_000, "10.0.0.25", "mid/2"),
        ])
        .await
        .unwrap();
    assert_eq!(
        last_used(store.api_key_by_id(b.id).await.unwrap().unwrap()),
        expect(30_000, "10.0.0.30", "new/3")
    );

    // Missing ip/agent are recorded as missing.
    store
        .record_key_usage(&[KeyUsage {
            key_pk: untouched.id,
            at: 5,
            client: Client {
                ip: None,
                user_agent: None,
            },
        }])
        .await
        .unwrap();
    assert_eq!(
        last_used(store.api_key_by_id(untouched.id).await.unwrap().unwrap()),
        (Some(5), None, None)
    );

    // An observation for a key that no longer exists does not sink the batch.
    let gone = KeyUsage {
        key_pk: untouched.id + 1000,
        at: 50_000,
        client: Client {
            ip: None,
            user_agent: None,
        },
    };
    store
        .record_key_usage(&[gone, usage(&a, 40_000, "10.0.0.4", "wandb/0.21")])
        .await
        .unwrap();
    assert_eq!(
        last_used(store.api_key_by_id(a.id).await.unwrap().unwrap()),
        expect(40_000, "10.0.0.4", "wandb/0.21")
    );

    // The request path sees the same values.
    let auth = store.key_auth_by_key_id(&a.key_id).await.unwrap().unwrap();
    assert_eq!(auth.key.last_used_at, Some(40_000));
    assert_eq!(auth.key.last_used_ip.as_deref(), Some("10.0.0.4"));
    // Usage is not an audited change.
    assert_eq!(all_audit(&store).await, audit_before);
}

async fn concurrent_key_inserts_with_a_cap_of_one_let_exactly_one_through(store: DynStore) {
    const USERS: usize = 10;
    const TASKS: usize = 6;
    for round in 0..USERS {
        let user = create(&store, &format!("racer{round}")).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|n| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let (_, key) = new_key(user.id, &format!("racing-{n}"));
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.insert_api_key(key, 1, event("api_key.create")).await
                })
            })
            .collect();
        let mut inserted = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(record) => inserted.push(record),
                Err(StoreError::LimitReached) => {}
                Err(e) => panic!("round {round}: unexpected error from a racing insert: {e:?}"),
            }
        }
        assert_eq!(
            inserted.len(),
            1,
            "round {round}: exactly one insert may pass a cap of 1"
        );
        assert_eq!(store.list_api_keys(user.id).await.unwrap(), inserted);
    }
    let key_audits = all_audit(&store)
        .await
        .iter()
        .filter(|r| r.action == "api_key.create")
        .count();
    assert_eq!(key_audits, USERS, "one audit row per key actually inserted");
}

/// Several instances flush `last used` batches built from a `HashMap`, so the same keys
/// arrive in different orders at the same time. Every flush must succeed (no deadlock
/// between them), and the newest observation must win.
async fn concurrent_usage_flushes_in_different_key_orders_all_succeed(store: DynStore) {
    const KEYS: usize = 24;
    const FLUSHERS: i64 = 4;
    const ROUNDS: i64 = 25;
    let owner = create(&store, "busy-owner").await;
    let mut keys = Vec::new();
    for n in 0..KEYS {
        keys.push(insert_key(&store, owner.id, &format!("k{n}"), 100).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(FLUSHERS as usize));
    let tasks: Vec<_> = (0..FLUSHERS)
        .map(|f| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let pks: Vec<i64> = keys.iter().map(|k| k.id).collect();
            tokio::spawn(async move {
                barrier.wait().await;
                for round in 0..ROUNDS {
                    let mut batch: Vec<KeyUsage> = pks
                        .iter()
                        .map(|&key_pk| KeyUsage {
                            key_pk,
                            at: 1_000 + round * 10 + f,
                            client: Client {
                                ip: Some(format!("10.0.{f}.{round}")),
                                user_agent: Some(format!("flusher-{f}")),
                            },
                        })
                        .collect();
                    // A different order per flusher and per round, as a HashMap would give.
                    if (f + round) % 2 == 1 {
                        batch.reverse();
                    }
                    batch.rotate_left((f as usize * 7 + round as usize) % KEYS);
                    store
                        .record_key_usage(&batch)
                        .await
                        .map_err(|e| format!("flusher {f}, round {round}: {e:#}"))?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "concurrent flushes failed: {failures:#?}"
    );

    let newest = 1_000 + (ROUNDS - 1) * 10 + (FLUSHERS - 1);
    for key in &keys {
        let record = store.api_key_by_id(key.id).await.unwrap().unwrap();
        assert_eq!(record.last_used_at, Some(newest), "key {}", key.name);
        assert_eq!(
            record.last_used_ip,
            Some(format!("10.0.{}.{}", FLUSHERS - 1, ROUNDS - 1))
        );
    }
}
