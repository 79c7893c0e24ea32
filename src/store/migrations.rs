//! Embedded, numbered migrations; each backend has its own list of the same versions.

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("../../migrations/sqlite/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "profile",
        sql: include_str!("../../migrations/sqlite/0002_profile.sql"),
    },
    Migration {
        version: 3,
        name: "teams",
        sql: include_str!("../../migrations/sqlite/0003_teams.sql"),
    },
    Migration {
        version: 4,
        name: "jobs",
        sql: include_str!("../../migrations/sqlite/0004_jobs.sql"),
    },
    Migration {
        version: 5,
        name: "privacy",
        sql: include_str!("../../migrations/sqlite/0005_privacy.sql"),
    },
];

pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("../../migrations/postgres/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "profile",
        sql: include_str!("../../migrations/postgres/0002_profile.sql"),
    },
    Migration {
        version: 3,
        name: "teams",
        sql: include_str!("../../migrations/postgres/0003_teams.sql"),
    },
    Migration {
        version: 4,
        name: "jobs",
        sql: include_str!("../../migrations/postgres/0004_jobs.sql"),
    },
    Migration {
        version: 5,
        name: "privacy",
        sql: include_str!("../../migrations/postgres/0005_privacy.sql"),
    },
];

pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)";
