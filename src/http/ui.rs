//! The embedded single-page web UI: built files at their paths, and `index.html` for every
//! other page path (client-side routes such as `/settings` or `/<username>`).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::{ApiError, ErrorCode};

#[derive(RustEmbed)]
#[folder = "$EMBEDDED_UI_DIR"]
struct Ui;

/// The page policy: no inline scripts, no third-party code; https images for badges.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' https: data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Paths that belong to the API and never fall back to the app.
const API_PREFIXES: &[&str] = &[
    "/api/",
    "/graphql",
    "/avatars/",
    "/files/",
    "/sdk/",
    "/healthz",
    "/readyz",
    "/metrics",
];

fn serve_file(path: &str, immutable: bool) -> Option<Response> {
    let file = Ui::get(path)?;
    let mime = file.metadata.mimetype().to_string();
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = Response::new(Body::from(file.data.into_owned()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    Some(response)
}

pub async fn fallback(request: Request) -> Response {
    let path = request.uri().path();
    let is_page_request = matches!(*request.method(), Method::GET | Method::HEAD);
    if !is_page_request || API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return if is_page_request {
            ApiError::not_found(ErrorCode::NotFound, "no such endpoint").into_response()
        } else {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "no such endpoint",
            )
            .into_response()
        };
    }
    let relative = path.trim_start_matches('/');
    if !relative.is_empty() && !relative.ends_with('/') {
        if let Some(response) = serve_file(relative, relative.starts_with("assets/")) {
            return response;
        }
        if relative.starts_with("assets/") {
            return ApiError::not_found(ErrorCode::NotFound, "no such file").into_response();
        }
    }
    serve_file("index.html", false).unwrap_or_else(|| {
        ApiError::not_found(ErrorCode::NotFound, "the web UI is missing").into_response()
    })
}
