//! The API key format shared by every Fulcrum key.
//!
//! A key is `<prefix>-<body>` where the body is exactly 40 characters of `[A-Za-z0-9]`:
//! a 10-character key ID, a 24-character secret and a 6-character base62 CRC32 checksum of
//! everything before it. Old `wandb` SDKs (before 0.22.3) demand exactly 40 characters after
//! the first dash and new ones 40 or more, so this shape works with both.
//!
//! Never change or remove a prefix that has been issued: the parser must keep accepting it.

use rand::rngs::{OsRng, StdRng};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Prefix of keys owned by people.
pub const PERSONAL_PREFIX: &str = "fk";
/// Prefix of keys owned by service accounts.
pub const SERVICE_PREFIX: &str = "fsk";
const KNOWN_PREFIXES: [&str; 2] = [PERSONAL_PREFIX, SERVICE_PREFIX];

const ID_LEN: usize = 10;
const SECRET_LEN: usize = 24;
const CHECK_LEN: usize = 6;
const BODY_LEN: usize = ID_LEN + SECRET_LEN + CHECK_LEN;
/// Longest credential we look at; anything longer is refused before any work.
pub const MAX_PRESENTED_LEN: usize = 512;
/// The SDK refuses keys whose part after the first dash is shorter than this.
const SDK_MIN_SECRET_LEN: usize = 40;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-256 of a whole key string: the only form in which keys are stored.
pub type KeyHash = [u8; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Personal,
    Service,
}

impl KeyKind {
    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Personal => PERSONAL_PREFIX,
            KeyKind::Service => SERVICE_PREFIX,
        }
    }
}

/// A freshly generated key. `full` is the only copy of the secret and is wiped on drop.
pub struct GeneratedKey {
    pub full: Zeroizing<String>,
    pub key_id: String,
    pub hash: KeyHash,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// What a presented credential turned out to be, decided without touching the store.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    /// One of ours with a valid checksum: look it up by key ID.
    Native { key_id: String, hash: KeyHash },
    /// A shape the SDK accepts but not ours (an imported legacy key): look it up by hash.
    Foreign { hash: KeyHash },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the API key is empty")]
    Empty,
    #[error("the API key is too long")]
    TooLong,
    #[error("the API key has characters an API key cannot have")]
    BadCharacters,
    #[error("the API key is too short")]
    TooShort,
    #[error("the API key's checksum does not match; it was mistyped or truncated")]
    BadChecksum,
}

/// Secrets come from a generator seeded once from the OS per call, so a 43-character
/// token costs one system call rather than one per character.
fn random_base62(len: usize) -> String {
    let mut rng = StdRng::from_rng(OsRng).unwrap_or_else(|_| StdRng::from_entropy());
    base62_from(&mut rng, len)
}

fn base62_from(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(BASE62[rng.gen_range(0..BASE62.len())]))
        .collect()
}

/// A short identifier for correlating log lines; unique enough, not a secret.
pub fn request_id() -> String {
    base62_from(&mut rand::thread_rng(), 16)
}

fn checksum(prefix: &str, id: &str, secret: &str) -> String {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(prefix.as_bytes());
    hasher.update(b"-");
    hasher.update(id.as_bytes());
    hasher.update(secret.as_bytes());
    let mut value = u64::from(hasher.finalize());
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        // value < 62 after the modulo, so the index is always in range.
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

pub fn hash_key(full: &str) -> KeyHash {
    Sha256::digest(full.as_bytes()).into()
}

/// Constant-time equality of two stored hashes.
pub fn hashes_equal(a: &KeyHash, b: &[u8]) -> bool {
    b.len() == a.len() && bool::from(a.as_slice().ct_eq(b))
}

pub fn generate(kind: KeyKind) -> GeneratedKey {
    let prefix = kind.prefix();
    let id = random_base62(ID_LEN);
    let secret = Zeroizing::new(random_base62(SECRET_LEN));
    let check = checksum(prefix, &id, &secret);
    let full = Zeroizing::new(format!("{prefix}-{id}{}{check}", secret.as_str()));
    GeneratedKey {
        key_id: format!("{prefix}-{id}"),
        hash: hash_key(&full),
        full,
    }
}

fn is_jwt_shaped(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// Checks a credential's shape the way the SDK does (ASCII only), and for our own prefixes
/// also the checksum, so garbage never reaches the store.
pub fn classify(key: &str) -> Result<Presented, KeyFormatError> {
    if key.is_empty() {
        return Err(KeyFormatError::Empty);
    }
    if key.len() > MAX_PRESENTED_LEN {
        return Err(KeyFormatError::TooLong);
    }
    if let Some((prefix, body)) = key.split_once('-') {
        if KNOWN_PREFIXES.contains(&prefix) && body.len() == BODY_LEN {
            if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(KeyFormatError::BadCharacters);
            }
            let (id, rest) = body.split_at(ID_LEN);
            let (secret, check) = rest.split_at(SECRET_LEN);
            let expected = checksum(prefix, id, secret);
            if !bool::from(expected.as_bytes().ct_eq(check.as_bytes())) {
                return Err(KeyFormatError::BadChecksum);
            }
            return Ok(Presented::Native {
                key_id: format!("{prefix}-{id}"),
                hash: hash_key(key),
            });
        }
    }
    validate_sdk_shape(key)?;
    Ok(Presented::Foreign {
        hash: hash_key(key),
    })
}

/// The SDK's own local rule: JWT-shaped, or the part after the first dash is at least 40
/// characters of letters, digits, `_` or `-`.
pub fn validate_sdk_shape(key: &str) -> Result<(), KeyFormatError> {
    if key.is_empty() {
        return Err(KeyFormatError::Empty);
    }
    if key.len() > MAX_PRESENTED_LEN {
        return Err(KeyFormatError::TooLong);
    }
    if is_jwt_shaped(key) {
        return Ok(());
    }
    let secret = key.split_once('-').map_or(key, |(_, s)| s);
    if !secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(KeyFormatError::BadCharacters);
    }
    if secret.len() < SDK_MIN_SECRET_LEN {
        return Err(KeyFormatError::TooShort);
    }
    Ok(())
}

/// The public Key ID of an imported key: its prefix (if any) and the first 10 characters
/// after it, so the ID is a prefix of the key, as W&B's own tooling assumes.
pub fn imported_key_id(key: &str) -> String {
    match key.split_once('-') {
        Some((prefix, rest)) => format!("{prefix}-{}", &rest[..ID_LEN.min(rest.len())]),
        None => key[..ID_LEN.min(key.len())].to_string(),
    }
}

/// A random opaque token (sessions, setup links): 43 base62 characters, about 256 bits.
pub fn random_token() -> Zeroizing<String> {
    Zeroizing::new(random_base62(43))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_satisfy_old_and_new_sdk_rules() {
        for kind in [KeyKind::Personal, KeyKind::Service] {
            let key = generate(kind);
            let (_, body) = key.full.split_once('-').unwrap();
            assert_eq!(body.len(), 40, "old SDKs demand exactly 40");
            assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(key.full.starts_with(&key.key_id));
            assert_eq!(
                classify(&key.full).unwrap(),
                Presented::Native {
                    key_id: key.key_id.clone(),
                    hash: key.hash
                }
            );
        }
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let key = generate(KeyKind::Personal);
        let mut bytes = key.full.as_bytes().to_vec();
        let i = 3 + 15;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(classify(&tampered), Err(KeyFormatError::BadChecksum));
    }

    #[test]
    fn legacy_and_on_prem_shapes_are_foreign() {
        let hex40 = "0123456789abcdef0123456789abcdef01234567";
        assert!(matches!(classify(hex40), Ok(Presented::Foreign { .. })));
        let local = format!("local-{hex40}");
        assert!(matches!(classify(&local), Ok(Presented::Foreign { .. })));
        assert_eq!(imported_key_id(&local), "local-0123456789");
        assert_eq!(imported_key_id(hex40), "0123456789");
    }

    #[test]
    fn malformed_shapes_are_refused() {
        assert_eq!(classify(""), Err(KeyFormatError::Empty));
        assert_eq!(classify(&"a".repeat(39)), Err(KeyFormatError::TooShort));
        assert_eq!(classify(&"a".repeat(10_000)), Err(KeyFormatError::TooLong));
        assert_eq!(
            classify("local-aaaa aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Err(KeyFormatError::BadCharacters)
        );
        assert_eq!(classify("fk-ééé"), Err(KeyFormatError::BadCharacters));
    }

    #[test]
    fn hashes_compare_in_constant_time_and_by_length() {
        let h = hash_key("x");
        assert!(hashes_equal(&h, &h));
        assert!(!hashes_equal(&h, &h[..31]));
        assert!(!hashes_equal(&h, &hash_key("y")));
    }
}
