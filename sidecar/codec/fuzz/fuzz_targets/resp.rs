//! Arbitrary bytes into the RESP decoder, whole and cut where the first byte
//! says. Nothing panics; the raw bytes it hands back are a prefix of the
//! input (all of it unless it stopped with an error); however the input is
//! cut, the same values come out (or the same error); and every value, encoded
//! again, decodes to itself.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pipy_codec::resp::{encode, Decoder, Error, Step, Value};

fn decode(pieces: &[&[u8]]) -> (Vec<(Value, Vec<u8>)>, Vec<u8>, Option<Error>) {
    let mut d = Decoder::new(1 << 16);
    let mut steps = Vec::new();
    let mut err = None;
    for p in pieces {
        if let Err(e) = d.feed(&Bytes::copy_from_slice(p), &mut steps) {
            err = Some(e);
            break;
        }
    }
    let (mut values, mut raw, mut current) = (Vec::new(), Vec::new(), Vec::new());
    for s in steps {
        match s {
            Step::Start => assert!(current.is_empty()),
            Step::Raw(b) => {
                raw.extend_from_slice(&b);
                current.extend_from_slice(&b);
            }
            Step::End(v) => values.push((v, std::mem::take(&mut current))),
        }
    }
    (values, raw, err)
}

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let at = usize::from(ctl) * bytes.len() / 255;
    let (values, raw, err) = decode(&[bytes]);
    if err.is_none() {
        assert_eq!(raw, bytes);
    }
    for (v, wire) in &values {
        assert!(!wire.is_empty());
        let mut again = Vec::new();
        encode(v, &mut again);
        let (back, _, e) = decode(&[&again]);
        assert_eq!(e, None);
        assert_eq!(back.len(), 1);
        assert_eq!(&back[0].0, v);
    }
    let (cut_values, _, cut_err) = decode(&[&bytes[..at], &bytes[at..]]);
    assert_eq!(cut_err, err);
    let plain = |vs: &[(Value, Vec<u8>)]| vs.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>();
    if err.is_none() {
        assert_eq!(plain(&cut_values), plain(&values));
    }
});
