//! Embedded, numbered migrations: the same versions for each backend, from
//! `migrations/sqlite/` and `migrations/postgres/`.

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($version:literal $file:literal $name:literal),+ $(,)?) => {
        pub const SQLITE: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/sqlite/", $file, ".sql")),
        }),+];
        pub const POSTGRES: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/postgres/", $file, ".sql")),
        }),+];
    };
}

migrations! {
    1 "0001_accounts" "accounts",
    2 "0002_profile" "profile",
    3 "0003_teams" "teams",
    4 "0004_jobs" "jobs",
    5 "0005_privacy" "privacy",
    6 "0006_runs" "runs",
    7 "0007_alerts" "alerts",
    8 "0008_alert_channels" "alert channels",
    9 "0009_account_security" "account security",
    10 "0010_beta_features" "beta features",
    11 "0011_github" "github",
    12 "0012_storage" "storage",
    13 "0013_exports" "exports",
    14 "0014_active_keys" "active keys",
    15 "0015_rate_limits" "rate limits",
    16 "0016_job_retention" "job retention",
}

pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)";
