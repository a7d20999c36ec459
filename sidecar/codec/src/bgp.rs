//! BGP-4 messages (RFC 4271): framing, and the bodies of OPEN, UPDATE,
//! NOTIFICATION and ROUTE-REFRESH (RFC 2918) over IPv4, with 2- or 4-octet AS
//! numbers (RFC 6793) as the caller says.
//!
//! Framing and parsing are apart because whether AS numbers take four octets
//! is known per message only by the caller (`enableAS4`): [`Decoder`] cuts the
//! stream into [`Frame`]s, [`parse`] reads one, [`encode`] writes one back.
//! A frame's marker must be all ones (upstream Pipy does not look at it) and
//! its length at least 19; lengths up to 65535 pass, as extended messages
//! (RFC 8654) may have them.

use bytes::Bytes;

/// Length of the header: marker, length, type.
pub const HEADER: usize = 19;

/// What a [`Decoder`] found.
pub type Step = crate::Step<Frame>;

/// One message as framed: its type and body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The type octet.
    pub kind: u8,
    /// The bytes after the header.
    pub body: Bytes,
}

/// Why input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The marker was not sixteen `0xff` octets.
    #[error("BGP marker is not all ones")]
    BadMarker,
    /// The length field was under 19.
    #[error("BGP message length {0} is under 19")]
    BadLength(u16),
    /// A body's fields ran past their bounds or held values out of range.
    #[error("malformed BGP {0} message")]
    Malformed(&'static str),
}

/// Cuts a byte stream into frames, however it is split.
#[derive(Default)]
pub struct Decoder {
    head: Vec<u8>,
    body: Vec<u8>,
    /// Body bytes still to come, once the header is whole.
    left: Option<usize>,
    failed: bool,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `input`, appending what it found to `out`: a `Start` at each
    /// message's first byte, its bytes as they came, an `End` once whole.
    pub fn feed(&mut self, input: &Bytes, out: &mut Vec<Step>) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Malformed("stream"));
        }
        let r = self.feed_inner(input, out);
        self.failed = r.is_err();
        r
    }

    fn feed_inner(&mut self, input: &Bytes, out: &mut Vec<Step>) -> Result<(), Error> {
        let mut i = 0;
        let mut run = 0;
        while i < input.len() {
            match self.left {
                None => {
                    if self.head.is_empty() {
                        out.push(Step::Start);
                    }
                    let take = (HEADER - self.head.len()).min(input.len() - i);
                    self.head.extend_from_slice(&input[i..i + take]);
                    i += take;
                    if self.head.len() < HEADER {
                        continue;
                    }
                    if self.head[..16].iter().any(|b| *b != 0xff) {
                        return Err(Error::BadMarker);
                    }
                    let len = u16::from_be_bytes([self.head[16], self.head[17]]);
                    if usize::from(len) < HEADER {
                        return Err(Error::BadLength(len));
                    }
                    self.left = Some(usize::from(len) - HEADER);
                }
                Some(left) => {
                    let take = left.min(input.len() - i);
                    self.body.extend_from_slice(&input[i..i + take]);
                    i += take;
                    self.left = Some(left - take);
                }
            }
            if self.left == Some(0) {
                out.push(Step::Raw(input.slice(run..i)));
                run = i;
                out.push(Step::End(Frame {
                    kind: self.head[18],
                    body: Bytes::from(std::mem::take(&mut self.body)),
                }));
                self.head.clear();
                self.left = None;
            }
        }
        if run < input.len() {
            out.push(Step::Raw(input.slice(run..)));
        }
        Ok(())
    }
}

/// Type octets.
pub mod kind {
    /// OPEN.
    pub const OPEN: u8 = 1;
    /// UPDATE.
    pub const UPDATE: u8 = 2;
    /// NOTIFICATION.
    pub const NOTIFICATION: u8 = 3;
    /// KEEPALIVE.
    pub const KEEPALIVE: u8 = 4;
    /// ROUTE-REFRESH.
    pub const ROUTE_REFRESH: u8 = 5;
}

/// A message, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The type octet.
    pub kind: u8,
    /// The body by its type.
    pub body: Body,
}

/// A body by its message type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// None at all (a KEEPALIVE).
    None,
    /// OPEN.
    Open(Open),
    /// UPDATE.
    Update(Update),
    /// NOTIFICATION.
    Notification(Notification),
    /// ROUTE-REFRESH.
    RouteRefresh {
        /// Address family.
        afi: u16,
        /// The octet between them: 0, or an enhanced refresh's subtype
        /// (RFC 7313: 1 begins, 2 ends a refresh).
        subtype: u8,
        /// Subsequent address family.
        safi: u8,
    },
    /// Bytes of a type not read here (or a KEEPALIVE with a body).
    Raw(Bytes),
}

/// The body of an OPEN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Open {
    /// Protocol version (4).
    pub version: u8,
    /// The sender's (2-octet) AS.
    pub my_as: u16,
    /// Proposed hold time, seconds.
    pub hold_time: u16,
    /// BGP identifier, an IPv4 address.
    pub identifier: [u8; 4],
    /// Optional parameters.
    pub parameters: Vec<Parameter>,
}

/// An optional parameter of an OPEN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parameter {
    /// Parameter type (2: capabilities).
    pub code: u8,
    /// Its value.
    pub value: ParameterValue,
}

/// What an optional parameter holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParameterValue {
    /// Nothing (length 0).
    Empty,
    /// Capabilities (type 2): code and value of each.
    Capabilities(Vec<(u8, Bytes)>),
    /// Bytes of another type.
    Raw(Bytes),
}

/// The body of an UPDATE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// Withdrawn routes.
    pub withdrawn: Vec<Prefix>,
    /// Path attributes.
    pub attributes: Vec<Attribute>,
    /// Network layer reachability information.
    pub destinations: Vec<Prefix>,
}

/// An IPv4 prefix. Bits past `len` keep what was read; writing clears them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// The address.
    pub addr: [u8; 4],
    /// Its length in bits, at most 32.
    pub len: u8,
}

/// A path attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Type code.
    pub code: u8,
    /// Flag bits 0x80, 0x40 and 0x20.
    pub optional: bool,
    /// See `optional`.
    pub transitive: bool,
    /// See `optional`.
    pub partial: bool,
    /// Its value.
    pub value: AttributeValue,
}

/// Attribute type codes read here.
pub mod attr {
    /// ORIGIN.
    pub const ORIGIN: u8 = 1;
    /// AS_PATH.
    pub const AS_PATH: u8 = 2;
    /// NEXT_HOP.
    pub const NEXT_HOP: u8 = 3;
    /// MULTI_EXIT_DISC.
    pub const MULTI_EXIT_DISC: u8 = 4;
    /// LOCAL_PREF.
    pub const LOCAL_PREF: u8 = 5;
    /// ATOMIC_AGGREGATE.
    pub const ATOMIC_AGGREGATE: u8 = 6;
    /// AGGREGATOR.
    pub const AGGREGATOR: u8 = 7;
}

/// What a path attribute holds, by its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    /// Nothing (length 0).
    Empty,
    /// ORIGIN.
    Origin(u8),
    /// AS_PATH segments.
    AsPath(Vec<Segment>),
    /// NEXT_HOP.
    NextHop([u8; 4]),
    /// MULTI_EXIT_DISC or LOCAL_PREF.
    Number(u32),
    /// AGGREGATOR: AS and address.
    Aggregator(u32, [u8; 4]),
    /// Bytes of another code (or of ATOMIC_AGGREGATE with a value).
    Raw(Bytes),
}

/// An AS_PATH segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// AS_SET (type 1).
    Set(Vec<u32>),
    /// AS_SEQUENCE (type 2).
    Sequence(Vec<u32>),
}

/// The body of a NOTIFICATION.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notification {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Data.
    pub data: Bytes,
}

/// A cursor over a body: every read is bounds-checked.
struct Reader<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.b.len() < n {
            return Err(Error::Malformed(self.what));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn ip(&mut self) -> Result<[u8; 4], Error> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }
    fn asn(&mut self, as4: bool) -> Result<u32, Error> {
        if as4 {
            self.u32()
        } else {
            self.u16().map(u32::from)
        }
    }
}

/// Reads a frame's body by its type (`as4`: AS numbers take four octets).
pub fn parse(frame: &Frame, as4: bool) -> Result<Message, Error> {
    let b = &frame.body;
    let body = match frame.kind {
        kind::OPEN => Body::Open(parse_open(b)?),
        kind::UPDATE => Body::Update(parse_update(b, as4)?),
        kind::NOTIFICATION => {
            let mut r = Reader {
                b,
                what: "NOTIFICATION",
            };
            Body::Notification(Notification {
                code: r.u8()?,
                subcode: r.u8()?,
                data: b.slice(2..),
            })
        }
        kind::ROUTE_REFRESH => {
            let mut r = Reader {
                b,
                what: "ROUTE-REFRESH",
            };
            let afi = r.u16()?;
            let subtype = r.u8()?;
            Body::RouteRefresh {
                afi,
                subtype,
                safi: r.u8()?,
            }
        }
        _ if b.is_empty() => Body::None,
        _ => Body::Raw(b.clone()),
    };
    Ok(Message {
        kind: frame.kind,
        body,
    })
}

fn parse_open(b: &Bytes) -> Result<Open, Error> {
    let mut r = Reader { b, what: "OPEN" };
    let mut open = Open {
        version: r.u8()?,
        my_as: r.u16()?,
        hold_time: r.u16()?,
        identifier: r.ip()?,
        parameters: Vec::new(),
    };
    let len = usize::from(r.u8()?);
    let start = b.len() - r.b.len();
    let mut p = Reader {
        b: r.take(len)?,
        what: "OPEN",
    };
    while !p.b.is_empty() {
        let code = p.u8()?;
        let n = usize::from(p.u8()?);
        let at = start + (len - p.b.len());
        let bytes = p.take(n)?;
        let value = if n == 0 {
            ParameterValue::Empty
        } else if code == 2 {
            let mut caps = Vec::new();
            let mut c = Reader {
                b: bytes,
                what: "OPEN",
            };
            while !c.b.is_empty() {
                let cap = c.u8()?;
                let m = usize::from(c.u8()?);
                let from = at + (n - c.b.len());
                c.take(m)?;
                caps.push((cap, b.slice(from..from + m)));
            }
            ParameterValue::Capabilities(caps)
        } else {
            ParameterValue::Raw(b.slice(at..at + n))
        };
        open.parameters.push(Parameter { code, value });
    }
    Ok(open)
}

fn parse_prefixes(mut r: Reader<'_>) -> Result<Vec<Prefix>, Error> {
    let mut out = Vec::new();
    while !r.b.is_empty() {
        let len = r.u8()?;
        if len > 32 {
            return Err(Error::Malformed(r.what));
        }
        let mut addr = [0u8; 4];
        let n = usize::from(len).div_ceil(8);
        addr[..n].copy_from_slice(r.take(n)?);
        out.push(Prefix { addr, len });
    }
    Ok(out)
}

fn parse_update(b: &Bytes, as4: bool) -> Result<Update, Error> {
    let what = "UPDATE";
    let mut r = Reader { b, what };
    let n = usize::from(r.u16()?);
    let withdrawn = parse_prefixes(Reader {
        b: r.take(n)?,
        what,
    })?;
    let n = usize::from(r.u16()?);
    let attrs_at = b.len() - r.b.len();
    let mut a = Reader {
        b: r.take(n)?,
        what,
    };
    let mut attributes = Vec::new();
    while !a.b.is_empty() {
        let flags = a.u8()?;
        let code = a.u8()?;
        let len = if flags & 0x10 != 0 {
            usize::from(a.u16()?)
        } else {
            usize::from(a.u8()?)
        };
        let at = attrs_at + (n - a.b.len());
        let mut v = Reader {
            b: a.take(len)?,
            what,
        };
        let value = if len == 0 {
            AttributeValue::Empty
        } else {
            match code {
                attr::ORIGIN => AttributeValue::Origin(v.u8()?),
                attr::AS_PATH => {
                    let mut segments = Vec::new();
                    while !v.b.is_empty() {
                        let t = v.u8()?;
                        let count = v.u8()?;
                        let mut list = Vec::with_capacity(usize::from(count));
                        for _ in 0..count {
                            list.push(v.asn(as4)?);
                        }
                        segments.push(match t {
                            1 => Segment::Set(list),
                            2 => Segment::Sequence(list),
                            _ => return Err(Error::Malformed(what)),
                        });
                    }
                    AttributeValue::AsPath(segments)
                }
                attr::NEXT_HOP => AttributeValue::NextHop(v.ip()?),
                attr::MULTI_EXIT_DISC | attr::LOCAL_PREF => AttributeValue::Number(v.u32()?),
                attr::AGGREGATOR => AttributeValue::Aggregator(v.asn(as4)?, v.ip()?),
                _ => AttributeValue::Raw(b.slice(at..at + len)),
            }
        };
        attributes.push(Attribute {
            code,
            optional: flags & 0x80 != 0,
            transitive: flags & 0x40 != 0,
            partial: flags & 0x20 != 0,
            value,
        });
    }
    let destinations = parse_prefixes(r)?;
    Ok(Update {
        withdrawn,
        attributes,
        destinations,
    })
}

/// Largest body a message may carry: what its length field can say (RFC
/// 8654's extended messages; a peer that did not negotiate them wants 4096
/// octets at most, which is the script's business, as it is the sender's).
pub const MAX_BODY: usize = 0xffff - HEADER;

/// Writes a message, header included. Fields that outgrow their length
/// octets are cut (as upstream does): a body to [`MAX_BODY`], parameters to
/// 255 octets, attribute values and UPDATE sections to 65535.
pub fn encode(m: &Message, as4: bool, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    match &m.body {
        Body::None => {}
        Body::Raw(b) => body.extend_from_slice(b),
        Body::Open(o) => {
            body.push(o.version);
            body.extend_from_slice(&o.my_as.to_be_bytes());
            body.extend_from_slice(&o.hold_time.to_be_bytes());
            body.extend_from_slice(&o.identifier);
            let mut params = Vec::new();
            for p in &o.parameters {
                let mut v = Vec::new();
                match &p.value {
                    ParameterValue::Empty => {}
                    ParameterValue::Raw(b) => v.extend_from_slice(b),
                    ParameterValue::Capabilities(caps) => {
                        for (code, value) in caps {
                            let value = &value[..value.len().min(255)];
                            v.push(*code);
                            v.push(value.len() as u8);
                            v.extend_from_slice(value);
                        }
                    }
                }
                v.truncate(255);
                params.push(p.code);
                params.push(v.len() as u8);
                params.extend_from_slice(&v);
            }
            params.truncate(255);
            body.push(params.len() as u8);
            body.extend_from_slice(&params);
        }
        Body::Update(u) => {
            let section = |body: &mut Vec<u8>, mut s: Vec<u8>, with_len: bool| {
                s.truncate(0xffff);
                if with_len {
                    body.extend_from_slice(&(s.len() as u16).to_be_bytes());
                }
                body.extend_from_slice(&s);
            };
            section(&mut body, prefixes(&u.withdrawn), true);
            let mut attrs = Vec::new();
            for a in &u.attributes {
                write_attribute(a, as4, &mut attrs);
            }
            section(&mut body, attrs, true);
            section(&mut body, prefixes(&u.destinations), false);
        }
        Body::Notification(n) => {
            body.push(n.code);
            body.push(n.subcode);
            body.extend_from_slice(&n.data);
        }
        // RFC 2918's four octets. (Upstream writes the AFI as one octet.)
        Body::RouteRefresh { afi, subtype, safi } => {
            body.extend_from_slice(&afi.to_be_bytes());
            body.push(*subtype);
            body.push(*safi);
        }
    }
    body.truncate(MAX_BODY);
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&((HEADER + body.len()) as u16).to_be_bytes());
    out.push(m.kind);
    out.extend_from_slice(&body);
}

fn prefixes(list: &[Prefix]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in list {
        let len = p.len.min(32);
        let n = usize::from(len).div_ceil(8);
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let addr = (u32::from_be_bytes(p.addr) & mask).to_be_bytes();
        out.push(len);
        out.extend_from_slice(&addr[..n]);
    }
    out
}

/// AS_TRANS: the 2-octet stand-in for an AS number that needs four (RFC 6793).
const AS_TRANS: u16 = 23456;

fn write_asn(n: u32, as4: bool, out: &mut Vec<u8>) {
    if as4 {
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        let n = u16::try_from(n).unwrap_or(AS_TRANS);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_attribute(a: &Attribute, as4: bool, out: &mut Vec<u8>) {
    let mut v = Vec::new();
    match &a.value {
        AttributeValue::Empty => {}
        AttributeValue::Origin(o) => v.push(*o),
        AttributeValue::AsPath(segments) => {
            for s in segments {
                let (t, list) = match s {
                    Segment::Set(l) => (1, l),
                    Segment::Sequence(l) => (2, l),
                };
                let list = &list[..list.len().min(255)];
                v.push(t);
                v.push(list.len() as u8);
                for n in list {
                    write_asn(*n, as4, &mut v);
                }
            }
        }
        AttributeValue::NextHop(ip) => v.extend_from_slice(ip),
        AttributeValue::Number(n) => v.extend_from_slice(&n.to_be_bytes()),
        AttributeValue::Aggregator(n, ip) => {
            write_asn(*n, as4, &mut v);
            v.extend_from_slice(ip);
        }
        AttributeValue::Raw(b) => v.extend_from_slice(b),
    }
    v.truncate(0xffff);
    let flags = u8::from(a.optional) << 7 | u8::from(a.transitive) << 6 | u8::from(a.partial) << 5;
    if v.len() > 255 {
        out.push(flags | 0x10);
        out.push(a.code);
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    } else {
        out.push(flags);
        out.push(a.code);
        out.push(v.len() as u8);
    }
    out.extend_from_slice(&v);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], cut: usize) -> Result<Vec<(Frame, Vec<u8>)>, Error> {
        let mut d = Decoder::new();
        let mut steps = Vec::new();
        d.feed(&Bytes::copy_from_slice(&input[..cut]), &mut steps)?;
        d.feed(&Bytes::copy_from_slice(&input[cut..]), &mut steps)?;
        let (mut out, mut raw) = (Vec::new(), Vec::new());
        for s in steps {
            match s {
                Step::Start => assert!(raw.is_empty()),
                Step::Raw(b) => raw.extend_from_slice(&b),
                Step::End(f) => out.push((f, std::mem::take(&mut raw))),
            }
        }
        Ok(out)
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const MARKER: &str = "ffffffffffffffffffffffffffffffff";

    #[test]
    fn an_update_reads_and_writes_back_byte_for_byte_however_cut() {
        // ORIGIN 2, AS_PATH [2000] (4 octets), NEXT_HOP 172.17.0.2, three /16s.
        let wire = hex(&format!(
            "{MARKER} 0034 02 0000 0014 40010102 400206 0201000007d0 400304ac110002 100a01 100a02 100a03"
        ));
        for cut in 0..wire.len() {
            let f = frames(&wire, cut).unwrap();
            assert_eq!(f.len(), 1);
            assert_eq!(f[0].1, wire);
            let m = parse(&f[0].0, true).unwrap();
            let Body::Update(u) = &m.body else {
                panic!("{m:?}")
            };
            assert_eq!(u.destinations.len(), 3);
            assert_eq!(
                u.destinations[1],
                Prefix {
                    addr: [10, 2, 0, 0],
                    len: 16
                }
            );
            assert_eq!(
                u.attributes[1].value,
                AttributeValue::AsPath(vec![Segment::Sequence(vec![2000])])
            );
            let mut again = Vec::new();
            encode(&m, true, &mut again);
            assert_eq!(again, wire);
        }
    }

    #[test]
    fn an_open_with_capabilities_round_trips() {
        let wire = hex(&format!(
            "{MARKER} 0029 01 04 07d0 005a c0a8ff01 0c 020a 0200 0104 00010001 4100"
        ));
        let f = frames(&wire, 5).unwrap();
        let m = parse(&f[0].0, false).unwrap();
        let Body::Open(o) = &m.body else {
            panic!("{m:?}")
        };
        assert_eq!(
            (o.my_as, o.hold_time, o.identifier),
            (2000, 90, [192, 168, 255, 1])
        );
        let ParameterValue::Capabilities(caps) = &o.parameters[0].value else {
            panic!("{o:?}")
        };
        assert_eq!(caps.len(), 3);
        assert_eq!(caps[1], (1, Bytes::from_static(&[0, 1, 0, 1])));
        let mut again = Vec::new();
        encode(&m, false, &mut again);
        assert_eq!(again, wire);
    }

    #[test]
    fn bad_framing_and_bodies_are_errors() {
        let mut bad = hex(&format!("{MARKER} 0013 04"));
        bad[3] = 0;
        assert_eq!(frames(&bad, 0).unwrap_err(), Error::BadMarker);
        let short = hex(&format!("{MARKER} 0012 04"));
        assert_eq!(frames(&short, 7).unwrap_err(), Error::BadLength(18));
        // A prefix of 33 bits, and an attribute running past its section.
        for body in ["0002 2100 0000", "0000 0004 40030a01"] {
            let wire = hex(&format!(
                "{MARKER} {:04x} 02 {body}",
                19 + body.len() / 2 - 1
            ));
            let wire = {
                let mut w = wire;
                let n = w.len() as u16;
                w[16..18].copy_from_slice(&n.to_be_bytes());
                w
            };
            let f = frames(&wire, 0).unwrap();
            assert!(parse(&f[0].0, false).is_err(), "{body}");
        }
    }

    #[test]
    fn keepalives_and_route_refresh_follow_the_rfcs() {
        let wire = hex(&format!("{MARKER} 0013 04 {MARKER} 0017 05 0001 00 01"));
        let f = frames(&wire, 20).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(parse(&f[0].0, false).unwrap().body, Body::None);
        let m = parse(&f[1].0, false).unwrap();
        assert_eq!(
            m.body,
            Body::RouteRefresh {
                afi: 1,
                subtype: 0,
                safi: 1
            }
        );
        let mut again = Vec::new();
        encode(&m, false, &mut again);
        assert_eq!(again, f[1].1, "23 octets, the AFI in two");
    }
}
