//! Arbitrary bytes into the WebSocket frame decoder, whole, cut where the
//! first byte says, and a byte at a time. Nothing panics; however the bytes
//! are cut, the frame heads, the payload bytes and the frame ends come out
//! the same; and no frame ends before its head. Then the bytes framed by the
//! encoder (masked and not) decode back to themselves.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pipy_codec::websocket::{apply_mask, encode_head, Decoder, FrameHead, Step};

fn decode(pieces: &[&[u8]]) -> (Vec<FrameHead>, Vec<u8>, usize) {
    let mut d = Decoder::new();
    let mut steps = Vec::new();
    for p in pieces {
        d.feed(Bytes::copy_from_slice(p), &mut steps);
    }
    let (mut heads, mut payload, mut ends) = (Vec::new(), Vec::new(), 0);
    for s in steps {
        match s {
            Step::Head(h) => heads.push(h),
            Step::Payload(b) => payload.extend_from_slice(&b),
            Step::End => {
                ends += 1;
                assert!(ends <= heads.len());
            }
        }
    }
    (heads, payload, ends)
}

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let at = usize::from(ctl) * bytes.len() / 255;
    let whole = decode(&[bytes]);
    assert_eq!(decode(&[&bytes[..at], &bytes[at..]]), whole);
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(decode(&singles), whole);

    let mask = (ctl & 1 == 1).then_some([ctl, 1, 2, 3]);
    let mut frame = encode_head(true, ctl & 0x0f, mask, bytes.len() as u64);
    let mut body = bytes.to_vec();
    if let Some(k) = mask {
        apply_mask(&mut body, k, 0);
    }
    frame.extend_from_slice(&body);
    let (heads, payload, ends) = decode(&[&frame]);
    assert_eq!((heads.len(), ends), (1, 1));
    assert_eq!(payload, bytes);
});
