-- Settings → Alerts: each person's switch per event and channel, kept only where it
-- differs from the default (email on for every event, every other channel off).
CREATE TABLE alert_settings (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event      TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    enabled    BOOLEAN NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, event, channel)
);

-- run.alert() calls that were accepted (not throttled): what the alert said, for the
-- deliveries and for throttling the same title on the same run.
CREATE TABLE run_alerts (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    title      TEXT   NOT NULL,
    text       TEXT   NOT NULL,
    level      TEXT   NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX run_alerts_run_title ON run_alerts (run_id, title, created_at);
