//! `decompress(algorithm)` and `decompressHTTP()`: inflate a stream's Data as
//! it flows.
//!
//! As upstream: `decompress` takes `'inflate'` (zlib framing), `'gzip'` or
//! `'brotli'`, or a function giving one at the first event, and outputs only
//! the Data and the `StreamEnd`. `decompressHTTP` works per message, by the
//! head's `content-encoding` (`gzip`, `deflate` or `br`), which it removes;
//! unlike upstream it also drops the stale `content-length` (RFC 9110 §8.6).
//! Corrupt input ends the stream with `ProtocolError` where upstream goes on
//! silently without output; one input chunk may expand to at most
//! [`MAX_EXPANSION`] bytes (a compression bomb ends the stream with
//! `BufferOverflow`).

use crate::compress::{choose_algorithm, push};
use crate::util::{headers, Callback};
use pipy_codec::compression::{Algorithm, Decompressor, Error};
use pipy_core::{Data, Event, Filter, FilterTemplate, Output, StreamError};

/// Most bytes one input chunk may decompress to.
pub const MAX_EXPANSION: usize = 16 << 20;

/// An algorithm's name as `decompress` takes it.
pub fn algorithm_of(name: &str) -> Option<Algorithm> {
    match name {
        "inflate" => Some(Algorithm::Deflate),
        "gzip" => Some(Algorithm::Gzip),
        "brotli" => Some(Algorithm::Brotli),
        _ => None,
    }
}

/// Feeds `d`, pushing what comes out; `false` when the stream ended here.
fn feed(dec: &mut Decompressor, d: &Data, out: &mut Output<'_>) -> bool {
    for chunk in d.chunks() {
        match dec.input(chunk) {
            Ok(plain) => push(out, plain),
            Err(e) => return fail(e, out),
        }
    }
    true
}

fn finish(dec: &mut Decompressor, out: &mut Output<'_>) -> bool {
    match dec.finish() {
        Ok(plain) => {
            push(out, plain);
            true
        }
        Err(e) => fail(e, out),
    }
}

fn fail(e: Error, out: &mut Output<'_>) -> bool {
    tracing::error!("decompress: {e}");
    out.fail(match e {
        Error::Corrupt(_) => StreamError::ProtocolError,
        Error::TooLarge(_) => StreamError::BufferOverflow,
    });
    false
}

/// Template of `decompress`.
pub struct DecompressTemplate(pub Callback);

impl FilterTemplate for DecompressTemplate {
    fn name(&self) -> &'static str {
        "decompress"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decompress {
            algorithm: self.0.clone(),
            started: false,
            dec: None,
        })
    }
}

struct Decompress {
    algorithm: Callback,
    started: bool,
    dec: Option<Decompressor>,
}

impl Filter for Decompress {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.started {
            self.started = true;
            let Some(alg) = choose_algorithm("decompress", &self.algorithm, algorithm_of, out)
            else {
                return;
            };
            self.dec = Some(Decompressor::new(alg, MAX_EXPANSION));
        }
        match evt {
            Event::Data(d) => {
                if let Some(dec) = &mut self.dec {
                    feed(dec, &d, out);
                }
            }
            Event::StreamEnd(e) => {
                if let Some(mut dec) = self.dec.take() {
                    if !finish(&mut dec, out) {
                        return;
                    }
                }
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

/// Template of `decompressHTTP`.
pub struct DecompressHttpTemplate;

impl FilterTemplate for DecompressHttpTemplate {
    fn name(&self) -> &'static str {
        "decompressHTTP"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(DecompressHttp {
            in_message: false,
            dec: None,
        })
    }
}

struct DecompressHttp {
    in_message: bool,
    dec: Option<Decompressor>,
}

impl Filter for DecompressHttp {
    fn process(&mut self, mut evt: Event, out: &mut Output<'_>) {
        match &mut evt {
            Event::MessageStart(head) if !self.in_message => {
                let alg = match headers::get(head, "content-encoding").as_deref() {
                    Some("gzip") => Some(Algorithm::Gzip),
                    Some("deflate") => Some(Algorithm::Deflate),
                    Some("br") => Some(Algorithm::Brotli),
                    _ => None,
                };
                if let Some(alg) = alg {
                    self.dec = Some(Decompressor::new(alg, MAX_EXPANSION));
                    headers::remove(head, "content-encoding");
                    headers::remove(head, "content-length");
                }
                self.in_message = true;
                out.push(evt);
            }
            Event::Data(d) if self.in_message => match &mut self.dec {
                Some(dec) => {
                    feed(dec, d, out);
                }
                None => out.push(evt),
            },
            Event::MessageEnd(_) | Event::StreamEnd(_) if self.in_message => {
                if let Some(mut dec) = self.dec.take() {
                    if !finish(&mut dec, out) {
                        return;
                    }
                }
                self.in_message = false;
                out.push(evt);
            }
            Event::StreamEnd(_) => out.push(evt),
            _ => {}
        }
    }
}
