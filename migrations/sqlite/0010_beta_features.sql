-- Settings → Beta features: the switches a person or a team has set (the others are at the
-- registry's default). Whether a feature is available on this server is a server setting
-- (`beta.<key>.available`).
CREATE TABLE user_beta_features (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    feature    TEXT    NOT NULL,
    enabled    BOOLEAN NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, feature)
);

CREATE TABLE team_beta_features (
    team_id    INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    feature    TEXT    NOT NULL,
    enabled    BOOLEAN NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, feature)
);
