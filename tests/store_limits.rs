//! Store conformance: attempt counters shared by every instance (fixed windows, resets,
//! pruning, and no attempt lost when many count the same key at once). Run against SQLite
//! and a fresh PostgreSQL database (`tests/common/store.rs`).

#[macro_use]
mod common;

use common::store::*;
use fulcrum::store::Window;

conformance! {
    store: [
        attempts_count_in_a_fixed_window_that_starts_again_when_it_ends,
        reset_and_prune_forget_what_they_should_only,
        concurrent_attempts_at_one_key_are_all_counted,
    ],
    with_sql: [],
}

async fn attempts_count_in_a_fixed_window_that_starts_again_when_it_ends(store: DynStore) {
    let t0 = 1_000_000;
    let hit = |at: i64| {
        let store = store.clone();
        async move { store.limit_hit("k", 60_000, at).await.unwrap() }
    };
    assert_eq!(
        hit(t0).await,
        Window {
            count: 1,
            ends_at: t0 + 60_000
        }
    );
    assert_eq!(
        hit(t0 + 10).await,
        Window {
            count: 2,
            ends_at: t0 + 60_000
        }
    );
    assert_eq!(hit(t0 + 59_999).await.count, 3, "the window does not slide");
    assert_eq!(
        store.limit_window("k", t0 + 30_000).await.unwrap(),
        Some(Window {
            count: 3,
            ends_at: t0 + 60_000
        })
    );
    assert_eq!(
        store.limit_window("k", t0 + 60_000).await.unwrap(),
        None,
        "ended"
    );
    assert_eq!(store.limit_window("other", t0).await.unwrap(), None);
    assert_eq!(
        hit(t0 + 60_000).await,
        Window {
            count: 1,
            ends_at: t0 + 120_000
        },
        "a new window after the last ended"
    );
}

async fn reset_and_prune_forget_what_they_should_only(store: DynStore) {
    let t0 = 5_000_000;
    store.limit_hit("short", 1_000, t0).await.unwrap();
    store.limit_hit("long", 100_000, t0).await.unwrap();
    store.limit_hit("gone", 100_000, t0).await.unwrap();
    store.limit_reset("gone").await.unwrap();
    store.limit_reset("never-there").await.unwrap();
    assert_eq!(store.limit_window("gone", t0).await.unwrap(), None);
    assert_eq!(
        store.limit_prune(t0 + 1_000).await.unwrap(),
        1,
        "only the ended window"
    );
    assert_eq!(
        store
            .limit_window("long", t0 + 1_000)
            .await
            .unwrap()
            .map(|w| w.count),
        Some(1)
    );
    assert_eq!(
        store
            .limit_hit("short", 1_000, t0 + 1_000)
            .await
            .unwrap()
            .count,
        1
    );
}

async fn concurrent_attempts_at_one_key_are_all_counted(store: DynStore) {
    let now = 9_000_000;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.limit_hit("race", 60_000, now).await.unwrap() })
        })
        .collect();
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap().count);
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=40).collect::<Vec<i64>>(),
        "each attempt saw its own count"
    );
}
