//! Secrets the server must use again later (Slack webhook URLs, webhook signing secrets)
//! are sealed before they are stored: ChaCha20-Poly1305 under a key derived from the server
//! secret, with a fresh random nonce each time and the secret's purpose as associated data,
//! so a sealed value cannot be moved to another column and still open. A copy of the
//! database alone holds none of them.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::config::Config;

const VERSION: &str = "v1:";

#[derive(Clone, Debug)]
pub struct Sealer {
    key: crate::links::DerivedKey,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the random number generator failed")]
    Random,
    /// Wrong key (the server secret changed), a damaged value or the wrong purpose.
    #[error("a sealed secret cannot be opened (was the server secret changed?)")]
    Open,
}

impl Sealer {
    pub fn new(secret: &str) -> Sealer {
        Sealer {
            key: crate::links::derive_key("fulcrum.sealed.v1", secret),
        }
    }

    pub fn from_config(config: &Config) -> anyhow::Result<Sealer> {
        Ok(Sealer::new(&crate::links::server_secret(config)?))
    }

    fn aead(&self) -> Result<LessSafeKey, SealError> {
        UnboundKey::new(&CHACHA20_POLY1305, self.key.as_slice())
            .map(LessSafeKey::new)
            .map_err(|_| SealError::Open)
    }

    /// `v1:` and the base64 of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, purpose: &str, plain: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut data = plain.as_bytes().to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Open)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!(
            "{VERSION}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        ))
    }

    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Zeroizing<String>, SealError> {
        let raw = sealed
            .strip_prefix(VERSION)
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(b)
                    .ok()
            })
            .filter(|raw| raw.len() > NONCE_LEN)
            .ok_or(SealError::Open)?;
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut body = Zeroizing::new(body.to_vec());
        let plain = self
            .aead()?
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut body)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let s = Sealer::new("a server secret of some length");
        let url = "https://hooks.slack.com/services/T000/B000/XXXX";
        let a = s.seal("slack_url", url).unwrap();
        let b = s.seal("slack_url", url).unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("hooks.slack.com"));
        assert_eq!(s.open("slack_url", &a).unwrap().as_str(), url);
        assert!(s.open("webhook_secret", &a).is_err());
        assert!(Sealer::new("another secret entirely")
            .open("slack_url", &a)
            .is_err());
        let mut damaged = a.clone();
        damaged.pop();
        assert!(s.open("slack_url", &damaged).is_err());
        assert!(s.open("slack_url", "v1:").is_err());
    }
}
