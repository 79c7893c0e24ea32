//! The `state` of an OAuth flow (Connect Slack, Connect Github): its fields, an expiry and
//! an HMAC over them, the person and the browser session that started the flow. A callback
//! forged, replayed in another session or older than ten minutes is refused.

use base64::Engine;
use subtle::ConstantTimeEq;

use super::{Actor, AuthMethod, Services};
use crate::error::ApiError;

const STATE_TTL_MS: i64 = 10 * 60 * 1000;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn unb64(s: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    String::from_utf8(raw).ok()
}

/// One kind of flow: the MAC purpose, and the error a bad state gets.
pub(crate) struct OauthFlow {
    pub purpose: &'static str,
    pub invalid: fn() -> ApiError,
}

impl OauthFlow {
    fn session(&self, actor: &Actor) -> Result<i64, ApiError> {
        match actor.auth {
            AuthMethod::Session { session_id, .. } => Ok(session_id),
            _ => Err((self.invalid)()),
        }
    }
}

impl Services {
    /// The absolute URL of this server's callback route `path`: the OAuth `redirect_uri`.
    pub(crate) fn oauth_callback(&self, path: &str) -> String {
        self.config
            .public_url
            .join(path.trim_start_matches('/'))
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    fn state_mac(&self, flow: &OauthFlow, actor: &Actor, session: i64, body: &str) -> String {
        let msg = format!("{}.{session}.{body}", actor.user.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.links.mac(flow.purpose, &msg))
    }

    /// A state carrying `fields` for this person's browser session.
    pub(crate) fn sign_oauth_state(
        &self,
        flow: &OauthFlow,
        actor: &Actor,
        fields: &[&str],
    ) -> Result<String, ApiError> {
        let session = flow.session(actor)?;
        let mut body = (crate::now_ms() + STATE_TTL_MS).to_string();
        for f in fields {
            body.push('.');
            body.push_str(&b64(f));
        }
        let mac = self.state_mac(flow, actor, session, &body);
        Ok(format!("{body}.{mac}"))
    }

    /// The fields of a state signed for this session and not expired (exactly `count`).
    pub(crate) fn open_oauth_state(
        &self,
        flow: &OauthFlow,
        actor: &Actor,
        state: &str,
        count: usize,
    ) -> Result<Vec<String>, ApiError> {
        let session = flow.session(actor)?;
        let (body, mac) = state.rsplit_once('.').ok_or_else(flow.invalid)?;
        let want = self.state_mac(flow, actor, session, body);
        if !bool::from(want.as_bytes().ct_eq(mac.as_bytes())) {
            return Err((flow.invalid)());
        }
        let mut parts = body.split('.');
        let exp = parts.next().and_then(|e| e.parse::<i64>().ok());
        if exp.is_none_or(|exp| exp < crate::now_ms()) {
            return Err((flow.invalid)());
        }
        let fields: Option<Vec<String>> = parts.map(unb64).collect();
        match fields {
            Some(fields) if fields.len() == count => Ok(fields),
            _ => Err((flow.invalid)()),
        }
    }
}
