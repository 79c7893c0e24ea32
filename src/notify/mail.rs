//! Mail transports: SMTP (lettre, rustls) in production, an in-memory outbox in tests. The
//! mailer builds the message; a transport only delivers it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use parking_lot::Mutex;

use super::DeliveryError;
use crate::config::{MailConfig, SmtpTls};

pub const NOT_CONFIGURED: &str = "mail is not configured (set smtp_host)";

#[async_trait]
pub trait MailTransport: Send + Sync + 'static {
    /// Whether mail can be sent at all (an unconfigured server keeps mail jobs waiting).
    fn is_configured(&self) -> bool;
    async fn send(&self, message: Message) -> Result<(), DeliveryError>;
}

pub type DynMailTransport = Arc<dyn MailTransport>;

/// The configured transport: SMTP when a relay (`smtp_host`) is set, else one that refuses (and so
/// keeps mail waiting on the retry schedule).
pub fn from_config(config: &MailConfig) -> anyhow::Result<DynMailTransport> {
    let Some(host) = &config.host else {
        return Ok(Arc::new(Unconfigured));
    };
    let tls = match config.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls => Tls::Required(TlsParameters::new(host.clone())?),
        SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(host.clone())?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(config.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(config.timeout_secs)));
    if let Some(user) = &config.username {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            config
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default(),
        ));
    }
    Ok(Arc::new(Smtp(builder.build())))
}

struct Unconfigured;

#[async_trait]
impl MailTransport for Unconfigured {
    fn is_configured(&self) -> bool {
        false
    }

    async fn send(&self, _: Message) -> Result<(), DeliveryError> {
        Err(DeliveryError::retry(NOT_CONFIGURED))
    }
}

struct Smtp(AsyncSmtpTransport<Tokio1Executor>);

#[async_trait]
impl MailTransport for Smtp {
    fn is_configured(&self) -> bool {
        true
    }

    async fn send(&self, message: Message) -> Result<(), DeliveryError> {
        self.0.send(message).await.map(|_| ()).map_err(smtp_error)
    }
}

/// Permanent SMTP answers (5xx) about the message or recipient are not retried; failures to
/// reach the server, temporary answers and authentication problems (which an operator can
/// fix) are.
fn smtp_error(e: lettre::transport::smtp::Error) -> DeliveryError {
    let message = format!("SMTP: {e}");
    if e.is_permanent() {
        let auth = e.status().is_some_and(|code| {
            let code = code.to_string();
            matches!(code.as_str(), "530" | "534" | "535" | "538")
        });
        if !auth {
            return DeliveryError::permanent(message);
        }
    }
    DeliveryError::retry(message)
}

/// A delivered message as the in-memory transport keeps it.
#[derive(Debug, Clone)]
pub struct CapturedMail {
    pub to: Vec<String>,
    pub subject: String,
    /// The whole message as it would go on the wire (headers and MIME parts).
    pub raw: String,
}

/// Keeps every message in memory instead of sending it: tests read what would have gone out.
#[derive(Default)]
pub struct MemoryTransport {
    sent: Mutex<Vec<CapturedMail>>,
}

impl MemoryTransport {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn sent(&self) -> Vec<CapturedMail> {
        self.sent.lock().clone()
    }
}

#[async_trait]
impl MailTransport for MemoryTransport {
    fn is_configured(&self) -> bool {
        true
    }

    async fn send(&self, message: Message) -> Result<(), DeliveryError> {
        let to = message
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        let subject = message
            .headers()
            .get_raw("Subject")
            .unwrap_or_default()
            .to_string();
        let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
        self.sent.lock().push(CapturedMail { to, subject, raw });
        Ok(())
    }
}
