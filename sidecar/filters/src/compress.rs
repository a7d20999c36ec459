//! `compress(algorithm)` and `compressHTTP(algorithm)`: deflate or gzip a
//! stream's Data as it flows.
//!
//! As upstream: `compress` takes `'deflate'` (zlib framing) or `'gzip'`, or a
//! function giving one at the first event, and outputs only the compressed
//! Data and the `StreamEnd` (message boundaries are dropped; the compressed
//! stream ends with the stream). `compressHTTP` works per message: the
//! algorithm (or a function of the MessageStart giving it, or nothing to
//! leave the message alone) applies when the head has no `content-encoding`,
//! which it then sets. Unlike upstream it also drops `content-length`, which
//! no longer describes the body (RFC 9110 §8.6); the encoder then frames the
//! body itself.

use crate::util::{headers, js, Callback};
use bytes::Bytes;
use pipy_codec::compression::{Algorithm, Compressor};
use pipy_core::{Data, Event, Filter, FilterTemplate, Output, StreamError};

/// Outputs `bytes` as Data, unless there are none.
pub(crate) fn push(out: &mut Output<'_>, bytes: Vec<u8>) {
    if !bytes.is_empty() {
        out.push(Event::Data(Data::from(Bytes::from(bytes))));
    }
}

fn feed(c: &mut Compressor, d: &Data, out: &mut Output<'_>) {
    for chunk in d.chunks() {
        let packed = c.input(chunk);
        push(out, packed);
    }
}

/// The algorithm a filter's argument names (a name or a function giving
/// one), by `algorithm_of`; `None` when the stream ended here (a throwing
/// function, not a string, an unknown name).
pub(crate) fn choose_algorithm(
    filter: &str,
    algorithm: &Callback,
    algorithm_of: fn(&str) -> Option<Algorithm>,
    out: &Output<'_>,
) -> Option<Algorithm> {
    let v = algorithm.call(&[], out)?;
    let Some(name) = v.as_string().map(|s| s.to_std_string_escaped()) else {
        tracing::error!("{filter}: algorithm is not or did not return a string");
        out.fail(StreamError::RuntimeError);
        return None;
    };
    let alg = algorithm_of(&name);
    if alg.is_none() {
        tracing::error!("{filter}: unknown compression algorithm: {name}");
        out.fail(StreamError::RuntimeError);
    }
    alg
}

/// An algorithm's name as `compress` takes it.
pub fn algorithm_of(name: &str) -> Option<Algorithm> {
    match name {
        "deflate" => Some(Algorithm::Deflate),
        "gzip" => Some(Algorithm::Gzip),
        _ => None,
    }
}

/// Template of `compress`.
pub struct CompressTemplate(pub Callback);

impl FilterTemplate for CompressTemplate {
    fn name(&self) -> &'static str {
        "compress"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Compress {
            algorithm: self.0.clone(),
            started: false,
            compressor: None,
        })
    }
}

struct Compress {
    algorithm: Callback,
    started: bool,
    compressor: Option<Compressor>,
}

impl Filter for Compress {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.started {
            self.started = true;
            let alg = choose_algorithm("compress", &self.algorithm, algorithm_of, out);
            // Both algorithms `compress` names have a compressor.
            self.compressor = alg.and_then(Compressor::new);
            if self.compressor.is_none() {
                return;
            }
        }
        match evt {
            Event::Data(d) => {
                if let Some(c) = &mut self.compressor {
                    feed(c, &d, out);
                }
            }
            Event::StreamEnd(e) => {
                if let Some(c) = self.compressor.take() {
                    push(out, c.finish());
                }
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

/// Template of `compressHTTP`.
pub struct CompressHttpTemplate(pub Callback);

impl FilterTemplate for CompressHttpTemplate {
    fn name(&self) -> &'static str {
        "compressHTTP"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(CompressHttp {
            algorithm: self.0.clone(),
            in_message: false,
            compressor: None,
        })
    }
}

struct CompressHttp {
    algorithm: Callback,
    in_message: bool,
    compressor: Option<Compressor>,
}

impl CompressHttp {
    /// The algorithm for this message, `None` to leave it alone; `Err` when
    /// the callback threw or gave something that is not a string.
    fn choose(&self, evt: &mut Event, out: &Output<'_>) -> Result<Option<String>, ()> {
        let v = if self.algorithm.is_function() {
            let arg = js(|ctx| pipy_js::convert::event_to_js(evt, ctx)).map_err(|_| ())?;
            self.algorithm.call(&[arg], out).ok_or(())?
        } else {
            self.algorithm.value().clone()
        };
        if v.is_null_or_undefined() {
            return Ok(None);
        }
        match v.as_string() {
            Some(s) => Ok(Some(s.to_std_string_escaped())),
            None => {
                tracing::error!("compressHTTP: callback did not return a string");
                Err(())
            }
        }
    }
}

impl Filter for CompressHttp {
    fn process(&mut self, mut evt: Event, out: &mut Output<'_>) {
        match &evt {
            Event::MessageStart(_) if !self.in_message => {
                let Ok(choice) = self.choose(&mut evt, out) else {
                    return out.fail(StreamError::RuntimeError);
                };
                let Event::MessageStart(head) = &mut evt else {
                    return;
                };
                let algorithm = choice.as_deref().and_then(algorithm_of);
                if let Some(alg) = algorithm {
                    if headers::get(head, "content-encoding").is_none() {
                        self.compressor = Compressor::new(alg);
                        headers::set(head, "content-encoding", choice.as_deref().unwrap_or(""));
                        headers::remove(head, "content-length");
                    }
                }
                self.in_message = true;
                out.push(evt);
            }
            Event::Data(d) if self.in_message => match &mut self.compressor {
                Some(c) => feed(c, d, out),
                None => out.push(evt),
            },
            Event::MessageEnd(_) | Event::StreamEnd(_) if self.in_message => {
                if let Some(c) = self.compressor.take() {
                    push(out, c.finish());
                }
                self.in_message = false;
                out.push(evt);
            }
            // Upstream drops what comes outside a message, and the end of a
            // stream with none; the end still goes on here.
            Event::StreamEnd(_) => out.push(evt),
            _ => {}
        }
    }
}
