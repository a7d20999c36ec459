//! The Admin console's files (issue 14): `GET /` and `GET /index.html` give its
//! page, `GET /assets/…` its scripts and styles, and a browser asking for a
//! page under `/repo/…` gets the console too (as upstream's GUI). The files
//! come from whoever embeds them (the `pipy` binary, from `gui/dist`), through
//! [`ConsoleFiles`]; without one these paths fall through to `404`.

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use http::{Method, StatusCode};

use super::reply::{self, Reply};
use super::{RepoState, Req};

/// Looks up a console file by path (`/index.html`, `/assets/…`): its media type
/// and content.
pub type ConsoleFiles = fn(&str) -> Option<(&'static str, &'static [u8])>;

/// The console's answer to `req`, if the path is one of its.
pub(super) fn serve(state: &RepoState, req: &Req) -> Option<Reply> {
    let files = state.options.console?;
    if req.method != Method::GET && req.method != Method::HEAD {
        return None;
    }
    let p = req.path.split('?').next().unwrap_or("");
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
