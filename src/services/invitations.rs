//! Invitations (sent by team admins, mailed) and join requests (people of a team's verified
//! email domain), and what answering them does.

use serde_json::json;

use super::access::{sees_private, JoinPolicy, Role};
use super::teams::validate_role;
use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode, StoreError};
use crate::keys::{hash_key, random_token};
use crate::store::{AccountType, AuditEvent, Invite, InviteResolution, NewInvite, Team, User};
use crate::validate;

const INVITE_TTL_MS: i64 = 7 * 24 * 3_600_000;

fn email_domain(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase())
}

fn invite_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::conflict(
            "invite",
            ErrorCode::InviteExists,
            "this person already has a pending invitation to the team",
        ),
        other => other.into(),
    }
}

impl Services {
    /// Invites an existing person, by username or email, and queues the invitation mail in
    /// the same transaction.
    pub async fn invite(
        &self,
        actor: &Actor,
        team: &str,
        who: &str,
        role: &str,
    ) -> Result<Invite, ApiError> {
        let team = self.managed_team(actor, team).await?;
        let role = validate_role(role)?;
        let who = who.trim();
        if who.len() > validate::EMAIL_MAX || who.chars().any(validate::is_unsafe_char) {
            return Err(ApiError::validation(
                "username",
                ErrorCode::InviteeInvalid,
                "name the person to invite by username or email address",
            ));
        }
        let invitee = if who.contains('@') {
            self.store.user_by_username_or_email(who).await?
        } else {
            self.store.user_by_username(who).await?
        }
        .filter(|u| u.deleted_at.is_none() && u.account_type == AccountType::User)
        .ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::UserNotFound,
                format!("there is no person with the username or email {who}"),
            )
        })?;
        if self.store.member_role(team.id, invitee.id).await?.is_some() {
            return Err(ApiError::conflict(
                "username",
                ErrorCode::AlreadyMember,
                format!("{} is already a member of {}", invitee.username, team.name),
            ));
        }
        // The mail job stores only the nonce; the token is derived again when it is sent.
        let nonce = crate::links::LinkSigner::nonce();
        let token = self.links.token(crate::links::INVITE, &nonce);
        let now = crate::now_ms();
        let expires_at = now + INVITE_TTL_MS;
        let accept_url = self.config.public_link(["invites"]);
        let mail = crate::jobs::TeamInviteMail {
            recipient: self.recipient(&invitee).await?,
            team: team.name.clone(),
            inviter: actor.user.shown_name().to_string(),
            role: role.clone(),
            accept_url: accept_url.to_string(),
            expires_at,
            link_nonce: Some(nonce.clone()),
        };
        // The nonce is unique to this invitation, so it keys the mail's enqueue too.
        let job = crate::jobs::invite_job(&self.config, &nonce, &mail, now);
        let event = actor
            .audit("team.invite", &team.name)
            .with(json!({ "invitee": invitee.username, "role": role }));
        // Keep an address only when the admin typed it: one found from a username is the
        // invitee's private address, which the team's admins must not learn.
        let typed_email = who.contains('@').then(|| invitee.email.clone());
        let invite = NewInvite {
            team_id: team.id,
            kind: "invite",
            email: typed_email,
            user_id: Some(invitee.id),
            role,
            token_hash: hash_key(&token),
            invited_by: actor.recorded_id(),
            expires_at,
        };
        let created = self
            .store
            .create_invite(invite, Some(job), now, event)
            .await
            .map_err(invite_error)?;
        self.job_wake.wake();
        Ok(created)
    }

    /// The pending invitation addressed to the actor, by mailed token or by id, and whether
    /// it was found through its token (only that proves the mailbox). With both, the token
    /// decides and the id must name the same invitation.
    pub async fn own_invite(
        &self,
        actor: &Actor,
        id: Option<i64>,
        token: Option<&str>,
    ) -> Result<(Invite, bool), ApiError> {
        let not_found = || {
            ApiError::not_found(
                ErrorCode::InviteNotFound,
                "this invitation does not exist or is not addressed to you",
            )
        };
        let (invite, via_token) = match token {
            Some(t) => {
                let well_formed = t.len() == crate::links::TOKEN_LEN
                    && t.bytes().all(|b| b.is_ascii_alphanumeric());
                // Found by the SHA-256 of the token: the store never compares the token.
                let found = if well_formed {
                    self.store.invite_by_token(&hash_key(t)).await?
                } else {
                    None
                };
                (found.filter(|i| id.is_none_or(|id| id == i.id)), true)
            }
            None => match id {
                Some(id) => (self.store.invite_by_id(id).await?, false),
                None => (None, false),
            },
        };
        let invite = invite
            .filter(|i| i.kind == "invite" && i.user_id == Some(actor.user.id))
            .ok_or_else(not_found)?;
        if invite.resolved_at.is_some() {
            return Err(ApiError::gone(
                ErrorCode::InviteUsed,
                "this invitation was already answered or withdrawn",
            ));
        }
        if invite.expires_at <= crate::now_ms() {
            return Err(ApiError::gone(
                ErrorCode::InviteExpired,
                "this invitation has expired; ask a team admin for a new one",
            ));
        }
        Ok((invite, via_token))
    }

    pub async fn answer_invite(
        &self,
        actor: &Actor,
        id: Option<i64>,
        token: Option<&str>,
        accept: bool,
    ) -> Result<Invite, ApiError> {
        let (invite, via_token) = self.own_invite(actor, id, token).await?;
        let (outcome, action, join) = if accept {
            (
                "accepted",
                "team.invite_accept",
                Some((actor.user.id, invite.role.clone())),
            )
        } else {
            ("declined", "team.invite_decline", None)
        };
        let event = actor
            .audit(action, &invite.team_name)
            .with(json!({ "invite": invite.id }));
        let stale = (
            ErrorCode::InviteExpired,
            "this invitation is no longer valid",
        );
        self.close_invite(invite.id, (outcome, join), event, stale)
            .await?;
        // Accepting a mailed invitation proves the mailbox.
        if accept && via_token && actor.user.email_verified_at.is_none() {
            self.store
                .set_email_verified(actor.user.id, Some(crate::now_ms()))
                .await?;
        }
        Ok(invite)
    }

    /// Withdraws an invitation or rejects a request (team admins), or removes a member
    /// (team admins; members may remove themselves).
    pub async fn cancel_invite(&self, actor: &Actor, invite_id: i64) -> Result<(), ApiError> {
        let invite =
            self.store.invite_by_id(invite_id).await?.ok_or_else(|| {
                ApiError::not_found(ErrorCode::InviteNotFound, "no such invitation")
            })?;
        self.managed_team(actor, &invite.team_name).await?;
        let event = actor
            .audit("team.invite_cancel", &invite.team_name)
            .with(json!({ "invite": invite.id }));
        let end = InviteResolution {
            invite: invite.id,
            outcome: "cancelled",
            join: None,
            at: crate::now_ms(),
        };
        if !self.store.resolve_invite(end, event).await? {
            return Err(ApiError::gone(
                ErrorCode::InviteUsed,
                "this invitation was already answered or withdrawn",
            ));
        }
        Ok(())
    }

    /// Teams the person may join: by their verified email domain, or as a member of a
    /// GitHub organization a team admits (their connected account's last check). Private:
    /// empty for anyone but the person and site admins.
    pub async fn joinable_teams(
        &self,
        viewer: Option<&Actor>,
        user: &User,
    ) -> Result<Vec<Team>, ApiError> {
        if user.account_type == AccountType::Service || !sees_private(viewer, user) {
            return Ok(vec![]);
        }
        let domain = email_domain(&user.email).filter(|_| user.email_verified_at.is_some());
        let mut teams = match domain {
            Some(domain) => self.store.domain_teams(&domain).await?,
            None => vec![],
        };
        for team in self.github_joinable_teams(user.id).await? {
            if !teams.iter().any(|t| t.id == team.id) {
                teams.push(team);
            }
        }
        let mine: Vec<i64> = self
            .store
            .user_teams(user.id)
            .await?
            .iter()
            .map(|(t, _)| t.id)
            .collect();
        teams.retain(|t| !mine.contains(&t.id));
        teams.sort_by_key(|t| t.name.to_lowercase());
        Ok(teams)
    }

    /// Joins directly (a member of the team's GitHub organization, or DOMAIN_DIRECT) or
    /// files a request (DOMAIN_REQUEST). Returns the pending request, or None when the
    /// person joined.
    pub async fn join_team(&self, actor: &Actor, name: &str) -> Result<Option<Invite>, ApiError> {
        Self::require_person(actor)?;
        let (team, role) = self.team_for(actor, name).await?;
        if role.is_some() {
            return Err(ApiError::conflict(
                "entityName",
                ErrorCode::AlreadyMember,
                format!("you are already a member of {}", team.name),
            ));
        }
        if let Some(org) = self.store.team_github_org(team.id).await? {
            let by_domain = team.email_domain.is_some()
                && team.email_domain == email_domain(&actor.user.email)
                && actor.user.email_verified_at.is_some();
            if !by_domain {
                // GitHub is asked now: the organizations stored at connect time may be stale.
                self.github_member_of(actor, &org).await?;
                let event = actor
                    .audit("team.join", &team.name)
                    .with(serde_json::json!({ "via": "github", "organization": org }));
                self.store
                    .add_member(Role::Member.seat(team.id, actor.user.id), event)
                    .await?;
                return Ok(None);
            }
        }
        if actor.user.email_verified_at.is_none() {
            return Err(ApiError::forbidden(
                ErrorCode::EmailNotVerified,
                "verify your email address first",
            ));
        }
        let matches =
            team.email_domain.is_some() && team.email_domain == email_domain(&actor.user.email);
        let policy = JoinPolicy::parse(&team.join_policy).unwrap_or(JoinPolicy::Invite);
        if !matches || policy == JoinPolicy::Invite {
            return Err(ApiError::forbidden(
                ErrorCode::JoinNotAllowed,
                format!("{} does not admit members by email domain", team.name),
            ));
        }
        if policy == JoinPolicy::DomainDirect {
            let event = actor.audit("team.join", &team.name);
            self.store
                .add_member(Role::Member.seat(team.id, actor.user.id), event)
                .await?;
            return Ok(None);
        }
        let now = crate::now_ms();
        let event = actor.audit("team.join_request", &team.name);
        let request = NewInvite {
            team_id: team.id,
            kind: "request",
            email: Some(actor.user.email.clone()),
            user_id: Some(actor.user.id),
            role: Role::Member.as_str().into(),
            token_hash: hash_key(&random_token()),
            invited_by: actor.recorded_id(),
            expires_at: now + INVITE_TTL_MS,
        };
        Ok(Some(
            self.store
                .create_invite(request, None, now, event)
                .await
                .map_err(invite_error)?,
        ))
    }

    pub async fn resolve_join_request(
        &self,
        actor: &Actor,
        request_id: i64,
        approve: bool,
    ) -> Result<(), ApiError> {
        let request = self
            .store
            .invite_by_id(request_id)
            .await?
            .filter(|i| i.kind == "request")
            .ok_or_else(|| {
                ApiError::not_found(ErrorCode::InviteNotFound, "no such join request")
            })?;
        self.managed_team(actor, &request.team_name).await?;
        let (outcome, action, join) = if approve {
            let join = request.user_id.map(|u| (u, request.role.clone()));
            ("approved", "team.join_approve", join)
        } else {
            ("rejected", "team.join_reject", None)
        };
        let event = actor
            .audit(action, &request.team_name)
            .with(json!({ "request": request.id }));
        let stale = (ErrorCode::InviteUsed, "this request was already answered");
        self.close_invite(request.id, (outcome, join), event, stale)
            .await
    }

    /// Closes an invitation or join request with its outcome, adding the member `join`
    /// names, and its audit row; `stale` answers when someone closed it first.
    async fn close_invite(
        &self,
        invite: i64,
        (outcome, join): (&'static str, Option<(i64, String)>),
        event: AuditEvent,
        stale: (ErrorCode, &'static str),
    ) -> Result<(), ApiError> {
        let end = InviteResolution {
            invite,
            outcome,
            join,
            at: crate::now_ms(),
        };
        match self.store.resolve_invite(end, event).await? {
            true => Ok(()),
            false => Err(ApiError::gone(stale.0, stale.1)),
        }
    }
}
