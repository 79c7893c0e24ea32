//! The store conformance harness, shared by the `tests/store_*.rs` files: a migrated store
//! opened the way the server opens it, a raw-SQL side door, helpers, and `conformance!`,
//! which turns each listed area into `sqlite::<area>` and `postgres::<area>`.

// Every store test file takes what it needs from here; no file needs all of it.
#![allow(unused_imports)]

pub use std::collections::BTreeMap;
pub use std::fmt::Debug;
pub use std::path::PathBuf;
pub use std::sync::Arc;

pub use fulcrum::error::{StoreError, StoreResult};
pub use fulcrum::keys::{self, GeneratedKey, KeyHash, KeyKind};
pub use fulcrum::services::Services;
pub use fulcrum::store::jobs::{AttemptEnd, DynJobStore, Job, JobStatus, Lease};
pub use fulcrum::store::outbox::NewJob;
pub use fulcrum::store::postgres::PgStore;
pub use fulcrum::store::sqlite::SqliteStore;
pub use fulcrum::store::{
    AccountStore, AccountType, ApiKeyRecord, AuditEvent, AuditRecord, Client, DynStore,
    EmailChange, EmailMatch, FirstAdmin, InviteResolution, KeyOrigin, KeyRevocation, KeyUsage,
    NewApiKey, NewEmailToken, NewSession, NewUser, OneTimeToken, PasswordChange, Seat, User,
};
pub use serde_json::json;

pub use super::{Backend, TestDb};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A migrated store opened the way the server opens it (`app::services`), plus the backend
/// that owns its files or database. Fields drop in order: store and services before the
/// database they point at.
pub struct Fixture {
    pub store: DynStore,
    pub jobs: DynJobStore,
    pub _services: Arc<Services>,
    pub backend: Backend,
}

impl Fixture {
    pub async fn sqlite() -> Fixture {
        Self::open(Backend::sqlite().await).await
    }

    pub async fn postgres() -> Fixture {
        Self::open(Backend::postgres().await).await
    }

    pub async fn open(backend: Backend) -> Fixture {
        let services = super::services(&backend, &[]).await;
        Fixture {
            store: services.store.clone(),
            jobs: services.jobs.clone(),
            _services: services,
            backend,
        }
    }

    /// A side door into the same database, for arranging rows the trait cannot create and
    /// for counting rows the trait cannot see.
    pub fn sql(&self) -> RawSql {
        match &self.backend {
            Backend::Sqlite(_) => RawSql::Sqlite(self.backend.config(&[]).sqlite_path()),
            Backend::Postgres(_, db) => RawSql::Postgres(db.url.clone()),
        }
    }
}

pub enum RawSql {
    Sqlite(PathBuf),
    Postgres(String),
}

impl RawSql {
    pub async fn execute(&self, sql: &str) {
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
    pub async fn pairs(&self, sql: &str) -> Vec<(i64, i64)> {
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

    pub async fn count(&self, table: &str) -> i64 {
        self.pairs(&format!("SELECT COUNT(*), COUNT(*) FROM {table}"))
            .await[0]
            .0
    }
}

pub async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// Generates, for every area, one test per backend from the same async fn: `sqlite::<area>`
/// and `postgres::<area>`. Areas under `store` take the `DynStore`; areas under `with_sql`
/// also get a `RawSql` side door into the same database; areas under `jobs` take the
/// `DynJobStore` and the side door.
#[macro_export]
macro_rules! conformance {
    (store: [$($area:ident),* $(,)?], with_sql: [$($sql_area:ident),* $(,)?] $(,)?) => {
        conformance!(store: [$($area),*], with_sql: [$($sql_area),*], jobs: []);
    };
    (store: [$($area:ident),* $(,)?], with_sql: [$($sql_area:ident),* $(,)?], jobs: [$($job_area:ident),* $(,)?] $(,)?) => {
        conformance!(@backend sqlite, Fixture::sqlite, [$($area),*], [$($sql_area),*], [$($job_area),*]);
        conformance!(@backend postgres, Fixture::postgres, [$($area),*], [$($sql_area),*], [$($job_area),*]);
    };
    (@backend $backend:ident, $open:path, [$($area:ident),*], [$($sql_area:ident),*], [$($job_area:ident),*]) => {
        mod $backend {
            use super::Fixture;
            #[allow(unused_imports)]
            use fulcrum::store::AccountStore;
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
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $job_area() {
                    let fx = $open().await;
                    assert_eq!(fx.store.backend(), stringify!($backend));
                    super::$job_area(fx.jobs.clone(), fx.sql()).await;
                }
            )*
        }
    };
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

pub fn new_user(username: &str, email: &str) -> NewUser {
    NewUser {
        username: username.into(),
        email: email.into(),
        name: format!("{username} (display)"),
        is_admin: false,
        account_type: AccountType::User,
        password_hash: Some(format!("$argon2id$hash-of-{username}")),
    }
}

pub fn event(action: &'static str) -> AuditEvent {
    AuditEvent {
        action,
        ..Default::default()
    }
}

pub async fn create(store: &DynStore, username: &str) -> User {
    store
        .create_user(
            new_user(username, &format!("{username}@example.com")),
            event("user.create"),
        )
        .await
        .unwrap_or_else(|e| panic!("create_user({username}) failed: {e:?}"))
}

pub async fn all_audit(store: &DynStore) -> Vec<AuditRecord> {
    store.recent_audit(10_000).await.unwrap()
}

pub fn new_key(user_id: i64, name: &str) -> (GeneratedKey, NewApiKey) {
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

pub async fn insert_key(
    store: &DynStore,
    user_id: i64,
    name: &str,
    max_active: i64,
) -> ApiKeyRecord {
    let (_, key) = new_key(user_id, name);
    store
        .insert_api_key(key, max_active, event("api_key.create"))
        .await
        .unwrap_or_else(|e| panic!("insert_api_key({name}) failed: {e:?}"))
}

pub fn random_hash() -> KeyHash {
    keys::hash_key(&keys::random_token())
}

pub fn assert_conflict<T: Debug>(result: StoreResult<T>, field: &str, what: &str) {
    match result {
        Err(StoreError::Conflict(f)) => assert_eq!(f, field, "{what}: conflict on the wrong field"),
        other => panic!("{what}: expected Conflict({field:?}), got {other:?}"),
    }
}

pub fn usernames(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

/// Asserts `t` is a store-assigned timestamp taken between `before` and now.
pub fn assert_recent(t: i64, before: i64, what: &str) {
    let after = fulcrum::now_ms();
    assert!(
        (before..=after).contains(&t),
        "{what}: {t} is not between {before} and {after}"
    );
}
