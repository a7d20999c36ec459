//! Serialising heads into one buffer, without `format!`.
//!
//! Whatever a script put in a head, the bytes written here parse as the same one
//! message: fields whose name is not a token or whose value holds control
//! characters (CR, LF...) are dropped, unsafe bytes of the request target are
//! percent-encoded, and a bad method (`GET`) or reason phrase (the standard one) is
//! replaced.

use super::status::{class_phrase, reason_phrase};
use bytes::{BufMut, BytesMut};
use pipy_core::{HeaderMap, RequestHead, ResponseHead};

/// The framing headers the encoder adds after the given fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// None: given `Content-Length` and `Transfer-Encoding` fields are dropped.
    Nothing,
    /// `Content-Length: n`, replacing any given one.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Keep the given `Content-Length` (a response to `HEAD`).
    KeepLength,
    /// No length: the body ends when the connection closes (`connection: close`).
    UntilClose,
}

/// Writes a request head (always as HTTP/1.1).
pub(super) fn request_head(buf: &mut BytesMut, head: &RequestHead, framing: Framing) {
    reserve(
        buf,
        estimate(&head.headers) + head.method.len() + head.path.len() * 3,
    );
    if is_token(head.method.as_bytes()) {
        buf.put_slice(head.method.as_bytes());
    } else {
        buf.put_slice(b"GET"); // the encoder replaces bad methods before it gets here
    }
    buf.put_u8(b' ');
    if head.path.is_empty() {
        buf.put_u8(b'/');
    }
    for &b in head.path.as_bytes() {
        if b <= b' ' || b >= 0x7f {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            buf.put_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            buf.put_u8(b);
        }
    }
    buf.put_slice(b" HTTP/1.1\r\n");
    fields(buf, &head.headers, framing);
}

/// Writes a response head with its own version and the reason phrase it gives, or
/// the standard one.
pub(super) fn response_head(buf: &mut BytesMut, head: &ResponseHead, framing: Framing) {
    reserve(buf, estimate(&head.headers) + head.status_text.len() + 16);
    // HTTP/1 speaks for an HTTP/2 head as HTTP/1.1.
    let version = match head.version {
        pipy_core::Version::Http2 => pipy_core::Version::Http11,
        v => v,
    };
    buf.put_slice(version.as_str().as_bytes());
    buf.put_u8(b' ');
    put_dec(buf, u64::from(head.status));
    buf.put_u8(b' ');
    let text = head.status_text.as_bytes();
    if !text.is_empty() && text.iter().all(|&b| !is_ctl(b)) {
        buf.put_slice(text);
    } else {
        let phrase = reason_phrase(head.status).unwrap_or_else(|| class_phrase(head.status));
        buf.put_slice(phrase.as_bytes());
    }
    buf.put_slice(b"\r\n");
    fields(buf, &head.headers, framing);
}

/// Smallest block reserved in a buffer that heads and chunk-size lines are cut
/// from, so that small writes share one allocation.
const BLOCK: usize = 4096;

/// Makes room for `n` more bytes in `buf`, a block at a time.
pub(super) fn reserve(buf: &mut BytesMut, n: usize) {
    if buf.capacity() - buf.len() < n {
        buf.reserve(n.max(BLOCK));
    }
}

fn estimate(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum::<usize>()
        + 64
}

/// The given fields, then the framing and `connection` fields in upstream's
/// order and spelling: `content-length: n` or `transfer-encoding: chunked`,
/// then `connection:` as given (`close`, `upgrade`...) or `keep-alive`. A
/// given `keep-alive` field is dropped, as upstream drops it.
fn fields(buf: &mut BytesMut, headers: &HeaderMap, framing: Framing) {
    let mut connection: Option<&[u8]> = None;
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"keep-alive")
            || (framing != Framing::KeepLength && name.eq_ignore_ascii_case(b"content-length"))
        {
            continue;
        }
        if name.eq_ignore_ascii_case(b"connection") {
            if !value.iter().any(|&b| is_ctl(b)) && connection.is_none() {
                connection = Some(value);
            }
            continue;
        }
        if !is_token(name) || value.iter().any(|&b| is_ctl(b)) {
            continue;
        }
        buf.put_slice(name);
        buf.put_slice(b": ");
        buf.put_slice(value);
        buf.put_slice(b"\r\n");
    }
    match framing {
        Framing::Length(n) => {
            buf.put_slice(b"content-length: ");
            put_dec(buf, n);
            buf.put_slice(b"\r\n");
        }
        Framing::Chunked => buf.put_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Nothing | Framing::KeepLength | Framing::UntilClose => {}
    }
    buf.put_slice(b"connection: ");
    match (framing, connection) {
        (Framing::UntilClose, _) => buf.put_slice(b"close"),
        (_, Some(v)) => buf.put_slice(v),
        (_, None) => buf.put_slice(b"keep-alive"),
    }
    buf.put_slice(b"\r\n\r\n");
}

/// Writes `n` in decimal.
pub(super) fn put_dec(buf: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&digits[i..]);
}

/// Writes `n` in lowercase hex, as a chunk size.
pub(super) fn put_hex(buf: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&digits[i..]);
}

/// Whether `s` is a `token` of RFC 9110 §5.6.2 (a method, a field name).
pub(super) fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Control characters other than HTAB.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}
