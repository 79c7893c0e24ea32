//! Who may do what: typed team roles and join policies, and the one place that answers "may
//! this actor read or manage that team" and "may this actor read that person's private
//! fields". Services call these; transports never decide access themselves.

use super::Actor;
use crate::store::{AccountType, Seat, User};

/// A member's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Member, Role::Viewer];

    pub fn parse(raw: &str) -> Option<Role> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    /// This role for one person in one team, as the store takes it.
    pub fn seat(self, team_id: i64, user_id: i64) -> Seat {
        Seat {
            team_id,
            user_id,
            role: self.as_str().to_string(),
        }
    }

    /// Admins and members create projects and runs; viewers only read.
    pub fn writes(self) -> bool {
        matches!(self, Role::Admin | Role::Member)
    }
}

/// How a team admits people who were not invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinPolicy {
    /// Only invited people.
    Invite,
    /// People with a verified address at the team's domain join at once.
    DomainDirect,
    /// They ask, and an admin decides.
    DomainRequest,
}

impl JoinPolicy {
    pub fn parse(raw: &str) -> Option<JoinPolicy> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "INVITE" => Some(JoinPolicy::Invite),
            "DOMAIN_DIRECT" => Some(JoinPolicy::DomainDirect),
            "DOMAIN_REQUEST" => Some(JoinPolicy::DomainRequest),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JoinPolicy::Invite => "INVITE",
            JoinPolicy::DomainDirect => "DOMAIN_DIRECT",
            JoinPolicy::DomainRequest => "DOMAIN_REQUEST",
        }
    }
}

/// What an actor may do with one team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TeamAccess {
    None,
    /// Members of any role: see the team, its members and their roles.
    Read,
    /// Team admins and site admins: change the team, see addresses, invitations and keys.
    Manage,
}

/// The one rule for teams: site admins manage every team, team admins theirs, other members
/// read it, everybody else has no access.
pub fn team_access(actor: &Actor, role: Option<Role>) -> TeamAccess {
    if actor.user.is_admin || role == Some(Role::Admin) {
        TeamAccess::Manage
    } else if role.is_some() {
        TeamAccess::Read
    } else {
        TeamAccess::None
    }
}

/// Whether a team's member list shows `member`'s address to `viewer`: to those who manage
/// the team and to the member themselves; never a service account's (a placeholder).
pub fn sees_member_email(viewer: Option<&Actor>, member: &User, manages_team: bool) -> bool {
    let own = viewer.is_some_and(|a| a.user.id == member.id);
    (manages_team || own) && member.account_type != AccountType::Service
}

/// Whether `viewer` sees `person`'s private fields (address, default team, keys,
/// invitations): only the person themselves and site admins.
pub fn sees_private(viewer: Option<&Actor>, person: &User) -> bool {
    viewer.is_some_and(|a| a.user.id == person.id || a.user.is_admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_policies_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("owner"), None);
        for p in [
            JoinPolicy::Invite,
            JoinPolicy::DomainDirect,
            JoinPolicy::DomainRequest,
        ] {
            assert_eq!(JoinPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(
            JoinPolicy::parse("domain_direct"),
            Some(JoinPolicy::DomainDirect)
        );
        assert!(Role::Member.writes() && !Role::Viewer.writes());
    }
}
