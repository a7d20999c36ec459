//! Heads between the engine's form and the `http` crate's, as HTTP/2 needs
//! them: pseudo-header fields in and out, connection-specific fields left out
//! (RFC 9113 §8.2.2).

use bytes::Bytes;
use pipy_core::{HeaderMap, RequestHead, ResponseHead, Version};

/// Fields that belong to one HTTP/1 connection and may not appear in HTTP/2.
fn connection_specific(name: &[u8], value: &[u8]) -> bool {
    let lower = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    lower("connection")
        || lower("keep-alive")
        || lower("proxy-connection")
        || lower("transfer-encoding")
        || lower("upgrade")
        || lower("host")
        || (lower("te") && !value.eq_ignore_ascii_case(b"trailers"))
}

fn fields_in(map: &http::HeaderMap, into: &mut HeaderMap) {
    for (n, v) in map {
        into.append(
            Bytes::copy_from_slice(n.as_str().as_bytes()),
            Bytes::copy_from_slice(v.as_bytes()),
        );
    }
}

fn fields_out(from: &HeaderMap, into: &mut http::HeaderMap) {
    for (n, v) in from.iter() {
        if connection_specific(n, v) {
            continue;
        }
        // Names and values that HTTP/2 cannot carry are left out.
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(n),
            http::HeaderValue::from_bytes(v),
        ) {
            into.append(n, v);
        }
    }
}

/// A request received over HTTP/2. `:authority` becomes `host`.
pub(super) fn request_in(parts: &http::request::Parts) -> RequestHead {
    let mut headers = HeaderMap::new();
    if let Some(a) = parts.uri.authority() {
        if !parts.headers.contains_key(http::header::HOST) {
            headers.append(
                Bytes::from_static(b"host"),
                Bytes::copy_from_slice(a.as_str().as_bytes()),
            );
        }
    }
    fields_in(&parts.headers, &mut headers);
    let path = if parts.method == http::Method::CONNECT {
        parts
            .uri
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default()
    } else {
        parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "/".into())
    };
    RequestHead {
        method: parts.method.to_string(),
        path,
        version: Version::Http2,
        headers,
    }
}

/// A response to send over HTTP/2.
pub(super) fn response_out(head: &ResponseHead) -> http::Response<()> {
    let mut r = http::Response::new(());
    *r.status_mut() =
        http::StatusCode::from_u16(head.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    fields_out(&head.headers, r.headers_mut());
    r
}

/// A request to send over HTTP/2: `host` becomes `:authority`. The scheme is
/// `http`: `muxHTTP` cannot know whether its session pipeline encrypts, and
/// servers route by authority and path.
pub(super) fn request_out(head: &RequestHead) -> Option<http::Request<()>> {
    let authority = head.headers.get_str("host").unwrap_or("localhost");
    let method = http::Method::from_bytes(head.method.as_bytes()).ok()?;
    let uri = if method == http::Method::CONNECT {
        http::Uri::builder()
            .authority(head.path.as_str())
            .build()
            .ok()?
    } else if head.path.contains("://") {
        // Absolute form (a forward proxy's request): it names its own target.
        head.path.parse::<http::Uri>().ok()?
    } else {
        // `*` (OPTIONS) goes as it is; anything else not starting with `/`
        // is not a path.
        let path = match head.path.as_str() {
            p if p.starts_with('/') || p == "*" => p,
            _ => "/",
        };
        http::Uri::builder()
            .scheme("http")
            .authority(authority)
            .path_and_query(path)
            .build()
            .ok()?
    };
    let mut r = http::Request::new(());
    *r.method_mut() = method;
    *r.uri_mut() = uri;
    fields_out(&head.headers, r.headers_mut());
    Some(r)
}

/// A response received over HTTP/2.
pub(super) fn response_in(parts: &http::response::Parts) -> ResponseHead {
    let mut headers = HeaderMap::new();
    fields_in(&parts.headers, &mut headers);
    ResponseHead {
        status: parts.status.as_u16(),
        status_text: parts.status.canonical_reason().unwrap_or("").to_string(),
        version: Version::Http2,
        headers,
    }
}

/// Trailers received.
pub(super) fn trailers_in(map: &http::HeaderMap) -> HeaderMap {
    let mut h = HeaderMap::new();
    fields_in(map, &mut h);
    h
}

/// Trailers to send.
pub(super) fn trailers_out(h: &HeaderMap) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    fields_out(h, &mut map);
    map
}
