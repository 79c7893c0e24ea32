-- Where alerts go besides a person's email. An owner is a person (`u:<id>`) or a team
-- (`t:<id>`). Each owner has at most one Slack webhook and one signed webhook for all its
-- projects (project_id 0) and may re-route one project to another (project_id = that
-- project). The URL and the signing secret are sealed (`crate::sealed`); `hint` is what
-- Settings shows instead.
CREATE TABLE alert_channels (
    id             INTEGER PRIMARY KEY,
    owner          TEXT   NOT NULL,
    user_id        INTEGER REFERENCES users (id) ON DELETE CASCADE,
    team_id        INTEGER REFERENCES entities (id) ON DELETE CASCADE,
    kind           TEXT   NOT NULL,
    project_id     INTEGER NOT NULL DEFAULT 0,
    url_sealed     TEXT   NOT NULL,
    secret_sealed  TEXT,
    hint           TEXT   NOT NULL,
    slack_team     TEXT,
    slack_channel  TEXT,
    broken_at      INTEGER,
    broken_reason  TEXT,
    created_by     INTEGER,
    created_at     INTEGER NOT NULL,
    UNIQUE (owner, kind, project_id)
);

-- A team's switches per event and channel (Slack and webhook; a team has no email).
CREATE TABLE team_alert_settings (
    team_id    INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    event      TEXT   NOT NULL,
    channel    TEXT   NOT NULL,
    enabled    BOOLEAN NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, event, channel)
);

-- Per owner: projects whose alerts it does not want, and the shortest run a *Runs
-- finished* alert is sent for.
CREATE TABLE alert_mutes (
    owner      TEXT   NOT NULL,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (owner, project_id)
);
CREATE TABLE alert_prefs (
    owner        TEXT   NOT NULL PRIMARY KEY,
    min_run_secs INTEGER NOT NULL DEFAULT 0
);

-- One row per alert delivery (an event on one channel to one owner), written with its job
-- in one transaction; its status is the job's. The run page's alert log reads these.
-- `seq` orders a run's events as they happened (the id of the job that announced the
-- event), whatever order their fan-outs finished in: deliveries go out in that order.
CREATE TABLE alert_deliveries (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    event      TEXT   NOT NULL,
    channel    TEXT   NOT NULL,
    owner      TEXT   NOT NULL,
    target     TEXT   NOT NULL,
    title      TEXT,
    dedup_key  TEXT   NOT NULL UNIQUE,
    seq        INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX alert_deliveries_run ON alert_deliveries (run_id, seq, id);
