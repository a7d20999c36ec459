//! Arbitrary bytes into the BGP framer and body parser, whole and cut where
//! the first byte says. Nothing panics; the raw bytes handed back are the
//! input (unless framing failed); however the input is cut, the same frames
//! come out (or the same error); and writing a parsed message is stable:
//! what it writes parses, and writes the same bytes again.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pipy_codec::bgp::{encode, parse, Decoder, Error, Frame, Step, MAX_BODY};

fn frames(pieces: &[&[u8]]) -> (Vec<Frame>, Vec<u8>, Option<Error>) {
    let mut d = Decoder::new();
    let mut steps = Vec::new();
    let mut err = None;
    for p in pieces {
        if let Err(e) = d.feed(&Bytes::copy_from_slice(p), &mut steps) {
            err = Some(e);
            break;
        }
    }
    let (mut out, mut raw) = (Vec::new(), Vec::new());
    for s in steps {
        match s {
            Step::Start => {}
            Step::Raw(b) => raw.extend_from_slice(&b),
            Step::End(f) => out.push(f),
        }
    }
    (out, raw, err)
}

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let as4 = ctl & 1 == 1;
    let at = usize::from(ctl) * bytes.len() / 255;
    let (whole, raw, err) = frames(&[bytes]);
    if err.is_none() {
        assert_eq!(raw, bytes);
    }
    let (cut, _, cut_err) = frames(&[&bytes[..at], &bytes[at..]]);
    assert_eq!(cut_err, err);
    assert_eq!(cut, whole);
    for f in &whole {
        let Ok(m) = parse(f, as4) else { continue };
        if f.body.len() > MAX_BODY {
            continue;
        }
        let mut once = Vec::new();
        encode(&m, as4, &mut once);
        let (again, _, e) = frames(&[&once]);
        assert_eq!(e, None);
        assert_eq!(again.len(), 1);
        let m2 = parse(&again[0], as4).expect("what we write parses");
        let mut twice = Vec::new();
        encode(&m2, as4, &mut twice);
        assert_eq!(twice, once);
    }
});
