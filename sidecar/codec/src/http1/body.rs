//! How a message's body is delimited (RFC 9112 §6.3), from its head's framing
//! fields, its method and its status.

use super::head::{Framing, Te};
use super::DecodeError;
use pipy_core::Version;

/// How a message's body is delimited.
pub(super) enum Body {
    None,
    Length(u64),
    Chunked,
    UntilClose,
    /// No body, and the connection leaves HTTP (101).
    Upgrade,
}

/// RFC 9112 §6.3 for requests: no length means no body; `Transfer-Encoding` must
/// be exactly `chunked`, and is not allowed in HTTP/1.0.
pub(super) fn request_body(version: Version, f: Framing) -> Result<Body, DecodeError> {
    match f.te {
        Te::Absent => Ok(match f.length {
            None | Some(0) => Body::None,
            Some(n) => Body::Length(n),
        }),
        _ if version == Version::Http10 => Err(DecodeError::BadTransferEncoding),
        Te::Chunked => Ok(Body::Chunked),
        Te::ChunkedAfterOthers => Err(DecodeError::UnsupportedTransferEncoding),
        Te::NotChunked => Err(DecodeError::BadTransferEncoding),
    }
}

/// RFC 9112 §6.3 for responses: no body for `HEAD`, 1xx, 204 and 304; a response
/// with neither length nor `chunked` lasts until the connection closes.
pub(super) fn response_body(
    status: u16,
    is_head: bool,
    version: Version,
    f: Framing,
) -> Result<Body, DecodeError> {
    if status == 101 {
        return Ok(Body::Upgrade);
    }
    if is_head || status < 200 || status == 204 || status == 304 {
        return Ok(Body::None);
    }
    match f.te {
        Te::Absent => Ok(match f.length {
            None => Body::UntilClose,
            Some(0) => Body::None,
            Some(n) => Body::Length(n),
        }),
        // HTTP/1.0 has no transfer codings: the framing is faulty, read to the end.
        _ if version == Version::Http10 => Ok(Body::UntilClose),
        Te::Chunked => Ok(Body::Chunked),
        Te::ChunkedAfterOthers => Err(DecodeError::UnsupportedTransferEncoding),
        Te::NotChunked => Ok(Body::UntilClose),
    }
}
