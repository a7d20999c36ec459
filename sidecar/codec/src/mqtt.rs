//! MQTT 3.1.1 and 5 control packets: framing, the variable header and
//! payload of every packet type, and their encoding.
//!
//! The model follows the message shape upstream Pipy gives scripts (see
//! `pipy-filters`' `mqtt.rs`): a [`Head`] of the fixed and variable header
//! fields, properties in wire order (user properties among them, keyed by
//! their own names), and a [`Payload`] for the packet types that have one.

use bytes::{Buf, Bytes};

/// Packet type names, by number (index 0 unused).
pub const TYPES: [&str; 16] = [
    "",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

/// How a property value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropType {
    /// A variable byte integer.
    Int,
    /// One byte.
    Int8,
    /// Two bytes.
    Int16,
    /// Four bytes.
    Int32,
    /// A UTF-8 string.
    Str,
    /// Binary data.
    Bin,
}

/// The MQTT 5 properties: id, name, type.
pub const PROPERTIES: &[(u8, &str, PropType)] = &[
    (1, "payloadFormatIndicator", PropType::Int8),
    (2, "messageExpiryInterval", PropType::Int32),
    (3, "contentType", PropType::Str),
    (8, "responseTopic", PropType::Str),
    (9, "correlationData", PropType::Bin),
    (11, "subscriptionIdentifier", PropType::Int),
    (17, "sessionExpiryInterval", PropType::Int32),
    (18, "assignedClientIdentifier", PropType::Str),
    (19, "serverKeepAlive", PropType::Int16),
    (21, "authenticationMethod", PropType::Str),
    (22, "authenticationData", PropType::Bin),
    (23, "requestProblemInfo", PropType::Int8),
    (24, "willDelayInterval", PropType::Int32),
    (25, "requestResponseInfo", PropType::Int8),
    (26, "responseInfo", PropType::Str),
    (28, "serverReference", PropType::Str),
    (31, "reasonString", PropType::Str),
    (33, "receiveMaximum", PropType::Int16),
    (34, "topicAliasMaximum", PropType::Int16),
    (35, "topicAlias", PropType::Int16),
    (36, "maximumQoS", PropType::Int8),
    (37, "retainAvailable", PropType::Int8),
    (39, "maximumPacketSize", PropType::Int32),
    (40, "wildcardSubscriptionAvailable", PropType::Int8),
    (41, "subscriptionIdentifierAvailable", PropType::Int8),
    (42, "sharedSubscriptionAvailable", PropType::Int8),
];

/// The id of a user property.
pub const USER_PROPERTY: u8 = 38;

/// Most properties one section may have.
pub const MAX_PROPERTIES: usize = 1024;

/// A property value.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    /// An integer property.
    Int(i64),
    /// A string property (a user property's value too).
    Str(Bytes),
    /// A binary property.
    Bin(Bytes),
}

/// Properties in wire order: a standard name, or a user property's name.
pub type Properties = Vec<(Bytes, PropValue)>;

/// The fields of a packet's head.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    /// Packet type number (1..15).
    pub ptype: u8,
    /// PUBLISH: a re-delivery.
    pub dup: bool,
    /// PUBLISH: retained.
    pub retain: bool,
    /// CONNACK: the broker has a session.
    pub session_present: bool,
    /// Quality of service (the fixed header's bits, for every type).
    pub qos: u8,
    /// Packet identifier.
    pub packet_identifier: u16,
    /// Protocol level (4: 3.1.1, 5: MQTT 5).
    pub protocol_level: u8,
    /// CONNECT: keep-alive seconds.
    pub keep_alive: u16,
    /// Reason code (MQTT 5).
    pub reason_code: u8,
    /// PUBLISH: the topic.
    pub topic_name: Option<Bytes>,
    /// MQTT 5 properties (`None`: no property section or an empty one).
    pub properties: Option<Properties>,
}

impl Head {
    /// A head of type `ptype` at `level` with everything else unset.
    pub fn new(ptype: u8, level: u8) -> Self {
        Self {
            ptype,
            dup: false,
            retain: false,
            session_present: false,
            qos: 0,
            packet_identifier: 0,
            protocol_level: level,
            keep_alive: 0,
            reason_code: 0,
            topic_name: None,
            properties: None,
        }
    }
}

/// A CONNECT's will.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Will {
    /// Quality of service.
    pub qos: u8,
    /// Retained.
    pub retain: bool,
    /// Will properties (MQTT 5).
    pub properties: Properties,
    /// Topic.
    pub topic: Option<Bytes>,
    /// Message.
    pub payload: Option<Bytes>,
}

/// A CONNECT's payload.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Connect {
    /// Client identifier.
    pub client_id: Option<Bytes>,
    /// User name.
    pub username: Option<Bytes>,
    /// Password.
    pub password: Option<Bytes>,
    /// Will.
    pub will: Option<Will>,
    /// Clean start (clean session in 3.1.1).
    pub clean_start: bool,
}

/// What a packet carries besides its head and body.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// Nothing.
    None,
    /// CONNECT.
    Connect(Connect),
    /// SUBSCRIBE: filters and their options byte.
    Subscribe(Vec<(Bytes, u8)>),
    /// SUBACK, UNSUBACK: reason codes.
    Codes(Vec<u8>),
    /// UNSUBSCRIBE: filters.
    Unsubscribe(Vec<Bytes>),
}

/// Why a packet or a stream was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not MQTT.
    #[error("malformed MQTT packet")]
    Malformed,
    /// A packet over the limit.
    #[error("MQTT packet too large")]
    TooLarge,
}

/// Cuts a byte stream into packets: the fixed header byte and the rest.
pub struct Framer {
    first: Option<u8>,
    len: usize,
    shift: u32,
    in_len: bool,
    buf: Vec<u8>,
    limit: usize,
}

impl Framer {
    /// A framer refusing packets over `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            first: None,
            len: 0,
            shift: 0,
            in_len: false,
            buf: Vec::new(),
            limit,
        }
    }

    /// Feeds bytes; appends each complete packet (first byte, rest).
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<(u8, Bytes)>) -> Result<(), Error> {
        while !input.is_empty() {
            match self.first {
                None => {
                    if input[0] >> 4 == 0 {
                        return Err(Error::Malformed);
                    }
                    self.first = Some(input[0]);
                    input = &input[1..];
                    self.len = 0;
                    self.shift = 0;
                    self.in_len = true;
                }
                Some(first) if self.in_len => {
                    let c = input[0];
                    input = &input[1..];
                    if self.shift > 21 {
                        return Err(Error::Malformed);
                    }
                    self.len |= usize::from(c & 0x7f) << self.shift;
                    self.shift += 7;
                    if c & 0x80 == 0 {
                        self.in_len = false;
                        if self.len > self.limit {
                            return Err(Error::TooLarge);
                        }
                        if self.len == 0 {
                            out.push((first, Bytes::new()));
                            self.first = None;
                        } else {
                            self.buf = Vec::with_capacity(self.len.min(64 << 10));
                        }
                    }
                }
                Some(first) => {
                    let take = (self.len - self.buf.len()).min(input.len());
                    self.buf.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.buf.len() == self.len {
                        out.push((first, Bytes::from(std::mem::take(&mut self.buf))));
                        self.first = None;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads the parts of a packet's remaining bytes.
struct Reader(Bytes);

impl Reader {
    fn u8(&mut self) -> Option<u8> {
        (self.0.remaining() >= 1).then(|| self.0.get_u8())
    }
    fn u16(&mut self) -> Option<u16> {
        (self.0.remaining() >= 2).then(|| self.0.get_u16())
    }
    fn u32(&mut self) -> Option<u32> {
        (self.0.remaining() >= 4).then(|| self.0.get_u32())
    }
    fn vbi(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let c = self.u8()?;
            v |= u32::from(c & 0x7f) << (7 * i);
            if c & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn bytes(&mut self) -> Option<Bytes> {
        let n = usize::from(self.u16()?);
        (self.0.remaining() >= n).then(|| self.0.split_to(n))
    }
    fn properties(&mut self) -> Option<Option<Properties>> {
        let n = usize::try_from(self.vbi()?).ok()?;
        if n == 0 {
            return Some(None);
        }
        if self.0.remaining() < n {
            return None;
        }
        let mut r = Reader(self.0.split_to(n));
        let mut props: Properties = Vec::new();
        while r.0.has_remaining() {
            let id = r.u8()?;
            let (name, value) = if id == USER_PROPERTY {
                let k = r.bytes()?;
                (k, PropValue::Str(r.bytes()?))
            } else {
                let (_, name, t) = PROPERTIES.iter().find(|(i, _, _)| *i == id)?;
                let v = match t {
                    PropType::Int => PropValue::Int(i64::from(r.vbi()?)),
                    PropType::Int8 => PropValue::Int(i64::from(r.u8()?)),
                    PropType::Int16 => PropValue::Int(i64::from(r.u16()?)),
                    // Signed, as upstream reads it.
                    PropType::Int32 => PropValue::Int(i64::from(r.u32()? as i32)),
                    PropType::Str => PropValue::Str(r.bytes()?),
                    PropType::Bin => PropValue::Bin(r.bytes()?),
                };
                (Bytes::from_static(name.as_bytes()), v)
            };
            if props.len() >= MAX_PROPERTIES {
                return None;
            }
            // A repeated name keeps its first place and takes the last value.
            match props.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value,
                None => props.push((name, value)),
            }
        }
        Some(Some(props))
    }
    /// MQTT 5's optional reason code and properties at the end of a packet.
    fn reason_and_properties(&mut self, head: &mut Head) -> Option<()> {
        if head.protocol_level >= 5 && self.0.has_remaining() {
            head.reason_code = self.u8()?;
            if self.0.has_remaining() {
                head.properties = self.properties()?;
            }
        }
        Some(())
    }
}

/// Decodes a packet's variable header and payload at protocol `level` (a
/// CONNECT tells its own). Returns the head, the body (the payload bytes as
/// they came) and the payload. `None` for a packet that does not parse.
pub fn decode(first: u8, rest: Bytes, level: u8) -> Option<(Head, Bytes, Payload)> {
    let ptype = first >> 4;
    let mut head = Head::new(ptype, level);
    head.qos = (first >> 1) & 3;
    head.dup = first & 0x08 != 0;
    head.retain = first & 0x01 != 0;
    let v5 = |h: &Head| h.protocol_level >= 5;
    let mut r = Reader(rest);
    let payload = match ptype {
        1 => {
            if r.bytes()?.as_ref() != b"MQTT" {
                return None;
            }
            head.protocol_level = r.u8()?;
            let flags = r.u8()?;
            head.keep_alive = r.u16()?;
            if v5(&head) {
                head.properties = r.properties()?;
            }
            let body = r.0.clone();
            let mut c = Connect {
                client_id: Some(r.bytes()?),
                clean_start: flags & 0x02 != 0,
                ..Connect::default()
            };
            if flags & 0x04 != 0 {
                let mut w = Will {
                    qos: (flags >> 3) & 3,
                    retain: flags & 0x20 != 0,
                    ..Will::default()
                };
                if v5(&head) {
                    w.properties = r.properties()?.unwrap_or_default();
                }
                w.topic = Some(r.bytes()?);
                w.payload = Some(r.bytes()?);
                c.will = Some(w);
            }
            if flags & 0x80 != 0 {
                c.username = Some(r.bytes()?);
            }
            if flags & 0x40 != 0 {
                c.password = Some(r.bytes()?);
            }
            return Some((head, body, Payload::Connect(c)));
        }
        2 => {
            head.session_present = r.u8()? & 1 != 0;
            head.reason_code = r.u8()?;
            if v5(&head) && r.0.has_remaining() {
                head.properties = r.properties()?;
            }
            Payload::None
        }
        3 => {
            head.topic_name = Some(r.bytes()?);
            if head.qos > 0 {
                head.packet_identifier = r.u16()?;
            }
            if v5(&head) {
                head.properties = r.properties()?;
            }
            Payload::None
        }
        4..=7 => {
            head.packet_identifier = r.u16()?;
            r.reason_and_properties(&mut head)?;
            Payload::None
        }
        8 | 10 => {
            head.packet_identifier = r.u16()?;
            if v5(&head) {
                head.properties = r.properties()?;
            }
            let body = r.0.clone();
            let payload = if ptype == 8 {
                let mut filters = Vec::new();
                while r.0.has_remaining() {
                    let f = r.bytes()?;
                    filters.push((f, r.u8()?));
                }
                Payload::Subscribe(filters)
            } else {
                let mut filters = Vec::new();
                while r.0.has_remaining() {
                    filters.push(r.bytes()?);
                }
                Payload::Unsubscribe(filters)
            };
            return Some((head, body, payload));
        }
        9 | 11 => {
            head.packet_identifier = r.u16()?;
            if v5(&head) {
                head.properties = r.properties()?;
            }
            let body = r.0.clone();
            return Some((head, body.clone(), Payload::Codes(body.to_vec())));
        }
        12 | 13 => Payload::None,
        14 | 15 => {
            r.reason_and_properties(&mut head)?;
            Payload::None
        }
        _ => return None,
    };
    Some((head, r.0, payload))
}

/// Appends a variable byte integer.
pub fn put_vbi(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let mut c = (v & 0x7f) as u8;
        v >>= 7;
        if v > 0 {
            c |= 0x80;
        }
        out.push(c);
        if v == 0 {
            break;
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let b = &b[..b.len().min(0xffff)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn put_properties(out: &mut Vec<u8>, props: &[(Bytes, PropValue)]) {
    let mut p = Vec::new();
    for (name, value) in props {
        match PROPERTIES
            .iter()
            .find(|(_, n, _)| n.as_bytes() == name.as_ref())
        {
            Some((id, _, t)) => {
                p.push(*id);
                let n = match value {
                    PropValue::Int(n) => *n,
                    _ => 0,
                };
                match (t, value) {
                    (PropType::Int, _) => put_vbi(&mut p, n as u32),
                    (PropType::Int8, _) => p.push(n as u8),
                    (PropType::Int16, _) => p.extend_from_slice(&(n as u16).to_be_bytes()),
                    (PropType::Int32, _) => p.extend_from_slice(&(n as u32).to_be_bytes()),
                    (PropType::Str, PropValue::Str(s) | PropValue::Bin(s)) => put_bytes(&mut p, s),
                    (PropType::Str, PropValue::Int(n)) => {
                        put_bytes(&mut p, n.to_string().as_bytes())
                    }
                    (PropType::Bin, PropValue::Bin(b)) => put_bytes(&mut p, b),
                    (PropType::Bin, _) => put_bytes(&mut p, b""),
                }
            }
            None => {
                p.push(USER_PROPERTY);
                put_bytes(&mut p, name);
                match value {
                    PropValue::Str(s) | PropValue::Bin(s) => put_bytes(&mut p, s),
                    PropValue::Int(n) => put_bytes(&mut p, n.to_string().as_bytes()),
                }
            }
        }
    }
    put_vbi(out, p.len() as u32);
    out.extend_from_slice(&p);
}

/// Encodes a packet: `head`, the PUBLISH `body`, and `payload`.
pub fn encode(head: &Head, body: &[u8], payload: &Payload) -> Vec<u8> {
    let v5 = head.protocol_level >= 5;
    let props = |out: &mut Vec<u8>| {
        if v5 {
            put_properties(out, head.properties.as_deref().unwrap_or(&[]));
        }
    };
    let mut v = Vec::new();
    let mut flags = 0u8;
    match head.ptype {
        1 => {
            let c = match payload {
                Payload::Connect(c) => c.clone(),
                _ => Connect::default(),
            };
            put_bytes(&mut v, b"MQTT");
            v.push(head.protocol_level);
            let mut f = 0u8;
            if c.clean_start {
                f |= 0x02;
            }
            if let Some(w) = &c.will {
                f |= 0x04 | ((w.qos & 3) << 3) | if w.retain { 0x20 } else { 0 };
            }
            if c.username.is_some() {
                f |= 0x80;
            }
            if c.password.is_some() {
                f |= 0x40;
            }
            v.push(f);
            v.extend_from_slice(&head.keep_alive.to_be_bytes());
            props(&mut v);
            put_bytes(&mut v, c.client_id.as_deref().unwrap_or(b""));
            if let Some(w) = &c.will {
                if v5 {
                    put_properties(&mut v, &w.properties);
                }
                put_bytes(&mut v, w.topic.as_deref().unwrap_or(b""));
                put_bytes(&mut v, w.payload.as_deref().unwrap_or(b""));
            }
            if let Some(u) = &c.username {
                put_bytes(&mut v, u);
            }
            if let Some(p) = &c.password {
                put_bytes(&mut v, p);
            }
        }
        2 => {
            v.push(u8::from(head.session_present));
            v.push(head.reason_code);
            props(&mut v);
        }
        3 => {
            flags = ((head.qos & 3) << 1) | if head.dup { 0x08 } else { 0 } | u8::from(head.retain);
            put_bytes(&mut v, head.topic_name.as_deref().unwrap_or(b""));
            if head.qos > 0 {
                v.extend_from_slice(&head.packet_identifier.to_be_bytes());
            }
            props(&mut v);
            v.extend_from_slice(body);
        }
        4..=7 => {
            if head.ptype == 6 {
                flags = 0x02;
            }
            v.extend_from_slice(&head.packet_identifier.to_be_bytes());
            if v5 {
                v.push(head.reason_code);
                props(&mut v);
            }
        }
        8 | 10 => {
            flags = 0x02;
            v.extend_from_slice(&head.packet_identifier.to_be_bytes());
            props(&mut v);
            match payload {
                Payload::Subscribe(filters) => {
                    for (f, o) in filters {
                        put_bytes(&mut v, f);
                        v.push(*o);
                    }
                }
                Payload::Unsubscribe(filters) => filters.iter().for_each(|f| put_bytes(&mut v, f)),
                _ => {}
            }
        }
        9 | 11 => {
            v.extend_from_slice(&head.packet_identifier.to_be_bytes());
            props(&mut v);
            if let Payload::Codes(codes) = payload {
                v.extend_from_slice(codes);
            }
        }
        14 | 15 if v5 => {
            v.push(head.reason_code);
            props(&mut v);
        }
        _ => {}
    }
    let mut out = Vec::with_capacity(v.len() + 5);
    out.push((head.ptype << 4) | flags);
    put_vbi(&mut out, v.len() as u32);
    out.extend_from_slice(&v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(bytes: &[u8]) -> Vec<(u8, Bytes)> {
        let mut f = Framer::new(1 << 20);
        let mut out = Vec::new();
        for b in bytes {
            f.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        out
    }

    #[test]
    fn a_311_session_round_trips() {
        // CONNECT (user, password, will), PUBLISH qos 1 dup, PUBACK,
        // SUBSCRIBE, SUBACK, DISCONNECT: MQTT 3.1.1 as mosquitto sends it.
        let mut wire = Vec::new();
        let connect = Head {
            keep_alive: 60,
            ..Head::new(1, 4)
        };
        let c = Connect {
            client_id: Some(Bytes::from_static(b"cid")),
            username: Some(Bytes::from_static(b"u")),
            password: Some(Bytes::from_static(b"p")),
            will: Some(Will {
                qos: 1,
                retain: true,
                topic: Some(Bytes::from_static(b"w")),
                payload: Some(Bytes::from_static(b"bye")),
                ..Will::default()
            }),
            clean_start: true,
        };
        wire.extend(encode(&connect, b"", &Payload::Connect(c.clone())));
        let publish = Head {
            qos: 1,
            dup: true,
            packet_identifier: 7,
            topic_name: Some(Bytes::from_static(b"t/1")),
            ..Head::new(3, 4)
        };
        wire.extend(encode(&publish, b"hello", &Payload::None));
        wire.extend(encode(
            &Head {
                packet_identifier: 7,
                ..Head::new(4, 4)
            },
            b"",
            &Payload::None,
        ));
        let subs = Payload::Subscribe(vec![(Bytes::from_static(b"a/#"), 1)]);
        wire.extend(encode(
            &Head {
                packet_identifier: 9,
                ..Head::new(8, 4)
            },
            b"",
            &subs,
        ));
        wire.extend(encode(&Head::new(14, 4), b"", &Payload::None));
        assert_eq!(&wire[wire.len() - 2..], [0xe0, 0x00]);
        assert_eq!(
            wire[connect_len(&wire)],
            0x3a,
            "PUBLISH qos 1 with dup (0x08)"
        );
        let mut level = 4;
        let mut again = Vec::new();
        for (first, rest) in frames(&wire) {
            let (head, body, payload) = decode(first, rest, level).expect("decodes");
            if head.ptype == 1 {
                level = head.protocol_level;
                assert_eq!(payload, Payload::Connect(c.clone()));
            }
            again.extend(encode(&head, &body, &payload));
        }
        assert_eq!(again, wire);
    }

    fn connect_len(wire: &[u8]) -> usize {
        2 + usize::from(wire[1])
    }

    #[test]
    fn mqtt5_properties_keep_their_order_and_user_properties() {
        let head = Head {
            qos: 0,
            topic_name: Some(Bytes::from_static(b"t")),
            properties: Some(vec![
                (
                    Bytes::from_static(b"contentType"),
                    PropValue::Str(Bytes::from_static(b"x")),
                ),
                (
                    Bytes::from_static(b"foo"),
                    PropValue::Str(Bytes::from_static(b"bar")),
                ),
                (
                    Bytes::from_static(b"messageExpiryInterval"),
                    PropValue::Int(10),
                ),
                (
                    Bytes::from_static(b"subscriptionIdentifier"),
                    PropValue::Int(200),
                ),
            ]),
            ..Head::new(3, 5)
        };
        let wire = encode(&head, b"AB", &Payload::None);
        let (first, rest) = frames(&wire).remove(0);
        let (back, body, _) = decode(first, rest, 5).unwrap();
        assert_eq!(back.properties, head.properties);
        assert_eq!(&body[..], b"AB");
        assert_eq!(&wire[..2], [0x30, 29]);
        // Upstream's bytes for a bare MQTT 5 PUBLISH.
        let bare = Head {
            topic_name: Some(Bytes::from_static(b"t")),
            ..Head::new(3, 5)
        };
        assert_eq!(encode(&bare, b"", &Payload::None), [0x30, 4, 0, 1, b't', 0]);
    }

    #[test]
    fn bad_packets() {
        let mut f = Framer::new(10);
        let mut out = Vec::new();
        assert_eq!(f.feed(&[0x00], &mut out), Err(Error::Malformed));
        let mut f = Framer::new(10);
        assert_eq!(f.feed(&[0x30, 0x20], &mut out), Err(Error::TooLarge));
        assert!(decode(0x10, Bytes::from_static(b"\x00\x04MQTX\x04\x00\x00\x00"), 4).is_none());
        assert!(decode(0x40, Bytes::from_static(b"\x00"), 4).is_none());
    }
}
