//! Streaming compression and decompression: deflate (zlib framing), gzip and
//! brotli (decompression only, as upstream), fed chunk by chunk.
//!
//! A decompressor's output per call is bounded ([`Decompressor::new`]'s
//! `limit`): a small input that would expand past it (a compression bomb) is
//! an error instead of memory.

use flate2::write::{GzDecoder, GzEncoder, ZlibDecoder, ZlibEncoder};
use flate2::Compression;
use std::io::Write;

/// A compression format, by the name scripts give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// zlib-framed deflate (`deflate` to compress, `inflate` to decompress).
    Deflate,
    /// gzip.
    Gzip,
    /// brotli (`brotli`, or `br` as HTTP names it).
    Brotli,
}

/// What went wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The input is not valid for the format.
    #[error("corrupt {0} data")]
    Corrupt(&'static str),
    /// One input chunk expanded past the limit.
    #[error("decompressed output over {0} bytes from one input chunk")]
    TooLarge(usize),
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Deflate => "deflate",
            Algorithm::Gzip => "gzip",
            Algorithm::Brotli => "brotli",
        }
    }
}

enum Enc {
    Zlib(ZlibEncoder<Vec<u8>>),
    Gzip(GzEncoder<Vec<u8>>),
}

/// A streaming compressor.
pub struct Compressor(Enc);

impl Compressor {
    /// A compressor for `algorithm`; `None` for brotli, which upstream does
    /// not compress to.
    pub fn new(algorithm: Algorithm) -> Option<Self> {
        let level = Compression::default();
        match algorithm {
            Algorithm::Deflate => Some(Self(Enc::Zlib(ZlibEncoder::new(Vec::new(), level)))),
            // The OS byte says Unix, as zlib on Linux (and so upstream) writes.
            Algorithm::Gzip => Some(Self(Enc::Gzip(
                flate2::GzBuilder::new()
                    .operating_system(3)
                    .write(Vec::new(), level),
            ))),
            Algorithm::Brotli => None,
        }
    }

    /// Compresses `input`, returning what the format lets out so far.
    pub fn input(&mut self, input: &[u8]) -> Vec<u8> {
        // Writing into a Vec cannot fail.
        match &mut self.0 {
            Enc::Zlib(e) => {
                let _ = e.write_all(input);
                std::mem::take(e.get_mut())
            }
            Enc::Gzip(e) => {
                let _ = e.write_all(input);
                std::mem::take(e.get_mut())
            }
        }
    }

    /// Ends the stream, returning the rest (and the trailer).
    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            Enc::Zlib(e) => e.finish().unwrap_or_default(),
            Enc::Gzip(e) => e.finish().unwrap_or_default(),
        }
    }
}

/// A `Vec` that refuses to grow past a limit.
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
    over: bool,
}

impl Write for Bounded {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + b.len() > self.limit {
            self.over = true;
            return Err(std::io::Error::other("over the limit"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Dec {
    Zlib(ZlibDecoder<Bounded>),
    Gzip(GzDecoder<Bounded>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Bounded>>),
}

/// A streaming decompressor.
pub struct Decompressor {
    dec: Dec,
    algorithm: Algorithm,
    limit: usize,
}

impl Decompressor {
    /// A decompressor for `algorithm` whose output per input chunk stays
    /// within `limit` bytes.
    pub fn new(algorithm: Algorithm, limit: usize) -> Self {
        let sink = Bounded {
            buf: Vec::new(),
            limit,
            over: false,
        };
        let dec = match algorithm {
            Algorithm::Deflate => Dec::Zlib(ZlibDecoder::new(sink)),
            Algorithm::Gzip => Dec::Gzip(GzDecoder::new(sink)),
            Algorithm::Brotli => Dec::Brotli(Box::new(
                brotli_decompressor::DecompressorWriter::new(sink, 4096),
            )),
        };
        Self {
            dec,
            algorithm,
            limit,
        }
    }

    fn sink(&mut self) -> &mut Bounded {
        match &mut self.dec {
            Dec::Zlib(d) => d.get_mut(),
            Dec::Gzip(d) => d.get_mut(),
            Dec::Brotli(d) => d.get_mut(),
        }
    }

    fn result(&mut self, r: std::io::Result<()>) -> Result<Vec<u8>, Error> {
        let limit = self.limit;
        let name = self.algorithm.name();
        let sink = self.sink();
        if sink.over {
            return Err(Error::TooLarge(limit));
        }
        r.map_err(|_| Error::Corrupt(name))?;
        Ok(std::mem::take(&mut sink.buf))
    }

    /// Decompresses `input`, returning what came out of it.
    pub fn input(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
        let r = match &mut self.dec {
            Dec::Zlib(d) => d.write_all(input),
            Dec::Gzip(d) => d.write_all(input),
            Dec::Brotli(d) => d.write_all(input),
        };
        self.result(r)
    }

    /// Ends the stream, returning what was still held. A stream cut short is
    /// not an error: what it held is returned, as upstream does.
    pub fn finish(&mut self) -> Result<Vec<u8>, Error> {
        let r = match &mut self.dec {
            Dec::Zlib(d) => d.try_finish(),
            Dec::Gzip(d) => d.try_finish(),
            Dec::Brotli(d) => d.flush(),
        };
        let limit = self.limit;
        let sink = self.sink();
        if sink.over {
            return Err(Error::TooLarge(limit));
        }
        let _ = r;
        Ok(std::mem::take(&mut sink.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(alg: Algorithm, text: &[u8], cut: usize) -> Vec<u8> {
        let mut c = Compressor::new(alg).unwrap();
        let mut packed = Vec::new();
        for piece in text.chunks(cut.max(1)) {
            packed.extend(c.input(piece));
        }
        packed.extend(c.finish());
        let mut d = Decompressor::new(alg, 1 << 20);
        let mut plain = Vec::new();
        for piece in packed.chunks(cut.max(1)) {
            plain.extend(d.input(piece).unwrap());
        }
        plain.extend(d.finish().unwrap());
        plain
    }

    #[test]
    fn deflate_and_gzip_round_trip_in_any_pieces() {
        let text: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for alg in [Algorithm::Deflate, Algorithm::Gzip] {
            for cut in [1, 7, 4096, text.len()] {
                assert_eq!(roundtrip(alg, &text, cut), text, "{alg:?} {cut}");
            }
        }
    }

    #[test]
    fn output_is_the_standard_formats() {
        let mut c = Compressor::new(Algorithm::Gzip).unwrap();
        let mut gz = c.input(b"hello");
        gz.extend(c.finish());
        let mut s = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "hello");
        let mut c = Compressor::new(Algorithm::Deflate).unwrap();
        let mut z = c.input(b"hello");
        z.extend(c.finish());
        assert_eq!(z[0], 0x78, "zlib header");
        assert!(Compressor::new(Algorithm::Brotli).is_none());
    }

    #[test]
    fn brotli_decodes_a_known_stream() {
        // "hello, hello, hello" as Node's `zlib.brotliCompressSync` gives it.
        let br = [
            0x1b, 0x12, 0x00, 0xf8, 0x8d, 0x94, 0x6e, 0xde, 0x44, 0x09, 0x52, 0x86, 0x96, 0x6c,
            0x2c, 0x6f, 0x11, 0x4f, 0x24, 0xd0, 0x71, 0x00,
        ];
        let mut d = Decompressor::new(Algorithm::Brotli, 1024);
        let mut out = d.input(&br).unwrap();
        out.extend(d.finish().unwrap());
        assert_eq!(out, b"hello, hello, hello");
    }

    #[test]
    fn corrupt_input_and_bombs_are_errors() {
        let mut d = Decompressor::new(Algorithm::Gzip, 1024);
        assert_eq!(d.input(b"not gzip at all"), Err(Error::Corrupt("gzip")));
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compressor::new(Algorithm::Deflate).unwrap();
        let mut z = c.input(&zeros);
        z.extend(c.finish());
        assert!(z.len() < 4096);
        let mut d = Decompressor::new(Algorithm::Deflate, 64 << 10);
        assert_eq!(d.input(&z), Err(Error::TooLarge(64 << 10)));
    }
}
