//! Turns a request's credentials into an `Actor` before any service runs.
//!
//! `Authorization` (Basic `api:<key>` as the SDK sends it, or Bearer) wins over the session
//! cookie. A malformed or refused key is a 401, never a fallback to anonymous. Cookie-
//! authenticated requests that change state must come from our own origin (CSRF defence).

use axum::http::{HeaderMap, Method};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::AppState;
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::keys::MAX_PRESENTED_LEN;
use crate::services::{Actor, RequestMeta};
use crate::store::Client;

/// Longest `Authorization` value looked at: a Basic header for the longest key we accept.
const MAX_AUTHORIZATION_LEN: usize = 16 + MAX_PRESENTED_LEN * 4 / 3 + 16;

pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.cookies_secure() {
        "__Host-fulcrum_session"
    } else {
        "fulcrum_session"
    }
}

/// IP and user agent of the caller. `X-Forwarded-For` counts only when configured, for
/// instances behind a trusted load balancer.
pub fn client_meta(
    config: &Config,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> RequestMeta {
    let forwarded = config
        .trust_proxy_headers
        .then(|| {
            headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
                .next()
                .map(|s| s.trim().to_string())
        })
        .flatten()
        .filter(|s| s.parse::<std::net::IpAddr>().is_ok());
    let user_agent = headers.get("user-agent").and_then(|v| v.to_str().ok());
    let ip = forwarded.or_else(|| peer.map(|p| p.ip().to_string()));
    RequestMeta {
        client: Client::new(ip, user_agent),
        request_id: None,
    }
}

/// Extracts the API key from an `Authorization` header.
fn presented_key(value: &axum::http::HeaderValue) -> Result<Zeroizing<String>, ApiError> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(ApiError::malformed_credentials(
            "the Authorization header is too long",
        ));
    }
    let text = value.to_str().map_err(|_| {
        ApiError::malformed_credentials("the Authorization header is not valid text")
    })?;
    let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = Zeroizing::new(STANDARD.decode(rest).map_err(|_| {
            ApiError::malformed_credentials("the Basic credentials are not valid base64")
        })?);
        let text = std::str::from_utf8(&decoded).map_err(|_| {
            ApiError::malformed_credentials("the Basic credentials are not valid UTF-8")
        })?;
        // The user part is always `api` from the SDK; like GitLab, we ignore it.
        let (_, key) = text.split_once(':').ok_or_else(|| {
            ApiError::malformed_credentials("the Basic credentials need the form api:<key>")
        })?;
        Ok(Zeroizing::new(key.to_string()))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Zeroizing::new(rest.to_string()))
    } else {
        Err(ApiError::malformed_credentials(
            "use Basic (api:<key>) or Bearer authorization",
        ))
    }
}

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Checks that a state-changing, cookie-authenticated request comes from our own origin.
pub(crate) fn verify_same_origin(config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = || {
        ApiError::forbidden(
            ErrorCode::CsrfCheckFailed,
            "this request did not come from this server's own pages",
        )
    };
    match headers.get("origin").and_then(|v| v.to_str().ok()) {
        Some(origin) if origin == config.public_origin() => Ok(()),
        Some(_) => Err(refuse()),
        None => match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            Some("same-origin") => Ok(()),
            _ => Err(refuse()),
        },
    }
}

/// The actor behind the request, `None` when anonymous.
pub(crate) async fn resolve_actor(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    meta: &RequestMeta,
) -> Result<Option<Actor>, ApiError> {
    let services = &state.services;
    if let Some(value) = headers.get("authorization") {
        let key = presented_key(value)
            .inspect_err(|_| services.metrics.record_auth_failure("malformed_header"))?;
        let mut actor = services.authenticate_key(&key, meta).await?;
        if let Some(name) = headers
            .get("x-wandb-username")
            .and_then(|v| v.to_str().ok())
        {
            services.attribute(&mut actor, name).await?;
        }
        return Ok(Some(actor));
    }
    let Some(token) = cookie_value(headers, session_cookie_name(&services.config)) else {
        return Ok(None);
    };
    let actor = services.authenticate_session(token, meta).await?;
    if actor.is_some() && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        verify_same_origin(&services.config, headers)?;
    }
    Ok(actor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn basic(s: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(s))).unwrap()
    }

    #[test]
    fn basic_and_bearer_forms() {
        assert_eq!(presented_key(&basic("api:abc")).unwrap().as_str(), "abc");
        assert_eq!(
            presented_key(&basic("anything:a:b")).unwrap().as_str(),
            "a:b"
        );
        assert_eq!(
            presented_key(&HeaderValue::from_static("Bearer xyz"))
                .unwrap()
                .as_str(),
            "xyz"
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            HeaderValue::from_static(""),
            HeaderValue::from_static("Basic !!!"),
            basic("no-colon"),
            HeaderValue::from_static("Digest x"),
            HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap(),
            HeaderValue::from_str(&format!("Basic {}", "A".repeat(10_240))).unwrap(),
        ] {
            let e = presented_key(&bad).unwrap_err();
            assert_eq!(e.code, "malformed_credentials");
        }
        let not_utf8 =
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode([0x61, 0x3a, 0xff])))
                .unwrap();
        assert_eq!(
            presented_key(&not_utf8).unwrap_err().code,
            "malformed_credentials"
        );
    }
}
