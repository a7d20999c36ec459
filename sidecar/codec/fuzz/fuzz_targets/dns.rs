//! Arbitrary bytes into the DNS decoder: nothing panics, what a decoded
//! message encodes to decodes again, and from there encoding is stable
//! (the first round may normalize: names uncompressed, a TXT of several
//! strings left empty, bytes that are not UTF-8 replaced).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pipy_codec::dns::{decode, encode};

fuzz_target!(|input: &[u8]| {
    let Ok(m) = decode(input) else {
        return;
    };
    // Names past the limit once written out may not encode.
    let Ok(once) = encode(&m) else {
        return;
    };
    let m2 = decode(&once).expect("what we write decodes");
    let twice = encode(&m2).expect("and encodes again");
    let m3 = decode(&twice).expect("and decodes again");
    assert_eq!(m3, m2);
    assert_eq!(encode(&m3).expect("stable"), twice);
});
