//! The shared shape of codecs whose messages keep their bytes as the body
//! and carry their meaning in `MessageEnd.payload` (`decodeRESP`,
//! `decodeThrift` and their encoders).

use crate::util::js;
use boa_engine::{Context, JsResult, JsValue};
use bytes::Bytes;
use pipy_codec::Step;
use pipy_core::{Data, Event, Head, Output, StreamError};
use pipy_js::convert;

/// Feeds `d` to a decoder (`feed`) and outputs what it found: a Message per
/// decoded value, its body the value's bytes, its payload `to_js` of it.
/// Malformed input ends the stream with `ProtocolError`.
pub(crate) fn decode<T, E: std::fmt::Display>(
    name: &str,
    d: &Data,
    steps: &mut Vec<Step<T>>,
    mut feed: impl FnMut(&Bytes, &mut Vec<Step<T>>) -> Result<(), E>,
    to_js: impl Fn(&T, &mut Context) -> JsResult<JsValue>,
    out: &mut Output<'_>,
) {
    for chunk in d.chunks() {
        if let Err(e) = feed(chunk, steps) {
            tracing::error!("{name}: {e}");
            steps.clear();
            return out.fail(StreamError::ProtocolError);
        }
    }
    for step in steps.drain(..) {
        match step {
            Step::Start => out.push(Event::MessageStart(Head::None)),
            Step::Raw(b) => out.push(Event::Data(Data::from(b))),
            Step::End(v) => match js(|ctx| to_js(&v, ctx)) {
                Ok(p) => out.push(Event::MessageEnd(convert::end_head(
                    JsValue::undefined(),
                    p,
                ))),
                Err(_) => return out.fail(StreamError::RuntimeError),
            },
        }
    }
}

/// An encoder of Messages from their `MessageEnd.payload`: passes the
/// MessageStart, drops the body, writes `encode(payload)` (when not empty)
/// before the MessageEnd.
pub(crate) struct PayloadEncoder {
    started: bool,
}

impl PayloadEncoder {
    pub(crate) fn new() -> Self {
        Self { started: false }
    }

    pub(crate) fn process(
        &mut self,
        name: &str,
        evt: Event,
        out: &mut Output<'_>,
        encode: impl FnOnce(&JsValue, &mut Context) -> JsResult<Vec<u8>>,
    ) {
        match evt {
            Event::MessageStart(h) => {
                if !self.started {
                    self.started = true;
                    out.push(Event::MessageStart(h));
                }
            }
            Event::MessageEnd(t) => {
                if !self.started {
                    return;
                }
                self.started = false;
                let payload = convert::payload_of(&t);
                match js(|ctx| encode(&payload, ctx)) {
                    Ok(bytes) => {
                        if !bytes.is_empty() {
                            out.push(Event::Data(Data::from(Bytes::from(bytes))));
                        }
                        out.push(Event::MessageEnd(t));
                    }
                    Err(e) => {
                        tracing::error!("{name}: {e}");
                        out.fail(StreamError::RuntimeError);
                    }
                }
            }
            Event::StreamEnd(e) => {
                self.started = false;
                out.push(Event::StreamEnd(e));
            }
            Event::Data(_) => {}
        }
    }
}
