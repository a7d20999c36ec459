//! The TLS ClientHello (RFC 8446 §4.1.2) as far as a router needs it: the
//! server names (SNI, RFC 6066 §3) and the application protocols offered
//! (ALPN, RFC 7301), read from the first records of a stream without
//! terminating TLS.

/// The most handshake bytes gathered for one ClientHello. Real ones are a few
/// hundred bytes (up to ~2 KiB with post-quantum key shares).
pub const MAX_HELLO: usize = 16 * 1024;

/// What a ClientHello offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// Host names from the `server_name` extension (`None` without one).
    pub server_names: Option<Vec<String>>,
    /// Protocol names from the ALPN extension, in the client's order (`None`
    /// without one).
    pub protocols: Option<Vec<String>>,
}

/// Why bytes are not a ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The first record is not a handshake record.
    #[error("not a TLS handshake")]
    NotHandshake,
    /// The first handshake message is not a ClientHello, or is malformed.
    #[error("malformed TLS ClientHello")]
    Malformed,
    /// The hello is larger than [`MAX_HELLO`].
    #[error("TLS ClientHello too large")]
    TooLarge,
}

/// The result of looking at the start of a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// The hello.
    Done(ClientHello),
}

/// Reads the ClientHello at the start of `stream`, which may span records.
pub fn parse(stream: &[u8]) -> Result<Parsed, Error> {
    // Gather handshake bytes from consecutive records.
    let mut handshake = Vec::new();
    let mut rest = stream;
    loop {
        if rest.len() < 5 {
            return Ok(Parsed::Incomplete);
        }
        if rest[0] != 0x16 || rest[1] != 3 {
            return Err(Error::NotHandshake);
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if len == 0 {
            // RFC 8446 §5.1: handshake records are never empty.
            return Err(Error::Malformed);
        }
        if rest.len() < 5 + len {
            // The record is still arriving: refuse early what cannot become
            // a hello.
            let mut seen = handshake;
            seen.extend_from_slice(&rest[5..]);
            hello_len(&seen)?;
            return Ok(Parsed::Incomplete);
        }
        handshake.extend_from_slice(&rest[5..5 + len]);
        rest = &rest[5 + len..];
        if let Some(body_len) = hello_len(&handshake)? {
            if handshake.len() >= 4 + body_len {
                return parse_body(&handshake[4..4 + body_len]).map(Parsed::Done);
            }
        }
    }
}

/// The length of the ClientHello whose handshake bytes start `handshake`,
/// once its 4-byte header is there.
fn hello_len(handshake: &[u8]) -> Result<Option<usize>, Error> {
    if handshake.len() < 4 {
        return Ok(None);
    }
    if handshake[0] != 1 {
        return Err(Error::Malformed);
    }
    let len = (usize::from(handshake[1]) << 16)
        | (usize::from(handshake[2]) << 8)
        | usize::from(handshake[3]);
    if len > MAX_HELLO {
        return Err(Error::TooLarge);
    }
    Ok(Some(len))
}

/// A cursor over a hello's bytes: every read fails cleanly when short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::Malformed);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<usize, Error> {
        Ok(usize::from(self.take(1)?[0]))
    }
    fn u16(&mut self) -> Result<usize, Error> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn vec8(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u8()?;
        self.take(n)
    }
    fn vec16(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u16()?;
        self.take(n)
    }
}

fn parse_body(body: &[u8]) -> Result<ClientHello, Error> {
    let mut r = Reader(body);
    r.take(2)?; // legacy_version
    r.take(32)?; // random
    r.vec8()?; // legacy_session_id
    r.vec16()?; // cipher_suites
    r.vec8()?; // legacy_compression_methods
    let mut hello = ClientHello::default();
    if r.0.is_empty() {
        // A hello without extensions (old clients) is valid.
        return Ok(hello);
    }
    let mut exts = Reader(r.vec16()?);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let mut data = Reader(exts.vec16()?);
        match kind {
            0 => {
                let mut list = Reader(data.vec16()?);
                let names = hello.server_names.get_or_insert_with(Vec::new);
                while !list.0.is_empty() {
                    let name_type = list.u8()?;
                    let name = list.vec16()?;
                    if name_type == 0 {
                        let name = std::str::from_utf8(name).map_err(|_| Error::Malformed)?;
                        names.push(name.to_string());
                    }
                }
            }
            16 => {
                let mut list = Reader(data.vec16()?);
                let protocols = hello.protocols.get_or_insert_with(Vec::new);
                while !list.0.is_empty() {
                    let p = list.vec8()?;
                    protocols.push(String::from_utf8_lossy(p).into_owned());
                }
            }
            _ => {}
        }
    }
    Ok(hello)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hello with the given extensions, cut into records of `record` bytes.
    fn hello(exts: &[(u16, Vec<u8>)], record: usize) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        let mut e = Vec::new();
        for (kind, data) in exts {
            e.extend_from_slice(&kind.to_be_bytes());
            e.extend_from_slice(&(data.len() as u16).to_be_bytes());
            e.extend_from_slice(data);
        }
        body.extend_from_slice(&(e.len() as u16).to_be_bytes());
        body.extend_from_slice(&e);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut out = Vec::new();
        for chunk in hs.chunks(record) {
            out.extend_from_slice(&[0x16, 3, 1]);
            out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            out.extend_from_slice(chunk);
        }
        out
    }

    fn sni(names: &[&str]) -> Vec<u8> {
        let mut list = Vec::new();
        for n in names {
            list.push(0);
            list.extend_from_slice(&(n.len() as u16).to_be_bytes());
            list.extend_from_slice(n.as_bytes());
        }
        let mut d = (list.len() as u16).to_be_bytes().to_vec();
        d.extend_from_slice(&list);
        d
    }

    fn alpn(protos: &[&str]) -> Vec<u8> {
        let mut list = Vec::new();
        for p in protos {
            list.push(p.len() as u8);
            list.extend_from_slice(p.as_bytes());
        }
        let mut d = (list.len() as u16).to_be_bytes().to_vec();
        d.extend_from_slice(&list);
        d
    }

    #[test]
    fn names_and_protocols_across_records() {
        let exts = [
            (0, sni(&["a.example"])),
            (16, alpn(&["h2", "http/1.1"])),
            (43, vec![2, 3, 4]),
        ];
        for record in [16, 40, 1000] {
            let wire = hello(&exts, record);
            let want = ClientHello {
                server_names: Some(vec!["a.example".into()]),
                protocols: Some(vec!["h2".into(), "http/1.1".into()]),
            };
            assert_eq!(parse(&wire), Ok(Parsed::Done(want)), "records of {record}");
            for cut in 0..wire.len() {
                assert_eq!(parse(&wire[..cut]), Ok(Parsed::Incomplete), "cut at {cut}");
            }
        }
    }

    #[test]
    fn not_a_hello() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(Error::NotHandshake));
        // Empty handshake records, which could otherwise pile up for ever.
        assert_eq!(
            parse(&[0x16, 3, 1, 0, 0, 0x16, 3, 1, 0, 0]),
            Err(Error::Malformed)
        );
        let mut wire = hello(&[], 1000);
        wire[5] = 2; // ServerHello
        assert_eq!(parse(&wire), Err(Error::Malformed));
        assert_eq!(
            parse(&hello(&[], 1000)),
            Ok(Parsed::Done(ClientHello::default()))
        );
        let wire = hello(&[(0, vec![0, 9, 0])], 1000);
        assert_eq!(parse(&wire), Err(Error::Malformed));
        let mut huge = vec![0x16, 3, 1, 0x40, 0, 1, 0x10, 0, 0];
        huge.resize(100, 0);
        assert_eq!(parse(&huge), Err(Error::TooLarge));
    }
}
