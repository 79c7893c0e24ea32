//! One error type for every client-facing failure.
//!
//! Each error carries an HTTP status, a stable machine `code` (the web UI translates by it)
//! and a human message in English. Internal failures are logged with their cause and reach
//! the client only as `internal_error`, never with details.
//!
//! Use `ApiError` in services and handlers, `StoreError` inside the store, and `anyhow` only
//! for start-up and CLI plumbing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

macro_rules! error_codes {
    ($($variant:ident = $code:literal,)*) => {
        /// Every stable machine code a client can get. The web UI translates by it: each has
        /// an English and a Korean message (`ui/src/locales/*.json`, checked by a test).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    AdminRequired = "admin_required",
    AlertChannelInvalid = "alert_channel_invalid",
    AlertChannelNotConnected = "alert_channel_not_connected",
    AlertChannelNotFound = "alert_channel_not_found",
    AlreadyExists = "already_exists",
    AlreadyMember = "already_member",
    ApiKeyNotFound = "api_key_not_found",
    AttributionRefused = "attribution_refused",
    BackupUnsupported = "backup_unsupported",
    BetaFeatureNotForTeams = "beta_feature_not_for_teams",
    BetaFeatureUnavailable = "beta_feature_unavailable",
    BetaFeatureUnknown = "beta_feature_unknown",
    BioInvalid = "bio_invalid",
    BlobStoreUnavailable = "blob_store_unavailable",
    BodyUnreadable = "body_unreadable",
    CsrfCheckFailed = "csrf_check_failed",
    ConfirmationMismatch = "confirmation_mismatch",
    DescriptionInvalid = "description_invalid",
    EmailDomainInvalid = "email_domain_invalid",
    EmailDomainRequired = "email_domain_required",
    EmailInvalid = "email_invalid",
    EmailNotVerified = "email_not_verified",
    EmailTaken = "email_taken",
    EmailTokenInvalid = "email_token_invalid",
    EmailUnchanged = "email_unchanged",
    EntityForbidden = "entity_forbidden",
    EntityNotFound = "entity_not_found",
    EntityRequired = "entity_required",
    ExpiryInvalid = "expiry_invalid",
    ExportExpired = "export_expired",
    ExportInProgress = "export_in_progress",
    ExportNotFound = "export_not_found",
    FileNameInvalid = "file_name_invalid",
    FileNotFound = "file_not_found",
    FileStreamInvalid = "file_stream_invalid",
    GithubAccountTaken = "github_account_taken",
    GithubAppMisconfigured = "github_app_misconfigured",
    GithubCodeInvalid = "github_code_invalid",
    GithubDenied = "github_denied",
    GithubFailed = "github_failed",
    GithubNotConfigured = "github_not_configured",
    GithubNotConnected = "github_not_connected",
    GithubNotInOrg = "github_not_in_org",
    GithubOrgInvalid = "github_org_invalid",
    GithubStateInvalid = "github_state_invalid",
    GraphqlInvalid = "graphql_invalid",
    ImageInvalid = "image_invalid",
    ImageMissing = "image_missing",
    ImageTooLarge = "image_too_large",
    ImageTooManyPixels = "image_too_many_pixels",
    ImageTypeUnsupported = "image_type_unsupported",
    ImagesBusy = "images_busy",
    InstitutionInvalid = "institution_invalid",
    InternalError = "internal_error",
    IntroTooDeep = "intro_too_deep",
    IntroTooLong = "intro_too_long",
    IntroTooManyTags = "intro_too_many_tags",
    InvalidApiKey = "invalid_api_key",
    InvalidId = "invalid_id",
    InvalidJson = "invalid_json",
    InvalidVariables = "invalid_variables",
    InviteExists = "invite_exists",
    InviteExpired = "invite_expired",
    InviteNotFound = "invite_not_found",
    InviteUsed = "invite_used",
    InviteeInvalid = "invitee_invalid",
    JoinNotAllowed = "join_not_allowed",
    JoinPolicyInvalid = "join_policy_invalid",
    KeyExists = "key_exists",
    KeyInvalid = "key_invalid",
    KeyLimitReached = "key_limit_reached",
    KeyMintingForbidden = "key_minting_forbidden",
    KeyNameInvalid = "key_name_invalid",
    LanguageInvalid = "language_invalid",
    LastSiteAdmin = "last_site_admin",
    LastTeamAdmin = "last_team_admin",
    LimitReached = "limit_reached",
    LocationInvalid = "location_invalid",
    LoginFailed = "login_failed",
    LoginInvalid = "login_invalid",
    MalformedCredentials = "malformed_credentials",
    MethodNotAllowed = "method_not_allowed",
    MetricsDisabled = "metrics_disabled",
    MetricsTokenInvalid = "metrics_token_invalid",
    MultipartInvalid = "multipart_invalid",
    NameInvalid = "name_invalid",
    NotFound = "not_found",
    NotTeamMember = "not_team_member",
    NotYourEntity = "not_your_entity",
    NotYourKeys = "not_your_keys",
    PasswordIncorrect = "password_incorrect",
    PasswordTooLong = "password_too_long",
    PasswordTooShort = "password_too_short",
    PayloadTooLarge = "payload_too_large",
    ProjectNameInvalid = "project_name_invalid",
    ProjectNotFound = "project_not_found",
    QueryTooLong = "query_too_long",
    RateLimited = "rate_limited",
    ReauthRequired = "reauth_required",
    RoleInvalid = "role_invalid",
    RunFieldInvalid = "run_field_invalid",
    RunForbidden = "run_forbidden",
    RunIdInvalid = "run_id_invalid",
    RunNotFound = "run_not_found",
    RunNotLive = "run_not_live",
    RunTooLarge = "run_too_large",
    ServiceAccountForbidden = "service_account_forbidden",
    SessionNotFound = "session_not_found",
    SetupTokenInvalid = "setup_token_invalid",
    SlackConnectFailed = "slack_connect_failed",
    SlackNotConfigured = "slack_not_configured",
    SlackStateInvalid = "slack_state_invalid",
    StoreUnavailable = "store_unavailable",
    StorageQuotaExceeded = "storage_quota_exceeded",
    TeamAdminRequired = "team_admin_required",
    TeamNameInvalid = "team_name_invalid",
    TeamNameReserved = "team_name_reserved",
    TeamNameTaken = "team_name_taken",
    TextInvalid = "text_invalid",
    TooManyMutations = "too_many_mutations",
    Unauthenticated = "unauthenticated",
    UnsupportedMediaType = "unsupported_media_type",
    UploadUrlExpired = "upload_url_expired",
    UploadUrlInvalid = "upload_url_invalid",
    UserNotFound = "user_not_found",
    UsernameInvalid = "username_invalid",
    UsernameRequired = "username_required",
    UsernameReserved = "username_reserved",
    UsernameTaken = "username_taken",
    UsernameTooLong = "username_too_long",
    WebsiteInvalid = "website_invalid",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What `Retry-After` says while the database is unavailable: long enough not to pile on a
/// database that is starting, short enough that a restart costs clients seconds.
pub const STORE_RETRY_AFTER_SECS: u64 = 2;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// The input field at fault, for inline validation messages.
    pub field: Option<&'static str>,
    /// Seconds to wait before trying again (rate limits).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(field: &'static str, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
    }

    pub fn conflict(field: &'static str, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message).with_field(field)
    }

    /// The one answer for any unusable API key: unknown, wrong secret, revoked or expired.
    pub fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidApiKey,
            "invalid api key",
        )
    }

    pub fn malformed_credentials(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::MalformedCredentials,
            message,
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "you must sign in or send an API key",
        )
    }

    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// A one-time thing (an invitation, a link) that existed but can no longer be used.
    pub fn gone(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, code, message)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many attempts; try again later",
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// The database is down or cannot write; clients (the SDK retries 5xx) come back later.
    pub fn store_unavailable() -> Self {
        Self::retry_soon(
            ErrorCode::StoreUnavailable,
            "the database is unavailable; try again shortly",
        )
    }

    /// Blobs cannot be written (a full disk, an object store that does not answer).
    pub fn blob_store_unavailable() -> Self {
        Self::retry_soon(
            ErrorCode::BlobStoreUnavailable,
            "the server cannot store files right now; try again later",
        )
    }

    /// Maps a blob store's error to `blob_store_unavailable`, logging why it could not
    /// `doing` (the error stays in the log; the client learns only to come back).
    pub fn blob_failure<E: std::fmt::Display>(doing: &'static str) -> impl FnOnce(E) -> Self {
        move |e| {
            tracing::error!(error = %format!("{e:#}"), "cannot {doing}");
            Self::blob_store_unavailable()
        }
    }

    /// 503 with `Retry-After`: nothing is wrong with the request, only with now.
    fn retry_soon(code: ErrorCode, message: &str) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        e.retry_after = Some(STORE_RETRY_AFTER_SECS);
        e
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "internal server error",
        )
    }

    /// The GraphQL-style envelope the W&B SDK reads messages from.
    pub fn body(&self) -> serde_json::Value {
        let mut extensions = json!({ "code": self.code });
        if let Some(field) = self.field {
            extensions["field"] = json!(field);
        }
        json!({ "errors": [{ "message": self.message, "extensions": extensions }] })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = secs.to_string().parse() {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}

/// Failures of the storage layer, mapped to `ApiError` at the service boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the payload names the logical field.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("limit reached")]
    LimitReached,
    /// An invariant refused the change; the payload is the stable code.
    #[error("refused: {0}")]
    Refused(ErrorCode),
    /// The database cannot be reached or cannot write (PostgreSQL down or restarting, a
    /// full disk under SQLite): the request may succeed if it is sent again shortly.
    #[error("store unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// Text the database cannot hold (PostgreSQL refuses NUL characters); a client's
    /// fault wherever it came from.
    #[error("text the database cannot store: {0:#}")]
    Unstorable(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => ApiError::conflict(
                field,
                ErrorCode::AlreadyExists,
                format!("that {field} is already taken"),
            ),
            StoreError::LimitReached => {
                ApiError::bad_request(ErrorCode::LimitReached, "limit reached")
            }
            StoreError::Refused(code) => ApiError::new(
                axum::http::StatusCode::CONFLICT,
                code,
                code.as_str().replace('_', " "),
            ),
            StoreError::Unstorable(cause) => {
                tracing::info!(error = %format!("{cause:#}"), "unstorable input refused");
                ApiError::bad_request(
                    ErrorCode::TextInvalid,
                    "the input holds characters that cannot be stored (such as NUL)",
                )
            }
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %format!("{cause:#}"), "store unavailable");
                ApiError::store_unavailable()
            }
            StoreError::Other(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "store failure");
                ApiError::internal()
            }
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    fn messages(json: &str) -> serde_json::Map<String, serde_json::Value> {
        let all: serde_json::Value = serde_json::from_str(json).unwrap();
        all["errors"].as_object().unwrap().clone()
    }

    #[test]
    fn every_code_has_an_english_and_a_korean_message() {
        let en = messages(include_str!("../ui/src/locales/en.json"));
        let ko = messages(include_str!("../ui/src/locales/ko.json"));
        for code in ErrorCode::ALL {
            for (lang, table) in [("en", &en), ("ko", &ko)] {
                let message = table.get(code.as_str()).and_then(|m| m.as_str());
                assert!(
                    message.is_some_and(|m| !m.trim().is_empty()),
                    "{code} has no {lang} message in ui/src/locales/{lang}.json"
                );
            }
        }
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            assert!(seen.insert(s), "{s} twice");
        }
    }
}
