//! The shared shape of codecs whose frames carry their meaning in a header,
//! given to scripts as the MessageStart's head, and whose body passes as the
//! message's body (`decodeDubbo`, `decodeNetlink` and their encoders).

use crate::util::js;
use boa_engine::{Context, JsResult, JsValue};
use bytes::Bytes;
use pipy_codec::FrameStep;
use pipy_core::{Data, Event, Head, Output, StreamError};
use pipy_js::convert;

/// A codec's decoder of frames.
pub(crate) trait FrameDecoder: Default {
    /// The frame's header.
    type Head;
    /// Why input was refused.
    type Error: std::fmt::Display;
    /// Feeds bytes; what they complete goes to `out`.
    fn feed(
        &mut self,
        input: &Bytes,
        out: &mut Vec<FrameStep<Self::Head>>,
    ) -> Result<(), Self::Error>;
}

impl FrameDecoder for pipy_codec::dubbo::Decoder {
    type Head = pipy_codec::dubbo::Head;
    type Error = pipy_codec::dubbo::Error;
    fn feed(
        &mut self,
        input: &Bytes,
        out: &mut Vec<FrameStep<Self::Head>>,
    ) -> Result<(), Self::Error> {
        pipy_codec::dubbo::Decoder::feed(self, input, out)
    }
}

impl FrameDecoder for pipy_codec::netlink::Decoder {
    type Head = pipy_codec::netlink::Head;
    type Error = pipy_codec::netlink::Error;
    fn feed(
        &mut self,
        input: &Bytes,
        out: &mut Vec<FrameStep<Self::Head>>,
    ) -> Result<(), Self::Error> {
        pipy_codec::netlink::Decoder::feed(self, input, out)
    }
}

/// A decoding filter: a Message per frame, its head `to_js` of the header,
/// its body streamed. Malformed input delivers the frames before it, then
/// ends the stream with `ProtocolError`, and nothing more goes out.
pub(crate) struct Decode<D: FrameDecoder> {
    name: &'static str,
    to_js: fn(&D::Head, &mut Context) -> JsResult<JsValue>,
    decoder: D,
    dead: bool,
}

impl<D: FrameDecoder> Decode<D> {
    /// The filter named `name`, heads made by `to_js`.
    pub(crate) fn new(
        name: &'static str,
        to_js: fn(&D::Head, &mut Context) -> JsResult<JsValue>,
    ) -> Self {
        Self {
            name,
            to_js,
            decoder: D::default(),
            dead: false,
        }
    }
}

impl<D: FrameDecoder + 'static> pipy_core::Filter for Decode<D> {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.dead {
            return;
        }
        match evt {
            Event::Data(d) => {
                let decoder = &mut self.decoder;
                let feed = |b: &Bytes, steps: &mut Vec<_>| decoder.feed(b, steps);
                self.dead = !decode(self.name, &d, feed, self.to_js, out);
            }
            Event::StreamEnd(e) => {
                self.decoder = D::default();
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

fn decode<H, E: std::fmt::Display>(
    name: &str,
    d: &Data,
    mut feed: impl FnMut(&Bytes, &mut Vec<FrameStep<H>>) -> Result<(), E>,
    to_js: fn(&H, &mut Context) -> JsResult<JsValue>,
    out: &mut Output<'_>,
) -> bool {
    let mut steps = Vec::new();
    let mut failed = None;
    for chunk in d.chunks() {
        if let Err(e) = feed(chunk, &mut steps) {
            failed = Some(e);
            break;
        }
    }
    for step in steps {
        match step {
            FrameStep::Start(h) => match js(|ctx| to_js(&h, ctx)) {
                Ok(h) => out.push(Event::MessageStart(convert::script_head(h))),
                Err(_) => {
                    out.fail(StreamError::RuntimeError);
                    return false;
                }
            },
            FrameStep::Body(b) => out.push(Event::Data(Data::from(b))),
            FrameStep::End => out.push(Event::MessageEnd(Head::None)),
        }
    }
    if let Some(e) = failed {
        tracing::error!("{name}: {e}");
        out.push(Event::StreamEnd(StreamError::ProtocolError));
        return false;
    }
    true
}

/// An encoder's state: the message being gathered (its body up to a limit,
/// to learn its length), then written whole by the codec's `frame`.
pub(crate) struct Gather {
    name: &'static str,
    limit: usize,
    head: Option<Head>,
    body: Data,
}

/// Writes one frame: the header made from the message's head, the body.
pub(crate) type Frame = fn(&Head, &Data, &mut Context) -> JsResult<Vec<u8>>;

impl Gather {
    /// An encoder named `name` gathering bodies of at most `limit` bytes.
    pub(crate) fn new(name: &'static str, limit: usize) -> Self {
        Self {
            name,
            limit,
            head: None,
            body: Data::new(),
        }
    }

    /// Takes one event; a message's end (or the stream's, inside one)
    /// outputs its MessageStart, its frame's bytes and that end.
    pub(crate) fn process(&mut self, evt: Event, frame: Frame, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(h) => {
                if self.head.is_none() {
                    self.head = Some(h);
                    self.body = Data::new();
                }
            }
            Event::Data(d) => {
                if self.head.is_none() {
                    return;
                }
                if self.body.len() + d.len() > self.limit {
                    tracing::error!("{}: a body over {} bytes", self.name, self.limit);
                    self.head = None;
                    self.body = Data::new();
                    return out.fail(StreamError::BufferOverflow);
                }
                self.body.push(d);
            }
            Event::MessageEnd(_) if self.head.is_none() => {}
            Event::StreamEnd(e) if self.head.is_none() => out.push(Event::StreamEnd(e)),
            end => {
                let (Some(h), body) = (self.head.take(), std::mem::take(&mut self.body)) else {
                    return;
                };
                match js(|ctx| frame(&h, &body, ctx)) {
                    Ok(wire) => {
                        out.push(Event::MessageStart(h));
                        out.push(Event::Data(Data::from(Bytes::from(wire))));
                        out.push(end);
                    }
                    Err(e) => {
                        tracing::error!("{}: {e}", self.name);
                        out.fail(StreamError::RuntimeError);
                    }
                }
            }
        }
    }
}
