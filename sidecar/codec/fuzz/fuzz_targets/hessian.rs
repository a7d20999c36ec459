//! Arbitrary bytes into the Hessian reader. Nothing panics (nesting is
//! bounded); and the values read, written again, read back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pipy_codec::hessian::{decode_all, Encoder};

fuzz_target!(|input: &[u8]| {
    let (values, _) = decode_all(input);
    let mut e = Encoder::new();
    for v in &values {
        e.value(v);
    }
    let (again, err) = decode_all(&e.out);
    assert_eq!(err, None, "what we write reads back");
    // Debug text, so that NaN compares equal to itself.
    assert_eq!(format!("{again:?}"), format!("{values:?}"));
});
