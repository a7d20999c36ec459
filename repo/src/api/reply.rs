//! The three response shapes of spec §2: bare status, text and JSON. Every response
//! carries `server: pipy-repo`.

use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG, SERVER};
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;

/// What every handler returns.
pub(super) type Reply = Response<Full<Bytes>>;

fn build(status: StatusCode, content_type: Option<&'static str>, body: Bytes) -> Reply {
    let len = body.len();
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(SERVER, HeaderValue::from_static("pipy-repo"));
    if let Some(ct) = content_type {
        h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    res
}

/// A bare status: no `content-type`, `content-length: 0`.
pub(super) fn bare(status: StatusCode) -> Reply {
    build(status, None, Bytes::new())
}

/// A `text/plain` body (error messages carry no trailing newline).
pub(super) fn text(status: StatusCode, body: &str) -> Reply {
    build(
        status,
        Some("text/plain"),
        Bytes::copy_from_slice(body.as_bytes()),
    )
}

/// `200 text/plain` with raw bytes.
pub(super) fn content(body: Vec<u8>) -> Reply {
    build(StatusCode::OK, Some("text/plain"), Bytes::from(body))
}

/// `200` with a static body of the given media type (the console's files).
pub(super) fn bytes(content_type: &'static str, body: &'static [u8]) -> Reply {
    build(StatusCode::OK, Some(content_type), Bytes::from_static(body))
}

/// `200 application/json` with an already serialised compact document.
pub(super) fn json(body: String) -> Reply {
    build(StatusCode::OK, Some("application/json"), Bytes::from(body))
}

/// `200` published content with its `etag` (which may be empty, spec §5.2).
pub(super) fn published(body: Vec<u8>, etag: &str) -> Reply {
    let mut res = content(body);
    let etag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static(""));
    // Keep upstream's header order: server, content-type, etag, content-length.
    let len = res.headers_mut().remove(CONTENT_LENGTH);
    res.headers_mut().insert(ETAG, etag);
    if let Some(len) = len {
        res.headers_mut().insert(CONTENT_LENGTH, len);
    }
    res
}

/// A model error: invalid input is the caller's `400`, anything else a `500` with the
/// message (spec §2).
pub(super) fn error(e: &crate::Error) -> Reply {
    text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}
