//! Outgoing mail: the SMTP relay (`smtp_*`) and the `From` of every mail (`mail_from`).

use anyhow::bail;

use super::layers::Reader;
use super::Secret;

/// How the mailer secures its SMTP connection (`smtp_tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP; only when configured explicitly.
    None,
    /// Upgrade with STARTTLS and refuse to send when the server cannot (the default).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// The SMTP relay; mail jobs fail (and retry) while `host` is unset.
#[derive(Clone, Debug)]
pub struct MailConfig {
    pub host: Option<String>,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub timeout_secs: u64,
    /// The `From` of every mail, as `Name <address>` or a bare address.
    pub from: String,
}

impl MailConfig {
    /// Whether mail can be sent at all (a relay is configured).
    pub fn is_configured(&self) -> bool {
        self.host.is_some()
    }

    pub(super) fn read(r: &Reader<'_>) -> anyhow::Result<MailConfig> {
        let tls = match r.string("smtp_tls")?.as_deref() {
            None | Some("starttls") => SmtpTls::Starttls,
            Some("tls") => SmtpTls::Tls,
            Some("none") => SmtpTls::None,
            Some(other) => {
                bail!("configuration key `smtp_tls` must be none, starttls or tls, got {other:?}")
            }
        };
        let default_port = if tls == SmtpTls::Tls { 465 } else { 25 };
        let from = r
            .string("mail_from")?
            .unwrap_or_else(|| "Fulcrum <fulcrum@localhost>".into());
        if from.parse::<lettre::message::Mailbox>().is_err() {
            bail!("configuration key `mail_from` must be an address like `Fulcrum <fulcrum@example.com>`, got {from:?}");
        }
        Ok(MailConfig {
            host: r.string("smtp_host")?.filter(|s| !s.trim().is_empty()),
            port: r.int("smtp_port", default_port, 1, 65_535)? as u16,
            tls,
            username: r.string("smtp_username")?.filter(|s| !s.is_empty()),
            password: r
                .string("smtp_password")?
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            timeout_secs: r.int("smtp_timeout_secs", 30, 1, 600)? as u64,
            from,
        })
    }
}
