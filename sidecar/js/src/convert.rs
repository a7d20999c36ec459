//! Conversions between engine events and script values.

use crate::api::data::{data_of, new_data, to_bytes};
use crate::api::head::{headers_from_object, native_of, HeadObject, NativeHead};
use crate::api::message::{MessageEndObject, MessageObject, MessageStartObject, StreamEndObject};
use boa_engine::builtins::object::OrdinaryObject;
use boa_engine::class::Class;
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::{js_string, Context, JsObject, JsResult, JsValue};
use pipy_core::{
    Data, Event, Head, HeaderMap, MessageTail, RequestHead, ResponseHead, ScriptHead, StreamError,
    Version,
};
use std::rc::Rc;

/// A new plain object (`{}`), sharing its shape with every object given
/// the same keys in the same order, as an object literal's is. Boa's
/// `JsObject::with_object_proto` and `ObjectInitializer::new` give each
/// object a shape of its own instead: dearer to make, and property reads
/// on it miss the interpreter's inline caches. Objects made per message use
/// this.
pub fn new_object(ctx: &Context) -> JsObject {
    JsObject::new(
        ctx.root_shape(),
        ctx.intrinsics().constructors().object().prototype(),
        OrdinaryObject,
    )
    .upcast()
}

/// [`ObjectInitializer`] over a [`new_object`]-like object (shared shape).
pub fn object_initializer(ctx: &mut Context) -> ObjectInitializer<'_> {
    ObjectInitializer::with_native_data(OrdinaryObject, ctx)
}

/// Wraps a script object as an event head.
pub fn script_head(v: JsValue) -> Head {
    if v.is_undefined() || v.is_null() {
        return Head::None;
    }
    Head::Script(ScriptHead(Rc::new(v)))
}

/// A message head that a callback's `MessageStart` object still holds
/// (natively until a script reads it; see [`start_to_js_lazy`]). The event
/// and the object share it, so the head a script reads from either, early or
/// late, is one object, as upstream's.
pub struct LazyStart(JsObject);

impl LazyStart {
    /// A copy of the native head while no script has read it.
    fn pending(&self) -> Option<NativeHead> {
        self.0
            .downcast_ref::<MessageStartObject>()
            .and_then(|m| m.pending())
    }
}

/// The script object inside a script head (a tail, for a `MessageEnd` that
/// also carries a payload).
pub fn script_value(h: &ScriptHead) -> JsValue {
    if let Some(v) = h.0.downcast_ref::<JsValue>() {
        return v.clone();
    }
    if let Some(l) = h.0.downcast_ref::<LazyStart>() {
        return MessageStartObject::made_head(&l.0)
            .map(|(_, made)| made)
            .unwrap_or_default();
    }
    h.0.downcast_ref::<EndPayload>()
        .map(|e| e.tail.clone())
        .unwrap_or_default()
}

/// What a `MessageEnd` with a decoded payload carries between filters.
pub struct EndPayload {
    /// The tail object (or undefined).
    pub tail: JsValue,
    /// The payload.
    pub payload: JsValue,
}

/// The head of a `MessageEnd` with `tail` and `payload` (the payload left out
/// when undefined).
pub fn end_head(tail: JsValue, payload: JsValue) -> Head {
    if payload.is_undefined() {
        return script_head(tail);
    }
    Head::Script(ScriptHead(Rc::new(EndPayload { tail, payload })))
}

/// The payload a `MessageEnd` carries (undefined when none).
pub fn payload_of(h: &Head) -> JsValue {
    match h {
        Head::Script(s) => {
            s.0.downcast_ref::<EndPayload>()
                .map(|e| e.payload.clone())
                .unwrap_or_default()
        }
        _ => JsValue::undefined(),
    }
}

/// A script object for a head: native heads get a lazy head object; script
/// heads are returned as they are.
pub fn head_to_js(head: &Head, ctx: &mut Context) -> JsResult<JsValue> {
    match head {
        Head::None => Ok(JsValue::undefined()),
        Head::Script(s) => Ok(script_value(s)),
        Head::Request(r) => HeadObject::wrap(NativeHead::Request(r.clone()), ctx),
        Head::Response(r) => HeadObject::wrap(NativeHead::Response(r.clone()), ctx),
        Head::Tail(t) => tail_to_js(*t, ctx),
        Head::Trailers(h) => {
            let headers = object_initializer(ctx).build();
            for (n, v) in h.iter() {
                headers.set(
                    js_string!(String::from_utf8_lossy(n).to_ascii_lowercase()),
                    js_string!(String::from_utf8_lossy(v).into_owned()),
                    false,
                    ctx,
                )?;
            }
            let o = object_initializer(ctx)
                .property(
                    js_string!("headers"),
                    headers,
                    boa_engine::property::Attribute::all(),
                )
                .property(
                    js_string!("headSize"),
                    0,
                    boa_engine::property::Attribute::all(),
                )
                .property(
                    js_string!("bodySize"),
                    0,
                    boa_engine::property::Attribute::all(),
                )
                .build();
            Ok(o.into())
        }
    }
}

/// A decoded message's tail as scripts see it, like upstream's `MessageTail`:
/// `headers` (trailers; `null`, as they are not kept), `headSize`, `bodySize`.
fn tail_to_js(t: MessageTail, ctx: &mut Context) -> JsResult<JsValue> {
    let o = object_initializer(ctx)
        .property(
            js_string!("headers"),
            JsValue::null(),
            boa_engine::property::Attribute::all(),
        )
        .property(
            js_string!("headSize"),
            t.head_size as f64,
            boa_engine::property::Attribute::all(),
        )
        .property(
            js_string!("bodySize"),
            t.body_size as f64,
            boa_engine::property::Attribute::all(),
        )
        .build();
    Ok(o.into())
}

/// The standard reason phrase of a status (empty when unknown).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    pipy_codec::http1::reason_phrase(status).unwrap_or("")
}

fn get_str(obj: &JsObject, key: &str, ctx: &mut Context) -> JsResult<Option<String>> {
    let v = obj.get(js_string!(key), ctx)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    Ok(Some(v.to_string(ctx)?.to_std_string_escaped()))
}

fn headers_from_js(obj: &JsObject, ctx: &mut Context) -> JsResult<HeaderMap> {
    match obj.get(js_string!("headers"), ctx)?.as_object() {
        Some(h) => headers_from_object(&h, ctx),
        None => Ok(HeaderMap::new()),
    }
}

fn version_of(obj: &JsObject, ctx: &mut Context) -> JsResult<Version> {
    Ok(match get_str(obj, "protocol", ctx)?.as_deref() {
        Some("HTTP/1.0") => Version::Http10,
        Some("HTTP/2") | Some("HTTP/2.0") => Version::Http2,
        _ => Version::Http11,
    })
}

/// A native request head from any head (defaults: `GET /`).
pub fn request_head(head: &Head, ctx: &mut Context) -> JsResult<RequestHead> {
    if let Head::Script(s) = head {
        if let Some(NativeHead::Request(r)) =
            s.0.downcast_ref::<LazyStart>().and_then(LazyStart::pending)
        {
            return Ok(*r);
        }
        if let Some(NativeHead::Request(r)) = native_of(&script_value(s), ctx)? {
            return Ok(*r);
        }
    }
    match head {
        Head::Request(r) => Ok((**r).clone()),
        Head::Script(s) => match script_value(s).as_object() {
            Some(o) => Ok(RequestHead {
                method: get_str(&o, "method", ctx)?.unwrap_or_else(|| "GET".into()),
                path: get_str(&o, "path", ctx)?.unwrap_or_else(|| "/".into()),
                version: version_of(&o, ctx)?,
                headers: headers_from_js(&o, ctx)?,
            }),
            None => Ok(default_request()),
        },
        _ => Ok(default_request()),
    }
}

fn default_request() -> RequestHead {
    RequestHead {
        method: "GET".into(),
        path: "/".into(),
        ..Default::default()
    }
}

/// A native response head from any head (default: `200`).
pub fn response_head(head: &Head, ctx: &mut Context) -> JsResult<ResponseHead> {
    if let Head::Script(s) = head {
        if let Some(NativeHead::Response(r)) =
            s.0.downcast_ref::<LazyStart>().and_then(LazyStart::pending)
        {
            return Ok(*r);
        }
        if let Some(NativeHead::Response(r)) = native_of(&script_value(s), ctx)? {
            return Ok(*r);
        }
    }
    match head {
        Head::Response(r) => Ok((**r).clone()),
        Head::Script(s) => match script_value(s).as_object() {
            Some(o) => {
                let status = o.get(js_string!("status"), ctx)?;
                let status = if status.is_undefined() {
                    200
                } else {
                    status.to_u32(ctx)? as u16
                };
                Ok(ResponseHead {
                    status,
                    status_text: get_str(&o, "statusText", ctx)?.unwrap_or_default(),
                    version: version_of(&o, ctx)?,
                    headers: headers_from_js(&o, ctx)?,
                })
            }
            None => Ok(ResponseHead::default()),
        },
        _ => Ok(ResponseHead::default()),
    }
}

/// A script object for an event. A native head is converted and the event's head
/// replaced by the script object, so later callbacks and edits share it.
pub fn event_to_js(evt: &mut Event, ctx: &mut Context) -> JsResult<JsValue> {
    match evt {
        Event::Data(d) => new_data(d.clone(), ctx),
        Event::MessageStart(h) => {
            let head = touch_head(h, ctx)?;
            Ok(MessageStartObject::from_data(MessageStartObject::new(head), ctx)?.into())
        }
        Event::MessageEnd(t) => {
            let payload = payload_of(t);
            let tail = touch_head(t, ctx)?;
            let end = MessageEndObject { tail, payload };
            Ok(MessageEndObject::from_data(end, ctx)?.into())
        }
        Event::StreamEnd(e) => Ok(StreamEndObject::from_data(
            StreamEndObject {
                error: e.name().to_string(),
            },
            ctx,
        )?
        .into()),
    }
}

/// A script object for an event, for a callback that hands it to a script
/// and then passes the event on: a native message head moves into the
/// `MessageStart` object and is made a script object only if a script reads
/// it (building one and turning it back into a native head for the encoder
/// cost more than the rest of an empty callback). Give the event its head
/// back with [`settle_lazy`] after the call. Other events are as
/// [`event_to_js`] makes them.
pub fn start_to_js_lazy(evt: &mut Event, ctx: &mut Context) -> JsResult<JsValue> {
    if let Event::MessageStart(h) = evt {
        let native = match std::mem::take(h) {
            Head::Request(r) => NativeHead::Request(r),
            Head::Response(r) => NativeHead::Response(r),
            other => {
                *h = other;
                return event_to_js(evt, ctx);
            }
        };
        // Heads can then be made where no Context is at hand.
        HeadObject::prepare(ctx)?;
        return Ok(MessageStartObject::from_data(MessageStartObject::lazy(native), ctx)?.into());
    }
    event_to_js(evt, ctx)
}

/// Gives an event handed to [`start_to_js_lazy`] its head back: the head
/// object if the script read it, else a head shared with the object, still
/// native (see [`LazyStart`]).
pub fn settle_lazy(evt: &mut Event, arg: &JsValue) {
    let Event::MessageStart(h @ Head::None) = evt else {
        return;
    };
    let Some(obj) = arg.as_object() else {
        return;
    };
    let made = match obj.downcast_ref::<MessageStartObject>() {
        Some(m) if m.is_made() => m.made(),
        Some(_) => JsValue::undefined(),
        None => return,
    };
    *h = if made.is_undefined() {
        Head::Script(ScriptHead(Rc::new(LazyStart(obj.clone()))))
    } else {
        script_head(made)
    };
}

/// Turns a head into a script object in place and returns it.
pub fn touch_head(h: &mut Head, ctx: &mut Context) -> JsResult<JsValue> {
    // The native head moves into the script object: nothing is copied.
    let v = match std::mem::take(h) {
        Head::Request(r) => HeadObject::wrap(NativeHead::Request(r), ctx)?,
        Head::Response(r) => HeadObject::wrap(NativeHead::Response(r), ctx)?,
        Head::Tail(t) => tail_to_js(t, ctx)?,
        other => {
            *h = other;
            return head_to_js(h, ctx);
        }
    };
    *h = script_head(v.clone());
    Ok(v)
}

/// A script `Message` from a head and a body.
pub fn message_to_js(
    head: &mut Head,
    body: Data,
    tail: &mut Head,
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let head = touch_head(head, ctx)?;
    let payload = payload_of(tail);
    let tail = touch_head(tail, ctx)?;
    let body = new_data(body, ctx)?;
    Ok(MessageObject::from_data(
        MessageObject {
            head,
            body,
            tail,
            payload,
        },
        ctx,
    )?
    .into())
}

/// Whether a script value is an event, a Message, or an array: what a
/// callback returns to have events output (other values mean nothing).
pub fn is_event_value(v: &JsValue) -> bool {
    let Some(obj) = v.as_object() else {
        return false;
    };
    obj.is_array()
        || data_of(v).is_some()
        || obj.downcast_ref::<MessageObject>().is_some()
        || obj.downcast_ref::<MessageStartObject>().is_some()
        || obj.downcast_ref::<MessageEndObject>().is_some()
        || obj.downcast_ref::<StreamEndObject>().is_some()
}

/// Appends the events a script value stands for: a `Message` (start, body, end),
/// an event object, `Data` or a string (data), an array of those, or nothing for
/// `undefined`/`null`.
pub fn js_to_events(v: &JsValue, ctx: &mut Context, out: &mut Vec<Event>) -> JsResult<()> {
    if v.is_undefined() || v.is_null() {
        return Ok(());
    }
    if let Some(d) = data_of(v) {
        out.push(Event::Data(d));
        return Ok(());
    }
    let Some(obj) = v.as_object() else {
        let d = to_bytes(v, None, ctx)?;
        out.push(Event::Data(d));
        return Ok(());
    };
    if let Some(m) = obj.downcast_ref::<MessageObject>() {
        out.push(Event::MessageStart(script_head(m.head.clone())));
        if let Some(d) = data_of(&m.body) {
            if !d.is_empty() {
                out.push(Event::Data(d));
            }
        }
        out.push(Event::MessageEnd(end_head(
            m.tail.clone(),
            m.payload.clone(),
        )));
        return Ok(());
    }
    if let Some(m) = obj.downcast_ref::<MessageStartObject>() {
        out.push(Event::MessageStart(m.event_head()));
        return Ok(());
    }
    if let Some(m) = obj.downcast_ref::<MessageEndObject>() {
        out.push(Event::MessageEnd(end_head(
            m.tail.clone(),
            m.payload.clone(),
        )));
        return Ok(());
    }
    if let Some(m) = obj.downcast_ref::<StreamEndObject>() {
        out.push(Event::StreamEnd(StreamError::from_name(&m.error)));
        return Ok(());
    }
    if obj.is_array() {
        let arr = JsArray::from_object(obj.clone())?;
        for i in 0..arr.length(ctx)? {
            let item = arr.get(i, ctx)?;
            js_to_events(&item, ctx, out)?;
        }
        return Ok(());
    }
    let d = to_bytes(v, None, ctx)?;
    out.push(Event::Data(d));
    Ok(())
}

/// Whether a value is a script `Message`.
pub fn is_message(v: &JsValue) -> bool {
    v.as_object().is_some_and(|o| o.is::<MessageObject>())
}

/// `JSON.stringify(value)` as scripts see it (`None` for values JSON cannot
/// represent, such as functions and `undefined`).
pub fn to_json_text(v: &JsValue, ctx: &mut Context) -> Option<String> {
    let json = ctx.global_object().get(js_string!("JSON"), ctx).ok()?;
    let stringify = json.as_object()?.get(js_string!("stringify"), ctx).ok()?;
    let s = stringify
        .as_callable()?
        .call(&json, std::slice::from_ref(v), ctx)
        .ok()?;
    if s.is_undefined() {
        return None;
    }
    Some(s.to_string(ctx).ok()?.to_std_string_escaped())
}

/// The elements of a script array, in order (`None` when `v` is not one).
pub fn array_values(v: &JsValue, ctx: &mut Context) -> JsResult<Option<Vec<JsValue>>> {
    let Some(o) = v.as_object().filter(|o| o.is_array()) else {
        return Ok(None);
    };
    let a = boa_engine::object::builtins::JsArray::from_object(o.clone())?;
    let mut out = Vec::new();
    for i in 0..a.length(ctx)? {
        out.push(a.get(i, ctx)?);
    }
    Ok(Some(out))
}

/// The text of argument `i` (`undefined` as `"undefined"`, as `String()`).
pub fn arg_text(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<String> {
    Ok(args
        .get(i)
        .cloned()
        .unwrap_or_default()
        .to_string(ctx)?
        .to_std_string_escaped())
}

/// Gives `object` an own property `name` that enumerations skip (a method
/// bound to the object, say).
pub fn define_hidden(
    object: &JsObject,
    name: &str,
    value: impl Into<JsValue>,
    ctx: &mut Context,
) -> JsResult<()> {
    object.define_property_or_throw(
        js_string!(name),
        boa_engine::property::PropertyDescriptor::builder()
            .value(value)
            .writable(true)
            .enumerable(false)
            .configurable(true),
        ctx,
    )?;
    Ok(())
}
