//! `decodeDubbo()` and `encodeDubbo()`: Dubbo frames (see
//! `pipy_codec::dubbo`) as Messages, bodies streamed as they come.
//!
//! As upstream 1.5.18 behaves (its reference pages name the ID `id`; its
//! code, which we follow, `requestID`): a message's head is `{ requestID,
//! isRequest, isTwoWay, isEvent, serializationType, status }`, `requestID`
//! an `Int` (`'u64'`, all 64 bits kept), its body the frame's body (in
//! Hessian for `serializationType` 2: see `Hessian.decode`). A bad magic
//! ends the stream with `ProtocolError`. The encoder writes a header from
//! each message's head (a number, BigInt, text or `Int` as `requestID`;
//! missing fields 0 or false) before its body, which it gathers up to
//! [`MAX_BODY`] bytes to learn its length. Upstream drops a message that has
//! no head; here it gets a header of zeros, and an empty body ends its frame
//! at once (upstream waits for, and loses, the next byte).

use crate::head_codec::{self, Gather};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue};
use pipy_codec::dubbo::{encode_header, Decoder, Head as DubboHead};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output};
use pipy_js::api::int::{int64_of, new_int};
use pipy_js::convert;

/// Most bytes of one body `encodeDubbo` gathers.
pub const MAX_BODY: usize = 16 << 20;

fn head_to_js(h: &DubboHead, ctx: &mut Context) -> JsResult<JsValue> {
    let id = new_int("u64", h.request_id.to_string(), ctx)?;
    let a = Attribute::all();
    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("requestID"), id, a)
        .property(js_string!("isRequest"), h.is_request, a)
        .property(js_string!("isTwoWay"), h.is_two_way, a)
        .property(js_string!("isEvent"), h.is_event, a)
        .property(
            js_string!("serializationType"),
            i32::from(h.serialization_type),
            a,
        )
        .property(js_string!("status"), i32::from(h.status), a)
        .build()
        .into())
}

fn head_of(h: &Head, ctx: &mut Context) -> JsResult<DubboHead> {
    let mut head = DubboHead::default();
    let Head::Script(s) = h else {
        return Ok(head);
    };
    let Some(o) = convert::script_value(s).as_object() else {
        return Ok(head);
    };
    let int = |k: &str, ctx: &mut Context| -> JsResult<i64> {
        let v = o.get(js_string!(k), ctx)?;
        int64_of(&v, ctx)
    };
    head.request_id = int("requestID", ctx)? as u64;
    head.serialization_type = int("serializationType", ctx)? as u8;
    head.status = int("status", ctx)? as u8;
    head.is_request = o.get(js_string!("isRequest"), ctx)?.to_boolean();
    head.is_two_way = o.get(js_string!("isTwoWay"), ctx)?.to_boolean();
    head.is_event = o.get(js_string!("isEvent"), ctx)?.to_boolean();
    Ok(head)
}

/// Template of `decodeDubbo`.
pub struct DecodeTemplate;

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        "decodeDubbo"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(head_codec::Decode::<Decoder>::new(
            "decodeDubbo",
            head_to_js,
        ))
    }
}

/// Template of `encodeDubbo`.
pub struct EncodeTemplate;

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        "encodeDubbo"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Encode(Gather::new("encodeDubbo", MAX_BODY)))
    }
}

struct Encode(Gather);

/// A frame: the header from the message's head, then the body.
fn frame(h: &Head, body: &Data, ctx: &mut Context) -> JsResult<Vec<u8>> {
    let head = head_of(h, ctx)?;
    let mut wire = Vec::with_capacity(16 + body.len());
    encode_header(&head, body.len() as u32, &mut wire);
    for c in body.chunks() {
        wire.extend_from_slice(c);
    }
    Ok(wire)
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.0.process(evt, frame, out);
    }
}
