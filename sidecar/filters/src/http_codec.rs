//! `decodeHTTPRequest`, `decodeHTTPResponse`, `encodeHTTPRequest`,
//! `encodeHTTPResponse`: HTTP/1 framing as plain filters.

use crate::util::{js, Callback};
use pipy_codec::http1::{Decoder, Encoder, RequestHook, DEFAULT_MAX_HEAD_SIZE};
use pipy_core::{Event, Filter, FilterTemplate, Head, Output, StreamError};
use pipy_js::convert;

/// Turns a script head into a native one so the encoder can write it.
pub(crate) fn native_head(evt: Event, request: bool) -> Event {
    match evt {
        Event::MessageStart(h @ Head::Script(_)) | Event::MessageStart(h @ Head::None) => {
            let native = js(|ctx| {
                if request {
                    convert::request_head(&h, ctx).map(|r| Head::Request(Box::new(r)))
                } else {
                    convert::response_head(&h, ctx).map(|r| Head::Response(Box::new(r)))
                }
            });
            match native {
                Ok(n) => Event::MessageStart(n),
                Err(e) => {
                    tracing::error!("bad message head: {e}");
                    Event::MessageStart(h)
                }
            }
        }
        other => other,
    }
}

/// Options the HTTP/1 filters share, as upstream Pipy spells them.
///
/// `maxHeaderSize` bounds the whole head here (as Node.js's 16 KiB limit does);
/// upstream applies it to each header line and leaves the head unbounded, which
/// lets a client grow a head without limit with many short lines.
#[derive(Clone, Copy, Debug)]
pub struct HttpOptions {
    /// `maxHeaderSize`: the largest message head accepted (16 KiB by default).
    pub max_header_size: usize,
    /// `bufferSize`: bodies up to this size are held to announce their length;
    /// longer ones go out chunked (16 KiB by default, as upstream).
    pub buffer_size: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            max_header_size: DEFAULT_MAX_HEAD_SIZE,
            buffer_size: pipy_codec::http1::DEFAULT_BUFFER_SIZE,
        }
    }
}

/// Which side a codec filter works on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Requests.
    Request,
    /// Responses.
    Response,
}

/// Template of `decodeHTTPRequest` / `decodeHTTPResponse`, with its options.
pub struct DecodeTemplate(pub Side, pub HttpOptions);

/// The same, with upstream's `handler` argument: called with each decoded
/// head (the head object scripts see as `msg.head`).
pub struct DecodeWithHandler(pub DecodeTemplate, pub Callback);

impl FilterTemplate for DecodeWithHandler {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decode {
            decoder: self.0.decoder(),
            handler: Some(self.1.clone()),
            events: Vec::new(),
            hooked: false,
        })
    }
}

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        match self.0 {
            Side::Request => "decodeHTTPRequest",
            Side::Response => "decodeHTTPResponse",
        }
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decode {
            decoder: self.decoder(),
            handler: None,
            events: Vec::new(),
            hooked: false,
        })
    }
}

impl DecodeTemplate {
    fn decoder(&self) -> Decoder {
        let mut d = match self.0 {
            Side::Request => Decoder::request(),
            Side::Response => Decoder::response(),
        };
        d.set_max_head_size(self.1.max_header_size);
        d
    }
}

struct Decode {
    decoder: Decoder,
    /// Told of each head. For responses, what it returns is the request the
    /// response answers (`{ method: 'HEAD' }`: a bodiless answer), as upstream.
    handler: Option<Callback>,
    /// Reused buffer of decoded events.
    events: Vec<Event>,
    /// The handler of a response decoder is given to the decoder itself (it
    /// must answer before the body is framed).
    hooked: bool,
}

impl Decode {
    /// Hands a response decoder's handler to the decoder, once.
    fn hook(&mut self, out: &Output<'_>) {
        if self.hooked || !self.decoder.is_response() {
            return;
        }
        self.hooked = true;
        let Some(h) = self.handler.clone() else {
            return;
        };
        let ctx = out.context().clone();
        self.decoder
            .set_request_hook(RequestHook(Box::new(move |head| {
                let v = js(|c| convert::touch_head(head, c)).ok()?;
                let req = h.eval(&[v], &ctx)?;
                let method = js(|c| -> boa_engine::JsResult<Option<String>> {
                    let Some(o) = req.as_object() else {
                        return Ok(None);
                    };
                    let m = o.get(boa_engine::js_string!("method"), c)?;
                    Ok(m.as_string().map(|s| s.to_std_string_escaped()))
                });
                method.ok().flatten()
            })));
    }

    fn emit(&mut self, out: &mut Output<'_>) {
        let mut events = std::mem::take(&mut self.events);
        let handler = if self.hooked {
            None
        } else {
            self.handler.as_ref()
        };
        for mut e in events.drain(..) {
            if let (Some(h), Event::MessageStart(head)) = (handler, &mut e) {
                if let Ok(v) = js(|ctx| convert::touch_head(head, ctx)) {
                    if h.call(&[v], out).is_none() {
                        return; // it threw: the stream ends here
                    }
                }
            }
            out.push(e);
        }
        self.events = events;
    }
}

impl Filter for Decode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) => {
                self.hook(out);
                let mut events = std::mem::take(&mut self.events);
                let r = self.decoder.decode(d, &mut |e| events.push(e));
                self.events = events;
                self.emit(out);
                if let Err(e) = r {
                    tracing::debug!("decode error: {e}");
                    out.push(Event::StreamEnd(StreamError::ProtocolError));
                }
            }
            Event::StreamEnd(e) => {
                let mut events = std::mem::take(&mut self.events);
                let _ = self.decoder.eof(&mut |e| events.push(e));
                self.events = events;
                self.emit(out);
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

/// Options of `encodeHTTPResponse`.
#[derive(Clone, Default)]
pub struct EncodeOptions {
    /// `bufferSize` (16 KiB by default).
    pub buffer_size: Option<usize>,
}

/// Template of `encodeHTTPRequest` / `encodeHTTPResponse`.
pub struct EncodeTemplate(pub Side, pub EncodeOptions);

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        match self.0 {
            Side::Request => "encodeHTTPRequest",
            Side::Response => "encodeHTTPResponse",
        }
    }
    fn create(&self) -> Box<dyn Filter> {
        let mut enc = match self.0 {
            Side::Request => Encoder::request(),
            Side::Response => Encoder::response(),
        };
        if let Some(n) = self.1.buffer_size {
            enc.set_buffer_size(n);
        }
        Box::new(Encode { side: self.0, enc })
    }
}

struct Encode {
    side: Side,
    enc: Encoder,
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::StreamEnd(err) => {
                // What was held back of an unfinished message goes out first.
                self.enc
                    .encode(Event::StreamEnd(err), &mut |d| out.push(Event::Data(d)));
                out.push(Event::StreamEnd(err));
            }
            // As upstream's encoders: the bytes of a message go out between
            // its MessageStart (with the head it came with) and its
            // MessageEnd, so that message filters after the encoder (a
            // `mux`, say) still see messages.
            Event::MessageStart(head) => {
                out.push(Event::MessageStart(head.clone()));
                let e = native_head(Event::MessageStart(head), self.side == Side::Request);
                self.enc.encode(e, &mut |d| out.push(Event::Data(d)));
            }
            Event::MessageEnd(tail) => {
                self.enc.encode(Event::MessageEnd(tail.clone()), &mut |d| {
                    out.push(Event::Data(d))
                });
                out.push(Event::MessageEnd(tail));
            }
            e => self.enc.encode(e, &mut |d| out.push(Event::Data(d))),
        }
    }
}
