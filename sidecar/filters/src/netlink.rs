//! `decodeNetlink()` and `encodeNetlink()`: netlink messages (see
//! `pipy_codec::netlink`) as Messages, as upstream 1.5's filters: a head
//! `{ type, flags, seq, pid }`, the payload as the body (streamed as it
//! comes when decoding, gathered up to [`MAX_BODY`] when encoding, to learn
//! its length). A length shorter than the header ends the stream with
//! `ProtocolError`.
//!
//! Where we differ from upstream, on purpose, following netlink(7):
//! messages are aligned to 4 bytes (the decoder skips the padding, the
//! encoder writes it), and the encoder takes any number of messages in a
//! stream (upstream's encodes the first one only, and outputs its
//! MessageStart twice).

use crate::util::js;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue};
use bytes::Bytes;
use pipy_codec::netlink::{encode_header, padding, Decoder, Head as NetlinkHead, Step};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output, StreamError};
use pipy_js::convert;

/// Most bytes of one payload `encodeNetlink` gathers.
pub const MAX_BODY: usize = 16 << 20;

fn head_to_js(h: &NetlinkHead, ctx: &mut Context) -> JsResult<JsValue> {
    let a = Attribute::all();
    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("type"), i32::from(h.kind), a)
        .property(js_string!("flags"), i32::from(h.flags), a)
        .property(js_string!("seq"), h.seq, a)
        .property(js_string!("pid"), h.pid, a)
        .build()
        .into())
}

fn head_of(h: &Head, ctx: &mut Context) -> JsResult<NetlinkHead> {
    let mut head = NetlinkHead::default();
    let Head::Script(s) = h else {
        return Ok(head);
    };
    let Some(o) = convert::script_value(s).as_object() else {
        return Ok(head);
    };
    let mut num = |k: &str| -> JsResult<u32> {
        let v = o.get(js_string!(k), ctx)?;
        v.to_u32(ctx)
    };
    head.kind = num("type")? as u16;
    head.flags = num("flags")? as u16;
    head.seq = num("seq")?;
    head.pid = num("pid")?;
    Ok(head)
}

/// Template of `decodeNetlink`.
pub struct DecodeTemplate;

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        "decodeNetlink"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decode {
            decoder: Decoder::new(),
            dead: false,
        })
    }
}

struct Decode {
    decoder: Decoder,
    dead: bool,
}

impl Filter for Decode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.dead {
            return;
        }
        match evt {
            Event::Data(d) => {
                let mut steps = Vec::new();
                let mut failed = None;
                for chunk in d.chunks() {
                    if let Err(e) = self.decoder.feed(chunk, &mut steps) {
                        failed = Some(e);
                        break;
                    }
                }
                for step in steps {
                    match step {
                        Step::Start(h) => match js(|ctx| head_to_js(&h, ctx)) {
                            Ok(h) => out.push(Event::MessageStart(convert::script_head(h))),
                            Err(_) => return out.fail(StreamError::RuntimeError),
                        },
                        Step::Body(b) => out.push(Event::Data(Data::from(b))),
                        Step::End => out.push(Event::MessageEnd(Head::None)),
                    }
                }
                if let Some(e) = failed {
                    tracing::error!("decodeNetlink: {e}");
                    self.dead = true;
                    out.push(Event::StreamEnd(StreamError::ProtocolError));
                }
            }
            Event::StreamEnd(e) => {
                self.decoder = Decoder::new();
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

/// Template of `encodeNetlink`.
pub struct EncodeTemplate;

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        "encodeNetlink"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Encode {
            head: None,
            body: Data::new(),
        })
    }
}

struct Encode {
    head: Option<Head>,
    body: Data,
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(h) => {
                if self.head.is_none() {
                    self.head = Some(h);
                    self.body = Data::new();
                }
            }
            Event::Data(d) => {
                if self.head.is_some() {
                    if self.body.len() + d.len() > MAX_BODY {
                        tracing::error!("encodeNetlink: a payload over {MAX_BODY} bytes");
                        self.head = None;
                        self.body = Data::new();
                        return out.fail(StreamError::BufferOverflow);
                    }
                    self.body.push(d);
                }
            }
            Event::MessageEnd(t) => {
                let Some(h) = self.head.take() else { return };
                let body = std::mem::take(&mut self.body);
                let head = match js(|ctx| head_of(&h, ctx)) {
                    Ok(head) => head,
                    Err(e) => {
                        tracing::error!("encodeNetlink: {e}");
                        return out.fail(StreamError::RuntimeError);
                    }
                };
                let mut wire = Vec::with_capacity(16 + body.len() + 3);
                encode_header(&head, body.len(), &mut wire);
                for c in body.chunks() {
                    wire.extend_from_slice(c);
                }
                wire.resize(wire.len() + padding(body.len()), 0);
                out.push(Event::MessageStart(h));
                out.push(Event::Data(Data::from(Bytes::from(wire))));
                out.push(Event::MessageEnd(t));
            }
            Event::StreamEnd(e) => out.push(Event::StreamEnd(e)),
        }
    }
}
