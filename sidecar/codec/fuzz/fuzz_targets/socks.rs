//! Arbitrary bytes into both sides of a SOCKS handshake.
//!
//! The first input byte chooses where the rest is split in two `feed` calls;
//! the rest is also fed all at once and a byte at a time. After a method
//! choice (`Reply`, `Send`) the side is fed again with no bytes, as the API
//! asks. Whatever the bytes, nothing panics, and:
//! - the server answers one SOCKS 5 greeting with `[5, 0]`, at most once;
//!   while it needs more it holds at most `MAX_REQUEST` bytes past the
//!   greeting; the bytes it hands back with a request are the ones it was
//!   given after it, so the tunnel starts at the same byte of the stream
//!   however the stream was cut; a request is well formed for its version;
//! - the client opens the tunnel right after the server's method choice and
//!   reply, however the stream was cut, and never needs more than the longest
//!   reply;
//! - splits agree: the client always; the server too, unless one of the ways
//!   hit `TooLong` (it checks its buffer at each call, so a long request read
//!   in pieces is refused where it is accepted in one piece; but one refused
//!   in one piece is refused in pieces).
//!
//! Finally a client's request for a host and port made of the same bytes is
//! read by the server as that host and port.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use pipy_codec::socks::{
    reply, Client, ClientStep, Error, Request, Server, ServerStep, MAX_REQUEST,
};

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let at = usize::from(ctl) * bytes.len() / 255;
    let every: Vec<usize> = (1..=bytes.len()).collect();

    let whole = serve(bytes, &[bytes.len()]);
    for cuts in [&[at, bytes.len()][..], &every] {
        let other = serve(bytes, cuts);
        let too_long = Served::Failed(Error::TooLong);
        if whole == too_long || other != too_long {
            assert_eq!(other, whole, "cut at {cuts:?}");
        }
    }

    let whole = connect(bytes, &[bytes.len()]);
    assert_eq!(connect(bytes, &[at, bytes.len()]), whole, "cut at {at}");
    assert_eq!(connect(bytes, &every), whole, "a byte at a time");

    round_trip(bytes, ctl);
});

#[derive(Debug, PartialEq, Eq)]
enum Served {
    NeedMore,
    Failed(Error),
    /// The request, whether a greeting came first, and where in the stream
    /// the tunnel starts.
    Request(Request, bool, usize),
}

/// Feeds `stream` to a server in pieces ending at `cuts`.
fn serve(stream: &[u8], cuts: &[usize]) -> Served {
    let mut server = Server::new();
    let (mut fed, mut greeting) = (0, None);
    for &cut in cuts {
        let mut bytes = &stream[fed..cut];
        fed = cut;
        loop {
            match server.feed(std::mem::take(&mut bytes)) {
                Err(e) => return Served::Failed(e),
                Ok(ServerStep::NeedMore) => {
                    let held = fed - greeting.unwrap_or(0);
                    assert!(held <= MAX_REQUEST, "holding {held} bytes");
                    break;
                }
                Ok(ServerStep::Reply(r)) => {
                    assert_eq!(r, [5, 0]);
                    assert!(greeting.is_none(), "a second greeting reply");
                    assert_eq!(stream[0], 5);
                    let n = 2 + usize::from(stream[1]);
                    assert!(n <= fed && stream[2..n].contains(&0));
                    greeting = Some(n);
                }
                Ok(ServerStep::Request(req, rest)) => {
                    assert!(
                        stream[..fed].ends_with(&rest),
                        "leftover is not what followed"
                    );
                    let end = fed - rest.len();
                    check_request(&req, &stream[greeting.unwrap_or(0)..end]);
                    return Served::Request(req, greeting.is_some(), end);
                }
            }
        }
    }
    Served::NeedMore
}

/// What can be said of a request from the bytes it was read from.
fn check_request(req: &Request, wire: &[u8]) {
    assert_eq!(req.version, wire[0]);
    match req.version {
        4 => {
            assert!(wire.len() >= 9 && wire[1] == 1 && *wire.last().unwrap() == 0);
            assert_eq!(req.port, u16::from_be_bytes([wire[2], wire[3]]));
            let ip = Ipv4Addr::new(wire[4], wire[5], wire[6], wire[7]);
            let o = ip.octets();
            assert_eq!(req.domain, o[..3] == [0, 0, 0] && o[3] != 0);
            if !req.domain {
                assert_eq!(req.host, ip.to_string());
            }
            assert!(!req.user.contains('\0') && !req.host.contains('\0'));
        }
        5 => {
            assert!(wire.len() >= 7 && wire[1] == 1 && wire[2] == 0);
            assert_eq!(
                req.port,
                u16::from_be_bytes([wire[wire.len() - 2], wire[wire.len() - 1]])
            );
            assert!(req.user.is_empty());
            assert_eq!(req.domain, wire[3] == 3);
            let want = match wire[3] {
                1 => 10,
                3 => 7 + usize::from(wire[4]),
                4 => 22,
                t => panic!("address type {t}"),
            };
            assert_eq!(wire.len(), want);
            if req.domain {
                assert_eq!(req.host.as_bytes(), &wire[5..wire.len() - 2]);
            } else {
                assert!(req.host.parse::<IpAddr>().is_ok(), "{}", req.host);
            }
        }
        v => panic!("version {v}"),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Connected {
    NeedMore,
    Failed(Error),
    /// Where in the stream the tunnel starts.
    Open(usize),
}

/// Feeds `stream`, the server's side, to a client in pieces ending at `cuts`.
fn connect(stream: &[u8], cuts: &[usize]) -> Connected {
    let mut client = Client::new("example.com", 443);
    let (mut fed, mut sent) = (0, false);
    for &cut in cuts {
        let mut bytes = &stream[fed..cut];
        fed = cut;
        loop {
            match client.feed(std::mem::take(&mut bytes)) {
                Err(e) => return Connected::Failed(e),
                Ok(ClientStep::NeedMore) => {
                    // The method choice (2) and the longest reply (7 + 255).
                    assert!(fed < 2 + 7 + 255, "needs more after {fed} bytes");
                    break;
                }
                Ok(ClientStep::Send(req)) => {
                    assert!(!sent, "a second request");
                    assert_eq!(&stream[..2], [5, 0]);
                    let mut want = vec![5, 1, 0, 3, 11];
                    want.extend_from_slice(b"example.com\x01\xbb");
                    assert_eq!(req, want);
                    sent = true;
                }
                Ok(ClientStep::Open(rest)) => {
                    let rest = rest.len();
                    assert!(sent && rest <= fed);
                    let b = &stream[2..];
                    assert_eq!((b[0], b[1]), (5, 0));
                    let reply_len = match b[3] {
                        1 => 10,
                        3 => 7 + usize::from(b[4]),
                        4 => 22,
                        t => panic!("address type {t}"),
                    };
                    assert_eq!(
                        fed - rest,
                        2 + reply_len,
                        "the tunnel starts after the reply"
                    );
                    return Connected::Open(fed - rest);
                }
            }
        }
    }
    Connected::NeedMore
}

/// A client's request for a host and port made of `bytes` and `ctl`, read by a server.
fn round_trip(bytes: &[u8], ctl: u8) {
    let host = String::from_utf8_lossy(&bytes[..bytes.len().min(usize::from(ctl) + 8)]);
    let port = u16::from(ctl) * 257;
    let mut client = Client::new(&host, port);
    let mut server = Server::new();
    assert_eq!(
        server.feed(&client.greeting()),
        Ok(ServerStep::Reply(vec![5, 0]))
    );
    let Ok(ClientStep::Send(req)) = client.feed(&[5, 0]) else {
        panic!("no request after the method choice");
    };
    let got = server.feed(&req);
    if host.len() <= 255 {
        let Ok(ServerStep::Request(r, rest)) = got else {
            panic!("{host:?} read as {got:?}");
        };
        assert!(rest.is_empty());
        let (want_host, domain) = match host.parse::<IpAddr>() {
            Ok(ip) => (ip.to_string(), false),
            Err(_) => (host.to_string(), true),
        };
        assert_eq!(
            (r.version, r.host, r.domain, r.port),
            (5, want_host, domain, port)
        );
    }

    let mut granted = reply(5, true);
    granted.extend_from_slice(b"tunnel");
    assert_eq!(client.feed(&granted), Ok(ClientStep::Open(b"tunnel".to_vec())));
    let mut refused = Client::new(&host, port);
    refused.feed(&[5, 0]).unwrap();
    assert_eq!(refused.feed(&reply(5, false)), Err(Error::Refused(2)));
}
