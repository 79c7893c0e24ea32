//! Column lists and row mappers, written once for both backends. `Cols` reads a column from
//! a rusqlite row or a tokio-postgres row; every type read here converts from both drivers.
//! `FromRow` turns a whole row into a model, so one statement reads the same way on both.

use super::alert_routes::{AlertChannelRow, ChannelSpec, Delivery, DeliveryInfo};
use super::alerts::RunAlert;
use super::exports::ExportRow;
use super::jobs::{parse_payload, Job, JobAttempt, JobStatus};
use super::runs::{Project, Run, RunFile, RunInfo, RunTransition};
use super::*;

// Column lists as macros, so `sql!` can splice them into a statement at compile time.
macro_rules! user_cols {
    () => {
        "u.id, u.username, u.email, u.name, u.is_admin, u.account_type, u.password_hash, u.flags, \
         u.created_at, u.deleted_at, u.default_entity_id, u.hide_teams, u.email_verified_at, u.service_team_id"
    };
}
macro_rules! key_cols {
    () => {
        "k.id, k.key_id, k.user_id, k.name, k.origin, k.created_at, k.expires_at, k.last_used_at, k.last_used_ip, k.last_used_ua, k.revoked_at"
    };
}
macro_rules! profile_cols {
    () => {
        "name, institution, bio, location, website, intro, intro_html, avatar, language"
    };
}
macro_rules! team_cols {
    () => {
        "e.id, e.name, t.description, t.join_policy, t.email_domain, t.created_at"
    };
}
macro_rules! invite_cols {
    () => {
        "i.id, i.team_id, e.name, i.kind, i.email_lower, i.user_id, i.role, i.invited_by, i.created_at, i.expires_at, i.resolved_at, i.resolution"
    };
}
macro_rules! job_cols {
    () => {
        "id, kind, payload, dedup_key, status, attempts, max_attempts, run_after, locked_until, locked_by, last_error, created_at, finished_at"
    };
}
macro_rules! attempt_cols {
    () => {
        "id, job_id, attempt, worker, started_at, finished_at, ok, error"
    };
}
macro_rules! project_cols {
    () => {
        "p.id, p.entity_id, e.name, p.name, p.created_by, p.created_at"
    };
}
macro_rules! run_cols {
    () => {
        "r.id, r.project_id, r.name, r.user_id, r.display_name, r.notes, r.group_name, r.job_type, \
         r.host, r.program, r.repo, r.commit_sha, r.sweep, r.tags, r.config, r.summary, r.state, \
         r.exit_code, r.history_lines, r.events_lines, r.output_lines, r.stop_requested_at, \
         r.created_at, r.heartbeat_at, r.finished_at"
    };
}
pub(crate) use {
    attempt_cols, invite_cols, job_cols, key_cols, profile_cols, project_cols, run_cols, team_cols,
    user_cols,
};

/// A value both drivers can read from a column.
pub trait Column: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

impl<T> Column for T where T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

/// One result row of either driver.
pub trait Cols {
    type Error;
    fn col<T: Column>(&self, i: usize) -> Result<T, Self::Error>;
}

impl Cols for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn col<T: Column>(&self, i: usize) -> Result<T, rusqlite::Error> {
        self.get(i)
    }
}

impl Cols for tokio_postgres::Row {
    type Error = tokio_postgres::Error;

    fn col<T: Column>(&self, i: usize) -> Result<T, tokio_postgres::Error> {
        self.try_get(i)
    }
}

/// A value read from a whole result row, on either driver.
pub trait FromRow: Sized + Send + 'static {
    fn from_row<R: Cols>(r: &R) -> Result<Self, R::Error>;
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Column + Send + 'static),+> FromRow for ($($t,)+) {
            fn from_row<R: Cols>(r: &R) -> Result<Self, R::Error> {
                Ok(($(r.col::<$t>($i)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);

/// Reads consecutive columns, from `at`, into the listed fields of `$ty`; `field via f`
/// reads the column as text and converts it with `f`; `field as f` lets `f` read as
/// many columns as it needs (a struct inside the row, like [`Client`]).
macro_rules! read_row {
    ($r:expr, $at:expr => $ty:ident {
        $($field:ident $(via $conv:path)? $(as $reader:path)?),+ $(,)?
    }) => {{
        let r = $r;
        let mut at = $at;
        let mut next = || {
            at += 1;
            at - 1
        };
        $ty { $($field: read_row!(@col r, next $(, $conv)? $(; $reader)?)),+ }
    }};
    (@col $r:ident, $next:ident) => {
        $r.col($next())?
    };
    (@col $r:ident, $next:ident, $conv:path) => {
        $conv(&$r.col::<String>($next())?)
    };
    (@col $r:ident, $next:ident; $reader:path) => {
        $reader($r, &mut $next)?
    };
}

/// Readers of the structs a row holds as consecutive columns (`field as reader` above).
macro_rules! nested_rows {
    ($($reader:ident => $ty:ident { $($field:ident),+ $(,)? }),+ $(,)?) => {$(
        fn $reader<R: Cols>(r: &R, next: &mut impl FnMut() -> usize) -> Result<$ty, R::Error> {
            Ok($ty { $($field: r.col(next())?),+ })
        }
    )+};
}

nested_rows! {
    client => Client { ip, user_agent },
    channel_spec => ChannelSpec {
        kind, project_id, url_sealed, secret_sealed, hint, slack_team, slack_channel,
    },
    delivery_info => DeliveryInfo { run_id, event, channel, owner, target, title },
    run_info => RunInfo {
        display_name, notes, group_name, job_type, host, program, repo, commit_sha, sweep,
    },
}

/// A `User` from `user_cols!()`, starting at column `at`.
fn user<R: Cols>(r: &R, at: usize) -> Result<User, R::Error> {
    Ok(read_row!(r, at => User {
        id, username, email, name, is_admin, account_type via AccountType::parse, password_hash,
        flags, created_at, deleted_at, default_entity_id, hide_teams, email_verified_at,
        service_team_id,
    }))
}

fn session<R: Cols>(r: &R) -> Result<Session, R::Error> {
    Ok(read_row!(r, 0 => Session {
        id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at,
        signed_in_at, client as client,
    }))
}

fn api_key<R: Cols>(r: &R, at: usize) -> Result<ApiKeyRecord, R::Error> {
    Ok(read_row!(r, at => ApiKeyRecord {
        id, key_id, user_id, name, origin, created_at, expires_at, last_used_at, last_used_ip,
        last_used_ua, revoked_at,
    }))
}

/// A JSON array of organization names (`github_links.orgs`).
fn parse_orgs(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

fn is_team(kind: &str) -> bool {
    kind == "team"
}

macro_rules! from_row {
    ($($ty:ty => |$r:ident| $body:expr),+ $(,)?) => {
        $(impl FromRow for $ty {
            fn from_row<R: Cols>($r: &R) -> Result<Self, R::Error> {
                Ok($body)
            }
        })+
    };
}

from_row! {
    User => |r| user(r, 0)?,
    ApiKeyRecord => |r| api_key(r, 0)?,
    KeyAuth => |r| KeyAuth { key: api_key(r, 0)?, secret_hash: r.col(11)?, user: user(r, 12)? },
    Membership => |r| Membership { user: user(r, 0)?, role: r.col(14)?, joined_at: r.col(15)?, description: r.col(16)? },
    (Session, User) => |r| (session(r)?, user(r, 9)?),
    Session => |r| session(r)?,
    (Team, String) => |r| (Team::from_row(r)?, r.col(6)?),
    Profile => |r| read_row!(r, 0 => Profile {
        name, institution, bio, location, website, intro, intro_html, avatar, language,
    }),
    Team => |r| read_row!(r, 0 => Team { id, name, description, join_policy, email_domain, created_at }),
    Invite => |r| read_row!(r, 0 => Invite {
        id, team_id, team_name, kind, email, user_id, role, invited_by, created_at, expires_at,
        resolved_at, resolution,
    }),
    Entity => |r| read_row!(r, 0 => Entity { id, name, is_team via is_team, user_id }),
    ExportRow => |r| read_row!(r, 0 => ExportRow {
        token, user_id, status, blob, bytes, error, created_at, ready_at, expires_at,
    }),
    GithubLink => |r| read_row!(r, 0 => GithubLink {
        user_id, github_id, login, avatar_url, token_sealed, orgs via parse_orgs, connected_at,
        checked_at,
    }),
    AuditRecord => |r| read_row!(r, 0 => AuditRecord {
        id, at, actor_user_id, action, target, detail, client as client,
    }),
    Job => |r| read_row!(r, 0 => Job {
        id, kind, payload via parse_payload, dedup_key, status via JobStatus::parse, attempts,
        max_attempts, run_after, locked_until, locked_by, last_error, created_at, finished_at,
    }),
    Project => |r| read_row!(r, 0 => Project { id, entity_id, entity_name, name, created_by, created_at }),
    Run => |r| read_row!(r, 0 => Run {
        id, project_id, name, user_id, info as run_info, tags, config, summary, state, exit_code,
        history_lines, events_lines, output_lines, stop_requested_at, created_at, heartbeat_at,
        finished_at,
    }),
    AlertChannelRow => |r| read_row!(r, 0 => AlertChannelRow {
        id, owner, spec as channel_spec, broken_at, broken_reason, created_by, created_at,
    }),
    Delivery => |r| read_row!(r, 0 => Delivery {
        id, info as delivery_info, created_at, status, attempts, last_error, finished_at,
    }),
    RunAlert => |r| read_row!(r, 0 => RunAlert { id, run_id, title, text, level, created_at }),
    RunFile => |r| read_row!(r, 0 => RunFile { run_id, name, size_bytes, blob, updated_at }),
    RunTransition => |r| read_row!(r, 0 => RunTransition { id, run_id, from_state, to_state, exit_code, at }),
    JobAttempt => |r| read_row!(r, 0 => JobAttempt {
        id, job_id, attempt, worker, started_at, finished_at, ok, error,
    }),
}
