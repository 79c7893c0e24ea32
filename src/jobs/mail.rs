//! Outgoing mail: SMTP through lettre (rustls), and the templates of each mail.
//!
//! Templates are minijinja files embedded from `src/jobs/templates/`: per mail a subject, a
//! text part and an HTML part (which extends `layout.html`), in English and Korean. HTML
//! templates are auto-escaped, so names people chose (team, inviter) cannot inject markup;
//! subjects have control characters removed so they cannot inject headers.
//!
//! Without `smtp_host` mail jobs fail with "mail is not configured" and are retried on the
//! usual schedule (so a server configured soon after still delivers them) until they run
//! out of attempts.

use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};
use minijinja::{context, Environment};

use super::{Job, JobError, Recipient, TeamInviteMail};
use crate::config::Config;
use crate::notify::mail::DynMailTransport;
pub use crate::notify::mail::NOT_CONFIGURED;

/// Every embedded template, by name: per mail a subject, a text and an HTML part in each
/// language. The extension picks the escaping: `.html` is HTML-escaped, `.txt` and
/// `.subject` are not.
macro_rules! mail_templates {
    ($($name:literal),+) => {
        &[
            ("layout.html", include_str!("templates/layout.html")),
            $(
                mail_templates!(@part $name, "en", "subject"),
                mail_templates!(@part $name, "en", "txt"),
                mail_templates!(@part $name, "en", "html"),
                mail_templates!(@part $name, "ko", "subject"),
                mail_templates!(@part $name, "ko", "txt"),
                mail_templates!(@part $name, "ko", "html"),
            )+
        ]
    };
    (@part $name:literal, $lang:literal, $ext:literal) => {
        (
            concat!($name, ".", $lang, ".", $ext),
            include_str!(concat!("templates/", $name, ".", $lang, ".", $ext)),
        )
    };
}

const TEMPLATES: &[(&str, &str)] = mail_templates!(
    "verify_email",
    "team_invite",
    "run_alert",
    "channel_broken",
    "security_notice"
);

/// A rendered mail: subject, text part and HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The mail languages; the recipient's language picks one, English by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ko,
}

impl Lang {
    pub fn pick(language: Option<&str>) -> Lang {
        match language.map(|l| l.trim().to_ascii_lowercase()) {
            Some(l) if l == "ko" || l.starts_with("ko-") || l.starts_with("ko_") => Lang::Ko,
            _ => Lang::En,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }
}

pub struct Mailer {
    transport: DynMailTransport,
    from: Mailbox,
    templates: Templates,
    /// Turns a job's link nonce into the link's token; none without a server secret.
    links: Option<crate::links::LinkSigner>,
}

impl Mailer {
    /// The mailer over the configured transport (SMTP, or none without `smtp_host`).
    pub fn from_config(config: &Config) -> anyhow::Result<Mailer> {
        Self::with_transport(config, crate::notify::mail::from_config(&config.mail)?)
    }

    /// The mailer over a given transport (an in-memory one in tests).
    pub fn with_transport(config: &Config, transport: DynMailTransport) -> anyhow::Result<Mailer> {
        let from: Mailbox = config.mail.from.parse().map_err(|e| {
            anyhow::anyhow!("configuration key `mail_from` is not a valid address: {e}")
        })?;
        Ok(Mailer {
            transport,
            from,
            templates: Templates::new()?,
            links: crate::links::LinkSigner::from_config(config).ok(),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.transport.is_configured()
    }

    /// Sends a multipart (text + HTML) mail to one recipient. `key` names what is sent
    /// (a job): every retry carries the same `Message-ID`, so a mail delivered twice (at
    /// least once delivery) shows once in most mail clients.
    pub async fn send(&self, key: &str, to: Mailbox, mail: RenderedMail) -> Result<(), JobError> {
        if !self.transport.is_configured() {
            return Err(JobError::retry(NOT_CONFIGURED));
        }
        let message = Message::builder()
            .message_id(Some(format!("<{key}@{}>", self.from.email.domain())))
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| JobError::permanent(format!("cannot build the mail: {e}")))?;
        self.transport.send(message).await.map_err(JobError::from)
    }

    /// Runs a mail job: its payload, rendered, to its recipient.
    pub async fn send_job<P: MailPayload>(
        &self,
        mail: P,
        job: &Job,
        now: i64,
    ) -> Result<(), JobError> {
        let (to, rendered) = mail.render(self, now)?;
        self.send(&message_key(job), recipient(&to)?, rendered)
            .await
    }

    /// `url` with `#token=…` derived from the nonce; unchanged for a job without one.
    fn signed_link(
        &self,
        url: &str,
        purpose: &str,
        nonce: Option<&str>,
    ) -> Result<String, JobError> {
        let Some(nonce) = nonce else {
            return Ok(url.to_string());
        };
        let signer = self.links.as_ref().ok_or_else(|| {
            JobError::retry("the server secret cannot be read, so the link cannot be made")
        })?;
        let mut link =
            url::Url::parse(url).map_err(|_| JobError::permanent("the link is not a URL"))?;
        link.set_fragment(Some(&format!(
            "token={}",
            signer.token(purpose, nonce).as_str()
        )));
        Ok(link.to_string())
    }

    /// Renders the invitation mail without sending it.
    pub fn render_team_invite(&self, invite: &TeamInviteMail) -> Result<RenderedMail, JobError> {
        self.templates.team_invite(invite)
    }
}

/// A mail job's payload: whom it goes to and how it reads (the mailer signs its links).
pub trait MailPayload: super::JobKind + Send + Sync + 'static {
    fn render(self, mailer: &Mailer, now: i64) -> Result<(String, RenderedMail), JobError>;
}

impl MailPayload for TeamInviteMail {
    fn render(mut self, mailer: &Mailer, now: i64) -> Result<(String, RenderedMail), JobError> {
        if self.expires_at <= now {
            return Err(JobError::permanent(
                "the invitation expired before it could be sent",
            ));
        }
        let nonce = self.link_nonce.take();
        self.accept_url =
            mailer.signed_link(&self.accept_url, crate::links::INVITE, nonce.as_deref())?;
        Ok((
            self.recipient.to.clone(),
            mailer.templates.team_invite(&self)?,
        ))
    }
}

impl MailPayload for super::VerifyEmailMail {
    fn render(mut self, mailer: &Mailer, _now: i64) -> Result<(String, RenderedMail), JobError> {
        let nonce = self.link_nonce.take();
        self.verify_url = mailer.signed_link(
            &self.verify_url,
            crate::links::VERIFY_EMAIL,
            nonce.as_deref(),
        )?;
        Ok((
            self.recipient.to.clone(),
            mailer.templates.verify_email(&self)?,
        ))
    }
}

impl MailPayload for super::alerts::RunAlertMail {
    fn render(self, mailer: &Mailer, _now: i64) -> Result<(String, RenderedMail), JobError> {
        Ok((
            self.recipient.to.clone(),
            mailer.templates.run_alert(&self)?,
        ))
    }
}

impl MailPayload for super::alerts::ChannelBrokenMail {
    fn render(self, mailer: &Mailer, _now: i64) -> Result<(String, RenderedMail), JobError> {
        Ok((
            self.recipient.to.clone(),
            mailer.templates.channel_broken(&self)?,
        ))
    }
}

impl MailPayload for super::security_mail::SecurityNoticeMail {
    fn render(self, mailer: &Mailer, _now: i64) -> Result<(String, RenderedMail), JobError> {
        Ok((
            self.recipient.to.clone(),
            mailer.templates.security_notice(&self)?,
        ))
    }
}

/// Stable for a job across its retries, unique across databases in practice.
fn message_key(job: &Job) -> String {
    format!("fulcrum.job.{}.{}", job.id, job.created_at)
}

fn recipient(to: &str) -> Result<Mailbox, JobError> {
    let address: Address = to
        .trim()
        .parse()
        .map_err(|_| JobError::permanent("the recipient is not a valid email address"))?;
    Ok(Mailbox::new(None, address))
}

struct Templates {
    env: Environment<'static>,
}

impl Templates {
    fn new() -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| anyhow::anyhow!("mail template {name}: {e}"))?;
        }
        Ok(Templates { env })
    }

    /// Renders mail `name` in the recipient's language; every template may greet them as
    /// `name`.
    fn render(
        &self,
        name: &str,
        to: &Recipient,
        ctx: minijinja::Value,
    ) -> Result<RenderedMail, JobError> {
        let lang = to.lang();
        let greeted = single_line(&to.name);
        let ctx = context! { lang => lang.code(), name => greeted, ..ctx };
        let subject = single_line(&self.part(name, lang, "subject", &ctx)?);
        let ctx = context! { subject => subject.clone(), ..ctx };
        Ok(RenderedMail {
            text: self.part(name, lang, "txt", &ctx)?,
            html: self.part(name, lang, "html", &ctx)?,
            subject,
        })
    }

    fn part(
        &self,
        name: &str,
        lang: Lang,
        part: &str,
        ctx: &minijinja::Value,
    ) -> Result<String, JobError> {
        let template = format!("{name}.{}.{part}", lang.code());
        self.env
            .get_template(&template)
            .and_then(|t| t.render(ctx))
            .map_err(|e| JobError::permanent(format!("mail template {template}: {e}")))
    }

    fn verify_email(&self, mail: &super::VerifyEmailMail) -> Result<RenderedMail, JobError> {
        let url = http_link(&mail.verify_url, "verification")?;
        let ctx = context! {
            verify_url => url.as_str(),
            change => mail.change,
            to => single_line(&mail.recipient.to),
        };
        self.render("verify_email", &mail.recipient, ctx)
    }

    fn team_invite(&self, invite: &TeamInviteMail) -> Result<RenderedMail, JobError> {
        let accept_url = http_link(&invite.accept_url, "accept")?;
        let lang = invite.recipient.lang();
        let ctx = context! {
            inviter => single_line(&invite.inviter),
            team => single_line(&invite.team),
            role => role_label(lang, &invite.role),
            accept_url => accept_url.as_str(),
            expires => format_time(lang, invite.expires_at),
        };
        self.render("team_invite", &invite.recipient, ctx)
    }
}

/// A link a mail carries, which must be an absolute http(s) URL; `what` names it in the error.
fn http_link(raw: &str, what: &str) -> Result<url::Url, JobError> {
    url::Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| JobError::permanent(format!("the {what} link is not an http(s) URL")))
}

impl Templates {
    fn run_alert(&self, mail: &super::alerts::RunAlertMail) -> Result<RenderedMail, JobError> {
        use super::alert_text;
        let a = &mail.about;
        let url = http_link(&a.run_url, "run")?;
        let lang = mail.recipient.lang();
        let exit_code = a
            .exit_code
            .map_or_else(|| "—".to_string(), |c| c.to_string());
        let (title, text, level) = match &a.alert {
            Some(s) => (single_line(&s.title), s.text.clone(), single_line(&s.level)),
            None => (String::new(), String::new(), String::new()),
        };
        let ctx = context! {
            title, text, level,
            state => a.state.as_str(),
            state_label => alert_text::state_label(lang, &a.state),
            run => single_line(&a.run),
            run_id => single_line(&a.run_id),
            project => single_line(&a.project),
            entity => single_line(&a.entity),
            duration => alert_text::duration(a.duration_secs),
            exit_code,
            run_url => url.as_str(),
        };
        self.render("run_alert", &mail.recipient, ctx)
    }

    fn channel_broken(
        &self,
        mail: &super::alerts::ChannelBrokenMail,
    ) -> Result<RenderedMail, JobError> {
        let ctx = context! {
            team => mail.team.as_deref().map(single_line),
            channel => single_line(&mail.channel),
            reason => single_line(&mail.reason),
            settings_url => mail.settings_url.as_str(),
        };
        self.render("channel_broken", &mail.recipient, ctx)
    }
}

impl Templates {
    fn security_notice(
        &self,
        mail: &super::security_mail::SecurityNoticeMail,
    ) -> Result<RenderedMail, JobError> {
        let lang = mail.recipient.lang();
        let ctx = context! {
            change => mail.change.as_str(),
            new_email => mail.new_email.as_deref().map(single_line),
            ip => mail.ip.as_deref().map(single_line),
            at => format_time(lang, mail.at),
            until => mail.until.map(|t| format_time(lang, t)),
            settings_url => mail.settings_url.as_str(),
        };
        self.render("security_notice", &mail.recipient, ctx)
    }
}

fn role_label(lang: Lang, role: &str) -> String {
    match (lang, role) {
        (Lang::En, "admin") => "an admin".into(),
        (Lang::En, "member") => "a member".into(),
        (Lang::En, "viewer") => "a viewer".into(),
        (Lang::Ko, "admin") => "관리자".into(),
        (Lang::Ko, "member") => "멤버".into(),
        (Lang::Ko, "viewer") => "뷰어".into(),
        (_, other) => single_line(other),
    }
}

/// Unix milliseconds as a UTC date and time people read.
fn format_time(lang: Lang, ms: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    match lang {
        Lang::En => t.format("%B %-d, %Y at %H:%M UTC").to_string(),
        Lang::Ko => t.format("%Y년 %-m월 %-d일 %H:%M (UTC)").to_string(),
    }
}

/// Control characters (line breaks above all) become spaces: the text may go into a header.
fn single_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(language: Option<&str>) -> TeamInviteMail {
        TeamInviteMail {
            recipient: crate::jobs::Recipient {
                to: "kim@example.com".into(),
                language: language.map(str::to_string),
                name: "Kim".into(),
            },
            team: "<b>ml</b> & co".into(),
            inviter: "Ada \"Lovelace\"\r\nBcc: x@y".into(),
            role: "member".into(),
            accept_url: "https://fulcrum.example/invites/abc?x=1&y=2".into(),
            expires_at: 1_798_761_600_000,
            link_nonce: None,
        }
    }

    #[test]
    fn english_is_the_default_and_html_is_escaped() {
        let t = Templates::new().unwrap();
        for lang in [None, Some("en"), Some("de"), Some("")] {
            let m = t.team_invite(&invite(lang)).unwrap();
            assert_eq!(
                m.subject,
                "Ada \"Lovelace\"  Bcc: x@y invited you to join <b>ml</b> & co on Fulcrum"
            );
            assert!(
                m.html.contains("&lt;b&gt;ml&lt;&#x2f;b&gt; &amp; co"),
                "{}",
                m.html
            );
            assert!(!m.html.contains("<b>ml"));
            assert!(m.html.contains("href=\"https:&#x2f;&#x2f;fulcrum.example"));
            assert!(m.html.contains("lang=\"en\""));
            assert!(m.text.contains("<b>ml</b> & co"));
            assert!(m
                .text
                .contains("\nhttps://fulcrum.example/invites/abc?x=1&y=2\n"));
            assert!(m.text.contains("as a member"));
            assert!(
                m.text.contains("January 1, 2027 at 00:00 UTC"),
                "{}",
                m.text
            );
        }
    }

    #[test]
    fn korean_when_asked() {
        let t = Templates::new().unwrap();
        for lang in ["ko", "KO", "ko-KR"] {
            let m = t.team_invite(&invite(Some(lang))).unwrap();
            assert!(m
                .subject
                .ends_with("님이 Fulcrum의 <b>ml</b> & co 팀에 초대했습니다"));
            assert!(m.text.contains("멤버로 초대했습니다"));
            assert!(m.text.contains("2027년 1월 1일 00:00 (UTC)"));
            assert!(m.html.contains("초대 수락하기"));
            assert!(m.html.contains("lang=\"ko\""));
        }
    }

    #[test]
    fn bad_links_are_refused() {
        let t = Templates::new().unwrap();
        let mut i = invite(None);
        i.accept_url = "javascript:alert(1)".into();
        assert!(t.team_invite(&i).unwrap_err().permanent);
    }
}
