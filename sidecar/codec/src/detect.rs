//! Telling protocols apart from a stream's first bytes (`detectProtocol`),
//! by upstream's rules: an HTTP/1 request line, the HTTP/2 preface, or a TLS
//! ClientHello record. Every detector sees every byte until one says yes or
//! all say no.

/// What a stream turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// An HTTP/1.0 or 1.1 request line.
    Http,
    /// The HTTP/2 cleartext preface.
    Http2,
    /// A TLS handshake starting with a ClientHello.
    Tls,
    /// None of them.
    Unknown,
}

impl Protocol {
    /// The name scripts see: `HTTP`, `HTTP2`, `TLS` or the empty string.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Http2 => "HTTP2",
            Protocol::Tls => "TLS",
            Protocol::Unknown => "",
        }
    }
}

const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"PATCH ",
    b"DELETE ",
    b"CONNECT ",
    b"OPTIONS ",
    b"TRACE ",
];
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const VERSIONS: [&[u8]; 2] = [b"HTTP/1.0\r\n", b"HTTP/1.1\r\n"];

/// The longest prefix of bytes looked at before HTTP gives up: a request
/// line longer than this is not one we route (upstream has no limit).
pub const MAX_REQUEST_LINE: usize = 64 * 1024;

/// A detector fed a stream's first bytes.
#[derive(Default)]
pub struct Detector {
    seen: Vec<u8>,
    http_failed: bool,
    /// Where the search for the space after the request target goes on.
    http_scan: usize,
    http2_failed: bool,
    tls_failed: bool,
}

impl Detector {
    /// A detector that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds more bytes; `Some` once the answer is known.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<Protocol> {
        self.seen.extend_from_slice(bytes);
        let s = &self.seen;
        if !self.tls_failed {
            match tls(s) {
                Some(true) => return Some(Protocol::Tls),
                Some(false) => self.tls_failed = true,
                None => {}
            }
        }
        if !self.http2_failed {
            let n = s.len().min(PREFACE.len());
            if s[..n] != PREFACE[..n] {
                self.http2_failed = true;
            } else if n == PREFACE.len() {
                return Some(Protocol::Http2);
            }
        }
        if !self.http_failed {
            match http(s, &mut self.http_scan) {
                Some(true) => return Some(Protocol::Http),
                Some(false) => self.http_failed = true,
                None => {}
            }
        }
        if self.tls_failed && self.http2_failed && self.http_failed {
            return Some(Protocol::Unknown);
        }
        None
    }
}

/// `Some(true)`: a ClientHello record header; `None`: too early to say.
fn tls(s: &[u8]) -> Option<bool> {
    type Check = (usize, fn(u8) -> bool);
    let checks: [Check; 4] = [
        (0, |b| b == 22),
        (1, |b| b == 3),
        (2, |b| b <= 4),
        (5, |b| b == 1),
    ];
    for (i, ok) in checks {
        if let Some(&b) = s.get(i) {
            if !ok(b) {
                return Some(false);
            }
        }
    }
    if s.len() < 11 {
        return None;
    }
    let record = (usize::from(s[3]) << 8) | usize::from(s[4]);
    let handshake = (usize::from(s[6]) << 16) | (usize::from(s[7]) << 8) | usize::from(s[8]);
    Some(handshake <= record + 4)
}

/// `Some(true)`: a whole HTTP/1 request line; `None`: too early to say.
/// `scan` keeps how far the target was searched, so that a line arriving a
/// byte at a time is not searched again from its start each time.
fn http(s: &[u8], scan: &mut usize) -> Option<bool> {
    let Some(method) = METHODS.iter().find(|m| {
        let n = s.len().min(m.len());
        s[..n] == m[..n]
    }) else {
        return Some(false);
    };
    if s.len() <= method.len() {
        return None;
    }
    let rest = &s[method.len()..];
    let from = (*scan).min(rest.len());
    let Some(space) = rest[from..]
        .iter()
        .position(|&b| b == b' ')
        .map(|i| from + i)
    else {
        *scan = rest.len();
        return if s.len() > MAX_REQUEST_LINE {
            Some(false)
        } else {
            None
        };
    };
    *scan = space;
    let version = &rest[space + 1..];
    let matching = VERSIONS.iter().find(|v| {
        let n = version.len().min(v.len());
        version[..n] == v[..n]
    });
    match matching {
        None => Some(false),
        Some(v) if version.len() >= v.len() => Some(true),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_bytewise(bytes: &[u8]) -> Option<Protocol> {
        let mut d = Detector::new();
        bytes.iter().find_map(|b| d.feed(&[*b]))
    }

    #[test]
    fn each_protocol_byte_by_byte_and_at_once() {
        let cases: [(&[u8], Option<Protocol>); 8] = [
            (
                b"GET /index.html HTTP/1.1\r\nhost: x\r\n",
                Some(Protocol::Http),
            ),
            (b"CONNECT a:443 HTTP/1.0\r\n", Some(Protocol::Http)),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Some(Protocol::Http2)),
            (
                &[22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3, 0],
                Some(Protocol::Tls),
            ),
            (b"GET / HTTP/2.0\r\n", Some(Protocol::Unknown)),
            (b"SSH-2.0-OpenSSH\r\n", Some(Protocol::Unknown)),
            (
                &[22, 3, 1, 0, 10, 1, 0, 1, 0, 3, 3],
                Some(Protocol::Unknown),
            ),
            (b"GET /still-reading", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                detect_bytewise(bytes),
                want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            let mut d = Detector::new();
            assert_eq!(d.feed(bytes), want);
        }
        assert_eq!(Protocol::Unknown.name(), "");
    }
}
