-- Accounts, personal entities, API keys, sessions, audit log and server settings.
-- Times are Unix milliseconds (UTC) on both backends; booleans are 0/1 here.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT    NOT NULL,
    username_lower TEXT    NOT NULL UNIQUE,
    email          TEXT    NOT NULL,
    email_lower    TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL DEFAULT '',
    password_hash  TEXT,
    is_admin       INTEGER NOT NULL DEFAULT 0,
    account_type   TEXT    NOT NULL DEFAULT 'USER',
    flags          TEXT    NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);

CREATE TABLE entities (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    name_lower TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX entities_user_id ON entities (user_id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    key_id       TEXT    NOT NULL UNIQUE,
    secret_hash  BLOB    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    origin       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    last_used_ip TEXT,
    last_used_ua TEXT,
    revoked_at   INTEGER,
    revoked_by   INTEGER REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX api_keys_user_id ON api_keys (user_id);

CREATE TABLE sessions (
    id                  INTEGER PRIMARY KEY,
    token_hash          BLOB    NOT NULL UNIQUE,
    user_id             INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    ip                  TEXT,
    user_agent          TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    actor_user_id INTEGER,
    action        TEXT    NOT NULL,
    target        TEXT,
    ip            TEXT,
    detail        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
