//! Slack: the incoming-webhook message (Block Kit, within Slack's limits), what Slack's
//! answers mean, and the OAuth v2 code exchange (`oauth.v2.access`) that yields a webhook.
//!
//! Slack answers an incoming webhook with `200 ok`, or an error code in the body: 400
//! `invalid_payload` (our fault, do not retry), 403 `action_prohibited`, 404
//! `channel_not_found` / `no_service`, 410 `channel_is_archived` (the webhook is gone for
//! good), 429 with `Retry-After`, and 5xx (try again).

use serde_json::{json, Value};

use super::http::{Answer, Outbound};
use super::DeliveryError;

/// Slack's limits: 3000 characters in a section's text, 150 in a header.
const SECTION_MAX: usize = 3000;
const HEADER_MAX: usize = 150;

/// The parts of a message; the caller has put them in the reader's language.
pub struct SlackMessage<'a> {
    pub headline: &'a str,
    /// `(label, value)` pairs, shown as fields.
    pub fields: Vec<(&'a str, String)>,
    /// A `run.alert()`'s text, shown as written (escaped, never interpreted).
    pub text: Option<&'a str>,
    pub link: (&'a str, &'a str),
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Slack's mrkdwn escapes: people's text must not become links or mentions.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn blocks(m: &SlackMessage<'_>) -> Value {
    let fields: Vec<Value> = m
        .fields
        .iter()
        .map(|(label, value)| {
            json!({ "type": "mrkdwn", "text": cut(&format!("*{}*\n{}", label, escape(value)), 2000) })
        })
        .collect();
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": cut(m.headline, HEADER_MAX), "emoji": false } }),
        json!({ "type": "section", "fields": fields }),
    ];
    if let Some(text) = m.text.filter(|t| !t.trim().is_empty()) {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(&escape(text), SECTION_MAX), "verbatim": true } }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": format!("<{}|{}>", m.link.1, escape(m.link.0)) }]
    }));
    json!({ "text": cut(m.headline, SECTION_MAX), "blocks": blocks, "unfurl_links": false })
}

/// What an answer to a webhook POST means.
pub fn judge(answer: &Answer) -> Result<(), DeliveryError> {
    let code = answer.status.as_u16();
    let said = answer.body.trim();
    let said = if said.is_empty() {
        "no reason given"
    } else {
        said
    };
    match code {
        200..=299 => Ok(()),
        429 => Err(DeliveryError::retry_after(
            "Slack is rate limiting this webhook",
            answer.retry_after_ms.unwrap_or(1000),
        )),
        403 | 404 | 410 => Err(DeliveryError::broken(format!(
            "Slack answered {code} {said}"
        ))),
        400..=499 => Err(DeliveryError::permanent(format!(
            "Slack refused the message: {code} {said}"
        ))),
        300..=399 => Err(DeliveryError::broken(format!(
            "the webhook redirects ({code}); redirects are not followed"
        ))),
        _ => Err(DeliveryError::retry(format!(
            "Slack answered {code} {said}"
        ))),
    }
}

/// What `oauth.v2.access` gives for the `incoming-webhook` scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub webhook_url: String,
    pub channel: String,
    pub team: String,
}

/// Exchanges an OAuth code. Slack answers errors with HTTP 200 and `"ok": false`.
pub async fn oauth_access(
    out: &Outbound,
    api: &url::Url,
    form: &[(&str, &str)],
) -> Result<Installed, DeliveryError> {
    let url = api
        .join("oauth.v2.access")
        .map_err(|_| DeliveryError::permanent("slack_api_url cannot be joined"))?;
    let answer = out.post_form(&url, form).await?;
    if answer.status.is_server_error() || answer.status.as_u16() == 429 {
        return Err(DeliveryError::retry(format!(
            "Slack answered {}",
            answer.status
        )));
    }
    let body: Value = serde_json::from_str(&answer.body)
        .map_err(|_| DeliveryError::permanent("Slack's answer is not JSON"))?;
    if body["ok"] != Value::Bool(true) {
        let error = body["error"].as_str().unwrap_or("unknown_error");
        return Err(DeliveryError::permanent(format!("Slack said {error}")));
    }
    let hook = &body["incoming_webhook"];
    let webhook_url = hook["url"]
        .as_str()
        .ok_or_else(|| DeliveryError::permanent("Slack gave no incoming webhook"))?;
    Ok(Installed {
        webhook_url: webhook_url.to_string(),
        channel: hook["channel"].as_str().unwrap_or("").to_string(),
        team: body["team"]["name"].as_str().unwrap_or("").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str, retry: Option<i64>) -> Answer {
        Answer {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            retry_after_ms: retry,
            body: body.into(),
        }
    }

    #[test]
    fn slack_answers_mean_what_slack_documents() {
        assert!(judge(&answer(200, "ok", None)).is_ok());
        let e = judge(&answer(429, "", Some(30_000))).unwrap_err();
        assert_eq!((e.permanent, e.retry_after_ms), (false, Some(30_000)));
        for (code, body) in [
            (404, "no_service"),
            (410, "channel_is_archived"),
            (403, "action_prohibited"),
        ] {
            let e = judge(&answer(code, body, None)).unwrap_err();
            assert!(e.broken && e.permanent, "{code}");
        }
        let e = judge(&answer(400, "invalid_payload", None)).unwrap_err();
        assert!(e.permanent && !e.broken);
        let e = judge(&answer(503, "", None)).unwrap_err();
        assert!(!e.permanent);
    }

    #[test]
    fn messages_escape_people_text_and_keep_limits() {
        let long = "x".repeat(5000);
        let m = SlackMessage {
            headline: &long,
            fields: vec![("Project", "<!channel> a/b".into())],
            text: Some("<https://evil|click> & more"),
            link: ("Open the run", "https://fulcrum.example/a/b/runs/r"),
        };
        let v = blocks(&m);
        let text = v.to_string();
        assert!(!text.contains("<!channel>"));
        assert!(text.contains("&lt;https://evil|click&gt; &amp; more"));
        assert_eq!(
            v["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            HEADER_MAX
        );
    }
}
