//! DNS messages (RFC 1035) for the `DNS.decode`/`DNS.encode` API: header,
//! questions and the three record sections, with the record data of A,
//! AAAA, NS, CNAME, PTR, SOA, MX, TXT and SRV read into fields and any other
//! type kept as bytes. Names are read through compression pointers (one
//! hop at a time, bounded) and written without compression, as upstream's.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest name, in bytes of text.
pub const MAX_NAME: usize = 255;
/// Most compression pointers followed for one name.
const MAX_JUMPS: usize = 64;

/// Record types with a name upstream gives them.
pub const TYPE_NAMES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (41, "OPT"),
];

/// The class of the Internet, left out of what `decode` gives.
pub const CLASS_IN: u16 = 1;

/// A question.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    /// The name asked about.
    pub name: String,
    /// Its record type (1 = A, ...).
    pub rtype: u16,
    /// Its class (1 = IN).
    pub class: u16,
}

/// Record data, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// NS, CNAME and PTR: a name.
    Name(String),
    /// The zone's start of authority.
    #[allow(missing_docs)]
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    /// A mail exchange.
    #[allow(missing_docs)]
    Mx { preference: u16, exchange: String },
    /// A service location.
    #[allow(missing_docs)]
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    /// TXT with one string (upstream gives nothing for other forms).
    Txt(Option<Vec<u8>>),
    /// Any other type: the bytes.
    Raw(Vec<u8>),
}

/// A resource record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The owner name.
    pub name: String,
    /// The record type.
    pub rtype: u16,
    /// The class (an OPT record's UDP payload size).
    pub class: u16,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// The data.
    pub rdata: RData,
}

/// A whole message.
#[derive(Clone, Debug, Default, PartialEq)]
#[allow(missing_docs)] // RFC 1035's header fields, by their names there.
pub struct Message {
    pub id: u16,
    pub qr: u8,
    pub opcode: u8,
    pub aa: u8,
    pub tc: u8,
    pub rd: u8,
    pub ra: u8,
    pub zero: u8,
    pub rcode: u8,
    pub question: Vec<Question>,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

fn err(what: &str) -> String {
    format!("dns decode # {what}")
}

fn u16_at(buf: &[u8], at: usize) -> Result<u16, String> {
    buf.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| err("data error"))
}

fn u32_at(buf: &[u8], at: usize) -> Result<u32, String> {
    buf.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| err("data error"))
}

/// Reads the name at `at`: (the name, where what follows it starts).
fn read_name(buf: &[u8], at: usize) -> Result<(String, usize), String> {
    let mut name = Vec::new();
    let mut pos = at;
    let mut after = None;
    let mut jumps = 0;
    loop {
        let len = *buf.get(pos).ok_or_else(|| err("name error"))? as usize;
        if len == 0 {
            pos += 1;
            break;
        }
        if len >= 0xc0 {
            let target = (u16_at(buf, pos)? & 0x3fff) as usize;
            after.get_or_insert(pos + 2);
            jumps += 1;
            if jumps > MAX_JUMPS || target >= buf.len() {
                return Err(err("name pointer error"));
            }
            pos = target;
            continue;
        }
        if len > 63 {
            return Err(err("label error"));
        }
        let label = buf
            .get(pos + 1..pos + 1 + len)
            .ok_or_else(|| err("label error"))?;
        if !name.is_empty() {
            name.push(b'.');
        }
        name.extend_from_slice(label);
        if name.len() > MAX_NAME {
            return Err(err("name too long"));
        }
        pos += 1 + len;
    }
    Ok((
        String::from_utf8_lossy(&name).into_owned(),
        after.unwrap_or(pos),
    ))
}

fn read_record(buf: &[u8], at: usize) -> Result<(Record, usize), String> {
    let (name, pos) = read_name(buf, at)?;
    let rtype = u16_at(buf, pos)?;
    let class = u16_at(buf, pos + 2)?;
    let ttl = u32_at(buf, pos + 4)?;
    let len = u16_at(buf, pos + 8)? as usize;
    let start = pos + 10;
    let data = buf
        .get(start..start + len)
        .ok_or_else(|| err("rdlength error"))?;
    let name_at = |at: usize| read_name(buf, at).map(|(n, _)| n);
    let rdata = match rtype {
        1 => {
            let b: [u8; 4] = data.try_into().map_err(|_| err("A rdata error"))?;
            RData::A(Ipv4Addr::from(b))
        }
        28 => {
            let b: [u8; 16] = data.try_into().map_err(|_| err("AAAA rdata error"))?;
            RData::Aaaa(Ipv6Addr::from(b))
        }
        2 | 5 | 12 => RData::Name(name_at(start)?),
        6 => {
            let (mname, p) = read_name(buf, start)?;
            let (rname, p) = read_name(buf, p)?;
            RData::Soa {
                mname,
                rname,
                serial: u32_at(buf, p)?,
                refresh: u32_at(buf, p + 4)?,
                retry: u32_at(buf, p + 8)?,
                expire: u32_at(buf, p + 12)?,
                minimum: u32_at(buf, p + 16)?,
            }
        }
        15 => RData::Mx {
            preference: u16_at(buf, start)?,
            exchange: name_at(start + 2)?,
        },
        33 => RData::Srv {
            priority: u16_at(buf, start)?,
            weight: u16_at(buf, start + 2)?,
            port: u16_at(buf, start + 4)?,
            target: name_at(start + 6)?,
        },
        16 => RData::Txt(match data.first() {
            Some(n) if *n as usize + 1 == data.len() => Some(data[1..].to_vec()),
            _ => None,
        }),
        _ => RData::Raw(data.to_vec()),
    };
    Ok((
        Record {
            name,
            rtype,
            class,
            ttl,
            rdata,
        },
        start + len,
    ))
}

/// Decodes one message.
pub fn decode(buf: &[u8]) -> Result<Message, String> {
    if buf.len() < 12 {
        return Err(err("data error"));
    }
    let (f1, f2) = (buf[2], buf[3]);
    let mut m = Message {
        id: u16_at(buf, 0)?,
        qr: f1 >> 7,
        opcode: (f1 >> 3) & 0x0f,
        aa: (f1 >> 2) & 1,
        tc: (f1 >> 1) & 1,
        rd: f1 & 1,
        ra: f2 >> 7,
        zero: (f2 >> 4) & 0x07,
        rcode: f2 & 0x0f,
        ..Default::default()
    };
    let counts = [
        u16_at(buf, 4)?,
        u16_at(buf, 6)?,
        u16_at(buf, 8)?,
        u16_at(buf, 10)?,
    ];
    let mut pos = 12;
    for _ in 0..counts[0] {
        let (name, p) = read_name(buf, pos)?;
        m.question.push(Question {
            name,
            rtype: u16_at(buf, p)?,
            class: u16_at(buf, p + 2)?,
        });
        pos = p + 4;
    }
    for (i, count) in counts[1..].iter().enumerate() {
        for _ in 0..*count {
            let (r, p) = read_record(buf, pos)?;
            pos = p;
            match i {
                0 => m.answer.push(r),
                1 => m.authority.push(r),
                _ => m.additional.push(r),
            }
        }
    }
    Ok(m)
}

fn write_name(out: &mut Vec<u8>, name: &str, what: &str) -> Result<(), String> {
    if name.len() > MAX_NAME {
        return Err(format!("dns encode # {what} name error"));
    }
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return Err(format!("dns encode # {what} name error"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

fn write_record(out: &mut Vec<u8>, r: &Record) -> Result<(), String> {
    write_name(out, &r.name, "record")?;
    out.extend_from_slice(&r.rtype.to_be_bytes());
    out.extend_from_slice(&r.class.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    let mut data = Vec::new();
    match &r.rdata {
        RData::A(ip) => data.extend_from_slice(&ip.octets()),
        RData::Aaaa(ip) => data.extend_from_slice(&ip.octets()),
        RData::Name(n) => write_name(&mut data, n, "rdata")?,
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => {
            write_name(&mut data, mname, "soa mname")?;
            write_name(&mut data, rname, "soa rname")?;
            for n in [serial, refresh, retry, expire, minimum] {
                data.extend_from_slice(&n.to_be_bytes());
            }
        }
        RData::Mx {
            preference,
            exchange,
        } => {
            data.extend_from_slice(&preference.to_be_bytes());
            write_name(&mut data, exchange, "mx exchange")?;
        }
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            for n in [priority, weight, port] {
                data.extend_from_slice(&n.to_be_bytes());
            }
            write_name(&mut data, target, "srv target")?;
        }
        RData::Txt(t) => {
            let t = t.as_deref().unwrap_or_default();
            if t.len() > 255 {
                return Err("dns encode # TXT rdata error".into());
            }
            data.push(t.len() as u8);
            data.extend_from_slice(t);
        }
        RData::Raw(b) => data.extend_from_slice(b),
    }
    let len = u16::try_from(data.len()).map_err(|_| "dns encode # rdata too long".to_string())?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&data);
    Ok(())
}

/// Encodes a message (names uncompressed).
pub fn encode(m: &Message) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&m.id.to_be_bytes());
    out.push(
        (m.qr & 1) << 7 | (m.opcode & 0x0f) << 3 | (m.aa & 1) << 2 | (m.tc & 1) << 1 | (m.rd & 1),
    );
    out.push((m.ra & 1) << 7 | (m.zero & 0x07) << 4 | (m.rcode & 0x0f));
    for n in [
        m.question.len(),
        m.answer.len(),
        m.authority.len(),
        m.additional.len(),
    ] {
        let n = u16::try_from(n).map_err(|_| "dns encode # too many records".to_string())?;
        out.extend_from_slice(&n.to_be_bytes());
    }
    for q in &m.question {
        write_name(&mut out, &q.name, "question")?;
        out.extend_from_slice(&q.rtype.to_be_bytes());
        out.extend_from_slice(&q.class.to_be_bytes());
    }
    for r in m.answer.iter().chain(&m.authority).chain(&m.additional) {
        write_record(&mut out, r)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for `example.com A` with a compressed answer name, an MX
    /// and an OPT record (as a resolver sends).
    fn sample() -> Vec<u8> {
        let mut b = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 1];
        b.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        b.extend_from_slice(&[
            0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34,
        ]);
        b.extend_from_slice(&[
            0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10, 2, b'm', b'x', 0xc0, 12,
        ]);
        b.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn responses_decode_with_compressed_names() {
        let m = decode(&sample()).unwrap();
        assert_eq!((m.id, m.qr, m.rd, m.ra), (0x1234, 1, 1, 1));
        assert_eq!(m.question[0].name, "example.com");
        assert_eq!(m.answer[0].rdata, RData::A(Ipv4Addr::new(93, 184, 216, 34)));
        assert_eq!(m.answer[0].ttl, 3600);
        assert_eq!(
            m.answer[1].rdata,
            RData::Mx {
                preference: 10,
                exchange: "mx.example.com".into()
            }
        );
        assert_eq!((m.additional[0].rtype, m.additional[0].class), (41, 4096));
    }

    #[test]
    fn messages_encode_and_decode_back() {
        let m = decode(&sample()).unwrap();
        let again = decode(&encode(&m).unwrap()).unwrap();
        assert_eq!(m, again);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let s = sample();
        for n in 0..s.len() {
            let _ = decode(&s[..n]);
        }
        // A pointer loop.
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert!(decode(&b).is_err());
        // A header alone, its counts zero, is a message.
        b.truncate(12);
        b[5] = 0;
        assert!(decode(&b).is_ok());
    }
}
