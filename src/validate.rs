//! Input rules shared by the API, the GraphQL schema and the admin CLI.

use crate::error::{ApiError, ErrorCode};

pub const USERNAME_MAX: usize = 64;
pub const EMAIL_MAX: usize = 254;
pub const DISPLAY_NAME_MAX: usize = 64;
pub const KEY_NAME_MAX: usize = 100;

/// Names that would shadow a route (`/<username>` is a profile page) or confuse people.
const RESERVED: &[&str] = &[
    "admin",
    "api",
    "graphql",
    "files",
    "uploads",
    "login",
    "logout",
    "settings",
    "setup",
    "signup",
    "static",
    "assets",
    "healthz",
    "readyz",
    "metrics",
    "sdk",
    "oidc",
    "authorize",
    "teams",
    "team",
    "users",
    "user",
    "new",
    "help",
    "about",
    "fulcrum",
    "null",
    "undefined",
    "me",
    "profile",
    "account",
    "oauth",
    "auth",
    "www",
];

pub fn username(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::validation(
            "username",
            ErrorCode::UsernameRequired,
            "a username is required",
        ));
    }
    if name.chars().count() > USERNAME_MAX {
        return Err(ApiError::validation(
            "username",
            ErrorCode::UsernameTooLong,
            format!("a username has at most {USERNAME_MAX} characters"),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::validation(
            "username",
            ErrorCode::UsernameInvalid,
            "a username may contain only letters, digits, '-' and '_'",
        ));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(ApiError::validation(
            "username",
            ErrorCode::UsernameReserved,
            format!("'{name}' is reserved; choose another username"),
        ));
    }
    Ok(name.to_string())
}

pub fn email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim();
    let invalid = || {
        ApiError::validation(
            "email",
            ErrorCode::EmailInvalid,
            "enter a valid email address",
        )
    };
    if email.is_empty() || email.len() > EMAIL_MAX || email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || email.chars().any(char::is_control)
    {
        return Err(invalid());
    }
    Ok(email.to_string())
}

/// Control characters (NUL, CR/LF, ANSI escapes) and the bidirectional overrides that
/// make text display differently from what it is.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Not white space and not one of the zero-width characters, which alone would make a name
/// nobody can see or type.
fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Untrusted text quoted back in an error message: at most 64 characters, controls as `?`.
pub fn echo(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .take(64)
        .map(|c| if is_unsafe_char(c) { '?' } else { c })
        .collect();
    if raw.chars().nth(64).is_some() {
        out.push('…');
    }
    out
}

/// The rule for a free-text field people type (a name, a bio): trimmed, at most `max`
/// characters, and none that would break or disguise how it shows (controls, direction
/// overrides), except that `multiline` text keeps its line breaks and tabs.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    pub field: &'static str,
    pub code: ErrorCode,
    /// How the error message names the text ("a name", "the bio").
    pub what: &'static str,
    pub max: usize,
    pub multiline: bool,
}

impl TextRule {
    pub fn check(&self, raw: &str) -> Result<String, ApiError> {
        let text = raw.trim();
        let layout = |c: char| self.multiline && matches!(c, '\n' | '\r' | '\t');
        if text.chars().count() > self.max || text.chars().any(|c| is_unsafe_char(c) && !layout(c))
        {
            let lines = if self.multiline { "" } else { " on one line" };
            let (what, max) = (self.what, self.max);
            return Err(ApiError::validation(
                self.field,
                self.code,
                format!("{what} has at most {max} printable characters{lines}"),
            ));
        }
        Ok(text.to_string())
    }
}

/// A person's (or service account's) display name.
pub const DISPLAY_NAME: TextRule = TextRule {
    field: "name",
    code: ErrorCode::NameInvalid,
    what: "a name",
    max: DISPLAY_NAME_MAX,
    multiline: false,
};

/// The name people give an API key.
pub const KEY_NAME: TextRule = TextRule {
    field: "name",
    code: ErrorCode::KeyNameInvalid,
    what: "a key name",
    max: KEY_NAME_MAX,
    multiline: false,
};

pub const PROJECT_NAME_MAX: usize = 128;
pub const RUN_ID_MAX: usize = 64;

/// A project name as W&B allows it: it is a URL path segment, so no separators.
pub fn project_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let bad = |c: char| matches!(c, '/' | '\\' | '#' | '?' | '%' | ':') || is_unsafe_char(c);
    if !name.chars().any(is_visible)
        || name.chars().count() > PROJECT_NAME_MAX
        || name.chars().any(bad)
    {
        return Err(ApiError::validation(
            "project",
            ErrorCode::ProjectNameInvalid,
            format!(
                "a project name has 1 to {PROJECT_NAME_MAX} characters and none of / \\ # ? % :, got {:?}",
                echo(raw)
            ),
        ));
    }
    Ok(name.to_string())
}

/// A run ID (the SDK's `id=`): part of every run URL.
pub fn run_id(raw: &str) -> Result<String, ApiError> {
    let id = raw.trim();
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.len() > RUN_ID_MAX || !id.chars().all(ok) || id.starts_with('.') {
        return Err(ApiError::validation(
            "name",
            ErrorCode::RunIdInvalid,
            format!(
                "a run ID has 1 to {RUN_ID_MAX} letters, digits, '-', '_' or '.', got {:?}",
                echo(raw)
            ),
        ));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_and_run_ids() {
        assert_eq!(project_name(" my-project v2 ").unwrap(), "my-project v2");
        for bad in [
            "",
            "a/b",
            "a#b",
            "a?b",
            "50%",
            "a:b",
            "a\\b",
            &"p".repeat(129),
            "\u{200B}",
            " \u{FEFF} ",
        ] {
            assert!(project_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(project_name("\u{D55C}\u{AE00} \u{1F469}\u{200D}\u{1F52C}").is_ok());
        assert_eq!(run_id("abc123XY").unwrap(), "abc123XY");
        for bad in ["", "a b", "a/b", ".hidden", "ü", &"r".repeat(65)] {
            assert!(run_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(username(" alice_1 ").unwrap(), "alice_1");
        assert_eq!(username("a-b").unwrap(), "a-b");
        for bad in ["", "al ice", "ålice", "a/b", "a.b", &"x".repeat(65)] {
            assert!(username(bad).is_err(), "{bad:?} accepted");
        }
        // Tooling around the SDK makes long names; personal entities follow usernames.
        assert!(username(&"x".repeat(64)).is_ok());
        for reserved in ["settings", "Admin", "API", "graphql", "files", "login"] {
            assert_eq!(username(reserved).unwrap_err().code, "username_reserved");
        }
    }

    #[test]
    fn names_refuse_control_and_bidi_characters() {
        let display_name = |raw: &str| DISPLAY_NAME.check(raw);
        let key_name = |raw: &str| KEY_NAME.check(raw);
        assert_eq!(display_name(" Ada ").unwrap(), "Ada");
        assert_eq!(display_name("한국어 이름").unwrap(), "한국어 이름");
        for bad in [
            "a\u{0}b",
            "a\r\nb",
            "\u{1b}[31mred",
            "abc\u{202E}fed",
            &"x".repeat(65),
        ] {
            assert!(display_name(bad).is_err(), "{bad:?} accepted");
            assert!(
                key_name(&bad.repeat(2)).is_err(),
                "{bad:?} accepted as a key name"
            );
        }
    }

    #[test]
    fn multiline_text_keeps_line_breaks_but_not_other_controls() {
        let bio = TextRule {
            multiline: true,
            ..DISPLAY_NAME
        };
        assert_eq!(
            bio.check(" two\r\nlines\tand a tab ").unwrap(),
            "two\r\nlines\tand a tab"
        );
        for bad in [
            "a\u{0}b",
            "\u{1b}[31mred",
            "abc\u{202E}fed",
            &"x".repeat(65),
        ] {
            assert_eq!(bio.check(bad).unwrap_err().code, "name_invalid", "{bad:?}");
        }
        let refused = DISPLAY_NAME.check("two\nlines").unwrap_err();
        assert_eq!(
            refused.message,
            "a name has at most 64 printable characters on one line"
        );
    }

    #[test]
    fn echoed_text_is_bounded_and_printable() {
        assert_eq!(echo("lab"), "lab");
        assert_eq!(echo("a\r\nb"), "a??b");
        let long = echo(&"x".repeat(10_000));
        assert_eq!(long.chars().count(), 65);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn emails() {
        assert!(email("a@example.com").is_ok());
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@.com",
            "a@example.",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }
}
