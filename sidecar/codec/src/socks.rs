//! SOCKS 4, 4a and 5 (RFC 1928), the CONNECT command only, with no
//! authentication: a [`Server`] reads a client's greeting and request, a
//! [`Client`] writes them and reads the server's answers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest greeting or request read before giving up: a SOCKS 4 user id or a
/// host name beyond this is not a client we serve.
pub const MAX_REQUEST: usize = 1024;

/// Where a client asks to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// 4 or 5.
    pub version: u8,
    /// A host name (SOCKS 4a, SOCKS 5 domain) or an IP address as text.
    pub host: String,
    /// Whether `host` is a name rather than an address.
    pub domain: bool,
    /// The port.
    pub port: u16,
    /// SOCKS 4's user id (empty for SOCKS 5).
    pub user: String,
}

/// Why bytes are not a SOCKS conversation we take part in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not version 4 or 5, or a malformed message.
    #[error("malformed SOCKS message")]
    Malformed,
    /// A command other than CONNECT.
    #[error("SOCKS command not supported")]
    UnsupportedCommand,
    /// The client offers no method we accept (we accept "no authentication").
    #[error("no acceptable SOCKS authentication method")]
    NoMethod,
    /// A greeting or request longer than [`MAX_REQUEST`].
    #[error("SOCKS request too long")]
    TooLong,
    /// The server refused the connection (its reply code).
    #[error("SOCKS server refused the connection (code {0})")]
    Refused(u8),
}

/// What a [`Server`] made of the bytes so far.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerStep {
    /// More bytes are needed.
    NeedMore,
    /// Send these bytes to the client (SOCKS 5's method choice), then feed more.
    Reply(Vec<u8>),
    /// The request, and the bytes that followed it (the start of the tunnel).
    Request(Request, Vec<u8>),
}

/// [`ServerStep`] before the leftover bytes are cut off.
enum Parsed {
    NeedMore,
    Reply(Vec<u8>),
    Request(Request, usize),
}

/// The server side of one SOCKS handshake.
#[derive(Default)]
pub struct Server {
    buf: Vec<u8>,
    /// SOCKS 5 greeting answered: the request comes next.
    greeted: bool,
}

impl Server {
    /// A server waiting for a client's first byte.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes from the client. After a [`ServerStep::Reply`], call again
    /// (with no bytes if none came): the request may have come with the greeting.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<ServerStep, Error> {
        self.buf.extend_from_slice(bytes);
        match self.step()? {
            Parsed::Request(r, used) => Ok(ServerStep::Request(r, self.buf.split_off(used))),
            Parsed::Reply(r) => Ok(ServerStep::Reply(r)),
            Parsed::NeedMore if self.buf.len() > MAX_REQUEST => Err(Error::TooLong),
            Parsed::NeedMore => Ok(ServerStep::NeedMore),
        }
    }

    fn step(&mut self) -> Result<Parsed, Error> {
        let b = &self.buf;
        let Some(&version) = b.first() else {
            return Ok(Parsed::NeedMore);
        };
        match version {
            // After a SOCKS 5 greeting only a SOCKS 5 request may follow.
            _ if self.greeted => parse_v5(b),
            4 => parse_v4(b),
            5 => {
                if b.len() < 2 || b.len() < 2 + usize::from(b[1]) {
                    return Ok(Parsed::NeedMore);
                }
                let n = 2 + usize::from(b[1]);
                if !b[2..n].contains(&0) {
                    return Err(Error::NoMethod);
                }
                self.buf.drain(..n);
                self.greeted = true;
                Ok(Parsed::Reply(vec![5, 0]))
            }
            _ => Err(Error::Malformed),
        }
    }
}

fn parse_v4(b: &[u8]) -> Result<Parsed, Error> {
    if b.len() < 9 {
        return Ok(Parsed::NeedMore);
    }
    if b[1] != 1 {
        return Err(Error::UnsupportedCommand);
    }
    let port = u16::from_be_bytes([b[2], b[3]]);
    let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
    let Some(user_end) = b[8..].iter().position(|&c| c == 0).map(|i| 8 + i) else {
        return Ok(Parsed::NeedMore);
    };
    let user = String::from_utf8_lossy(&b[8..user_end]).into_owned();
    // SOCKS 4a: 0.0.0.x with x != 0 means a host name follows the user id.
    let o = ip.octets();
    let domain = o[..3] == [0, 0, 0] && o[3] != 0;
    let (host, end) = if domain {
        let start = user_end + 1;
        let Some(name_end) = b[start..].iter().position(|&c| c == 0).map(|i| start + i) else {
            return Ok(Parsed::NeedMore);
        };
        let name = std::str::from_utf8(&b[start..name_end]).map_err(|_| Error::Malformed)?;
        (name.to_string(), name_end + 1)
    } else {
        (ip.to_string(), user_end + 1)
    };
    Ok(Parsed::Request(
        Request {
            version: 4,
            host,
            domain,
            port,
            user,
        },
        end,
    ))
}

fn parse_v5(b: &[u8]) -> Result<Parsed, Error> {
    if b.len() < 5 {
        return Ok(Parsed::NeedMore);
    }
    if b[0] != 5 || b[2] != 0 {
        return Err(Error::Malformed);
    }
    if b[1] != 1 {
        return Err(Error::UnsupportedCommand);
    }
    let (host, at) = match b[3] {
        1 => {
            if b.len() < 10 {
                return Ok(Parsed::NeedMore);
            }
            (Ipv4Addr::new(b[4], b[5], b[6], b[7]).to_string(), 8)
        }
        3 => {
            let n = usize::from(b[4]);
            if b.len() < 5 + n + 2 {
                return Ok(Parsed::NeedMore);
            }
            let name = std::str::from_utf8(&b[5..5 + n]).map_err(|_| Error::Malformed)?;
            (name.to_string(), 5 + n)
        }
        4 => {
            if b.len() < 22 {
                return Ok(Parsed::NeedMore);
            }
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[4..20]);
            (Ipv6Addr::from(o).to_string(), 20)
        }
        _ => return Err(Error::Malformed),
    };
    let port = u16::from_be_bytes([b[at], b[at + 1]]);
    Ok(Parsed::Request(
        Request {
            version: 5,
            domain: b[3] == 3,
            host,
            port,
            user: String::new(),
        },
        at + 2,
    ))
}

/// The server's answer to a request of `version`: granted or refused. The
/// bound address is left as zeros, which clients ignore for CONNECT.
pub fn reply(version: u8, granted: bool) -> Vec<u8> {
    if version == 4 {
        vec![0, if granted { 0x5a } else { 0x5b }, 0, 0, 0, 0, 0, 0]
    } else {
        // 0x02: connection not allowed by ruleset.
        vec![5, if granted { 0 } else { 2 }, 0, 1, 0, 0, 0, 0, 0, 0]
    }
}

/// What a [`Client`] made of the server's bytes so far.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientStep {
    /// More bytes are needed.
    NeedMore,
    /// Send these bytes to the server, then feed more.
    Send(Vec<u8>),
    /// The tunnel is open; these bytes followed the server's reply and
    /// belong to the tunnel.
    Open(Vec<u8>),
}

/// The client side of a SOCKS 5 handshake for CONNECT to `host:port`.
pub struct Client {
    host: String,
    port: u16,
    buf: Vec<u8>,
    /// The method choice arrived and the request was sent.
    requested: bool,
}

impl Client {
    /// A client for `host:port`; [`Client::greeting`] is what it sends first.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_string(),
            port,
            buf: Vec::new(),
            requested: false,
        }
    }

    /// The first bytes to send: version 5, one method, no authentication.
    pub fn greeting(&self) -> Vec<u8> {
        vec![5, 1, 0]
    }

    fn request(&self) -> Vec<u8> {
        let mut out = vec![5, 1, 0];
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => {
                out.push(1);
                out.extend_from_slice(&ip.octets());
            }
            Ok(IpAddr::V6(ip)) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            Err(_) => {
                let name = &self.host.as_bytes()[..self.host.len().min(255)];
                out.push(3);
                out.push(name.len() as u8);
                out.extend_from_slice(name);
            }
        }
        out.extend_from_slice(&self.port.to_be_bytes());
        out
    }

    /// Feeds bytes from the server. After a [`ClientStep::Send`], call again
    /// (with no bytes if none came): a reply may have come with the choice.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<ClientStep, Error> {
        self.buf.extend_from_slice(bytes);
        if !self.requested {
            if self.buf.len() < 2 {
                return Ok(ClientStep::NeedMore);
            }
            if self.buf[0] != 5 {
                return Err(Error::Malformed);
            }
            if self.buf[1] != 0 {
                return Err(Error::NoMethod);
            }
            self.buf.drain(..2);
            self.requested = true;
            return Ok(ClientStep::Send(self.request()));
        }
        let b = &self.buf;
        if b.len() < 5 {
            return Ok(ClientStep::NeedMore);
        }
        if b[0] != 5 {
            return Err(Error::Malformed);
        }
        if b[1] != 0 {
            return Err(Error::Refused(b[1]));
        }
        let n = match b[3] {
            1 => 10,
            4 => 22,
            3 => 7 + usize::from(b[4]),
            _ => return Err(Error::Malformed),
        };
        if b.len() < n {
            return Ok(ClientStep::NeedMore);
        }
        Ok(ClientStep::Open(self.buf.split_off(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(step: ServerStep) -> (Request, usize) {
        match step {
            ServerStep::Request(r, rest) => (r, rest.len()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn socks4_and_4a() {
        let mut s = Server::new();
        assert_eq!(s.feed(&[4, 1, 0x1f]), Ok(ServerStep::NeedMore));
        let (r, rest) = request(
            s.feed(&[0x90, 10, 0, 0, 1, b'b', b'o', b'b', 0, b'x'])
                .unwrap(),
        );
        assert_eq!(
            (r.host.as_str(), r.port, r.user.as_str(), rest),
            ("10.0.0.1", 8080, "bob", 1)
        );
        let mut s = Server::new();
        let (r, rest) = request(
            s.feed(b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00")
                .unwrap(),
        );
        assert_eq!((r.host.as_str(), r.port, rest), ("example.com", 80, 0));
        assert_eq!(
            Server::new().feed(&[4, 2, 0, 80, 1, 2, 3, 4, 0]),
            Err(Error::UnsupportedCommand)
        );
        assert_eq!(reply(4, true), [0, 0x5a, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn socks5_server_and_client_talk() {
        let mut server = Server::new();
        let mut client = Client::new("example.com", 443);
        let ServerStep::Reply(choice) = server.feed(&client.greeting()).unwrap() else {
            panic!("no method choice");
        };
        let ClientStep::Send(req) = client.feed(&choice).unwrap() else {
            panic!("no request");
        };
        // The request may arrive a byte at a time.
        let (last, head) = req.split_last().unwrap();
        for b in head {
            assert_eq!(server.feed(&[*b]), Ok(ServerStep::NeedMore));
        }
        let (r, rest) = request(server.feed(&[*last]).unwrap());
        assert_eq!(
            (r.version, r.host.as_str(), r.port, rest),
            (5, "example.com", 443, 0)
        );
        let mut answer = reply(5, true);
        answer.extend_from_slice(b"hi");
        assert_eq!(client.feed(&answer), Ok(ClientStep::Open(b"hi".to_vec())));

        let mut refused = Client::new("10.0.0.1", 1);
        refused.feed(&[5, 0]).unwrap();
        assert_eq!(refused.feed(&reply(5, false)), Err(Error::Refused(2)));
    }

    #[test]
    fn socks5_greeting_and_request_in_one_read() {
        let mut s = Server::new();
        let mut wire = vec![5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80];
        wire.extend_from_slice(b"GET");
        assert_eq!(s.feed(&wire), Ok(ServerStep::Reply(vec![5, 0])));
        match s.feed(&[]) {
            Ok(ServerStep::Request(r, rest)) => {
                assert_eq!(
                    (r.host.as_str(), r.port, rest.as_slice()),
                    ("127.0.0.1", 80, &b"GET"[..])
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn socks5_addresses_and_refusals() {
        let mut s = Server::new();
        s.feed(&[5, 2, 2, 0]).unwrap();
        let (r, _) = request(
            s.feed(&[
                5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22,
            ])
            .unwrap(),
        );
        assert_eq!((r.host.as_str(), r.port), ("::1", 22));
        assert_eq!(Server::new().feed(&[5, 1, 2]), Err(Error::NoMethod));
        assert_eq!(Server::new().feed(&[6]), Err(Error::Malformed));
        // A SOCKS 4 request after a SOCKS 5 greeting.
        let mut s = Server::new();
        s.feed(&[5, 1, 0]).unwrap();
        assert_eq!(
            s.feed(&[4, 1, 0, 80, 10, 0, 0, 1, 0]),
            Err(Error::Malformed)
        );
        // A reply that came with the method choice, and what followed it.
        let mut c = Client::new("a.test", 1);
        let mut wire = vec![5, 0];
        wire.extend_from_slice(&reply(5, true));
        wire.extend_from_slice(b"abc");
        assert!(matches!(c.feed(&wire), Ok(ClientStep::Send(_))));
        assert_eq!(c.feed(&[]), Ok(ClientStep::Open(b"abc".to_vec())));
        let mut s = Server::new();
        assert_eq!(s.feed(&[4, 1, 0, 80, 1, 2, 3, 4]), Ok(ServerStep::NeedMore));
        assert_eq!(s.feed(&[b'u'; 2000]), Err(Error::TooLong));
    }
}
