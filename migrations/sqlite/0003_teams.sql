-- Teams (an entity of kind 'team' plus this row), memberships with roles, invitations and
-- join requests, service accounts, and each person's default team.
CREATE TABLE teams (
    entity_id    INTEGER PRIMARY KEY REFERENCES entities (id) ON DELETE CASCADE,
    description  TEXT    NOT NULL DEFAULT '',
    join_policy  TEXT    NOT NULL DEFAULT 'invite',
    email_domain TEXT,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id    INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_id ON team_members (user_id);

CREATE TABLE team_invites (
    id          INTEGER PRIMARY KEY,
    team_id     INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    email_lower TEXT,
    user_id     INTEGER REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL,
    token_hash  BLOB    NOT NULL UNIQUE,
    invited_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    resolution  TEXT
);
CREATE INDEX team_invites_team_id ON team_invites (team_id);
CREATE INDEX team_invites_user_id ON team_invites (user_id);
CREATE INDEX team_invites_email ON team_invites (email_lower);

ALTER TABLE users ADD COLUMN default_entity_id INTEGER REFERENCES entities (id) ON DELETE SET NULL;
ALTER TABLE users ADD COLUMN hide_teams INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
ALTER TABLE users ADD COLUMN service_team_id INTEGER REFERENCES entities (id) ON DELETE CASCADE;
ALTER TABLE users ADD COLUMN description TEXT NOT NULL DEFAULT '';

CREATE TABLE email_tokens (
    token_hash  BLOB    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email_lower TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
