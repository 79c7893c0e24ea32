//! Store conformance: a write whose caller goes away half way (a cancelled request drops
//! its future) is all or nothing, and the store keeps serving afterwards. On PostgreSQL the
//! connection of an unfinished transaction is closed, never handed to the next caller
//! mid-transaction; on SQLite the writer finishes the work on its own thread.
//! Run against SQLite and a fresh PostgreSQL database (`tests/common/store.rs`).

#[macro_use]
mod common;

use std::time::Duration;

use common::store::*;

conformance! {
    store: [],
    with_sql: [cancelled_writes_are_all_or_nothing_and_the_store_keeps_serving],
}

async fn cancelled_writes_are_all_or_nothing_and_the_store_keeps_serving(
    store: DynStore,
    sql: RawSql,
) {
    let ada = create(&store, "ada").await;
    let mut finished = 0;
    // Deadlines from 0 to ~43 ms cut the transaction at every step: before BEGIN, between
    // its statements, before COMMIT, or not at all.
    for i in 0..120u64 {
        let (_, key) = new_key(ada.id, &format!("k{i}"));
        let write = store.insert_api_key(key, 1_000, event("api_key.create"));
        if tokio::time::timeout(Duration::from_micros(i * i * 3), write)
            .await
            .is_ok()
        {
            finished += 1;
        }
    }
    // Let SQLite's writer finish what it was given.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let keys = sql.count("api_keys").await;
    let audits = sql
        .pairs("SELECT COUNT(*), COUNT(*) FROM audit_log WHERE action = 'api_key.create'")
        .await[0]
        .0;
    assert_eq!(
        keys, audits,
        "every key has its audit row and no audit row lacks its key"
    );
    assert!(
        keys >= finished,
        "{keys} keys, but {finished} writes reported success"
    );
    assert!(finished > 0, "the longest deadlines let writes finish");

    // Every pooled connection is usable and outside any transaction: as many reads and
    // writes as the pool holds, at once, all succeed and see committed data only.
    let uid = ada.id;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let (_, key) = new_key(uid, &format!("after{i}"));
            store
                .insert_api_key(key, 1_000, event("api_key.create"))
                .await
                .unwrap();
            store.list_api_keys(uid).await.unwrap().len()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap() as i64 > keys);
    }
    assert_eq!(
        store.list_api_keys(ada.id).await.unwrap().len() as i64,
        keys + 16
    );
}
