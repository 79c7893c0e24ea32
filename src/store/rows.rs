//! Column lists and row mappers, written once for both backends. `Cols` reads a column from
//! a rusqlite row or a tokio-postgres row; every type read here converts from both drivers.
//! `FromRow` turns a whole row into a model, so one statement reads the same way on both.

use super::jobs::{parse_payload, Job, JobAttempt, JobStatus};
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
pub(crate) use {
    attempt_cols, invite_cols, job_cols, key_cols, profile_cols, team_cols, user_cols,
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

macro_rules! from_row {
    ($($ty:ty => $f:expr),+ $(,)?) => {
        $(impl FromRow for $ty {
            fn from_row<R: Cols>(r: &R) -> Result<Self, R::Error> {
                $f(r)
            }
        })+
    };
}

from_row! {
    User => |r| user(r, 0),
    ApiKeyRecord => |r| api_key(r, 0),
    Profile => profile,
    Team => team,
    Invite => invite,
    Entity => entity,
    Job => job,
    JobAttempt => attempt,
    KeyAuth => |r: &R| Ok(KeyAuth { key: api_key(r, 0)?, secret_hash: r.col(11)?, user: user(r, 12)? }),
    Membership => |r: &R| Ok(Membership { user: user(r, 0)?, role: r.col(14)?, joined_at: r.col(15)?, description: r.col(16)? }),
    AuditRecord => |r: &R| Ok(AuditRecord {
        id: r.col(0)?, at: r.col(1)?, actor_user_id: r.col(2)?, action: r.col(3)?,
        target: r.col(4)?, ip: r.col(5)?, detail: r.col(6)?,
    }),
    (Session, User) => |r: &R| Ok((Session {
        id: r.col(0)?, user_id: r.col(1)?, created_at: r.col(2)?, last_seen_at: r.col(3)?,
        idle_expires_at: r.col(4)?, absolute_expires_at: r.col(5)?,
    }, user(r, 6)?)),
    (Team, String) => |r: &R| Ok((team(r)?, r.col(6)?)),
}

pub(crate) fn user<R: Cols>(r: &R, at: usize) -> Result<User, R::Error> {
    Ok(User {
        id: r.col(at)?,
        username: r.col(at + 1)?,
        email: r.col(at + 2)?,
        name: r.col(at + 3)?,
        is_admin: r.col(at + 4)?,
        account_type: AccountType::parse(&r.col::<String>(at + 5)?),
        password_hash: r.col(at + 6)?,
        flags: r.col(at + 7)?,
        created_at: r.col(at + 8)?,
        deleted_at: r.col(at + 9)?,
        default_entity_id: r.col(at + 10)?,
        hide_teams: r.col(at + 11)?,
        email_verified_at: r.col(at + 12)?,
        service_team_id: r.col(at + 13)?,
    })
}

pub(crate) fn api_key<R: Cols>(r: &R, at: usize) -> Result<ApiKeyRecord, R::Error> {
    Ok(ApiKeyRecord {
        id: r.col(at)?,
        key_id: r.col(at + 1)?,
        user_id: r.col(at + 2)?,
        name: r.col(at + 3)?,
        origin: r.col(at + 4)?,
        created_at: r.col(at + 5)?,
        expires_at: r.col(at + 6)?,
        last_used_at: r.col(at + 7)?,
        last_used_ip: r.col(at + 8)?,
        last_used_ua: r.col(at + 9)?,
        revoked_at: r.col(at + 10)?,
    })
}

pub(crate) fn profile<R: Cols>(r: &R) -> Result<Profile, R::Error> {
    Ok(Profile {
        name: r.col(0)?,
        institution: r.col(1)?,
        bio: r.col(2)?,
        location: r.col(3)?,
        website: r.col(4)?,
        intro: r.col(5)?,
        intro_html: r.col(6)?,
        avatar: r.col(7)?,
        language: r.col(8)?,
    })
}

pub(crate) fn team<R: Cols>(r: &R) -> Result<Team, R::Error> {
    Ok(Team {
        id: r.col(0)?,
        name: r.col(1)?,
        description: r.col(2)?,
        join_policy: r.col(3)?,
        email_domain: r.col(4)?,
        created_at: r.col(5)?,
    })
}

pub(crate) fn invite<R: Cols>(r: &R) -> Result<Invite, R::Error> {
    Ok(Invite {
        id: r.col(0)?,
        team_id: r.col(1)?,
        team_name: r.col(2)?,
        kind: r.col(3)?,
        email: r.col(4)?,
        user_id: r.col(5)?,
        role: r.col(6)?,
        invited_by: r.col(7)?,
        created_at: r.col(8)?,
        expires_at: r.col(9)?,
        resolved_at: r.col(10)?,
        resolution: r.col(11)?,
    })
}

pub(crate) fn entity<R: Cols>(r: &R) -> Result<Entity, R::Error> {
    Ok(Entity {
        id: r.col(0)?,
        name: r.col(1)?,
        is_team: r.col::<String>(2)? == "team",
        user_id: r.col(3)?,
    })
}

pub(crate) fn job<R: Cols>(r: &R) -> Result<Job, R::Error> {
    Ok(Job {
        id: r.col(0)?,
        kind: r.col(1)?,
        payload: parse_payload(&r.col::<String>(2)?),
        dedup_key: r.col(3)?,
        status: JobStatus::parse(&r.col::<String>(4)?),
        attempts: r.col(5)?,
        max_attempts: r.col(6)?,
        run_after: r.col(7)?,
        locked_until: r.col(8)?,
        locked_by: r.col(9)?,
        last_error: r.col(10)?,
        created_at: r.col(11)?,
        finished_at: r.col(12)?,
    })
}

pub(crate) fn attempt<R: Cols>(r: &R) -> Result<JobAttempt, R::Error> {
    Ok(JobAttempt {
        id: r.col(0)?,
        job_id: r.col(1)?,
        attempt: r.col(2)?,
        worker: r.col(3)?,
        started_at: r.col(4)?,
        finished_at: r.col(5)?,
        ok: r.col(6)?,
        error: r.col(7)?,
    })
}
