//! Arbitrary bytes into every decompressor, whole and cut where the first
//! byte says. Nothing panics; each call's output stays within the limit; and
//! however the input is cut, a stream that decodes without error gives the
//! same bytes. Then the bytes themselves, compressed and decompressed, come
//! back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pipy_codec::compression::{Algorithm, Compressor, Decompressor};

const LIMIT: usize = 1 << 20;

fn run(alg: Algorithm, pieces: &[&[u8]]) -> Option<Vec<u8>> {
    let mut d = Decompressor::new(alg, LIMIT);
    let mut out = Vec::new();
    for p in pieces {
        let got = d.input(p).ok()?;
        assert!(got.len() <= LIMIT);
        out.extend(got);
    }
    out.extend(d.finish().ok()?);
    Some(out)
}

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let at = usize::from(ctl) * bytes.len() / 255;
    for alg in [Algorithm::Deflate, Algorithm::Gzip, Algorithm::Brotli] {
        let whole = run(alg, &[bytes]);
        let cut = run(alg, &[&bytes[..at], &bytes[at..]]);
        if let (Some(a), Some(b)) = (whole, cut) {
            assert_eq!(a, b, "{alg:?}");
        }
    }
    for alg in [Algorithm::Deflate, Algorithm::Gzip] {
        let mut c = Compressor::new(alg).unwrap();
        let mut packed = c.input(&bytes[..at]);
        packed.extend(c.input(&bytes[at..]));
        packed.extend(c.finish());
        assert_eq!(run(alg, &[&packed]).as_deref(), Some(bytes));
    }
});
