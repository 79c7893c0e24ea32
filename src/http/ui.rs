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

/// A copy of a built file compressed at build time (`ui/scripts/precompress.mjs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    fn suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => ".br",
            Encoding::Gzip => ".gz",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

/// The encodings an `Accept-Encoding` header takes, best first (`q=0` refuses one).
fn accepted(header: &str) -> Vec<Encoding> {
    let takes = |name: &str| {
        header.split(',').any(|part| {
            let mut bits = part.split(';').map(str::trim);
            let coding = bits.next().unwrap_or_default();
            let refused = bits.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
        })
    };
    [Encoding::Brotli, Encoding::Gzip]
        .into_iter()
        .filter(|e| takes(e.name()))
        .collect()
}

fn serve_file(path: &str, immutable: bool, accept_encoding: &str) -> Option<Response> {
    let file = Ui::get(path)?;
    let mime = file.metadata.mimetype().to_string();
    let compressed = accepted(accept_encoding)
        .into_iter()
        .find_map(|e| Ui::get(&format!("{path}{}", e.suffix())).map(|f| (e, f)));
    let (encoding, file) = match compressed {
        Some((e, f)) => (Some(e), f),
        None => (None, file),
    };
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
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(e) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e.name()));
    }
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
    let accept_encoding = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let relative = path.trim_start_matches('/');
    // the compressed copies are served in place of their file, never by their own name
    let is_copy = relative.ends_with(".br") || relative.ends_with(".gz");
    if !relative.is_empty() && !relative.ends_with('/') && !is_copy {
        if let Some(response) =
            serve_file(relative, relative.starts_with("assets/"), &accept_encoding)
        {
            return response;
        }
    }
    if relative.starts_with("assets/") {
        return ApiError::not_found(ErrorCode::NotFound, "no such file").into_response();
    }
    serve_file("index.html", false, &accept_encoding).unwrap_or_else(|| {
        ApiError::not_found(ErrorCode::NotFound, "the web UI is missing").into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::{accepted, Encoding::*};

    #[test]
    fn brotli_before_gzip_and_q0_refuses() {
        assert_eq!(accepted("gzip, deflate, br, zstd"), [Brotli, Gzip]);
        assert_eq!(accepted("gzip"), [Gzip]);
        assert_eq!(accepted("br;q=0, gzip;q=0.5"), [Gzip]);
        assert_eq!(accepted("identity"), []);
        assert_eq!(accepted(""), []);
        assert_eq!(accepted("*"), [Brotli, Gzip]);
        assert_eq!(accepted("BR"), [Brotli]);
    }
}
