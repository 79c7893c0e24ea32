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
