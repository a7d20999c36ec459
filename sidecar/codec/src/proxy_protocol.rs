//! The PROXY protocol (HAProxy's, versions 1 and 2): the header a proxy puts in
//! front of a TCP stream to tell the next hop who the client was.
//!
//! [`parse`] reads a header of either version from the start of a stream and
//! says how many bytes it took; [`encode_v1`] and [`encode_v2`] write one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The 12 bytes every version 2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The longest version 1 header, its CRLF included (the specification's 107).
pub const V1_MAX_LEN: usize = 107;

/// The longest version 2 header: 16 fixed bytes and a 16-bit length.
pub const V2_MAX_LEN: usize = 16 + u16::MAX as usize;

/// What a PROXY header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// 1 or 2.
    pub version: u8,
    /// `PROXY` (relayed for a client) or `LOCAL` (a health check from the
    /// proxy itself: no addresses). Version 1 knows only `PROXY`.
    pub command: Command,
    /// The transport and address family.
    pub protocol: Protocol,
    /// The client's address and port, when the header carries them.
    pub source: Option<(IpAddr, u16)>,
    /// The address and port the client connected to.
    pub target: Option<(IpAddr, u16)>,
    /// Version 2's type-length-value extensions, as (type, value).
    pub tlvs: Vec<(u8, Vec<u8>)>,
}

/// A header's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// The connection was relayed for a client.
    Proxy,
    /// The proxy speaks for itself.
    Local,
}

/// A header's transport and address family, named as version 1 spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP over IPv4.
    Tcp4,
    /// TCP over IPv6.
    Tcp6,
    /// UDP over IPv4 (version 2 only).
    Udp4,
    /// UDP over IPv6 (version 2 only).
    Udp6,
    /// Unix stream sockets (version 2 only; the paths are not kept).
    Unix,
    /// Unix datagram sockets (version 2 only).
    UnixDgram,
    /// Unknown or unspecified.
    Unknown,
}

impl Protocol {
    /// The name: `TCP4`, `TCP6`, `UDP4`, `UDP6` or `UNKNOWN`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp4 => "TCP4",
            Protocol::Tcp6 => "TCP6",
            Protocol::Udp4 => "UDP4",
            Protocol::Udp6 => "UDP6",
            Protocol::Unix => "UNIX",
            Protocol::UnixDgram => "UNIX_DGRAM",
            Protocol::Unknown => "UNKNOWN",
        }
    }

    /// The protocol for a name as [`Protocol::name`] gives it (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "TCP4" => Protocol::Tcp4,
            "TCP6" => Protocol::Tcp6,
            "UDP4" => Protocol::Udp4,
            "UDP6" => Protocol::Udp6,
            "UNIX" => Protocol::Unix,
            "UNIX_DGRAM" => Protocol::UnixDgram,
            "UNKNOWN" => Protocol::Unknown,
            _ => return None,
        })
    }
}

/// Why bytes are not a PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Neither signature.
    #[error("not a PROXY protocol header")]
    NoSignature,
    /// A version 1 line that is malformed or longer than 107 bytes.
    #[error("malformed PROXY v1 header")]
    BadV1,
    /// A version 2 header with an unknown version, command or family, or a
    /// length too short for its addresses.
    #[error("malformed PROXY v2 header")]
    BadV2,
}

/// The result of looking at the start of a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed to decide.
    Incomplete,
    /// A header, and how many bytes it took.
    Done(Header, usize),
}

/// Reads a PROXY header of either version from the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Parsed, Error> {
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] == V2_SIGNATURE[..n] && n > 0 {
        return if n < V2_SIGNATURE.len() {
            Ok(Parsed::Incomplete)
        } else {
            parse_v2(buf)
        };
    }
    let n = buf.len().min(6);
    if buf[..n] == b"PROXY "[..n] {
        return if n < 6 {
            Ok(Parsed::Incomplete)
        } else {
            parse_v1(buf)
        };
    }
    Err(Error::NoSignature)
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, Error> {
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX_LEN {
            Err(Error::BadV1)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let line = std::str::from_utf8(&buf[6..end]).map_err(|_| Error::BadV1)?;
    let mut words = line.split(' ');
    let protocol = match words.next() {
        Some("TCP4") => Protocol::Tcp4,
        Some("TCP6") => Protocol::Tcp6,
        Some("UNKNOWN") => {
            // Whatever follows UNKNOWN is to be ignored.
            return Ok(Parsed::Done(
                Header {
                    version: 1,
                    command: Command::Proxy,
                    protocol: Protocol::Unknown,
                    source: None,
                    target: None,
                    tlvs: Vec::new(),
                },
                end + 2,
            ));
        }
        _ => return Err(Error::BadV1),
    };
    let mut next = || words.next().ok_or(Error::BadV1);
    let (src, dst, sport, dport) = (next()?, next()?, next()?, next()?);
    if words.next().is_some() {
        return Err(Error::BadV1);
    }
    let ip = |s: &str| -> Result<IpAddr, Error> {
        let ip = match protocol {
            Protocol::Tcp4 => s.parse::<Ipv4Addr>().map(IpAddr::V4),
            _ => s.parse::<Ipv6Addr>().map(IpAddr::V6),
        };
        ip.map_err(|_| Error::BadV1)
    };
    let port = |s: &str| -> Result<u16, Error> {
        // Ports are plain decimal numbers, without sign or leading zeros.
        if s.is_empty()
            || !s.bytes().all(|b| b.is_ascii_digit())
            || (s.len() > 1 && s.starts_with('0'))
        {
            return Err(Error::BadV1);
        }
        s.parse().map_err(|_| Error::BadV1)
    };
    Ok(Parsed::Done(
        Header {
            version: 1,
            command: Command::Proxy,
            protocol,
            source: Some((ip(src)?, port(sport)?)),
            target: Some((ip(dst)?, port(dport)?)),
            tlvs: Vec::new(),
        },
        end + 2,
    ))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, Error> {
    if buf.len() < 16 {
        return Ok(Parsed::Incomplete);
    }
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(Error::BadV2);
    }
    let command = match ver_cmd & 0x0f {
        0 => Command::Local,
        1 => Command::Proxy,
        _ => return Err(Error::BadV2),
    };
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if buf.len() < 16 + len {
        return Ok(Parsed::Incomplete);
    }
    let body = &buf[16..16 + len];
    let (protocol, addr_len) = match buf[13] {
        0x00 => (Protocol::Unknown, 0),
        0x11 => (Protocol::Tcp4, 12),
        0x12 => (Protocol::Udp4, 12),
        0x21 => (Protocol::Tcp6, 36),
        0x22 => (Protocol::Udp6, 36),
        // Unix sockets: two 108-byte paths, not kept.
        0x31 => (Protocol::Unix, 216),
        0x32 => (Protocol::UnixDgram, 216),
        _ => return Err(Error::BadV2),
    };
    if body.len() < addr_len {
        return Err(Error::BadV2);
    }
    let (source, target) = match protocol {
        Protocol::Tcp4 | Protocol::Udp4 => {
            let ip = |at: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[at],
                    body[at + 1],
                    body[at + 2],
                    body[at + 3],
                ))
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            (Some((ip(0), port(8))), Some((ip(4), port(10))))
        }
        Protocol::Tcp6 | Protocol::Udp6 => {
            let ip = |at: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&body[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            (Some((ip(0), port(32))), Some((ip(16), port(34))))
        }
        Protocol::Unix | Protocol::UnixDgram | Protocol::Unknown => (None, None),
    };
    let mut tlvs = Vec::new();
    let mut rest = &body[addr_len..];
    while rest.len() >= 3 {
        let kind = rest[0];
        let n = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        if rest.len() < 3 + n {
            return Err(Error::BadV2);
        }
        tlvs.push((kind, rest[3..3 + n].to_vec()));
        rest = &rest[3 + n..];
    }
    // A LOCAL header's addresses are to be ignored.
    let (source, target) = match command {
        Command::Local => (None, None),
        Command::Proxy => (source, target),
    };
    Ok(Parsed::Done(
        Header {
            version: 2,
            command,
            protocol,
            source,
            target,
            tlvs,
        },
        16 + len,
    ))
}

/// Writes a version 1 header. Without both addresses, or with a UDP
/// protocol (which version 1 cannot say), it is `PROXY UNKNOWN`.
pub fn encode_v1(h: &Header) -> Vec<u8> {
    match (h.protocol, h.source, h.target) {
        (Protocol::Tcp4 | Protocol::Tcp6, Some((sa, sp)), Some((ta, tp)))
            if sa.is_ipv4() == ta.is_ipv4() =>
        {
            let family = if sa.is_ipv4() { "TCP4" } else { "TCP6" };
            format!("PROXY {family} {sa} {ta} {sp} {tp}\r\n").into_bytes()
        }
        _ => b"PROXY UNKNOWN\r\n".to_vec(),
    }
}

/// Writes a version 2 header, with its TLVs. Addresses of two families, or
/// none, make it `UNSPEC`.
pub fn encode_v2(h: &Header) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(match h.command {
        Command::Local => 0x20,
        Command::Proxy => 0x21,
    });
    let udp = matches!(h.protocol, Protocol::Udp4 | Protocol::Udp6);
    let mut body = Vec::new();
    let family = match (h.source, h.target) {
        (Some((IpAddr::V4(s), sp)), Some((IpAddr::V4(t), tp))) => {
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&t.octets());
            body.extend_from_slice(&sp.to_be_bytes());
            body.extend_from_slice(&tp.to_be_bytes());
            if udp {
                0x12
            } else {
                0x11
            }
        }
        (Some((IpAddr::V6(s), sp)), Some((IpAddr::V6(t), tp))) => {
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&t.octets());
            body.extend_from_slice(&sp.to_be_bytes());
            body.extend_from_slice(&tp.to_be_bytes());
            if udp {
                0x22
            } else {
                0x21
            }
        }
        _ => 0x00,
    };
    out.push(family);
    for (kind, value) in &h.tlvs {
        let n = value.len().min(usize::from(u16::MAX));
        body.push(*kind);
        body.extend_from_slice(&(n as u16).to_be_bytes());
        body.extend_from_slice(&value[..n]);
    }
    let n = body.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&body[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(buf: &[u8]) -> (Header, usize) {
        match parse(buf) {
            Ok(Parsed::Done(h, n)) => (h, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn v1_tcp4_and_what_follows() {
        let wire = b"PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\nGET / HTTP/1.1\r\n";
        let (h, n) = done(wire);
        assert_eq!(n, 43);
        assert_eq!(&wire[n..n + 3], b"GET");
        assert_eq!(h.protocol, Protocol::Tcp4);
        assert_eq!(h.source, Some(("192.168.0.1".parse().unwrap(), 56324)));
        assert_eq!(h.target, Some(("10.0.0.2".parse().unwrap(), 443)));
        assert_eq!(encode_v1(&h), wire[..n].to_vec());
    }

    #[test]
    fn v1_tcp6_unknown_and_errors() {
        let (h, _) = done(b"PROXY TCP6 ::1 2001:db8::2 1 2\r\n");
        assert_eq!(h.source, Some(("::1".parse().unwrap(), 1)));
        let (h, n) = done(b"PROXY UNKNOWN whatever here\r\nx");
        assert_eq!((h.protocol, h.source, n), (Protocol::Unknown, None, 29));
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"[..],
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"GET / HTTP/1.1\r\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(b"PROXY TCP4 1.2.3.4"), Ok(Parsed::Incomplete));
        assert_eq!(parse(b"PRO"), Ok(Parsed::Incomplete));
        assert_eq!(parse(&[b'x'; 200]), Err(Error::NoSignature));
        let mut long = b"PROXY TCP4 ".to_vec();
        long.resize(200, b'1');
        assert_eq!(parse(&long), Err(Error::BadV1));
    }

    #[test]
    fn v2_round_trips_with_tlvs() {
        let h = Header {
            version: 2,
            command: Command::Proxy,
            protocol: Protocol::Tcp4,
            source: Some(("10.1.2.3".parse().unwrap(), 40000)),
            target: Some(("10.9.8.7".parse().unwrap(), 8443)),
            tlvs: vec![(0x02, b"example.com".to_vec())],
        };
        let mut wire = encode_v2(&h);
        assert_eq!(wire.len(), 16 + 12 + 3 + 11);
        wire.extend_from_slice(b"rest");
        let (back, n) = done(&wire);
        assert_eq!(back, h);
        assert_eq!(&wire[n..], b"rest");
        for cut in 1..n {
            assert_eq!(parse(&wire[..cut]), Ok(Parsed::Incomplete), "cut at {cut}");
        }
        let h6 = Header {
            protocol: Protocol::Udp6,
            source: Some(("::1".parse().unwrap(), 1)),
            target: Some(("::2".parse().unwrap(), 2)),
            tlvs: Vec::new(),
            ..h
        };
        assert_eq!(done(&encode_v2(&h6)).0, h6);
    }

    #[test]
    fn v2_local_and_malformed() {
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x11, 0, 12]);
        local.extend_from_slice(&[1; 12]);
        let (h, n) = done(&local);
        assert_eq!((h.command, h.source, n), (Command::Local, None, 28));
        let mut bad = local.clone();
        bad[12] = 0x31;
        assert_eq!(parse(&bad), Err(Error::BadV2));
        let mut short = local.clone();
        short[15] = 4;
        short.truncate(20);
        assert_eq!(parse(&short), Err(Error::BadV2));
    }
}
