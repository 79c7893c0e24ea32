-- Projects and runs (DESIGN §5). A project belongs to an entity and is created on first use;
-- a run is created by upsertBucket. History, system-metric and console lines are kept one row
-- per line, keyed by the offset the SDK sent, so a replayed request changes nothing.
CREATE TABLE projects (
    id         INTEGER PRIMARY KEY,
    entity_id  INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    name_lower TEXT   NOT NULL,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (entity_id, name_lower)
);

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    display_name    TEXT,
    notes           TEXT,
    group_name      TEXT,
    job_type        TEXT,
    host            TEXT,
    program         TEXT,
    repo            TEXT,
    commit_sha      TEXT,
    sweep           TEXT,
    tags            TEXT   NOT NULL DEFAULT '[]',
    config          TEXT   NOT NULL DEFAULT '{}',
    summary         TEXT   NOT NULL DEFAULT '{}',
    state           TEXT   NOT NULL DEFAULT 'running',
    exit_code       INTEGER,
    history_lines   INTEGER NOT NULL DEFAULT 0,
    events_lines    INTEGER NOT NULL DEFAULT 0,
    output_lines    INTEGER NOT NULL DEFAULT 0,
    stop_requested_at INTEGER,
    created_at      INTEGER NOT NULL,
    heartbeat_at    INTEGER NOT NULL,
    finished_at     INTEGER,
    UNIQUE (project_id, name)
);
CREATE INDEX runs_live ON runs (state, heartbeat_at);
CREATE INDEX runs_user_id ON runs (user_id);

CREATE TABLE run_lines (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stream TEXT   NOT NULL,
    line   INTEGER NOT NULL,
    -- History rows' `_step`, so the Public API can read by step.
    step   INTEGER,
    data   TEXT   NOT NULL,
    PRIMARY KEY (run_id, stream, line)
) WITHOUT ROWID; -- clustered by run and line: one b-tree less per streamed line
CREATE INDEX run_lines_step ON run_lines (run_id, stream, step);

-- Every change of a run's state, written with the change: what the alerts read.
CREATE TABLE run_transitions (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    from_state TEXT   NOT NULL,
    to_state   TEXT   NOT NULL,
    exit_code  INTEGER,
    at         INTEGER NOT NULL
);
CREATE INDEX run_transitions_run_id ON run_transitions (run_id);

-- Files of a run (the SDK's own and wandb.save()'s), by name; the bytes are in the blob store.
CREATE TABLE run_files (
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    size_bytes INTEGER NOT NULL,
    blob       TEXT   NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, name)
);
