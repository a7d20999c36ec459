//! Arbitrary bytes into the MQTT framer and packet decoder, at both protocol
//! levels. Nothing panics; the framer finds the same packets however the
//! input is cut; and a packet that decodes, encoded again, decodes to the
//! same head and payload.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pipy_codec::mqtt::{decode, encode, Framer};

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let at = usize::from(ctl) * bytes.len() / 255;
    let mut whole = Vec::new();
    let r1 = Framer::new(1 << 16).feed(bytes, &mut whole);
    let mut cut = Vec::new();
    let mut f = Framer::new(1 << 16);
    let r2 = f.feed(&bytes[..at], &mut cut).and_then(|_| f.feed(&bytes[at..], &mut cut));
    assert_eq!(r1.is_ok(), r2.is_ok());
    if r1.is_ok() {
        assert_eq!(whole, cut);
    }
    for (first, rest) in whole {
        for level in [4, 5] {
            let Some((head, body, payload)) = decode(first, rest.clone(), level) else {
                continue;
            };
            let wire = encode(&head, &body, &payload);
            let mut again = Vec::new();
            Framer::new(1 << 20).feed(&wire, &mut again).expect("frames");
            assert_eq!(again.len(), 1);
            let (f2, r2) = again.remove(0);
            let (h2, _, p2) = decode(f2, r2, head.protocol_level).expect("decodes again");
            assert_eq!(h2.ptype, head.ptype);
            if head.ptype != 3 {
                assert_eq!(p2, payload);
            }
        }
    }
});
