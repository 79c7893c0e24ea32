//! Schema drift between the backends, migrations, and the search order under a natural collation.

#[macro_use]
mod common;

use common::store::*;

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
    let db = TestDb::empty().await;
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
