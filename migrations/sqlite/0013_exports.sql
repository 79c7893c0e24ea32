-- Export my data: one archive a person asked for, built by a job. `token` names it in the
-- API and the job (random, unguessable); the archive is the blob `blob` under
-- blobs/exports until `expires_at`, when a job deletes it.
CREATE TABLE exports (
    id         INTEGER PRIMARY KEY,
    token      TEXT   NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status     TEXT   NOT NULL,
    blob       TEXT,
    bytes      INTEGER,
    error      TEXT,
    created_at INTEGER NOT NULL,
    ready_at   INTEGER,
    expires_at INTEGER
);
CREATE INDEX exports_user_id ON exports (user_id, id);
