//! FastCGI records (the FastCGI 1.0 specification): an 8-byte header
//! (version, type, request ID, content length, padding length), a body of
//! up to 65,535 bytes and padding; name-value pairs of `FCGI_PARAMS` with
//! their 1- or 4-byte lengths; the bodies of `FCGI_BEGIN_REQUEST` and
//! `FCGI_END_REQUEST`.

use bytes::{Buf, Bytes, BytesMut};

/// `FCGI_BEGIN_REQUEST`.
pub const BEGIN_REQUEST: u8 = 1;
/// `FCGI_ABORT_REQUEST`.
pub const ABORT_REQUEST: u8 = 2;
/// `FCGI_END_REQUEST`.
pub const END_REQUEST: u8 = 3;
/// `FCGI_PARAMS`.
pub const PARAMS: u8 = 4;
/// `FCGI_STDIN`.
pub const STDIN: u8 = 5;
/// `FCGI_STDOUT`.
pub const STDOUT: u8 = 6;
/// `FCGI_STDERR`.
pub const STDERR: u8 = 7;
/// `FCGI_DATA`.
pub const DATA: u8 = 8;

/// The `FCGI_KEEP_CONN` flag of a begin-request body.
pub const KEEP_CONN: u8 = 1;

/// Length of a record header.
pub const HEADER: usize = 8;

/// Largest body of one record.
pub const MAX_CONTENT: usize = 0xffff;

/// One record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its type (`BEGIN_REQUEST`, `STDOUT`, ...).
    pub kind: u8,
    /// The request it belongs to (0: the connection itself).
    pub request_id: u16,
    /// Its content, padding removed.
    pub body: Bytes,
}

/// Why input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A name-value pair ran past the end of the parameters.
    #[error("FastCGI parameters cut short")]
    TruncatedParams,
    /// More parameter bytes than the decoder's limit.
    #[error("FastCGI parameters over {0} bytes")]
    ParamsTooLong(usize),
}

/// Appends records of `kind` carrying `body` to `out`: one record per
/// 65,535 bytes (an empty body makes one empty record, the end of a stream).
/// Bodies are padded to a multiple of 8 bytes, as upstream Pipy and most
/// servers do.
pub fn encode_records(kind: u8, request_id: u16, body: &[u8], out: &mut Vec<u8>) {
    let mut chunks = body.chunks(MAX_CONTENT).peekable();
    if chunks.peek().is_none() {
        encode_record(kind, request_id, &[], out);
    }
    for chunk in chunks {
        encode_record(kind, request_id, chunk, out);
    }
}

fn encode_record(kind: u8, request_id: u16, body: &[u8], out: &mut Vec<u8>) {
    let len = body.len();
    let padding = (8 - len % 8) % 8;
    out.extend_from_slice(&[
        1,
        kind,
        (request_id >> 8) as u8,
        request_id as u8,
        (len >> 8) as u8,
        len as u8,
        padding as u8,
        0,
    ]);
    out.extend_from_slice(body);
    out.resize(out.len() + padding, 0);
}

/// The body of `FCGI_BEGIN_REQUEST`.
pub fn begin_request_body(role: u16, keep_conn: bool) -> [u8; 8] {
    let flags = if keep_conn { KEEP_CONN } else { 0 };
    [(role >> 8) as u8, role as u8, flags, 0, 0, 0, 0, 0]
}

/// Role and flags of a `FCGI_BEGIN_REQUEST` body (zeros when it is short).
pub fn parse_begin_request(body: &[u8]) -> (u16, u8) {
    match body {
        [r1, r0, flags, ..] => (u16::from(*r1) << 8 | u16::from(*r0), *flags),
        _ => (0, 0),
    }
}

/// The body of `FCGI_END_REQUEST`.
pub fn end_request_body(app_status: u32, protocol_status: u8) -> [u8; 8] {
    let s = app_status.to_be_bytes();
    [s[0], s[1], s[2], s[3], protocol_status, 0, 0, 0]
}

/// Application and protocol status of a `FCGI_END_REQUEST` body (zeros when
/// it is short).
pub fn parse_end_request(body: &[u8]) -> (u32, u8) {
    match body {
        [a, b, c, d, p, ..] => (u32::from_be_bytes([*a, *b, *c, *d]), *p),
        _ => (0, 0),
    }
}

/// Cuts a byte stream into records, however it is split. A record's size is
/// bounded by its header (65,535 bytes and 255 of padding), so at most one
/// partial record is held.
#[derive(Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; complete records go to `out` in order.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Record>) {
        while !bytes.is_empty() {
            let want = self.wanted();
            let take = want.saturating_sub(self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == self.wanted() {
                out.push(self.take_record());
            }
        }
    }

    /// Bytes of the record being read, once its header is whole.
    fn wanted(&self) -> usize {
        if self.buf.len() < HEADER {
            return HEADER;
        }
        let h = &self.buf[..HEADER];
        HEADER + (usize::from(h[4]) << 8 | usize::from(h[5])) + usize::from(h[6])
    }

    fn take_record(&mut self) -> Record {
        let mut rec = self.buf.split().freeze();
        let kind = rec[1];
        let request_id = u16::from(rec[2]) << 8 | u16::from(rec[3]);
        let len = usize::from(rec[4]) << 8 | usize::from(rec[5]);
        rec.advance(HEADER);
        rec.truncate(len);
        Record {
            kind,
            request_id,
            body: rec,
        }
    }
}

fn push_length(n: usize, out: &mut Vec<u8>) {
    if n <= 127 {
        out.push(n as u8);
    } else {
        let n = (n as u32) & 0x7fff_ffff;
        out.extend_from_slice(&(n | 0x8000_0000).to_be_bytes());
    }
}

/// Encodes name-value pairs as the content of an `FCGI_PARAMS` stream
/// ([`encode_records`] cuts it into records; a pair may span two, which the
/// specification allows).
pub fn encode_params<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in pairs {
        push_length(name.len(), &mut out);
        push_length(value.len(), &mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(value);
    }
    out
}

/// Decodes the name-value pairs of a whole `FCGI_PARAMS` stream.
pub fn decode_params(mut buf: &[u8]) -> Result<Vec<(Bytes, Bytes)>, Error> {
    fn length(buf: &mut &[u8]) -> Result<usize, Error> {
        let first = *buf.first().ok_or(Error::TruncatedParams)?;
        if first & 0x80 == 0 {
            *buf = &buf[1..];
            return Ok(usize::from(first));
        }
        if buf.len() < 4 {
            return Err(Error::TruncatedParams);
        }
        let n = u32::from_be_bytes([first & 0x7f, buf[1], buf[2], buf[3]]);
        *buf = &buf[4..];
        Ok(n as usize)
    }
    let mut pairs = Vec::new();
    while !buf.is_empty() {
        let name_len = length(&mut buf)?;
        let value_len = length(&mut buf)?;
        if buf.len() < name_len.saturating_add(value_len) {
            return Err(Error::TruncatedParams);
        }
        let name = Bytes::copy_from_slice(&buf[..name_len]);
        let value = Bytes::copy_from_slice(&buf[name_len..name_len + value_len]);
        buf = &buf[name_len + value_len..];
        pairs.push((name, value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_in_any_split() {
        let mut wire = Vec::new();
        encode_records(BEGIN_REQUEST, 1, &begin_request_body(1, true), &mut wire);
        encode_records(STDIN, 1, b"hello", &mut wire);
        encode_records(STDIN, 1, b"", &mut wire);
        // Padded to 8: 16 + (8 + 5 + 3) + 8.
        assert_eq!(wire.len(), 16 + 16 + 8);
        for split in 1..wire.len() {
            let mut d = Decoder::new();
            let mut recs = Vec::new();
            d.feed(&wire[..split], &mut recs);
            d.feed(&wire[split..], &mut recs);
            assert_eq!(recs.len(), 3, "split at {split}");
            assert_eq!(parse_begin_request(&recs[0].body), (1, KEEP_CONN));
            assert_eq!(&recs[1].body[..], b"hello");
            assert_eq!(recs[2].kind, STDIN);
            assert!(recs[2].body.is_empty());
        }
    }

    #[test]
    fn long_bodies_take_several_records() {
        let body = vec![7u8; MAX_CONTENT + 10];
        let mut wire = Vec::new();
        encode_records(STDOUT, 3, &body, &mut wire);
        let mut recs = Vec::new();
        Decoder::new().feed(&wire, &mut recs);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].body.len(), MAX_CONTENT);
        assert_eq!(recs[1].body.len(), 10);
        assert_eq!(recs[1].request_id, 3);
    }

    #[test]
    fn params_with_long_values() {
        let long = vec![b'x'; 300];
        let wire = encode_params([(&b"A"[..], &b"1"[..]), (&b"LONG"[..], &long[..])]);
        assert_eq!(&wire[..4], &[1, 1, b'A', b'1']);
        assert_eq!(&wire[4..9], &[4, 0x80, 0, 1, 44]);
        let pairs = decode_params(&wire).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(&pairs[1].1[..], &long[..]);
        assert_eq!(
            decode_params(&wire[..wire.len() - 1]),
            Err(Error::TruncatedParams)
        );
    }

    #[test]
    fn end_request_fields() {
        let b = end_request_body(0x01020304, 2);
        assert_eq!(parse_end_request(&b), (0x01020304, 2));
        assert_eq!(parse_end_request(&[1]), (0, 0));
    }
}
