//! Arbitrary bytes into the Thrift decoder, whole and cut where the first
//! byte says. Nothing panics; however the input is cut, the same messages
//! come out (or both stop with an error); and every message, encoded again,
//! decodes to itself.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pipy_codec::thrift::{decode_one, encode, Decoder, Message, Step};

fn decode(pieces: &[&[u8]]) -> (Vec<Message>, bool) {
    let mut d = Decoder::new(1 << 16);
    let mut steps = Vec::new();
    let mut failed = false;
    for p in pieces {
        if d.feed(&Bytes::copy_from_slice(p), &mut steps).is_err() {
            failed = true;
            break;
        }
    }
    let msgs = steps
        .into_iter()
        .filter_map(|s| match s {
            Step::End(m) => Some(m),
            _ => None,
        })
        .collect();
    (msgs, failed)
}

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let at = usize::from(ctl) * bytes.len() / 255;
    let (whole, e1) = decode(&[bytes]);
    let (cut, e2) = decode(&[&bytes[..at], &bytes[at..]]);
    assert_eq!(e1, e2);
    assert_eq!(format!("{whole:?}"), format!("{cut:?}"));
    for m in whole {
        let mut wire = Vec::new();
        encode(&m, &mut wire);
        let back = decode_one(&wire).expect("re-encoded message decodes");
        assert_eq!(format!("{back:?}"), format!("{m:?}"));
    }
});
