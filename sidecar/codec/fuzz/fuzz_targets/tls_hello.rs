//! Arbitrary bytes into the TLS ClientHello reader, and hellos it read written
//! back out.
//!
//! `parse` looks at a stream's whole prefix, so the checks are over prefixes:
//! whatever the bytes, it must not panic, and once a prefix is decided (a hello
//! or an error) every longer prefix gets the very same answer, so a caller
//! may stop reading at the first answer. The names and protocols of a hello
//! come from its bytes, so they cannot outweigh them. A hello that was read,
//! written again as records of a size the last input byte chooses, reads back
//! the same, and every cut of those records short of the end is `Incomplete`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pipy_codec::tls_hello::{parse, ClientHello, Parsed, MAX_HELLO};

fuzz_target!(|input: &[u8]| {
    let whole = parse(input);

    // Prefixes: `Incomplete` up to some length, then the final answer.
    // Every cut for short inputs, a sample of cuts for long ones.
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
            if cut > at {
                panic!("prefix of {at} bytes decided, but {cut} bytes are Incomplete");
            }
        }
    }

    let Ok(Parsed::Done(hello)) = whole else {
        return;
    };
    // Each name takes its bytes and 3 more (type and length); each protocol
    // its bytes and 1 more, an invalid byte read lossily becoming U+FFFD (3 bytes).
    let names = hello.server_names.iter().flatten();
    let protocols = hello.protocols.iter().flatten();
    let weight = 3 * names.map(|n| n.len() + 3).sum::<usize>()
        + protocols.map(|p| p.len() + 3).sum::<usize>();
    assert!(
        weight <= 3 * input.len(),
        "{hello:?} from {} input bytes",
        input.len()
    );

    // Written again, it reads back the same (unless lossy protocol names grew
    // past what ALPN can carry).
    let record = usize::from(*input.last().unwrap()) + 1;
    if let Some(wire) = write_hello(&hello, record) {
        assert_eq!(
            parse(&wire),
            Ok(Parsed::Done(hello.clone())),
            "records of {record}"
        );
        let mut more = wire.clone();
        more.extend_from_slice(input);
        assert_eq!(
            parse(&more),
            Ok(Parsed::Done(hello)),
            "bytes after the hello"
        );
        let step = (wire.len() / 128).max(1);
        for cut in (0..wire.len()).step_by(step).chain([wire.len() - 1]) {
            assert_eq!(
                parse(&wire[..cut]),
                Ok(Parsed::Incomplete),
                "cut at {cut} of {}",
                wire.len()
            );
        }
    }
});

/// A ClientHello with `hello`'s names and protocols, in records of `record`
/// bytes, or `None` if they do not fit.
fn write_hello(hello: &ClientHello, record: usize) -> Option<Vec<u8>> {
    let mut exts = Vec::new();
    if let Some(names) = &hello.server_names {
        let mut list = Vec::new();
        for n in names {
            list.push(0);
            list.extend_from_slice(&u16::try_from(n.len()).ok()?.to_be_bytes());
            list.extend_from_slice(n.as_bytes());
        }
        push_ext(&mut exts, 0, &list)?;
    }
    if let Some(protocols) = &hello.protocols {
        let mut list = Vec::new();
        for p in protocols {
            list.push(u8::try_from(p.len()).ok()?);
            list.extend_from_slice(p.as_bytes());
        }
        push_ext(&mut exts, 16, &list)?;
    }
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x5a; 32]); // random
    body.extend_from_slice(&[0]); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // cipher suites
    body.extend_from_slice(&[1, 0]); // compression methods
    if hello.server_names.is_some() || hello.protocols.is_some() {
        body.extend_from_slice(&u16::try_from(exts.len()).ok()?.to_be_bytes());
        body.extend_from_slice(&exts);
    }
    if body.len() > MAX_HELLO {
        return None;
    }
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut wire = Vec::new();
    for chunk in handshake.chunks(record) {
        wire.extend_from_slice(&[0x16, 3, 1]);
        wire.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        wire.extend_from_slice(chunk);
    }
    Some(wire)
}

/// Appends one extension whose data is a 16-bit-length-prefixed `list`.
fn push_ext(exts: &mut Vec<u8>, kind: u16, list: &[u8]) -> Option<()> {
    let n = u16::try_from(list.len()).ok()?;
    exts.extend_from_slice(&kind.to_be_bytes());
    exts.extend_from_slice(&n.checked_add(2)?.to_be_bytes());
    exts.extend_from_slice(&n.to_be_bytes());
    exts.extend_from_slice(list);
    Some(())
}
