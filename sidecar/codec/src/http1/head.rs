//! Parsing heads with httparse, and reading their framing headers (RFC 9112 §6).

use super::DecodeError;
use bytes::Bytes;
use httparse::{Header, Status};
use pipy_core::{HeaderMap, RequestHead, ResponseHead, Version};
use std::mem::MaybeUninit;

/// Header slots on the stack; a head with more fields retries with a heap buffer.
const STACK_HEADERS: usize = 64;

/// What `Transfer-Encoding` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Te {
    /// No `Transfer-Encoding` field.
    Absent,
    /// Exactly `chunked`.
    Chunked,
    /// `chunked` last, after other codings we do not implement.
    ChunkedAfterOthers,
    /// Codings without a final `chunked` (or an empty list).
    NotChunked,
}

/// The framing headers of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Framing {
    /// The `Content-Length`, when given (all values agree).
    pub(super) length: Option<u64>,
    /// The `Transfer-Encoding`.
    pub(super) te: Te,
    /// An `Upgrade` field is present (RFC 9110 §7.8).
    pub(super) upgrade: bool,
}

/// A parsed response head. Interim (1xx) heads other than 101 are not built.
pub(super) struct ParsedResponse {
    pub(super) status: u16,
    pub(super) head: Option<Box<ResponseHead>>,
    pub(super) framing: Framing,
}

type Slots<'b> = [MaybeUninit<Header<'b>>];

/// A complete response head, or what is wrong with it beyond syntax (which is an
/// `httparse::Error`, so that too many fields can be retried).
type ResponseOutcome = Result<(usize, ParsedResponse), DecodeError>;

/// Parses a request head at the start of `src`: `Ok(None)` while incomplete,
/// otherwise the head's length in bytes, the head, and its framing.
pub(super) fn parse_request(
    src: &Bytes,
    max_head: usize,
) -> Result<Option<(usize, Box<RequestHead>, Framing)>, DecodeError> {
    let mut slots = [const { MaybeUninit::uninit() }; STACK_HEADERS];
    match request_with(src, &mut slots) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut slots = heap_slots(src, max_head);
            request_with(src, &mut slots).map_err(too_many_is_too_large)?
        }
        r => r.map_err(DecodeError::from_httparse)?,
    }
    .map(|(n, head)| {
        let framing = framing_of(&head.headers)?;
        Ok((n, head, framing))
    })
    .transpose()
}

/// Parses a response head at the start of `src`, like [`parse_request`].
pub(super) fn parse_response(
    src: &Bytes,
    max_head: usize,
) -> Result<Option<(usize, ParsedResponse)>, DecodeError> {
    let mut slots = [const { MaybeUninit::uninit() }; STACK_HEADERS];
    match response_with(src, &mut slots) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut slots = heap_slots(src, max_head);
            response_with(src, &mut slots).map_err(too_many_is_too_large)?
        }
        r => r.map_err(DecodeError::from_httparse)?,
    }
    .transpose()
}

/// With a slot for every line within the size limit, a head that still has too
/// many fields is too large.
fn too_many_is_too_large(e: httparse::Error) -> DecodeError {
    match e {
        httparse::Error::TooManyHeaders => DecodeError::HeadTooLarge,
        e => DecodeError::from_httparse(e),
    }
}

/// Enough slots for every line a head within the limit can have. Only heads with
/// more than [`STACK_HEADERS`] fields come here.
fn heap_slots<'b>(src: &Bytes, max_head: usize) -> Vec<MaybeUninit<Header<'b>>> {
    let scan = &src[..src.len().min(max_head.saturating_add(1))];
    let lines = scan.iter().filter(|&&b| b == b'\n').count();
    vec![MaybeUninit::uninit(); lines + 1]
}

fn request_with<'b>(
    src: &'b Bytes,
    slots: &mut Slots<'b>,
) -> Result<Option<(usize, Box<RequestHead>)>, httparse::Error> {
    let mut req = httparse::Request::new(&mut []);
    let n = match httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut req, src, slots)?
    {
        Status::Complete(n) => n,
        Status::Partial => return Ok(None),
    };
    let head = RequestHead {
        method: req.method.unwrap_or_default().to_owned(),
        path: req.path.unwrap_or_default().to_owned(),
        version: version(req.version),
        headers: header_map(src, req.headers),
    };
    Ok(Some((n, Box::new(head))))
}

fn response_with<'b>(
    src: &'b Bytes,
    slots: &mut Slots<'b>,
) -> Result<Option<ResponseOutcome>, httparse::Error> {
    let mut res = httparse::Response::new(&mut []);
    let n = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, src, slots)?
    {
        Status::Complete(n) => n,
        Status::Partial => return Ok(None),
    };
    let status = res.code.unwrap_or_default();
    if status < 100 {
        return Ok(Some(Err(DecodeError::MalformedHead(
            "invalid response status",
        ))));
    }
    let framing = match framing_of_fields(res.headers.iter().map(|h| (h.name.as_bytes(), h.value)))
    {
        Ok(f) => f,
        Err(e) => return Ok(Some(Err(e))),
    };
    // Interim responses are dropped by the decoder: do not build them.
    let head = (status >= 200 || status == 101).then(|| {
        Box::new(ResponseHead {
            status,
            status_text: res.reason.unwrap_or_default().to_owned(),
            version: version(res.version),
            headers: header_map(src, res.headers),
        })
    });
    Ok(Some(Ok((
        n,
        ParsedResponse {
            status,
            head,
            framing,
        },
    ))))
}

fn version(minor: Option<u8>) -> Version {
    match minor {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    }
}

/// Header fields as slices of `src` (no copies).
fn header_map(src: &Bytes, fields: &[Header<'_>]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(fields.len());
    for h in fields {
        map.append(src.slice_ref(h.name.as_bytes()), src.slice_ref(h.value));
    }
    map
}

fn framing_of(headers: &HeaderMap) -> Result<Framing, DecodeError> {
    framing_of_fields(headers.iter().map(|(n, v)| (&n[..], &v[..])))
}

/// Reads `Content-Length` and `Transfer-Encoding`. Errors on what no recipient may
/// accept whatever the message: both fields together, a length that is not plain
/// decimal or has differing values, `chunked` applied twice or not last.
fn framing_of_fields<'a>(
    fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Framing, DecodeError> {
    let mut length = None;
    let mut te = TeScan::default();
    let mut upgrade = false;
    for (name, value) in fields {
        if name.eq_ignore_ascii_case(b"content-length") {
            for item in value.split(|&b| b == b',') {
                let n = parse_decimal(trim_ows(item)).ok_or(DecodeError::BadContentLength)?;
                if length.is_some_and(|l| l != n) {
                    return Err(DecodeError::BadContentLength);
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te.present = true;
            for item in value.split(|&b| b == b',').map(trim_ows) {
                te.add(item)?;
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade |= !trim_ows(value).is_empty();
        }
    }
    if te.present && length.is_some() {
        return Err(DecodeError::LengthAndTransferEncoding);
    }
    Ok(Framing {
        length,
        te: te.finish(),
        upgrade,
    })
}

#[derive(Default)]
struct TeScan {
    present: bool,
    chunked_last: bool,
    chunked_seen: bool,
    others: bool,
}

impl TeScan {
    fn add(&mut self, coding: &[u8]) -> Result<(), DecodeError> {
        if coding.is_empty() {
            return Ok(()); // empty list elements are allowed (RFC 9110 §5.6.1)
        }
        if self.chunked_seen {
            // Anything after `chunked`, including a second `chunked`.
            return Err(DecodeError::BadTransferEncoding);
        }
        if coding.eq_ignore_ascii_case(b"chunked") {
            self.chunked_seen = true;
            self.chunked_last = true;
        } else {
            self.others = true;
        }
        Ok(())
    }

    fn finish(self) -> Te {
        match (self.present, self.chunked_last, self.others) {
            (false, ..) => Te::Absent,
            (true, true, false) => Te::Chunked,
            (true, true, true) => Te::ChunkedAfterOthers,
            (true, false, _) => Te::NotChunked,
        }
    }
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// `1*DIGIT` as a `u64`; `None` for anything else, including overflow.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}
