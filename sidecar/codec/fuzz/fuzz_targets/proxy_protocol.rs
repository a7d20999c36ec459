//! Arbitrary bytes into the PROXY protocol reader, and headers through both
//! writers and back.
//!
//! Reading: whatever the bytes, `parse` must not panic; once a prefix is
//! decided every longer prefix gets the same answer (so the header's length
//! never depends on what follows it); a caller waiting for an answer never
//! buffers more than the longest header; and a header says only what its
//! version can say. A header that was read, written with `encode_v2` or
//! `encode_v1` and read again (with other bytes after it) comes back as that
//! version can carry it.
//!
//! Writing: the same input also describes a header field by field (command,
//! protocol, address families, ports, TLVs), including combinations `parse`
//! never returns (a `LOCAL` header with addresses, `TCP4` with IPv6
//! addresses, mixed families); both writers' output must read back as the
//! documented normalisation of it.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use pipy_codec::proxy_protocol::{
    encode_v1, encode_v2, parse, Command, Header, Parsed, Protocol, V1_MAX_LEN, V2_MAX_LEN,
};

fuzz_target!(|input: &[u8]| {
    read(input);
    write(input);
});

fn read(input: &[u8]) {
    let whole = parse(input);

    // Prefixes: `Incomplete` up to some length, then the final answer.
    let step = (input.len() / 256).max(1);
    let mut decided_at = None;
    for cut in (0..input.len())
        .step_by(step)
        .chain([input.len().saturating_sub(1)])
    {
        let part = parse(&input[..cut]);
        if part != Ok(Parsed::Incomplete) {
            assert_eq!(
                part, whole,
                "a decided prefix of {cut} bytes changed its answer"
            );
            decided_at.get_or_insert(cut);
        } else if let Some(at) = decided_at {
            assert!(
                cut <= at,
                "prefix of {at} bytes decided, but {cut} bytes are Incomplete"
            );
        }
    }

    let (h, n) = match whole {
        Err(_) => return,
        Ok(Parsed::Incomplete) => {
            // Waiting for more never means holding more than a header.
            assert!(input.len() < V2_MAX_LEN);
            if input.starts_with(b"PROXY ") {
                assert!(
                    input.len() < V1_MAX_LEN,
                    "{} bytes of v1 still Incomplete",
                    input.len()
                );
            }
            return;
        }
        Ok(Parsed::Done(h, n)) => (h, n),
    };
    assert!(n <= input.len(), "took {n} of {} bytes", input.len());
    assert_eq!(parse(&input[..n]), Ok(Parsed::Done(h.clone(), n)));
    match h.version {
        1 => {
            assert!(n <= V1_MAX_LEN);
            assert_eq!(h.command, Command::Proxy);
            assert!(h.tlvs.is_empty());
            match h.protocol {
                Protocol::Tcp4 => assert!(matches!(
                    (h.source, h.target),
                    (Some((IpAddr::V4(_), _)), Some((IpAddr::V4(_), _)))
                )),
                Protocol::Tcp6 => assert!(matches!(
                    (h.source, h.target),
                    (Some((IpAddr::V6(_), _)), Some((IpAddr::V6(_), _)))
                )),
                Protocol::Unknown => assert_eq!((h.source, h.target), (None, None)),
                p => panic!("v1 header with {p:?}"),
            }
        }
        2 => {
            assert!((16..=V2_MAX_LEN).contains(&n));
            let v4 = matches!(
                (h.source, h.target),
                (Some((IpAddr::V4(_), _)), Some((IpAddr::V4(_), _)))
            );
            let v6 = matches!(
                (h.source, h.target),
                (Some((IpAddr::V6(_), _)), Some((IpAddr::V6(_), _)))
            );
            let none = (h.source, h.target) == (None, None);
            match (h.command, h.protocol) {
                (Command::Local, _) => assert!(none),
                (_, Protocol::Tcp4 | Protocol::Udp4) => assert!(v4),
                (_, Protocol::Tcp6 | Protocol::Udp6) => assert!(v6),
                _ => assert!(none),
            }
            let tlv_bytes: usize = h.tlvs.iter().map(|(_, v)| 3 + v.len()).sum();
            assert!(16 + tlv_bytes <= n);
        }
        v => panic!("version {v}"),
    }

    let after = &input[n..];

    // Version 2 carries everything but Unix paths and a LOCAL header's
    // addresses, which `parse` drops already; without addresses it says UNSPEC.
    let v2 = Header {
        version: 2,
        protocol: if h.source.is_some() {
            h.protocol
        } else {
            Protocol::Unknown
        },
        ..h.clone()
    };
    let wire = encode_v2(&h);
    assert_eq!(encode_v2(&v2), wire);
    assert_eq!(read_back(&wire, after), (v2, wire.len()));

    // Version 1 carries TCP addresses only.
    let v1 = match (h.protocol, h.source, h.target) {
        (Protocol::Tcp4 | Protocol::Tcp6, Some(_), Some(_)) => Header {
            version: 1,
            command: Command::Proxy,
            tlvs: Vec::new(),
            ..h.clone()
        },
        _ => unknown_v1(),
    };
    let wire = encode_v1(&h);
    assert!(wire.len() <= V1_MAX_LEN);
    assert_eq!(encode_v1(&v1), wire);
    assert_eq!(read_back(&wire, after), (v1, wire.len()));
}

fn write(input: &[u8]) {
    let mut r = Bytes(input);
    let ctl = r.u8();
    let command = if ctl & 1 == 0 {
        Command::Local
    } else {
        Command::Proxy
    };
    let protocol = [
        Protocol::Tcp4,
        Protocol::Tcp6,
        Protocol::Udp4,
        Protocol::Udp6,
        Protocol::Unix,
        Protocol::UnixDgram,
        Protocol::Unknown,
        Protocol::Tcp4,
    ][usize::from(ctl >> 1 & 7)];
    let source = r.address(ctl >> 4 & 3);
    let target = r.address(ctl >> 6);
    let mut tlvs = Vec::new();
    while !r.0.is_empty() {
        let kind = r.u8();
        let len = usize::from(r.u8());
        tlvs.push((kind, r.take(len).to_vec()));
    }
    let h = Header {
        version: 2,
        command,
        protocol,
        source,
        target,
        tlvs,
    };

    // Version 2: the address family comes from the addresses (UNSPEC unless
    // both are of one family), TCP or UDP from the protocol; a LOCAL header's
    // addresses are written but not read.
    let udp = matches!(protocol, Protocol::Udp4 | Protocol::Udp6);
    let (family, addr_len) = match (source, target) {
        (Some((IpAddr::V4(_), _)), Some((IpAddr::V4(_), _))) => {
            (if udp { Protocol::Udp4 } else { Protocol::Tcp4 }, 12)
        }
        (Some((IpAddr::V6(_), _)), Some((IpAddr::V6(_), _))) => {
            (if udp { Protocol::Udp6 } else { Protocol::Tcp6 }, 36)
        }
        _ => (Protocol::Unknown, 0),
    };
    let kept = command == Command::Proxy && family != Protocol::Unknown;
    let v2 = Header {
        protocol: family,
        source: if kept { source } else { None },
        target: if kept { target } else { None },
        ..h.clone()
    };
    let wire = encode_v2(&h);
    let body = addr_len + h.tlvs.iter().map(|(_, v)| 3 + v.len()).sum::<usize>();
    if body <= usize::from(u16::MAX) {
        assert_eq!(wire.len(), 16 + body);
        assert_eq!(read_back(&wire, input), (v2, wire.len()));
    } else {
        // Cut at 64 KiB: whatever it reads as, no panic.
        assert_eq!(wire.len(), V2_MAX_LEN);
        let _ = parse(&wire);
    }

    // Version 1: TCP with two addresses of one family (the family, not the
    // protocol, picks TCP4 or TCP6); anything else is UNKNOWN. No command.
    let v1 = match (protocol, source, target) {
        (Protocol::Tcp4 | Protocol::Tcp6, Some((s, _)), Some((t, _)))
            if s.is_ipv4() == t.is_ipv4() =>
        {
            Header {
                version: 1,
                command: Command::Proxy,
                protocol: if s.is_ipv4() {
                    Protocol::Tcp4
                } else {
                    Protocol::Tcp6
                },
                source,
                target,
                tlvs: Vec::new(),
            }
        }
        _ => unknown_v1(),
    };
    let wire = encode_v1(&h);
    assert!(
        wire.len() <= V1_MAX_LEN,
        "{}",
        String::from_utf8_lossy(&wire)
    );
    assert_eq!(read_back(&wire, input), (v1, wire.len()));
}

fn unknown_v1() -> Header {
    Header {
        version: 1,
        command: Command::Proxy,
        protocol: Protocol::Unknown,
        source: None,
        target: None,
        tlvs: Vec::new(),
    }
}

/// Parses `wire` followed by `after`: the header must be all of `wire`.
fn read_back(wire: &[u8], after: &[u8]) -> (Header, usize) {
    let mut buf = wire.to_vec();
    buf.extend_from_slice(after);
    match parse(&buf) {
        Ok(Parsed::Done(h, n)) => (h, n),
        other => panic!("{} read back as {other:?}", String::from_utf8_lossy(wire)),
    }
}

/// Fuzz bytes read as fields; past the end, zeros.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let got = self.take(N);
        out[..got.len()].copy_from_slice(got);
        out
    }
    fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }
    /// None, an IPv4 or an IPv6 address with a port.
    fn address(&mut self, kind: u8) -> Option<(IpAddr, u16)> {
        let ip = match kind {
            1 => IpAddr::V4(Ipv4Addr::from(self.array::<4>())),
            2 | 3 => IpAddr::V6(Ipv6Addr::from(self.array::<16>())),
            _ => return None,
        };
        Some((ip, u16::from_be_bytes(self.array::<2>())))
    }
}
