//! Arbitrary bytes into the Dubbo framer, whole and cut where the first byte
//! says. Nothing panics; however the input is cut, the same frames and body
//! bytes come out (or the same error); and every header written again
//! frames the same.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pipy_codec::dubbo::{encode_header, Decoder, Error, Head, Step};

#[derive(Debug, PartialEq)]
enum Seen {
    Start(Head),
    Body(Vec<u8>),
    End,
}

fn frames(pieces: &[&[u8]]) -> (Vec<Seen>, Option<Error>) {
    let mut d = Decoder::new();
    let mut steps = Vec::new();
    let mut err = None;
    for p in pieces {
        if let Err(e) = d.feed(&Bytes::copy_from_slice(p), &mut steps) {
            err = Some(e);
            break;
        }
    }
    let mut out: Vec<Seen> = Vec::new();
    for s in steps {
        match s {
            Step::Start(h) => out.push(Seen::Start(h)),
            Step::Body(b) => match out.last_mut() {
                Some(Seen::Body(v)) => v.extend_from_slice(&b),
                _ => out.push(Seen::Body(b.to_vec())),
            },
            Step::End => out.push(Seen::End),
        }
    }
    (out, err)
}

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let at = usize::from(ctl) * bytes.len() / 255;
    let (whole, err) = frames(&[bytes]);
    let (cut, cut_err) = frames(&[&bytes[..at], &bytes[at..]]);
    assert_eq!(cut_err, err);
    assert_eq!(cut, whole);
    for s in &whole {
        if let Seen::Start(h) = s {
            let mut wire = Vec::new();
            encode_header(h, 0, &mut wire);
            let (again, e) = frames(&[&wire]);
            assert_eq!(e, None);
            assert_eq!(again, vec![Seen::Start(*h), Seen::End]);
        }
    }
});
