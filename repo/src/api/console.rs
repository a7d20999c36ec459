//! The Admin console's files: `GET /` and `GET /index.html` give its page,
//! `GET /assets/…` its scripts and styles, and a browser asking for a page
//! under `/repo/…` gets the console too (as upstream's GUI). The files are
//! embedded at build time from `gui/dist` (`build.rs`): [`embedded`], which a
//! server gives as [`ConsoleFiles`]; without them these paths are `404`. A
//! library built where the console was not (no Node) serves a page that says
//! so.

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use http::{Method, StatusCode};

use super::reply::{self, Reply};
use super::{RepoState, Req};

/// Looks up a console file by path (`/index.html`, `/assets/…`): its media type
/// and content.
pub type ConsoleFiles = fn(&str) -> Option<(&'static str, &'static [u8])>;

include!(concat!(env!("OUT_DIR"), "/console.rs"));

/// The page served when the console was not built into this binary.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Pipy Repo</title></head><body><h1>Pipy Repo</h1>\
<p>The console was not built into this binary. Build it with <code>make gui</code> \
(Node.js and npm), then build again. The REST API under \
<code>/api/v1/</code> works either way.</p></body></html>";

/// The console built into this library.
pub fn embedded(path: &str) -> Option<(&'static str, &'static [u8])> {
    if let Some((_, media, body)) = CONSOLE.iter().find(|(p, _, _)| *p == path) {
        return Some((media, body));
    }
    (CONSOLE.is_empty() && path == "/index.html")
        .then_some(("text/html; charset=utf-8", NOT_BUILT.as_bytes()))
}

/// Whether `path` is one of the console's own files (its page and assets,
/// and what it asks first): served without a guard's check.
pub(super) fn is_public(path: &str) -> bool {
    matches!(path, "/" | "/index.html" | "/api/v1/console") || path.starts_with("/assets/")
}

/// The request's credentials for a guard: its `authorization` header, or the
/// console's `pipy-token` cookie as a bearer token (a browser cannot add the
/// header to its WebSocket and page requests).
pub(super) fn authorization(headers: &http::HeaderMap) -> Option<String> {
    if let Some(a) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return Some(a.to_string());
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("pipy-token="))
        .filter(|t| !t.is_empty())
        .map(|t| format!("Bearer {t}"))
}

/// Why a request from another site's page is refused, if it is one: a
/// browser sends `Origin` (and `Sec-Fetch-Site`) with what a page asks, so
/// a page elsewhere cannot write here, run a check or a program, or watch a
/// log (WebSockets are not covered by CORS). Workers, curl and the
/// console's own requests are not affected.
pub(super) fn cross_origin<B>(req: &http::Request<B>) -> Option<&'static str> {
    let h = req.headers();
    let reads = (req.method() == Method::GET || req.method() == Method::HEAD)
        && !h.contains_key(http::header::UPGRADE);
    if reads {
        return None;
    }
    let site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return Some("Cross-origin request refused");
    }
    let origin = h.get(http::header::ORIGIN).and_then(|v| v.to_str().ok())?;
    let host = h.get(http::header::HOST).and_then(|v| v.to_str().ok())?;
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    (authority != host).then_some("Cross-origin request refused")
}

/// The console's answer to `req`, if the path is one of its.
pub(super) fn serve(state: &RepoState, req: &Req) -> Option<Reply> {
    let files = state.options.console?;
    if req.method != Method::GET && req.method != Method::HEAD {
        return None;
    }
    let p = req.path.split('?').next().unwrap_or("");
    if p == "/api/v1/console" {
        // What the console may do here: a read-only repo (the operator's)
        // says why.
        let why = state.options.read_only.as_deref();
        let doc = serde_json::json!({ "readOnly": why.is_some(), "why": why });
        return Some(reply::json(doc.to_string()));
    }
    let page = p == "/" || p == "/index.html" || (req.wants_html && p.starts_with("/repo/"));
    let path = if page { "/index.html" } else { p };
    if !page && !p.starts_with("/assets/") {
        return None;
    }
    let Some((media, body)) = files(path) else {
        return Some(reply::bare(StatusCode::NOT_FOUND));
    };
    let mut res = reply::bytes(media, body);
    let h = res.headers_mut();
    // Asset names carry a hash of their content: they never change.
    let cache = if page {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Everything comes from here; nothing inline but CodeMirror's own styles.
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
             img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    Some(res)
}
