//! Password hashing with Argon2id (PHC strings, parameters inside the hash so they can be
//! raised later). Hashing is slow on purpose, so it always runs on the blocking pool.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use zeroize::Zeroizing;

use crate::error::{ApiError, ErrorCode};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

pub fn validate(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(ApiError::validation(
            "password",
            ErrorCode::PasswordTooShort,
            format!("the password must have at least {MIN_LEN} characters"),
        ));
    }
    if password.len() > MAX_LEN {
        return Err(ApiError::validation(
            "password",
            ErrorCode::PasswordTooLong,
            format!("the password must have at most {MAX_LEN} bytes"),
        ));
    }
    Ok(())
}

pub async fn hash(password: Zeroizing<String>) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::internal()
    })
}

/// Verifies against `stored`, or against a dummy hash when there is no account, so the
/// answer takes as long either way.
pub async fn verify(password: Zeroizing<String>, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy = dummy_hash();
        let (phc, real) = match stored.as_deref() {
            Some(s) => (s, true),
            None => (dummy.as_str(), false),
        };
        let ok = PasswordHash::new(phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"fulcrum-dummy-password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_wrong_password() {
        let h = hash(Zeroizing::new("correct horse".into())).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Zeroizing::new("correct horse".into()), Some(h.clone())).await);
        assert!(!verify(Zeroizing::new("wrong horse".into()), Some(h)).await);
        assert!(!verify(Zeroizing::new("fulcrum-dummy-password".into()), None).await);
    }

    #[test]
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate(&"x".repeat(2000)).is_err());
    }
}
