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

use crate::head_codec::{self, Gather};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue};
use pipy_codec::netlink::{encode_header, padding, Decoder, Head as NetlinkHead};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output};
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
        Box::new(head_codec::Decode::<Decoder>::new(
            "decodeNetlink",
            head_to_js,
        ))
    }
}

/// Template of `encodeNetlink`.
pub struct EncodeTemplate;

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        "encodeNetlink"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Encode(Gather::new("encodeNetlink", MAX_BODY)))
    }
}

struct Encode(Gather);

/// A message: the header, the payload, the padding.
fn frame(h: &Head, body: &Data, ctx: &mut Context) -> JsResult<Vec<u8>> {
    let head = head_of(h, ctx)?;
    let mut wire = Vec::with_capacity(16 + body.len() + 3);
    encode_header(&head, body.len(), &mut wire);
    for c in body.chunks() {
        wire.extend_from_slice(c);
    }
    wire.resize(wire.len() + padding(body.len()), 0);
    Ok(wire)
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.0.process(evt, frame, out);
    }
}
