//! Teams: creation, membership and roles, invitations and join requests, service accounts,
//! and the permission checks for all of them. A team never loses its last admin (the store
//! enforces that inside its transactions).

use serde_json::json;

use super::access::{team_access, JoinPolicy, Role, TeamAccess};
use super::{Actor, RequestMeta, Services};
use crate::error::{ApiError, StoreError};
use crate::keys::{hash_key, random_token};
use crate::store::outbox::NewJob;
use crate::store::{AccountType, Entity, Invite, NewInvite, NewUser, Team, User};
use crate::validate;

const INVITE_TTL_MS: i64 = 7 * 24 * 3_600_000;
const DESCRIPTION_MAX: usize = 500;

fn team_not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "entity_not_found",
        format!("there is no team named {}", validate::echo(name)),
    )
}

fn validate_role(role: &str) -> Result<String, ApiError> {
    Role::parse(role)
        .map(|r| r.as_str().to_string())
        .ok_or_else(|| {
            ApiError::validation(
                "role",
                "role_invalid",
                "the role must be admin, member or viewer",
            )
        })
}

fn description(raw: &str) -> Result<String, ApiError> {
    let value = raw.trim();
    if value.chars().count() > DESCRIPTION_MAX || value.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::validation(
            "description",
            "description_invalid",
            format!("a description has at most {DESCRIPTION_MAX} characters"),
        ));
    }
    Ok(value.to_string())
}

/// Team names live in the same namespace as usernames and follow the same rules.
fn team_name(raw: &str) -> Result<String, ApiError> {
    validate::username(raw).map_err(|e| {
        let code = match e.code {
            "username_reserved" => "team_name_reserved",
            _ => "team_name_invalid",
        };
        ApiError::validation("teamName", code, e.message.replace("username", "team name"))
    })
}

fn email_domain(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase())
}

fn invite_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::conflict(
            "invite",
            "invite_exists",
            "this person already has a pending invitation to the team",
        ),
        other => other.into(),
    }
}

impl Services {
    /// The team named `name`, with the caller's role in it (None when not a member).
    pub async fn team_for(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<(Team, Option<Role>), ApiError> {
        let entity = self
            .store
            .entity_by_name(name)
            .await?
            .filter(|e| e.is_team)
            .ok_or_else(|| team_not_found(name))?;
        let team = self
            .store
            .team_by_id(entity.id)
            .await?
            .ok_or_else(|| team_not_found(name))?;
        let role = self.role_in(Some(actor), team.id).await?;
        Ok((team, role))
    }

    /// Members and site admins may see a team.
    pub async fn visible_team(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<(Team, Option<Role>), ApiError> {
        let (team, role) = self.team_for(actor, name).await?;
        if team_access(actor, role) == TeamAccess::None {
            return Err(ApiError::forbidden(
                "not_team_member",
                format!(
                    "{} is not a member of the team {}",
                    actor.user.username, team.name
                ),
            ));
        }
        Ok((team, role))
    }

    /// Team admins (and site admins) manage a team.
    pub async fn managed_team(&self, actor: &Actor, name: &str) -> Result<Team, ApiError> {
        let (team, role) = self.visible_team(actor, name).await?;
        if team_access(actor, role) != TeamAccess::Manage {
            return Err(ApiError::forbidden(
                "team_admin_required",
                format!(
                    "only admins of {} can do this; {} is not one",
                    team.name, actor.user.username
                ),
            ));
        }
        Ok(team)
    }

    fn require_person(actor: &Actor) -> Result<(), ApiError> {
        if actor.user.account_type == AccountType::Service {
            return Err(ApiError::forbidden(
                "service_account_forbidden",
                "service accounts cannot do this",
            ));
        }
        Ok(())
    }

    pub async fn create_team(
        &self,
        actor: &Actor,
        name: &str,
        admin_username: Option<&str>,
        desc: &str,
        meta: &RequestMeta,
    ) -> Result<Team, ApiError> {
        Self::require_person(actor)?;
        let name = team_name(name)?;
        let desc = description(desc)?;
        let admin = match admin_username
            .map(str::trim)
            .filter(|u| !u.is_empty() && !u.eq_ignore_ascii_case(&actor.user.username))
        {
            Some(other) => {
                actor.require_admin("make someone else the admin of a new team")?;
                self.store
                    .user_by_username(other)
                    .await?
                    .filter(|u| u.account_type == AccountType::User)
                    .ok_or_else(|| {
                        ApiError::not_found(
                            "user_not_found",
                            format!("there is no user named {}", validate::echo(other)),
                        )
                    })?
            }
            None => actor.user.clone(),
        };
        let event = Self::audit_event(
            Some(actor),
            "team.create",
            name.clone(),
            meta,
            json!({ "admin": admin.username }),
        );
        self.store
            .create_team(&name, &desc, admin.id, actor.recorded_id(), event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ApiError::conflict(
                    "teamName",
                    "team_name_taken",
                    format!("the name {name} is already taken"),
                ),
                other => other.into(),
            })
    }

    pub async fn update_team(
        &self,
        actor: &Actor,
        name: &str,
        desc: Option<&str>,
        policy: Option<&str>,
        domain: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<Team, ApiError> {
        let mut team = self.managed_team(actor, name).await?;
        if let Some(d) = desc {
            team.description = description(d)?;
        }
        if let Some(p) = policy {
            let policy = JoinPolicy::parse(p).ok_or_else(|| {
                ApiError::validation(
                    "joinPolicy",
                    "join_policy_invalid",
                    "the join policy must be INVITE, DOMAIN_DIRECT or DOMAIN_REQUEST",
                )
            })?;
            team.join_policy = policy.as_str().to_string();
        }
        if let Some(d) = domain {
            let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            team.email_domain = if d.is_empty() {
                None
            } else {
                validate::email(&format!("x@{d}")).map_err(|_| {
                    ApiError::validation(
                        "emailDomain",
                        "email_domain_invalid",
                        "enter a domain such as example.com",
                    )
                })?;
                Some(d)
            };
        }
        if JoinPolicy::parse(&team.join_policy) != Some(JoinPolicy::Invite)
            && team.email_domain.is_none()
        {
            return Err(ApiError::validation(
                "emailDomain",
                "email_domain_required",
                "domain-based joining needs an email domain",
            ));
        }
        let event = Self::audit_event(
            Some(actor),
            "team.update",
            team.name.clone(),
            meta,
            json!({ "join_policy": team.join_policy }),
        );
        self.store.update_team(team.clone(), event).await?;
        Ok(team)
    }

    pub async fn delete_team(
        &self,
        actor: &Actor,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let team = self.managed_team(actor, name).await?;
        let event = Self::audit_event(
            Some(actor),
            "team.delete",
            team.name.clone(),
            meta,
            json!({}),
        );
        self.store.delete_team(team.id, event).await?;
        Ok(())
    }

    /// Invites an existing person, by username or email, and queues the invitation mail in
    /// the same transaction.
    pub async fn invite(
        &self,
        actor: &Actor,
        team: &str,
        who: &str,
        role: &str,
        meta: &RequestMeta,
    ) -> Result<Invite, ApiError> {
        let team = self.managed_team(actor, team).await?;
        let role = validate_role(role)?;
        let who = who.trim();
        if who.len() > validate::EMAIL_MAX || who.chars().any(validate::is_unsafe_char) {
            return Err(ApiError::validation(
                "username",
                "invitee_invalid",
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
                "user_not_found",
                format!("there is no person with the username or email {who}"),
            )
        })?;
        if self.store.member_role(team.id, invitee.id).await?.is_some() {
            return Err(ApiError::conflict(
                "username",
                "already_member",
                format!("{} is already a member of {}", invitee.username, team.name),
            ));
        }
        // The mail job stores only the nonce; the token is derived again when it is sent.
        let nonce = crate::links::LinkSigner::nonce();
        let token = self.links.token(crate::links::INVITE, &nonce);
        let now = crate::now_ms();
        let expires_at = now + INVITE_TTL_MS;
        let language = self
            .store
            .user_profile(invitee.id)
            .await?
            .and_then(|p| p.language);
        let mut accept_url = self.config.public_url.clone();
        accept_url.set_path("/invites");
        let mail = crate::jobs::TeamInviteMail {
            to: invitee.email.clone(),
            language,
            team: team.name.clone(),
            inviter: if actor.user.name.is_empty() {
                actor.user.username.clone()
            } else {
                actor.user.name.clone()
            },
            role: role.clone(),
            accept_url: accept_url.to_string(),
            expires_at,
            link_nonce: Some(nonce),
        };
        // The store sets the dedup key from the invitation's id once it has one.
        let job = crate::jobs::invite_job(&self.config, 0, &mail, now);
        let event = Self::audit_event(
            Some(actor),
            "team.invite",
            team.name.clone(),
            meta,
            json!({ "invitee": invitee.username, "role": role }),
        );
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
        self.store
            .create_invite(invite, Some(job), now, event)
            .await
            .map_err(invite_error)
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
                "invite_not_found",
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
            return Err(ApiError::new(
                axum::http::StatusCode::GONE,
                "invite_used",
                "this invitation was already answered or withdrawn",
            ));
        }
        if invite.expires_at <= crate::now_ms() {
            return Err(ApiError::new(
                axum::http::StatusCode::GONE,
                "invite_expired",
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
        meta: &RequestMeta,
    ) -> Result<Invite, ApiError> {
        let (invite, via_token) = self.own_invite(actor, id, token).await?;
        let (resolution, add) = if accept {
            ("accepted", Some((actor.user.id, invite.role.clone())))
        } else {
            ("declined", None)
        };
        let action = if accept {
            "team.invite_accept"
        } else {
            "team.invite_decline"
        };
        let event = Self::audit_event(
            Some(actor),
            action,
            invite.team_name.clone(),
            meta,
            json!({ "invite": invite.id }),
        );
        if !self
            .store
            .resolve_invite(invite.id, resolution, add, crate::now_ms(), event)
            .await?
        {
            return Err(ApiError::new(
                axum::http::StatusCode::GONE,
                "invite_expired",
                "this invitation is no longer valid",
            ));
        }
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
    pub async fn cancel_invite(
        &self,
        actor: &Actor,
        invite_id: i64,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let invite = self
            .store
            .invite_by_id(invite_id)
            .await?
            .ok_or_else(|| ApiError::not_found("invite_not_found", "no such invitation"))?;
        self.managed_team(actor, &invite.team_name).await?;
        let event = Self::audit_event(
            Some(actor),
            "team.invite_cancel",
            invite.team_name.clone(),
            meta,
            json!({ "invite": invite.id }),
        );
        if !self
            .store
            .resolve_invite(invite.id, "cancelled", None, crate::now_ms(), event)
            .await?
        {
            return Err(ApiError::new(
                axum::http::StatusCode::GONE,
                "invite_used",
                "this invitation was already answered or withdrawn",
            ));
        }
        Ok(())
    }

    pub async fn remove_member(
        &self,
        actor: &Actor,
        team: &str,
        user_id: i64,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let (team, role) = self.visible_team(actor, team).await?;
        let is_self = user_id == actor.user.id;
        if !is_self && team_access(actor, role) != TeamAccess::Manage {
            return Err(ApiError::forbidden(
                "team_admin_required",
                format!("only admins of {} can remove members", team.name),
            ));
        }
        let action = if is_self {
            "team.leave"
        } else {
            "team.remove_member"
        };
        let event = Self::audit_event(
            Some(actor),
            action,
            team.name.clone(),
            meta,
            json!({ "user_id": user_id }),
        );
        if !self
            .store
            .remove_member(team.id, user_id, event)
            .await
            .map_err(last_admin)?
        {
            return Err(ApiError::not_found(
                "not_team_member",
                "that person is not a member of this team",
            ));
        }
        Ok(())
    }

    pub async fn set_member_role(
        &self,
        actor: &Actor,
        team: &str,
        username: &str,
        role: &str,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let team = self.managed_team(actor, team).await?;
        let role = validate_role(role)?;
        let member = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(
                    "user_not_found",
                    format!("there is no user named {}", validate::echo(username)),
                )
            })?;
        let event = Self::audit_event(
            Some(actor),
            "team.set_role",
            team.name.clone(),
            meta,
            json!({ "member": member.username, "role": role }),
        );
        self.store
            .set_member_role(team.id, member.id, &role, event)
            .await
            .map_err(last_admin)
    }

    /// Teams the person may join because of their verified email domain.
    pub async fn joinable_teams(&self, user: &User) -> Result<Vec<Team>, ApiError> {
        if user.email_verified_at.is_none() || user.account_type == AccountType::Service {
            return Ok(vec![]);
        }
        let Some(domain) = email_domain(&user.email) else {
            return Ok(vec![]);
        };
        let mut teams = self.store.domain_teams(&domain).await?;
        let mine: Vec<i64> = self
            .store
            .user_teams(user.id)
            .await?
            .iter()
            .map(|(t, _)| t.id)
            .collect();
        teams.retain(|t| !mine.contains(&t.id));
        Ok(teams)
    }

    /// Joins directly (DOMAIN_DIRECT) or files a request (DOMAIN_REQUEST). Returns the
    /// pending request, or None when the person joined.
    pub async fn join_team(
        &self,
        actor: &Actor,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<Option<Invite>, ApiError> {
        Self::require_person(actor)?;
        let (team, role) = self.team_for(actor, name).await?;
        if role.is_some() {
            return Err(ApiError::conflict(
                "entityName",
                "already_member",
                format!("you are already a member of {}", team.name),
            ));
        }
        if actor.user.email_verified_at.is_none() {
            return Err(ApiError::forbidden(
                "email_not_verified",
                "verify your email address first",
            ));
        }
        let matches =
            team.email_domain.is_some() && team.email_domain == email_domain(&actor.user.email);
        let policy = JoinPolicy::parse(&team.join_policy).unwrap_or(JoinPolicy::Invite);
        if !matches || policy == JoinPolicy::Invite {
            return Err(ApiError::forbidden(
                "join_not_allowed",
                format!("{} does not admit members by email domain", team.name),
            ));
        }
        if policy == JoinPolicy::DomainDirect {
            let event =
                Self::audit_event(Some(actor), "team.join", team.name.clone(), meta, json!({}));
            self.store
                .add_member(team.id, actor.user.id, Role::Member.as_str(), event)
                .await?;
            return Ok(None);
        }
        let now = crate::now_ms();
        let event = Self::audit_event(
            Some(actor),
            "team.join_request",
            team.name.clone(),
            meta,
            json!({}),
        );
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
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        let request = self
            .store
            .invite_by_id(request_id)
            .await?
            .filter(|i| i.kind == "request")
            .ok_or_else(|| ApiError::not_found("invite_not_found", "no such join request"))?;
        self.managed_team(actor, &request.team_name).await?;
        let add = if approve {
            request.user_id.map(|u| (u, request.role.clone()))
        } else {
            None
        };
        let action = if approve {
            "team.join_approve"
        } else {
            "team.join_reject"
        };
        let event = Self::audit_event(
            Some(actor),
            action,
            request.team_name.clone(),
            meta,
            json!({ "request": request.id }),
        );
        let resolution = if approve { "approved" } else { "rejected" };
        if !self
            .store
            .resolve_invite(request.id, resolution, add, crate::now_ms(), event)
            .await?
        {
            return Err(ApiError::new(
                axum::http::StatusCode::GONE,
                "invite_used",
                "this request was already answered",
            ));
        }
        Ok(())
    }

    /// Creates a service account owned by the team, listed after every existing member.
    pub async fn create_service_account(
        &self,
        actor: &Actor,
        team: &str,
        name: Option<&str>,
        desc: &str,
        meta: &RequestMeta,
    ) -> Result<User, ApiError> {
        let team = self.managed_team(actor, team).await?;
        let desc = description(desc)?;
        let base = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => validate::display_name(n)?,
            None => "service".into(),
        };
        let username = format!(
            "{}-{}-{}",
            team.name,
            base,
            &random_token()[..6].to_lowercase()
        );
        let username: String = username
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(validate::USERNAME_MAX)
            .collect();
        let user = NewUser {
            email: format!("{}@service-accounts.invalid", username.to_lowercase()),
            name: if base == "service" {
                desc.chars().take(validate::DISPLAY_NAME_MAX).collect()
            } else {
                base
            },
            username,
            is_admin: false,
            account_type: AccountType::Service,
            password_hash: None,
        };
        let event = Self::audit_event(
            Some(actor),
            "team.service_account_create",
            team.name.clone(),
            meta,
            json!({ "username": user.username }),
        );
        Ok(self
            .store
            .create_service_account(team.id, user, &desc, event)
            .await?)
    }

    /// A key for one of the team's service accounts, shown once.
    pub async fn create_service_account_key(
        &self,
        actor: &Actor,
        team: &str,
        service_account_id: i64,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<(crate::store::ApiKeyRecord, zeroize::Zeroizing<String>), ApiError> {
        let team = self.managed_team(actor, team).await?;
        let account = self
            .store
            .user_by_id(service_account_id)
            .await?
            .filter(|u| u.service_team_id == Some(team.id))
            .ok_or_else(|| {
                ApiError::not_found("user_not_found", "no such service account in this team")
            })?;
        self.mint_key(&account, actor, name, None, meta).await
    }

    /// Entities the person can create projects in: their own, then teams where they are
    /// admin or member.
    pub async fn project_entities(&self, user: &User) -> Result<Vec<Entity>, ApiError> {
        let mut out = Vec::new();
        if user.account_type == AccountType::User {
            if let Some(own) = self.store.entity_by_name(&user.username).await? {
                out.push(own);
            }
        }
        for (team, role) in self.store.user_teams(user.id).await? {
            if Role::parse(&role).is_some_and(Role::writes) {
                out.push(Entity {
                    id: team.id,
                    name: team.name,
                    is_team: true,
                    user_id: None,
                });
            }
        }
        Ok(out)
    }
}

impl Services {
    /// Mails the caller a link that proves they own their email address.
    pub async fn request_email_verification(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        Self::require_person(actor)?;
        let nonce = crate::links::LinkSigner::nonce();
        let token = self.links.token(crate::links::VERIFY_EMAIL, &nonce);
        let now = crate::now_ms();
        let language = self
            .store
            .user_profile(actor.user.id)
            .await?
            .and_then(|p| p.language);
        let mut url = self.config.public_url.clone();
        url.set_path("/verify-email");
        let job = NewJob {
            kind: crate::jobs::VERIFY_EMAIL,
            payload: json!({ "to": actor.user.email, "language": language, "name": actor.user.name, "verify_url": url.to_string(), "link_nonce": nonce }),
            dedup_key: None,
            max_attempts: self.config.job_max_attempts,
            run_after: now,
        };
        self.store
            .put_email_token(
                hash_key(&token),
                actor.user.id,
                &actor.user.email,
                now,
                now + 24 * 3_600_000,
                Some(job),
            )
            .await?;
        let event = Self::audit_event(
            Some(actor),
            "user.verify_email_request",
            actor.user.username.clone(),
            meta,
            json!({}),
        );
        self.store.audit(event, now).await?;
        Ok(())
    }

    pub async fn verify_email(&self, token: &str) -> Result<(), ApiError> {
        let invalid = || {
            ApiError::new(
                axum::http::StatusCode::GONE,
                "email_token_invalid",
                "this verification link is invalid, used or expired",
            )
        };
        if token.len() != crate::services::sessions::TOKEN_LEN {
            return Err(invalid());
        }
        self.store
            .use_email_token(hash_key(token), crate::now_ms())
            .await?
            .ok_or_else(invalid)?;
        Ok(())
    }
}

fn last_admin(e: StoreError) -> ApiError {
    match e {
        StoreError::Refused("last_team_admin") => ApiError::conflict(
            "role",
            "last_team_admin",
            "a team must keep at least one admin",
        ),
        StoreError::Refused("not_team_member") => ApiError::not_found(
            "not_team_member",
            "that person is not a member of this team",
        ),
        other => other.into(),
    }
}
