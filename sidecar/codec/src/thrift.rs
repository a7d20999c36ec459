//! Thrift messages in the binary (strict and old) and compact protocols,
//! unframed: decoding from chunks cut anywhere, and encoding.
//!
//! A message's end is found by parsing it whole (Thrift has no length in
//! unframed transports). What is buffered is bounded ([`Decoder::new`]'s
//! limit), and so is nesting ([`MAX_DEPTH`]). A message is parsed again from
//! its start when more bytes come, but only once the bytes it was known to
//! need have come, which keeps a long string or binary arriving in pieces
//! from being parsed over and over. Parsing again is still quadratic for a
//! message of many small values that arrives in small pieces, so the work
//! spent on one message is bounded too ([`WORK_FACTOR`] times the limit):
//! past it the message is refused as too large. (A parser that resumes where
//! it stopped would lift that bound.)

use bytes::Bytes;

/// Deepest nesting of structs and collections.
pub const MAX_DEPTH: usize = 64;

/// Bytes parsed for one message, at most, as a multiple of the limit.
pub const WORK_FACTOR: usize = 64;

/// A protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Strict binary (`80 01 ...`).
    Binary,
    /// Compact (`82 ...`).
    Compact,
    /// Old (non-strict) binary.
    Old,
}

/// A value's type, as scripts name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `BOOL`
    Bool,
    /// `I8`
    I8,
    /// `I16`
    I16,
    /// `I32`
    I32,
    /// `I64`
    I64,
    /// `DOUBLE`
    Double,
    /// `BINARY`
    Binary,
    /// `STRUCT`
    Struct,
    /// `MAP`
    Map,
    /// `SET`
    Set,
    /// `LIST`
    List,
    /// `UUID`
    Uuid,
}

/// Names of the kinds, in `Kind` order.
pub const KIND_NAMES: [&str; 12] = [
    "BOOL", "I8", "I16", "I32", "I64", "DOUBLE", "BINARY", "STRUCT", "MAP", "SET", "LIST", "UUID",
];

const KINDS: [Kind; 12] = [
    Kind::Bool,
    Kind::I8,
    Kind::I16,
    Kind::I32,
    Kind::I64,
    Kind::Double,
    Kind::Binary,
    Kind::Struct,
    Kind::Map,
    Kind::Set,
    Kind::List,
    Kind::Uuid,
];

impl Kind {
    /// The script's name.
    pub fn name(self) -> &'static str {
        KIND_NAMES[self as usize]
    }
    /// By the script's name.
    pub fn from_name(s: &str) -> Option<Kind> {
        KIND_NAMES.iter().position(|n| *n == s).map(|i| KINDS[i])
    }
    fn binary_code(self) -> u8 {
        match self {
            Kind::Bool => 2,
            Kind::I8 => 3,
            Kind::I16 => 6,
            Kind::I32 => 8,
            Kind::I64 => 10,
            Kind::Double => 4,
            Kind::Binary => 11,
            Kind::Struct => 12,
            Kind::Map => 13,
            Kind::Set => 14,
            Kind::List => 15,
            Kind::Uuid => 16,
        }
    }
    fn from_binary(c: u8) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.binary_code() == c)
    }
    fn compact_code(self) -> u8 {
        match self {
            Kind::Bool => 1,
            Kind::I8 => 3,
            Kind::I16 => 4,
            Kind::I32 => 5,
            Kind::I64 => 6,
            Kind::Double => 7,
            Kind::Binary => 8,
            Kind::List => 9,
            Kind::Set => 10,
            Kind::Map => 11,
            Kind::Struct => 12,
            Kind::Uuid => 13,
        }
    }
    fn from_compact(c: u8) -> Option<Kind> {
        match c {
            1 | 2 => Some(Kind::Bool),
            3..=13 => KINDS.into_iter().find(|k| k.compact_code() == c),
            _ => None,
        }
    }
}

/// A value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// BOOL
    Bool(bool),
    /// I8
    I8(i8),
    /// I16
    I16(i16),
    /// I32
    I32(i32),
    /// I64
    I64(i64),
    /// DOUBLE
    Double(f64),
    /// BINARY (a string or bytes)
    Binary(Bytes),
    /// STRUCT: its fields in order.
    Struct(Vec<Field>),
    /// MAP
    Map(Kind, Kind, Vec<(Value, Value)>),
    /// SET
    Set(Kind, Vec<Value>),
    /// LIST
    List(Kind, Vec<Value>),
    /// UUID
    Uuid([u8; 16]),
}

impl Value {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Bool(_) => Kind::Bool,
            Value::I8(_) => Kind::I8,
            Value::I16(_) => Kind::I16,
            Value::I32(_) => Kind::I32,
            Value::I64(_) => Kind::I64,
            Value::Double(_) => Kind::Double,
            Value::Binary(_) => Kind::Binary,
            Value::Struct(_) => Kind::Struct,
            Value::Map(..) => Kind::Map,
            Value::Set(..) => Kind::Set,
            Value::List(..) => Kind::List,
            Value::Uuid(_) => Kind::Uuid,
        }
    }
}

/// A struct field.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Field id.
    pub id: i16,
    /// Value.
    pub value: Value,
}

/// A message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Its protocol.
    pub protocol: Protocol,
    /// 1 call, 2 reply, 3 exception, 4 oneway.
    pub kind: u8,
    /// Sequence id.
    pub seq_id: i32,
    /// Method name.
    pub name: Bytes,
    /// Arguments or result.
    pub fields: Vec<Field>,
}

/// Why decoding stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not Thrift.
    #[error("malformed Thrift message")]
    Malformed,
    /// Past a bound.
    #[error("Thrift message too large or too deep")]
    TooLarge,
}

/// Parsing ran out of bytes: at least this many are needed in all.
struct Short(usize);

enum Fail {
    Short(Short),
    Bad(Error),
}

type R<T> = Result<T, Fail>;

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn take(&mut self, n: usize) -> R<&[u8]> {
        if self.buf.len() - self.pos < n {
            return Err(Fail::Short(Short(self.pos + n)));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    fn be<const N: usize>(&mut self) -> R<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn varint(&mut self) -> R<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let c = self.u8()?;
            v |= u64::from(c & 0x7f) << (7 * i);
            if c & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Fail::Bad(Error::Malformed))
    }
    fn zigzag(&mut self) -> R<i64> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
    fn len(&mut self, p: Protocol) -> R<usize> {
        let n = match p {
            Protocol::Compact => self.varint()? as i64,
            _ => i64::from(i32::from_be_bytes(self.be()?)),
        };
        usize::try_from(n).map_err(|_| Fail::Bad(Error::Malformed))
    }
    fn bytes(&mut self, p: Protocol) -> R<Bytes> {
        let n = self.len(p)?;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }

    fn message(&mut self) -> R<Message> {
        let b = self.u8()?;
        let (protocol, kind, seq_id, name) = if b == 0x80 {
            let h: [u8; 3] = self.be()?;
            let kind = h[2] & 7;
            if h[0] != 1 || !(1..=4).contains(&kind) {
                return Err(Fail::Bad(Error::Malformed));
            }
            let name = self.bytes(Protocol::Binary)?;
            (Protocol::Binary, kind, i32::from_be_bytes(self.be()?), name)
        } else if b == 0x82 {
            let h = self.u8()?;
            let kind = h >> 5;
            if h & 0x1f != 1 || !(1..=4).contains(&kind) {
                return Err(Fail::Bad(Error::Malformed));
            }
            let seq = self.varint()? as u32 as i32;
            (Protocol::Compact, kind, seq, self.bytes(Protocol::Compact)?)
        } else if b & 0x80 != 0 {
            return Err(Fail::Bad(Error::Malformed));
        } else {
            let rest: [u8; 3] = self.be()?;
            let n = i32::from_be_bytes([b, rest[0], rest[1], rest[2]]);
            let n = usize::try_from(n).map_err(|_| Fail::Bad(Error::Malformed))?;
            let name = Bytes::copy_from_slice(self.take(n)?);
            let kind = self.u8()?;
            (Protocol::Old, kind, i32::from_be_bytes(self.be()?), name)
        };
        let fields = self.fields(protocol)?;
        Ok(Message {
            protocol,
            kind,
            seq_id,
            name,
            fields,
        })
    }

    fn fields(&mut self, p: Protocol) -> R<Vec<Field>> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Fail::Bad(Error::TooLarge));
        }
        let mut fields = Vec::new();
        let mut last: i16 = 0;
        loop {
            let b = self.u8()?;
            if b == 0 {
                break;
            }
            let (id, value) = if p == Protocol::Compact {
                let t = b & 0x0f;
                let delta = b >> 4;
                let id = if delta == 0 {
                    self.zigzag()? as i16
                } else {
                    last.wrapping_add(i16::from(delta))
                };
                last = id;
                let kind = Kind::from_compact(t).ok_or(Fail::Bad(Error::Malformed))?;
                let v = if kind == Kind::Bool {
                    Value::Bool(t == 1)
                } else {
                    self.value(p, kind)?
                };
                (id, v)
            } else {
                let kind = Kind::from_binary(b).ok_or(Fail::Bad(Error::Malformed))?;
                let id = i16::from_be_bytes(self.be()?);
                (id, self.value(p, kind)?)
            };
            fields.push(Field { id, value });
        }
        self.depth -= 1;
        Ok(fields)
    }

    fn kind_code(&mut self, p: Protocol, c: u8) -> R<Kind> {
        // A compact collection of BOOL says 1 (or 2), as the standard has it
        // (upstream refuses it).
        let k = if p == Protocol::Compact {
            Kind::from_compact(c)
        } else {
            Kind::from_binary(c)
        };
        k.ok_or(Fail::Bad(Error::Malformed))
    }

    fn value(&mut self, p: Protocol, kind: Kind) -> R<Value> {
        let compact = p == Protocol::Compact;
        Ok(match kind {
            Kind::Bool => Value::Bool(self.u8()? == 1),
            Kind::I8 => Value::I8(self.u8()? as i8),
            Kind::I16 if compact => Value::I16(self.zigzag()? as i16),
            Kind::I16 => Value::I16(i16::from_be_bytes(self.be()?)),
            Kind::I32 if compact => Value::I32(self.zigzag()? as i32),
            Kind::I32 => Value::I32(i32::from_be_bytes(self.be()?)),
            Kind::I64 if compact => Value::I64(self.zigzag()?),
            Kind::I64 => Value::I64(i64::from_be_bytes(self.be()?)),
            Kind::Double if compact => Value::Double(f64::from_le_bytes(self.be()?)),
            Kind::Double => Value::Double(f64::from_be_bytes(self.be()?)),
            Kind::Binary => Value::Binary(self.bytes(p)?),
            Kind::Uuid => Value::Uuid(self.be()?),
            Kind::Struct => Value::Struct(self.fields(p)?),
            Kind::List | Kind::Set => {
                let (elem, n) = if compact {
                    let h = self.u8()?;
                    let n = if h >> 4 == 15 {
                        self.varint()? as usize
                    } else {
                        usize::from(h >> 4)
                    };
                    (self.kind_code(p, h & 0x0f)?, n)
                } else {
                    let c = self.u8()?;
                    (self.kind_code(p, c)?, self.len(p)?)
                };
                let items = self.items(p, elem, n)?;
                if kind == Kind::List {
                    Value::List(elem, items)
                } else {
                    Value::Set(elem, items)
                }
            }
            Kind::Map => {
                let (k, v, n) = if compact {
                    let n = self.varint()? as usize;
                    if n == 0 {
                        (Kind::I32, Kind::I32, 0)
                    } else {
                        let kv = self.u8()?;
                        (
                            self.kind_code(p, kv >> 4)?,
                            self.kind_code(p, kv & 0x0f)?,
                            n,
                        )
                    }
                } else {
                    let kc = self.u8()?;
                    let vc = self.u8()?;
                    let n = self.len(p)?;
                    (self.kind_code(p, kc)?, self.kind_code(p, vc)?, n)
                };
                self.guard_count(n)?;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(Fail::Bad(Error::TooLarge));
                }
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let key = self.value(p, k)?;
                    pairs.push((key, self.value(p, v)?));
                }
                self.depth -= 1;
                Value::Map(k, v, pairs)
            }
        })
    }

    fn guard_count(&self, n: usize) -> R<()> {
        // Every element takes one byte at least.
        if n > self.buf.len().max(1 << 20) {
            return Err(Fail::Bad(Error::TooLarge));
        }
        Ok(())
    }

    fn items(&mut self, p: Protocol, elem: Kind, n: usize) -> R<Vec<Value>> {
        self.guard_count(n)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Fail::Bad(Error::TooLarge));
        }
        let mut items = Vec::new();
        for _ in 0..n {
            items.push(self.value(p, elem)?);
        }
        self.depth -= 1;
        Ok(items)
    }
}

/// What the decoder found, in order.
pub type Step = crate::Step<Message>;

/// A streaming decoder of back-to-back messages.
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes the current message is known to need before parsing again.
    need: usize,
    /// Bytes parsed so far for the current message, attempts included.
    work: usize,
    limit: usize,
    failed: bool,
}

impl Decoder {
    /// A decoder whose messages may be at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            need: 1,
            work: 0,
            limit,
            failed: false,
        }
    }

    /// Decodes `input`, appending what it found to `out`.
    pub fn feed(&mut self, input: &Bytes, out: &mut Vec<Step>) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Malformed);
        }
        let mut input = input.clone();
        while !input.is_empty() {
            if self.buf.is_empty() {
                out.push(Step::Start);
            }
            // Take what the message is known to need, or everything.
            let want = self.need.saturating_sub(self.buf.len()).max(1);
            let take = if self.buf.len() + input.len() >= self.need {
                input.len()
            } else {
                want.min(input.len())
            };
            let start = self.buf.len();
            self.buf.extend_from_slice(&input[..take]);
            if self.buf.len() < self.need {
                out.push(Step::Raw(input.split_to(take)));
                continue;
            }
            self.work += self.buf.len();
            if self.work > self.limit.saturating_mul(WORK_FACTOR) {
                self.failed = true;
                return Err(Error::TooLarge);
            }
            let mut p = Parser {
                buf: &self.buf,
                pos: 0,
                depth: 0,
            };
            match p.message() {
                Ok(m) => {
                    let used = p.pos - start;
                    out.push(Step::Raw(input.split_to(used)));
                    out.push(Step::End(m));
                    self.buf.clear();
                    self.need = 1;
                    self.work = 0;
                }
                Err(Fail::Short(Short(n))) => {
                    if n > self.limit {
                        self.failed = true;
                        return Err(Error::TooLarge);
                    }
                    self.need = n;
                    out.push(Step::Raw(input.split_to(take)));
                }
                Err(Fail::Bad(e)) => {
                    self.failed = true;
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let c = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(c);
            return;
        }
        out.push(c | 0x80);
    }
}

fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_len(out: &mut Vec<u8>, p: Protocol, n: usize) {
    if p == Protocol::Compact {
        put_varint(out, n as u64);
    } else {
        out.extend_from_slice(&(n as i32).to_be_bytes());
    }
}

/// Appends the wire form of `m`.
pub fn encode(m: &Message, out: &mut Vec<u8>) {
    match m.protocol {
        Protocol::Binary => {
            out.extend_from_slice(&[0x80, 0x01, 0x00, m.kind]);
            put_len(out, m.protocol, m.name.len());
            out.extend_from_slice(&m.name);
            out.extend_from_slice(&m.seq_id.to_be_bytes());
        }
        Protocol::Compact => {
            out.push(0x82);
            out.push((m.kind << 5) | 0x01);
            put_varint(out, u64::from(m.seq_id as u32));
            put_varint(out, m.name.len() as u64);
            out.extend_from_slice(&m.name);
        }
        Protocol::Old => {
            put_len(out, m.protocol, m.name.len());
            out.extend_from_slice(&m.name);
            out.push(m.kind);
            out.extend_from_slice(&m.seq_id.to_be_bytes());
        }
    }
    put_fields(out, m.protocol, &m.fields);
}

fn put_fields(out: &mut Vec<u8>, p: Protocol, fields: &[Field]) {
    let mut last: i16 = 0;
    for f in fields {
        let kind = f.value.kind();
        if p == Protocol::Compact {
            let code = match &f.value {
                Value::Bool(b) => {
                    if *b {
                        1
                    } else {
                        2
                    }
                }
                _ => kind.compact_code(),
            };
            let d = i32::from(f.id) - i32::from(last);
            if (1..=15).contains(&d) {
                out.push(((d as u8) << 4) | code);
            } else {
                out.push(code);
                put_zigzag(out, i64::from(f.id));
            }
            last = f.id;
            if kind != Kind::Bool {
                put_value(out, p, &f.value);
            }
        } else {
            out.push(kind.binary_code());
            out.extend_from_slice(&f.id.to_be_bytes());
            put_value(out, p, &f.value);
        }
    }
    out.push(0);
}

fn put_value(out: &mut Vec<u8>, p: Protocol, v: &Value) {
    let compact = p == Protocol::Compact;
    match v {
        // In a compact collection false is 2, as Apache Thrift writes it.
        Value::Bool(b) if compact => out.push(if *b { 1 } else { 2 }),
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::I8(n) => out.push(*n as u8),
        Value::I16(n) if compact => put_zigzag(out, i64::from(*n)),
        Value::I16(n) => out.extend_from_slice(&n.to_be_bytes()),
        Value::I32(n) if compact => put_zigzag(out, i64::from(*n)),
        Value::I32(n) => out.extend_from_slice(&n.to_be_bytes()),
        Value::I64(n) if compact => put_zigzag(out, *n),
        Value::I64(n) => out.extend_from_slice(&n.to_be_bytes()),
        Value::Double(d) if compact => out.extend_from_slice(&d.to_le_bytes()),
        Value::Double(d) => out.extend_from_slice(&d.to_be_bytes()),
        Value::Binary(b) => {
            put_len(out, p, b.len());
            out.extend_from_slice(b);
        }
        Value::Uuid(u) => out.extend_from_slice(u),
        Value::Struct(fields) => put_fields(out, p, fields),
        Value::List(elem, items) | Value::Set(elem, items) => {
            if compact {
                let code = elem.compact_code();
                if items.len() <= 14 {
                    out.push(((items.len() as u8) << 4) | code);
                } else {
                    out.push(0xf0 | code);
                    put_varint(out, items.len() as u64);
                }
            } else {
                out.push(elem.binary_code());
                put_len(out, p, items.len());
            }
            items.iter().for_each(|i| put_value(out, p, i));
        }
        Value::Map(k, val, pairs) => {
            if compact {
                put_varint(out, pairs.len() as u64);
                if !pairs.is_empty() {
                    out.push((k.compact_code() << 4) | val.compact_code());
                }
            } else {
                out.push(k.binary_code());
                out.push(val.binary_code());
                put_len(out, p, pairs.len());
            }
            for (a, b) in pairs {
                put_value(out, p, a);
                put_value(out, p, b);
            }
        }
    }
}

/// Decodes one whole message (for tests and tools).
pub fn decode_one(bytes: &[u8]) -> Result<Message, Error> {
    let mut p = Parser {
        buf: bytes,
        pos: 0,
        depth: 0,
    };
    match p.message() {
        Ok(m) => Ok(m),
        Err(Fail::Short(_)) => Err(Error::Malformed),
        Err(Fail::Bad(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(p: Protocol) -> Message {
        Message {
            protocol: p,
            kind: 1,
            seq_id: 300,
            name: Bytes::from_static(b"calculate"),
            fields: vec![
                Field {
                    id: 1,
                    value: Value::I32(-7),
                },
                Field {
                    id: 0,
                    value: Value::Bool(true),
                },
                Field {
                    id: 20,
                    value: Value::Struct(vec![
                        Field {
                            id: 1,
                            value: Value::Binary(Bytes::from_static(b"x")),
                        },
                        Field {
                            id: 2,
                            value: Value::Double(1.5),
                        },
                        Field {
                            id: 3,
                            value: Value::I64(-1 << 40),
                        },
                    ]),
                },
                Field {
                    id: 21,
                    value: Value::List(Kind::I16, (0..20).map(Value::I16).collect()),
                },
                Field {
                    id: 22,
                    value: Value::Map(
                        Kind::Binary,
                        Kind::Bool,
                        vec![(Value::Binary(Bytes::from_static(b"k")), Value::Bool(false))],
                    ),
                },
                Field {
                    id: 23,
                    value: Value::Set(Kind::Uuid, vec![Value::Uuid([7; 16])]),
                },
            ],
        }
    }

    #[test]
    fn every_protocol_round_trips_in_any_pieces() {
        for p in [Protocol::Binary, Protocol::Compact, Protocol::Old] {
            let m = sample(p);
            let mut wire = Vec::new();
            encode(&m, &mut wire);
            encode(&m, &mut wire);
            for cut in [1, 3, 10, wire.len()] {
                let mut d = Decoder::new(1 << 20);
                let mut steps = Vec::new();
                for piece in wire.chunks(cut) {
                    d.feed(&Bytes::copy_from_slice(piece), &mut steps).unwrap();
                }
                let mut raw = Vec::new();
                let mut msgs = Vec::new();
                for s in steps {
                    match s {
                        Step::Raw(b) => raw.extend_from_slice(&b),
                        Step::End(m) => msgs.push(m),
                        Step::Start => {}
                    }
                }
                assert_eq!(raw, wire, "{p:?} {cut}");
                assert_eq!(msgs, [m.clone(), m.clone()], "{p:?} {cut}");
            }
        }
    }

    #[test]
    fn bad_and_oversized_messages() {
        assert_eq!(decode_one(&[0x81]), Err(Error::Malformed));
        assert_eq!(decode_one(&[0x80, 0x02, 0, 1]), Err(Error::Malformed));
        let mut d = Decoder::new(100);
        let mut steps = Vec::new();
        let big = [0x80, 1, 0, 1, 0, 0, 0x10, 0];
        assert_eq!(
            d.feed(&Bytes::copy_from_slice(&big), &mut steps),
            Err(Error::TooLarge)
        );
        // Maps of maps: compact `01 BB` is a map of one MAP->MAP pair.
        let maps: Vec<u8> = [0x82, 0x21, 0x01, 0x00, 0x0b, 0x00]
            .into_iter()
            .chain(std::iter::repeat_n([0x01, 0xbb], 200).flatten())
            .collect();
        assert_eq!(decode_one(&maps), Err(Error::TooLarge));
        let deep: Vec<u8> = [0x80, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
            .into_iter()
            .chain(std::iter::repeat_n([0x0c, 0, 1], 70).flatten())
            .collect();
        assert_eq!(decode_one(&deep), Err(Error::TooLarge));
    }
}
