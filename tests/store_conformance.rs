//! The store conformance suite: every behaviour of the `Store` trait, written once against
//! `DynStore` and run against both backends — SQLite (a fresh temp dir per test) and
//! PostgreSQL (a fresh database per test). The `conformance!` invocation below is the suite:
//! each listed area becomes `sqlite::<area>` and `postgres::<area>`.
//!
//! A few tests are about one backend's plumbing rather than the trait (migrations) or about
//! both at once (schema drift); they live at the end.
//!
//! Run with `cargo test --test store_conformance`; PostgreSQL must run on 127.0.0.1:5432
//! (or set TEST_DATABASE_URL).

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use common::{Backend, TestDb};
use fulcrum::error::{StoreError, StoreResult};
use fulcrum::keys::{self, GeneratedKey, KeyHash, KeyKind};
use fulcrum::services::Services;
use fulcrum::store::postgres::PgStore;
use fulcrum::store::sqlite::SqliteStore;
use fulcrum::store::{
    AccountStore, AccountType, ApiKeyRecord, AuditEvent, AuditRecord, DynStore, EmailMatch,
    KeyOrigin, KeyUsage, NewApiKey, NewSession, NewUser, OneTimeToken, User,
};
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A migrated store opened the way the server opens it (`app::services`), plus the backend
/// that owns its files or database. Fields drop in order: store and services before the
/// database they point at.
struct Fixture {
    store: DynStore,
    _services: Arc<Services>,
    backend: Backend,
}

impl Fixture {
    async fn sqlite() -> Fixture {
        Self::open(Backend::sqlite().await).await
    }

    async fn postgres() -> Fixture {
        Self::open(Backend::postgres().await).await
    }

    async fn open(backend: Backend) -> Fixture {
        let services = common::services(&backend, &[]).await;
        Fixture {
            store: services.store.clone(),
            _services: services,
            backend,
        }
    }

    /// A side door into the same database, for arranging rows the trait cannot create and
    /// for counting rows the trait cannot see.
    fn sql(&self) -> RawSql {
        match &self.backend {
            Backend::Sqlite(_) => RawSql::Sqlite(self.backend.config(&[]).sqlite_path()),
            Backend::Postgres(_, db) => RawSql::Postgres(db.url.clone()),
        }
    }
}

enum RawSql {
    Sqlite(PathBuf),
    Postgres(String),
}

impl RawSql {
    async fn execute(&self, sql: &str) {
        match self {
            RawSql::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .unwrap();
                conn.execute_batch(sql).unwrap();
            }
            RawSql::Postgres(url) => pg_client(url).await.batch_execute(sql).await.unwrap(),
        }
    }

    /// Rows of a query selecting exactly two integer columns.
    async fn pairs(&self, sql: &str) -> Vec<(i64, i64)> {
        match self {
            RawSql::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
                rows.collect::<Result<_, _>>().unwrap()
            }
            RawSql::Postgres(url) => pg_client(url)
                .await
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        }
    }

    async fn count(&self, table: &str) -> i64 {
        self.pairs(&format!("SELECT COUNT(*), COUNT(*) FROM {table}"))
            .await[0]
            .0
    }
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// Generates, for every area, one test per backend from the same async fn: `sqlite::<area>`
/// and `postgres::<area>`. Areas under `store` take the `DynStore`; areas under `with_sql`
/// also get a `RawSql` side door into the same database.
macro_rules! conformance {
    (store: [$($area:ident),* $(,)?], with_sql: [$($sql_area:ident),* $(,)?] $(,)?) => {
        conformance!(@backend sqlite, Fixture::sqlite, [$($area),*], [$($sql_area),*]);
        conformance!(@backend postgres, Fixture::postgres, [$($area),*], [$($sql_area),*]);
    };
    (@backend $backend:ident, $open:path, [$($area:ident),*], [$($sql_area:ident),*]) => {
        mod $backend {
            use super::Fixture;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $area() {
                    let fx = $open().await;
                    assert_eq!(fx.store.backend(), stringify!($backend));
                    super::$area(fx.store.clone()).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $sql_area() {
                    let fx = $open().await;
                    assert_eq!(fx.store.backend(), stringify!($backend));
                    super::$sql_area(fx.store.clone(), fx.sql()).await;
                }
            )*
        }
    };
}

conformance! {
    store: [
        // users
        create_user_returns_the_stored_row,
        usernames_and_emails_are_unique_ignoring_case,
        lookups_by_username_or_email_ignore_case,
        search_matches_substrings_ranks_exact_matches_first_and_respects_limit,
        search_treats_like_wildcards_and_backslash_literally,
        list_users_is_ordered_by_id_and_count_users_counts_them,
        concurrent_creations_of_one_username_yield_exactly_one_user,
        // audit
        create_user_writes_exactly_one_audit_row_with_its_action,
        a_conflicting_create_user_writes_no_audit_row,
        recent_audit_is_newest_first_and_limited,
        // api keys
        api_key_resolves_by_key_id_and_by_hash_with_secret_hash_and_owner,
        list_api_keys_lists_active_keys_oldest_first_per_user,
        api_key_cap_returns_limit_reached_and_writes_nothing,
        duplicate_key_id_or_secret_hash_is_a_conflict,
        revoke_api_key_is_true_once_and_hides_the_key_from_the_list_only,
        record_key_usage_sets_last_used_and_never_moves_it_backwards,
        concurrent_key_inserts_with_a_cap_of_one_let_exactly_one_through,
        concurrent_usage_flushes_in_different_key_orders_all_succeed,
        // sessions
        session_round_trip_touch_and_delete,
        delete_user_sessions_returns_the_count_and_spares_other_users,
        set_password_replaces_the_hash_and_ends_every_session_of_that_user,
        // settings and the first admin
        put_setting_is_an_upsert,
        first_admin_needs_the_right_unexpired_token_and_consumes_it,
        first_admin_is_refused_once_any_user_exists,
        concurrent_first_admin_calls_with_one_token_create_one_admin,
    ],
    with_sql: [
        username_taken_by_another_entity_is_a_conflict_and_rolls_back_the_user,
        conflicting_create_user_leaves_no_user_entity_or_audit_row,
    ],
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn new_user(username: &str, email: &str) -> NewUser {
    NewUser {
        username: username.into(),
        email: email.into(),
        name: format!("{username} (display)"),
        is_admin: false,
        account_type: AccountType::User,
        password_hash: Some(format!("$argon2id$hash-of-{username}")),
    }
}

fn event(action: &'static str) -> AuditEvent {
    AuditEvent {
        action,
        ..Default::default()
    }
}

async fn create(store: &DynStore, username: &str) -> User {
    store
        .create_user(
            new_user(username, &format!("{username}@example.com")),
            event("user.create"),
        )
        .await
        .unwrap_or_else(|e| panic!("create_user({username}) failed: {e:?}"))
}

async fn all_audit(store: &DynStore) -> Vec<AuditRecord> {
    store.recent_audit(10_000).await.unwrap()
}

fn new_key(user_id: i64, name: &str) -> (GeneratedKey, NewApiKey) {
    let generated = keys::generate(KeyKind::Personal);
    let key = NewApiKey {
        key_id: generated.key_id.clone(),
        secret_hash: generated.hash,
        user_id,
        name: name.into(),
        origin: KeyOrigin::Generated,
        created_by: Some(user_id),
        expires_at: None,
    };
    (generated, key)
}

async fn insert_key(store: &DynStore, user_id: i64, name: &str, max_active: i64) -> ApiKeyRecord {
    let (_, key) = new_key(user_id, name);
    store
        .insert_api_key(key, max_active, event("api_key.create"))
        .await
        .unwrap_or_else(|e| panic!("insert_api_key({name}) failed: {e:?}"))
}

fn random_hash() -> KeyHash {
    keys::hash_key(&keys::random_token())
}

fn assert_conflict<T: Debug>(result: StoreResult<T>, field: &str, what: &str) {
    match result {
        Err(StoreError::Conflict(f)) => assert_eq!(f, field, "{what}: conflict on the wrong field"),
        other => panic!("{what}: expected Conflict({field:?}), got {other:?}"),
    }
}

fn usernames(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

/// Asserts `t` is a store-assigned timestamp taken between `before` and now.
fn assert_recent(t: i64, before: i64, what: &str) {
    let after = fulcrum::now_ms();
    assert!(
        (before..=after).contains(&t),
        "{what}: {t} is not between {before} and {after}"
    );
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

async fn create_user_returns_the_stored_row(store: DynStore) {
    let before = fulcrum::now_ms();
    let alice = store
        .create_user(
            NewUser {
                username: "Alice".into(),
                email: "Alice@Example.com".into(),
                name: "Alice Liddell".into(),
                is_admin: true,
                account_type: AccountType::User,
                password_hash: Some("$argon2id$v=19$abc".into()),
            },
            event("user.create"),
        )
        .await
        .unwrap();
    assert!(alice.id > 0);
    // The spelling given is kept; only lookups ignore case.
    assert_eq!(alice.username, "Alice");
    assert_eq!(alice.email, "Alice@Example.com");
    assert_eq!(alice.name, "Alice Liddell");
    assert!(alice.is_admin);
    assert_eq!(alice.account_type, AccountType::User);
    assert_eq!(alice.password_hash.as_deref(), Some("$argon2id$v=19$abc"));
    assert_eq!(alice.flags, "{}");
    assert_eq!(alice.deleted_at, None);
    assert_recent(alice.created_at, before, "users.created_at");

    let bot = store
        .create_user(
            NewUser {
                username: "ci-bot".into(),
                email: "ci-bot@example.com".into(),
                name: String::new(),
                is_admin: false,
                account_type: AccountType::Service,
                password_hash: None,
            },
            event("user.create"),
        )
        .await
        .unwrap();
    assert!(bot.id > alice.id);
    assert_eq!(bot.account_type, AccountType::Service);
    assert_eq!(bot.password_hash, None);
    assert!(!bot.is_admin);

    // What create_user returned is exactly what the store reads back.
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id(bot.id).await.unwrap(), Some(bot));
    assert_eq!(store.user_by_id(alice.id + 1000).await.unwrap(), None);
}

async fn usernames_and_emails_are_unique_ignoring_case(store: DynStore) {
    let alice = create(&store, "alice").await;

    // Same username in another case: a conflict on the username (the users index and the
    // personal entity both refuse it).
    assert_conflict(
        store
            .create_user(new_user("Alice", "other@example.com"), event("user.create"))
            .await,
        "username",
        "creating Alice after alice",
    );
    assert_conflict(
        store
            .create_user(new_user("ALICE", "third@example.com"), event("user.create"))
            .await,
        "username",
        "creating ALICE after alice",
    );
    // Same email in another case: a conflict on the email.
    assert_conflict(
        store
            .create_user(
                new_user("alice2", "ALICE@example.COM"),
                event("user.create"),
            )
            .await,
        "email",
        "reusing alice's email in upper case",
    );

    // Nothing of the refused attempts was kept.
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(store.list_users().await.unwrap(), vec![alice]);

    // The refused names stay free for what did not clash.
    let other = store
        .create_user(
            new_user("alice2", "other@example.com"),
            event("user.create"),
        )
        .await
        .unwrap();
    assert_eq!(other.username, "alice2");
    assert_eq!(store.count_users().await.unwrap(), 2);
}

async fn lookups_by_username_or_email_ignore_case(store: DynStore) {
    let carol = store
        .create_user(
            new_user("Carol", "Carol.K@Example.org"),
            event("user.create"),
        )
        .await
        .unwrap();
    let dave = create(&store, "dave").await;

    for spelling in ["Carol", "carol", "CAROL", "cArOl"] {
        assert_eq!(
            store.user_by_username(spelling).await.unwrap().as_ref(),
            Some(&carol),
            "user_by_username({spelling})"
        );
    }
    // user_by_username does not match emails.
    assert_eq!(
        store.user_by_username("carol.k@example.org").await.unwrap(),
        None
    );
    assert_eq!(store.user_by_username("caro").await.unwrap(), None);

    for login in [
        "carol",
        "CAROL",
        "carol.k@example.org",
        "CAROL.K@EXAMPLE.ORG",
        "Carol.K@Example.org",
    ] {
        assert_eq!(
            store
                .user_by_username_or_email(login)
                .await
                .unwrap()
                .as_ref(),
            Some(&carol),
            "user_by_username_or_email({login})"
        );
    }
    assert_eq!(
        store
            .user_by_username_or_email("DAVE@example.com")
            .await
            .unwrap(),
        Some(dave.clone())
    );
    assert_eq!(
        store.user_by_username_or_email("Dave").await.unwrap(),
        Some(dave)
    );
    assert_eq!(
        store.user_by_username_or_email("nobody").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .user_by_username_or_email("carol@example.org")
            .await
            .unwrap(),
        None
    );
}

async fn search_matches_substrings_ranks_exact_matches_first_and_respects_limit(store: DynStore) {
    for (username, email) in [
        ("azed", "azed@example.com"),
        ("bzed", "b@zed.example"),
        ("Zed", "zed@example.com"),
        ("carl", "carl@example.com"),
        ("dana", "zed"),
    ] {
        store
            .create_user(new_user(username, email), event("user.create"))
            .await
            .unwrap();
    }

    // Substring of username or email, case-insensitive; exact (username or email) matches
    // first, then by username.
    let found = store
        .search_users("zed", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["dana", "Zed", "azed", "bzed"]);
    let found = store
        .search_users("ZED", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["dana", "Zed", "azed", "bzed"]);

    // The limit cuts after ranking.
    let found = store
        .search_users("zed", EmailMatch::Substring, 2)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["dana", "Zed"]);
    let found = store
        .search_users("zed", EmailMatch::Substring, 1)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["dana"]);

    // Matching on the email only.
    let found = store
        .search_users("@zed.ex", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["bzed"]);
    // An exact username outranks names that merely contain it.
    let found = store
        .search_users("CARL", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["carl"]);
    let found = store
        .search_users("example", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["azed", "bzed", "carl", "Zed"]);

    // Full rows come back, not just names.
    let zed = store.user_by_username("zed").await.unwrap().unwrap();
    let azed = store.user_by_username("azed").await.unwrap().unwrap();
    assert_eq!(
        store
            .search_users("zed@example.com", EmailMatch::Substring, 10)
            .await
            .unwrap(),
        vec![zed, azed]
    );

    assert!(store
        .search_users("nothing-like-this", EmailMatch::Substring, 10)
        .await
        .unwrap()
        .is_empty());

    // For people who may not read addresses: usernames by substring, emails only whole, so
    // nobody can rebuild an address letter by letter.
    let exact = |q: &'static str| {
        let store = store.clone();
        async move {
            let found = store.search_users(q, EmailMatch::Exact, 10).await.unwrap();
            found.into_iter().map(|u| u.username).collect::<Vec<_>>()
        }
    };
    assert!(exact("@zed.ex").await.is_empty());
    assert!(exact("example").await.is_empty());
    // dana's address is exactly "zed"; Zed's name is; the others contain it.
    assert_eq!(exact("zed").await, ["dana", "Zed", "azed", "bzed"]);
    assert_eq!(exact("ZED@example.com").await, ["Zed"]);
}

async fn search_treats_like_wildcards_and_backslash_literally(store: DynStore) {
    for (username, email) in [
        ("under_score", "u1@example.com"),
        ("underXscore", "u2@example.com"),
        ("hundred", "100%real@example.com"),
        ("hundredx", "100xreal@example.com"),
        ("back", "back\\slash@example.com"),
        ("backx", "backxslash@example.com"),
    ] {
        store
            .create_user(new_user(username, email), event("user.create"))
            .await
            .unwrap();
    }

    // `_` is a literal underscore, not "any one character".
    let found = store
        .search_users("r_s", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["under_score"]);
    let found = store
        .search_users("_", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["under_score"]);
    // `%` is a literal percent sign, not "anything".
    let found = store
        .search_users("0%r", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["hundred"]);
    let found = store
        .search_users("%", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["hundred"]);
    // A backslash is a literal backslash, not an escape.
    let found = store
        .search_users("k\\s", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["back"]);
    let found = store
        .search_users("\\", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["back"]);
    let found = store
        .search_users("\\_", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");
}

async fn list_users_is_ordered_by_id_and_count_users_counts_them(store: DynStore) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(store.list_users().await.unwrap().is_empty());

    // Names in reverse alphabetical order, so an order by name would show.
    let mut created = Vec::new();
    for (n, name) in ["zoe", "yann", "xia", "walt"].iter().enumerate() {
        created.push(create(&store, name).await);
        assert_eq!(store.count_users().await.unwrap(), n as i64 + 1);
    }
    let listed = store.list_users().await.unwrap();
    assert_eq!(listed, created);
    assert!(listed.windows(2).all(|w| w[0].id < w[1].id), "{listed:?}");
}

async fn concurrent_creations_of_one_username_yield_exactly_one_user(store: DynStore) {
    const TASKS: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let (store, barrier) = (store.clone(), barrier.clone());
            // Every task spells the name differently and uses its own email.
            let username = if n % 2 == 0 { "Racer" } else { "racer" };
            let email = format!("racer{n}@example.com");
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .create_user(new_user(username, &email), event("user.create"))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict("username")) => {}
            Err(e) => panic!("unexpected error from a racing create_user: {e:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(
        all_audit(&store).await.len(),
        1,
        "one audit row for the one user"
    );
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
                ip: Some("192.0.2.7".into()),
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
    assert_eq!(row.ip.as_deref(), Some("192.0.2.7"));
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
                    ip: None,
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
    assert_eq!(rows[2].ip, None);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&rows[2].detail).unwrap(),
        json!({ "n": 100 })
    );

    let two = store.recent_audit(2).await.unwrap();
    assert_eq!(two, rows[..2].to_vec());
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
            k1.id,
            fulcrum::now_ms(),
            Some(capped.id),
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
            doomed.id,
            revoked_at,
            Some(admin.id),
            event("api_key.revoke")
        )
        .await
        .unwrap());
    // A second revocation changes nothing and says so.
    assert!(!store
        .revoke_api_key(
            doomed.id,
            revoked_at + 5_000,
            Some(owner.id),
            event("api_key.revoke")
        )
        .await
        .unwrap());
    // Unknown ids are not revoked either.
    assert!(!store
        .revoke_api_key(kept.id + 1000, revoked_at, None, event("api_key.revoke"))
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
        ip: Some(ip.into()),
        user_agent: Some(ua.into()),
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
            ip: None,
            user_agent: None,
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
        ip: None,
        user_agent: None,
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
                            ip: Some(format!("10.0.{f}.{round}")),
                            user_agent: Some(format!("flusher-{f}")),
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
        ip: Some("198.51.100.4".into()),
        user_agent: Some("Firefox".into()),
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

    store
        .set_password(
            user.id,
            "$argon2id$new-hash".into(),
            AuditEvent {
                actor_user_id: Some(user.id),
                target: Some("changer".into()),
                ..event("user.set_password")
            },
        )
        .await
        .unwrap();

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
            .create_first_admin(wrong, now, first_admin(), event("user.create_first_admin"))
            .await
            .unwrap(),
        None
    );
    // The right token at or after its expiry: refused.
    for late in [expires_at, expires_at + 1, expires_at + 86_400_000] {
        assert_eq!(
            store
                .create_first_admin(right, late, first_admin(), event("user.create_first_admin"))
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
            right,
            fulcrum::now_ms(),
            first_admin(),
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
                right,
                now,
                NewUser {
                    is_admin: true,
                    ..new_user("second", "second@example.com")
                },
                event("user.create_first_admin"),
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
            .create_first_admin(hash, now, first_admin(), event("user.create_first_admin"))
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
                    .create_first_admin(hash, now, user, event("user.create_first_admin"))
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

// ---------------------------------------------------------------------------------------
// Areas that need the SQL side door
// ---------------------------------------------------------------------------------------

/// The personal entity shares a namespace with teams: a username whose lower-case form is
/// an existing entity name is a conflict even though no user has it, and the user row that
/// was already inserted in that transaction is rolled back with the audit row.
async fn username_taken_by_another_entity_is_a_conflict_and_rolls_back_the_user(
    store: DynStore,
    sql: RawSql,
) {
    let member = create(&store, "member").await;
    sql.execute("INSERT INTO entities (name, name_lower, kind, user_id, created_at) VALUES ('Acme', 'acme', 'team', NULL, 0)")
        .await;
    let audit_before = all_audit(&store).await;

    assert_conflict(
        store
            .create_user(
                new_user("ACME", "founder@acme.example"),
                event("user.create"),
            )
            .await,
        "username",
        "username equal (ignoring case) to a team name",
    );
    assert_eq!(store.list_users().await.unwrap(), vec![member]);
    assert_eq!(store.user_by_username("acme").await.unwrap(), None);
    assert_eq!(
        store
            .user_by_username_or_email("founder@acme.example")
            .await
            .unwrap(),
        None
    );
    assert_eq!(all_audit(&store).await, audit_before);
    assert_eq!(sql.count("users").await, 1);
    assert_eq!(sql.count("entities").await, 2);

    // The email was not left reserved by the rolled-back row.
    let founder = store
        .create_user(
            new_user("acme-founder", "founder@acme.example"),
            event("user.create"),
        )
        .await
        .unwrap();
    assert_eq!(founder.email, "founder@acme.example");
}

async fn conflicting_create_user_leaves_no_user_entity_or_audit_row(store: DynStore, sql: RawSql) {
    let hana = create(&store, "hana").await;
    let counts = (
        sql.count("users").await,
        sql.count("entities").await,
        sql.count("audit_log").await,
    );
    assert_eq!(
        counts,
        (1, 1, 1),
        "one user, its personal entity and its audit row"
    );
    let entity = sql
        .pairs(
            "SELECT user_id, CAST(LENGTH(name_lower) AS BIGINT) FROM entities WHERE kind = 'user'",
        )
        .await;
    assert_eq!(
        entity,
        vec![(hana.id, 4)],
        "the personal entity belongs to the user"
    );

    assert_conflict(
        store
            .create_user(new_user("Hana", "hana2@example.com"), event("user.create"))
            .await,
        "username",
        "Hana after hana",
    );
    assert_conflict(
        store
            .create_user(new_user("hana2", "HANA@example.com"), event("user.create"))
            .await,
        "email",
        "hana's email in upper case",
    );
    let after = (
        sql.count("users").await,
        sql.count("entities").await,
        sql.count("audit_log").await,
    );
    assert_eq!(
        after, counts,
        "refused creations leave no user, entity or audit row"
    );
}

// ---------------------------------------------------------------------------------------
// Schema drift and migrations
// ---------------------------------------------------------------------------------------

type Columns = BTreeMap<(String, String), (String, bool)>;

fn columns(rows: Vec<(String, String, String, bool)>) -> Columns {
    let mut map = Columns::new();
    for (table, column, family, nullable) in rows {
        let key = (table, column);
        assert!(!map.contains_key(&key), "column {key:?} listed twice");
        map.insert(key, (family, nullable));
    }
    map
}

fn describe(column: Option<&(String, bool)>) -> String {
    match column {
        None => "(missing)".into(),
        Some((family, true)) => format!("{family} NULL"),
        Some((family, false)) => format!("{family} NOT NULL"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_have_the_same_tables_columns_types_and_nullability() {
    let sqlite = Fixture::sqlite().await;
    let postgres = Fixture::postgres().await;
    let lite = columns(sqlite.store.schema_columns().await.unwrap());
    let pg = columns(postgres.store.schema_columns().await.unwrap());
    assert!(lite.len() > 10, "the SQLite schema looks empty: {lite:?}");
    assert!(pg.len() > 10, "the PostgreSQL schema looks empty: {pg:?}");

    let keys: std::collections::BTreeSet<_> = lite.keys().chain(pg.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| lite.get(*k) != pg.get(*k))
        .map(|k| {
            format!(
                "  {:<36} sqlite: {:<20} postgres: {}",
                format!("{}.{}", k.0, k.1),
                describe(lite.get(k)),
                describe(pg.get(k))
            )
        })
        .collect();
    assert!(
        diff.is_empty(),
        "the SQLite and PostgreSQL schemas drifted apart ({} column(s)):\n{}",
        diff.len(),
        diff.join("\n")
    );

    let tables: std::collections::BTreeSet<_> = lite.keys().map(|(t, _)| t.as_str()).collect();
    for table in [
        "api_keys",
        "audit_log",
        "entities",
        "schema_migrations",
        "sessions",
        "settings",
        "users",
    ] {
        assert!(
            tables.contains(table),
            "table {table} is missing: {tables:?}"
        );
    }
}

/// `(version, rows)` for every applied migration.
const MIGRATION_ROWS: &str =
    "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version";

fn assert_one_row_per_migration(rows: &[(i64, i64)]) {
    assert!(!rows.is_empty(), "no migration recorded");
    for (n, (version, count)) in rows.iter().enumerate() {
        assert_eq!(
            *version,
            n as i64 + 1,
            "versions are 1, 2, … without gaps: {rows:?}"
        );
        assert_eq!(*count, 1, "migration {version} recorded {count} times");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_are_idempotent_across_migrate_calls_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("fulcrum.db");
    let sql = RawSql::Sqlite(path.clone());

    let store = SqliteStore::open(&path, 2).unwrap();
    store.migrate().await.unwrap();
    let schema = store.schema_columns().await.unwrap();
    store.migrate().await.unwrap();
    let store: DynStore = Arc::new(store);
    let user = create(&store, "survivor").await;
    assert_eq!(store.schema_columns().await.unwrap(), schema);
    let first_rows = sql.pairs(MIGRATION_ROWS).await;
    assert_one_row_per_migration(&first_rows);
    drop(store);

    // The same file opened again (a restart): migrating is a no-op and keeps the data.
    let reopened = SqliteStore::open(&path, 1).unwrap();
    reopened.migrate().await.unwrap();
    reopened.migrate().await.unwrap();
    assert_eq!(reopened.schema_columns().await.unwrap(), schema);
    assert_eq!(reopened.user_by_id(user.id).await.unwrap(), Some(user));
    assert_eq!(sql.pairs(MIGRATION_ROWS).await, first_rows);
    // Nothing re-applied: the recorded application times did not change either.
    let applied = sql
        .pairs("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        .await;
    reopened.migrate().await.unwrap();
    assert_eq!(
        sql.pairs("SELECT version, applied_at FROM schema_migrations ORDER BY version")
            .await,
        applied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_migrations_are_idempotent_and_safe_for_instances_starting_together() {
    let db = TestDb::create().await;
    let sql = RawSql::Postgres(db.url.clone());
    let a = PgStore::connect(&db.url, 4).await.unwrap();
    let b = PgStore::connect(&db.url, 4).await.unwrap();
    assert!(
        a.check_migrated().await.is_err(),
        "an empty database is not migrated"
    );

    // Two instances starting together: the advisory lock lets one apply, the other wait.
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    let rows = sql.pairs(MIGRATION_ROWS).await;
    assert_one_row_per_migration(&rows);
    a.check_migrated().await.unwrap();

    let schema = a.schema_columns().await.unwrap();
    let store: DynStore = Arc::new(a);
    let user = create(&store, "survivor").await;
    let applied = sql
        .pairs("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        .await;

    // Running migrate again, from either instance, is a no-op.
    b.migrate().await.unwrap();
    b.migrate().await.unwrap();
    let c = PgStore::connect(&db.url, 4).await.unwrap();
    c.migrate().await.unwrap();
    c.check_migrated().await.unwrap();
    assert_eq!(sql.pairs(MIGRATION_ROWS).await, rows);
    assert_eq!(
        sql.pairs("SELECT version, applied_at FROM schema_migrations ORDER BY version")
            .await,
        applied
    );
    assert_eq!(c.schema_columns().await.unwrap(), schema);
    assert_eq!(c.user_by_id(user.id).await.unwrap(), Some(user));
}

/// A PostgreSQL database whose default collation is a natural-language one (ICU `en-US`),
/// like most production servers initialised with `en_US.UTF-8`; dropped afterwards.
struct NaturalCollationDb {
    url: String,
    name: String,
}

impl NaturalCollationDb {
    async fn create() -> NaturalCollationDb {
        let admin = common::pg_admin_url();
        let name = format!(
            "fulcrum_test_icu_{}",
            keys::random_token()[..12].to_lowercase()
        );
        pg_client(&admin)
            .await
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            ))
            .await
            .expect("this PostgreSQL (15+, with ICU) can create an en-US database");
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        NaturalCollationDb {
            url: url.to_string(),
            name,
        }
    }
}

impl Drop for NaturalCollationDb {
    fn drop(&mut self) {
        let (admin, name) = (common::pg_admin_url(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Search results are ordered the same on both backends even when the PostgreSQL database
/// collates text by language rules (which ignore `-` and `_`) rather than by bytes as SQLite
/// does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_order_is_the_same_on_sqlite_and_on_postgres_with_a_natural_language_collation() {
    let db = NaturalCollationDb::create().await;
    let pg = PgStore::connect(&db.url, 4).await.unwrap();
    pg.migrate().await.unwrap();
    let pg: DynStore = Arc::new(pg);
    let sqlite = Fixture::sqlite().await;

    let names = ["ab", "a_d", "aa", "a-c", "Ae", "a1", "zz"];
    for store in [&sqlite.store, &pg] {
        for (n, name) in names.iter().enumerate() {
            // Emails without an "a", so only usernames match the search.
            store
                .create_user(new_user(name, &format!("u{n}@x.io")), event("user.create"))
                .await
                .unwrap();
        }
    }
    let lite = store_search(&sqlite.store, "a").await;
    let postgres = store_search(&pg, "a").await;
    // Byte order of the lower-case usernames ('-' < '1' < '_' < 'a').
    assert_eq!(lite, ["a-c", "a1", "a_d", "aa", "ab", "Ae"]);
    assert_eq!(
        postgres, lite,
        "PostgreSQL orders search results differently from SQLite"
    );
}

async fn store_search(store: &DynStore, query: &str) -> Vec<String> {
    let users = store
        .search_users(query, EmailMatch::Substring, 50)
        .await
        .unwrap();
    users.into_iter().map(|u| u.username).collect()
}
