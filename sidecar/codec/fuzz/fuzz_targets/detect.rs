//! Arbitrary bytes into the protocol detector.
//!
//! The first input byte chooses where the rest is split in two `feed` calls;
//! the rest is also fed all at once and a byte at a time. Whatever the bytes,
//! nothing panics, the three ways give the same first answer, and the
//! answer, fed a byte at a time, comes on the byte that decides it: the last
//! byte of the HTTP/2 preface, the 11th byte of a TLS record that starts a
//! ClientHello, or the LF ending `HTTP/1.x` after a method and a target. No
//! answer yet means no more than a request line's worth of bytes.
//!
//! Agreement is asserted for streams up to `MAX_REQUEST_LINE` bytes only:
//! past it, the HTTP test gives up on a prefix without a space, which a
//! longer piece with the space in it never shows it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pipy_codec::detect::{Detector, Protocol, MAX_REQUEST_LINE};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"PATCH ",
    b"DELETE ",
    b"CONNECT ",
    b"OPTIONS ",
    b"TRACE ",
];

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    assert_eq!(Detector::new().feed(&[]), None);

    let whole = Detector::new().feed(bytes);

    let mut d = Detector::new();
    let mut first = None;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(p) = d.feed(&[b]) {
            first = Some((p, i + 1));
            break;
        }
    }

    let at = usize::from(ctl) * bytes.len() / 255;
    let (a, b) = bytes.split_at(at);
    let mut d = Detector::new();
    let split = d.feed(a).or_else(|| d.feed(b));

    if bytes.len() <= MAX_REQUEST_LINE {
        assert_eq!(first.map(|(p, _)| p), whole, "a byte at a time");
        assert_eq!(split, whole, "cut at {at}");
    }

    let Some((p, n)) = first else {
        assert!(bytes.len() <= MAX_REQUEST_LINE + " HTTP/1.1\r".len());
        return;
    };
    let seen = &bytes[..n];
    match p {
        Protocol::Http2 => assert_eq!(seen, PREFACE),
        Protocol::Tls => {
            assert_eq!(n, 11);
            assert_eq!((seen[0], seen[1], seen[5]), (22, 3, 1));
        }
        Protocol::Http => {
            assert!(seen.ends_with(b" HTTP/1.0\r\n") || seen.ends_with(b" HTTP/1.1\r\n"));
            let method = METHODS.iter().find(|m| seen.starts_with(m));
            let method = method.expect("an HTTP request line starts with a method");
            // A target between the method and the version (it may be empty).
            assert!(n >= method.len() + " HTTP/1.1\r\n".len());
        }
        Protocol::Unknown => {
            assert!(!seen.starts_with(PREFACE));
            // A TLS record header that starts a ClientHello fails only on
            // its version or on a handshake longer than the record allows.
            if n >= 11 && (seen[0], seen[1], seen[5]) == (22, 3, 1) {
                let record = (usize::from(seen[3]) << 8) | usize::from(seen[4]);
                let handshake = (usize::from(seen[6]) << 16)
                    | (usize::from(seen[7]) << 8)
                    | usize::from(seen[8]);
                assert!(seen[2] > 4 || handshake > record + 4);
            }
        }
    }
});
