//! Request ids, structured access logs, metrics and security headers for every response.
//! Headers are never logged: `Authorization` and `Cookie` must not reach a log line.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::AppState;

/// The route template a response was served by, for metrics labels.
#[derive(Clone)]
struct RouteTag(String);

pub async fn tag_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteTag(route));
    }
    response
}

/// Headers every answer carries.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    ),
];

fn request_id(request: &Request) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(crate::keys::request_id)
}

pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let id = request_id(&request);
    request
        .extensions_mut()
        .insert(super::extract::RequestId(id.clone()));
    let method = request.method().clone();
    let span = tracing::info_span!("request", id = %id, method = %method);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let route = response
        .extensions()
        .get::<RouteTag>()
        .map_or("unmatched", |t| t.0.as_str())
        .to_string();
    let status = response.status().as_u16();
    state
        .services
        .metrics
        .record_request(&route, status, elapsed.as_secs_f64());
    if route == "/healthz" || route == "/readyz" || route == "/metrics" {
        tracing::debug!(parent: &span, route = %route, status, micros = elapsed.as_micros() as u64, "served");
    } else {
        tracing::info!(parent: &span, route = %route, status, micros = elapsed.as_micros() as u64, "served");
    }
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", v);
    }
    for (name, value) in SECURITY_HEADERS {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    // Only over https: on a plain-http LAN install the header would be ignored anyway, and
    // it must never pin a host that has no certificate.
    if state.services.config.cookies_secure() {
        headers.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    headers
        .entry("content-security-policy")
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    headers
        .entry("cache-control")
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
