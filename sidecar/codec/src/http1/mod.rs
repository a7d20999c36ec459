//! HTTP/1.x message framing (RFC 9112): [`Decoder`] turns bytes into message
//! events, [`Encoder`] turns message events into bytes.
//!
//! Both work on one direction of one connection and keep the state of the message
//! in progress, so input may be split anywhere. Neither does connection management:
//! whether to keep a connection alive ([`wants_close`]), hop-by-hop headers and
//! `100 Continue` answers ([`expects_continue`]) are the caller's business.

mod body;
mod chunked;
mod decoder;
mod encoder;
mod error;
mod head;
mod status;
mod write;

#[cfg(test)]
mod tests;

pub use decoder::{Decoder, RequestHook, RequestOf, DEFAULT_MAX_HEAD_SIZE};
pub use encoder::{Encoder, DEFAULT_BUFFER_SIZE};
pub use error::DecodeError;
pub use status::reason_phrase;

use pipy_core::{HeaderMap, RequestHead, Version};

/// Whether a message with this version and these headers asks for the connection
/// to close after it: HTTP/1.0 unless a `Connection` field lists `keep-alive`, and
/// any version when a `Connection` field lists `close` (tokens compare
/// case-insensitively, fields may hold comma-separated lists).
pub fn wants_close(version: Version, headers: &HeaderMap) -> bool {
    let mut keep_alive = false;
    for value in headers.get_all("connection") {
        for token in list_items(value) {
            if token.eq_ignore_ascii_case(b"close") {
                return true;
            }
            keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }
    version == Version::Http10 && !keep_alive
}

/// Whether a request asks for `100 Continue` before sending its body
/// (`Expect: 100-continue`, ignored in HTTP/1.0 requests as RFC 9110 §10.1.1 says).
pub fn expects_continue(head: &RequestHead) -> bool {
    head.version != Version::Http10
        && head
            .headers
            .get_all("expect")
            .flat_map(|v| list_items(v))
            .any(|t| t.eq_ignore_ascii_case(b"100-continue"))
}

/// The non-empty elements of a comma-separated field value, without whitespace.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|s| s.trim_ascii())
        .filter(|s| !s.is_empty())
}
