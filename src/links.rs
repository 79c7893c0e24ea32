//! Tokens of mailed links (invitations, email verification), derived from the server secret.
//!
//! The database keeps only a token's SHA-256 (to find it) and, in the mail job, a random
//! nonce (to mail it); the token itself is HMAC-SHA-256(secret, purpose, nonce). A copy of
//! the database alone therefore holds no usable link. Changing `secret_key` invalidates the
//! links of mails not yet sent.

use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::config::Config;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// As long as every other opaque token (`keys::random_token`).
pub const TOKEN_LEN: usize = 43;

/// Purposes keep a token for one kind of link from opening another.
pub const INVITE: &str = "invite";
pub const VERIFY_EMAIL: &str = "verify_email";

#[derive(Clone, Debug)]
pub struct LinkSigner {
    key: DerivedKey,
}

/// A key derived from the server secret ([`derive_key`]): wiped when dropped, never printed.
#[derive(Clone)]
pub(crate) struct DerivedKey(Zeroizing<[u8; 32]>);

impl DerivedKey {
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl std::fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The server secret: `secret_key` from the configuration, or the `secret.key` file that
/// the first start generates in the data directory.
pub fn server_secret(config: &Config) -> anyhow::Result<Zeroizing<String>> {
    if let Some(secret) = &config.secret_key {
        return Ok(Zeroizing::new(secret.expose().to_string()));
    }
    let path = config.data_dir.join("secret.key");
    read_secret(&path)
}

fn read_secret(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the server secret {}", path.display()))?,
    );
    let secret = text.trim();
    if secret.len() < 16 {
        anyhow::bail!(
            "the server secret {} is shorter than 16 characters",
            path.display()
        );
    }
    Ok(Zeroizing::new(secret.to_string()))
}

/// A 32-byte key for one use (`label`, e.g. `fulcrum.links.v1`) derived from the server
/// secret, so the link key and the sealing key never coincide.
pub(crate) fn derive_key(label: &str, secret: &str) -> DerivedKey {
    let mut key = Zeroizing::new([0u8; 32]);
    let digest = Sha256::new()
        .chain_update(label.as_bytes())
        .chain_update(b"\0")
        .chain_update(secret.as_bytes())
        .finalize();
    key.copy_from_slice(&digest);
    DerivedKey(key)
}

impl LinkSigner {
    pub fn new(secret: &str) -> Self {
        Self {
            key: derive_key("fulcrum.links.v1", secret),
        }
    }

    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(Self::new(&server_secret(config)?))
    }

    /// HMAC-SHA-256 of `msg` for `purpose` under the server's link key (OAuth `state`).
    pub fn mac(&self, purpose: &str, msg: &str) -> [u8; 32] {
        let mut data = Vec::with_capacity(purpose.len() + msg.len() + 1);
        data.extend_from_slice(purpose.as_bytes());
        data.push(0);
        data.extend_from_slice(msg.as_bytes());
        hmac_sha256(self.key.as_slice(), &data)
    }

    /// A fresh nonce to store with a mail job.
    pub fn nonce() -> String {
        crate::keys::random_token()[..22].to_string()
    }

    /// The link token for `purpose` and `nonce`: 43 base62 characters (~256 bits).
    pub fn token(&self, purpose: &str, nonce: &str) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(TOKEN_LEN));
        let mut block = 0u8;
        while out.len() < TOKEN_LEN {
            let mut msg = Vec::with_capacity(purpose.len() + nonce.len() + 2);
            msg.extend_from_slice(purpose.as_bytes());
            msg.push(0);
            msg.extend_from_slice(nonce.as_bytes());
            msg.push(block);
            for b in hmac_sha256(self.key.as_slice(), &msg) {
                if out.len() == TOKEN_LEN {
                    break;
                }
                out.push(char::from(BASE62[usize::from(b) % BASE62.len()]));
            }
            block = block.wrapping_add(1);
        }
        out
    }
}

/// HMAC-SHA-256 (RFC 2104) for keys of at most one block.
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = Zeroizing::new([0u8; 64]);
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= block[i];
        opad[i] ^= block[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_depend_on_secret_purpose_and_nonce() {
        let a = LinkSigner::new("secret one, long enough");
        let b = LinkSigner::new("secret two, long enough");
        let t = a.token(INVITE, "n1");
        assert_eq!(t.len(), TOKEN_LEN);
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(*t, *a.token(INVITE, "n1"));
        assert_ne!(*t, *a.token(INVITE, "n2"));
        assert_ne!(*t, *a.token(VERIFY_EMAIL, "n1"));
        assert_ne!(*t, *b.token(INVITE, "n1"));
    }
}
