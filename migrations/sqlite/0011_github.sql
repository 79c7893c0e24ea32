-- Personal GitHub integration: one connected GitHub account per person (keyed on GitHub's
-- numeric user id, which survives renames), its token sealed, and the organizations it
-- granted at the last check; and the GitHub organization whose members may join a team.
CREATE TABLE github_links (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    github_id    INTEGER NOT NULL UNIQUE,
    login        TEXT   NOT NULL,
    avatar_url   TEXT   NOT NULL DEFAULT '',
    token_sealed TEXT   NOT NULL,
    orgs         TEXT   NOT NULL DEFAULT '[]',
    connected_at INTEGER NOT NULL,
    checked_at   INTEGER NOT NULL
);

CREATE TABLE team_github_orgs (
    team_id    INTEGER PRIMARY KEY REFERENCES entities (id) ON DELETE CASCADE,
    org_lower  TEXT   NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX team_github_orgs_org ON team_github_orgs (org_lower);
