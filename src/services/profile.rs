//! Profiles: the Profile section's fields, the Markdown intro and the profile image.
//! Only the person themselves edits their profile; anyone may read the public parts.

use serde_json::json;

use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::store::{Intro, Profile, ProfileField, ProfileUpdate, User};
use crate::validate::{TextRule, DISPLAY_NAME};
use crate::{images, markdown};

pub const INSTITUTION_MAX: usize = 100;
pub const BIO_MAX: usize = 1000;
pub const LOCATION_MAX: usize = 100;
pub const WEBSITE_MAX: usize = 200;
pub const INTRO_MAX: usize = 20_000;
/// How long an upload waits for a decode slot before it is told to come back.
const DECODE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

const INSTITUTION: TextRule = TextRule {
    field: "institution",
    code: ErrorCode::InstitutionInvalid,
    what: "the institution",
    max: INSTITUTION_MAX,
    multiline: false,
};

const LOCATION: TextRule = TextRule {
    field: "location",
    code: ErrorCode::LocationInvalid,
    what: "the location",
    max: LOCATION_MAX,
    multiline: false,
};

const BIO: TextRule = TextRule {
    field: "bio",
    code: ErrorCode::BioInvalid,
    what: "the bio",
    max: BIO_MAX,
    multiline: true,
};

/// Empty, or an absolute http(s) URL.
pub fn website(raw: &str) -> Result<String, ApiError> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let invalid = || {
        ApiError::validation(
            "website",
            ErrorCode::WebsiteInvalid,
            "the website must be an http:// or https:// address",
        )
    };
    if value.chars().count() > WEBSITE_MAX || value.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let url = url::Url::parse(value).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    Ok(value.to_string())
}

/// The language mails are written in: one the server has templates for.
fn language(raw: &str) -> Result<String, ApiError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        code @ ("en" | "ko") => Ok(code.to_string()),
        _ => Err(ApiError::validation(
            "language",
            ErrorCode::LanguageInvalid,
            "the language is `en` or `ko`",
        )),
    }
}

/// A Profile section value as it will be stored, or why it cannot be.
fn checked(field: ProfileField, raw: &str) -> Result<String, ApiError> {
    match field {
        ProfileField::Name => DISPLAY_NAME.check(raw),
        ProfileField::Institution => INSTITUTION.check(raw),
        ProfileField::Bio => BIO.check(raw),
        ProfileField::Location => LOCATION.check(raw),
        ProfileField::Website => website(raw),
        ProfileField::Language => language(raw),
    }
}

pub fn photo_url(avatar: &str, size: u32) -> String {
    format!("/avatars/{avatar}-{size}.png")
}

impl Services {
    pub async fn profile_of(&self, user: &User) -> Result<Profile, ApiError> {
        Ok(self.store.user_profile(user.id).await?.unwrap_or_default())
    }

    /// The person behind a public profile page; deleted accounts have none.
    pub async fn public_user(&self, username: &str) -> Result<Option<User>, ApiError> {
        if username.len() > crate::validate::USERNAME_MAX {
            return Ok(None);
        }
        Ok(self
            .store
            .user_by_username(username)
            .await?
            .filter(|u| u.deleted_at.is_none()))
    }

    pub async fn update_profile(
        &self,
        actor: &Actor,
        input: ProfileUpdate,
    ) -> Result<(), ApiError> {
        let update = input
            .into_iter()
            .map(|(field, raw)| Ok((field, checked(field, &raw)?)))
            .collect::<Result<ProfileUpdate, ApiError>>()?;
        let changed: Vec<&str> = update.fields().map(ProfileField::key).collect();
        let event = actor
            .audit("profile.update", &actor.user.username)
            .with(json!({ "fields": changed }));
        self.store
            .update_profile(actor.user.id, update, event)
            .await?;
        Ok(())
    }

    pub async fn update_intro(&self, actor: &Actor, intro: &str) -> Result<(), ApiError> {
        let chars = intro.chars().count();
        if chars > INTRO_MAX {
            return Err(ApiError::validation(
                "intro",
                ErrorCode::IntroTooLong,
                format!("the intro has {chars} characters; at most {INTRO_MAX} are allowed"),
            ));
        }
        let source = intro.to_string();
        let html = tokio::task::spawn_blocking(move || markdown::render(&source))
            .await
            .map_err(|_| ApiError::internal())?
            .map_err(|e| match e {
                markdown::TooComplex::Nesting => ApiError::validation(
                    "intro",
                    ErrorCode::IntroTooDeep,
                    format!(
                        "the intro nests lists, quotes or emphasis more than {} levels deep",
                        markdown::MAX_NESTING
                    ),
                ),
                markdown::TooComplex::HtmlTags => ApiError::validation(
                    "intro",
                    ErrorCode::IntroTooManyTags,
                    format!(
                        "the intro has more than {} HTML tags",
                        markdown::MAX_HTML_TAGS
                    ),
                ),
            })?;
        let event = actor
            .audit("profile.intro", &actor.user.username)
            .with(json!({ "chars": chars }));
        self.store
            .update_intro(
                actor.user.id,
                Intro {
                    markdown: intro.to_string(),
                    html,
                },
                event,
            )
            .await?;
        Ok(())
    }

    /// Stores a new profile image and deletes the previous one. Returns its URL.
    pub async fn set_avatar(&self, actor: &Actor, upload: Vec<u8>) -> Result<String, ApiError> {
        self.uploads_by_user
            .check_and_hit(&*self.store, &actor.user.id.to_string())
            .await?;
        let decodes = self.image_decodes.clone();
        let permit = tokio::time::timeout(DECODE_WAIT, decodes.acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                let mut busy = ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::ImagesBusy,
                    "the server is processing other images; try again in a few seconds",
                );
                busy.retry_after = Some(5);
                busy
            })?;
        // The permit moves into the blocking task: a client that gives up does not free the
        // slot while its decode still runs.
        let sizes = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            images::process_avatar(&upload)
        })
        .await
        .map_err(|_| ApiError::internal())??;
        let base = crate::keys::random_token()[..24].to_string();
        for (size, bytes) in sizes {
            if let Err(e) = self.blobs.put(&format!("{base}-{size}.png"), bytes).await {
                tracing::error!(error = %format!("{e:#}"), "cannot write an avatar");
                self.delete_avatar_blobs(Some(base)).await;
                return Err(ApiError::blob_store_unavailable());
            }
        }
        let event = actor
            .audit("profile.avatar", &actor.user.username)
            .with(json!({ "set": true }));
        let previous = self
            .store
            .set_avatar(actor.user.id, Some(base.clone()), event)
            .await?;
        self.delete_avatar_blobs(previous).await;
        Ok(photo_url(&base, images::SIZES[0]))
    }

    pub async fn remove_avatar(&self, actor: &Actor) -> Result<(), ApiError> {
        let event = actor
            .audit("profile.avatar", &actor.user.username)
            .with(json!({ "set": false }));
        let previous = self.store.set_avatar(actor.user.id, None, event).await?;
        self.delete_avatar_blobs(previous).await;
        Ok(())
    }

    pub(super) async fn delete_avatar_blobs(&self, previous: Option<String>) {
        let Some(base) = previous else { return };
        for size in images::SIZES {
            if let Err(e) = self.blobs.delete(&format!("{base}-{size}.png")).await {
                tracing::warn!(error = %e, "could not delete an old profile image");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websites_must_be_http_or_https() {
        assert_eq!(
            website(" https://example.com/me ").unwrap(),
            "https://example.com/me"
        );
        assert_eq!(website("").unwrap(), "");
        for bad in [
            "javascript:alert(1)",
            "ftp://x.org",
            "example.com",
            "http://",
            "https://a b.com",
            "data:text/html,x",
        ] {
            assert_eq!(website(bad).unwrap_err().code, "website_invalid", "{bad}");
        }
    }

    #[test]
    fn field_lengths() {
        assert!(BIO.check(&"x".repeat(BIO_MAX)).is_ok());
        assert_eq!(
            BIO.check(&"x".repeat(BIO_MAX + 1)).unwrap_err().code,
            "bio_invalid"
        );
        assert!(BIO.check("two\nlines").is_ok());
        assert_eq!(LOCATION.check("a\nb").unwrap_err().code, "location_invalid");
        assert_eq!(
            INSTITUTION.check("abc\u{202E}fed").unwrap_err().code,
            "institution_invalid"
        );
    }
}
