//! `Message`, `MessageStart`, `MessageEnd` and `StreamEnd` in scripts.

use super::data::{new_data, to_bytes};
use super::head::{HeadObject, NativeHead};
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use pipy_core::Head;

/// A whole message: head, body (`Data`) and tail.
#[derive(Trace, Finalize, JsData, Default)]
pub struct MessageObject {
    /// Head object (or undefined).
    pub head: JsValue,
    /// Body as a `Data` object (or undefined).
    pub body: JsValue,
    /// Tail object (or undefined).
    pub tail: JsValue,
    /// Decoded value of the body, for protocols that have one (RESP, ...).
    pub payload: JsValue,
}

/// Start of a message, with its head.
///
/// A callback's `MessageStart` may hold its decoded head natively until a
/// script reads `head` ([`MessageStartObject::lazy`]): building the head
/// object (seven own accessors) and turning it back into a native head for
/// the encoder cost more than an empty callback does otherwise, and many
/// callbacks never look at the head.
#[derive(Trace, Finalize, JsData, Default)]
pub struct MessageStartObject {
    /// Head object (or undefined), once made or set.
    head: JsValue,
    /// The native head not yet made into a script object.
    #[unsafe_ignore_trace]
    pending: Option<NativeHead>,
    /// The head object made from `pending`: what the event carries on once
    /// a script has seen its head (edits to it then reach the encoder).
    made: JsValue,
}

impl MessageStartObject {
    /// A start event with `head` (a script value).
    pub fn new(head: JsValue) -> Self {
        Self {
            head,
            pending: None,
            made: JsValue::undefined(),
        }
    }

    /// A start event over a native head, made a script object when read.
    pub fn lazy(head: NativeHead) -> Self {
        Self {
            head: JsValue::undefined(),
            pending: Some(head),
            made: JsValue::undefined(),
        }
    }

    /// The head as scripts see it, made now if still native.
    pub fn head_of(obj: &JsObject, ctx: &mut Context) -> JsResult<JsValue> {
        HeadObject::prepare(ctx)?;
        Ok(Self::made_head(obj).map_or_else(
            || {
                obj.downcast_ref::<MessageStartObject>()
                    .map(|m| m.head.clone())
                    .unwrap_or_default()
            },
            |(head, _)| head,
        ))
    }

    /// Makes the head object from the native head if not done yet, with no
    /// `Context` (the engine must have made a head object before, as
    /// [`MessageStartObject::lazy`]'s callers have). Gives the head as
    /// scripts see it and the one made from the native head (which the
    /// event carries on), or `None` when `obj` is no lazy `MessageStart`.
    pub fn made_head(obj: &JsObject) -> Option<(JsValue, JsValue)> {
        if !HeadObject::prepared() {
            return None;
        }
        let pending = {
            let mut m = obj.downcast_mut::<MessageStartObject>()?;
            match m.pending.take() {
                Some(p) => p,
                None if m.made.is_undefined() => return None,
                None => return Some((m.head.clone(), m.made.clone())),
            }
        };
        let v = HeadObject::wrap_prepared(pending)?;
        let mut m = obj.downcast_mut::<MessageStartObject>()?;
        m.head = v.clone();
        m.made = v.clone();
        Some((v.clone(), v))
    }

    /// A copy of the native head while no script has read it.
    pub fn pending(&self) -> Option<NativeHead> {
        self.pending.clone()
    }

    /// The head an event made from this object carries: the native one
    /// (copied) while no script has read it, else the script value.
    pub fn event_head(&self) -> Head {
        match &self.pending {
            Some(n) => n.clone().into(),
            None => crate::convert::script_head(self.head.clone()),
        }
    }

    /// Whether a script has read (or set) the head.
    pub fn is_made(&self) -> bool {
        self.pending.is_none()
    }

    /// The head object made from the native head (undefined if none yet).
    pub fn made(&self) -> JsValue {
        self.made.clone()
    }
}

/// End of a message, with its tail and payload.
#[derive(Trace, Finalize, JsData, Default)]
pub struct MessageEndObject {
    /// Tail object (or undefined); a decoded HTTP message's has `headSize` and
    /// `bodySize`.
    pub tail: JsValue,
    /// Decoded payload of protocols that have one (undefined for HTTP); the
    /// event carries it between filters with the tail
    /// ([`crate::convert::end_head`]).
    pub payload: JsValue,
}

/// End of a stream, with an error name.
#[derive(Trace, Finalize, JsData, Default)]
pub struct StreamEndObject {
    /// Error name; empty for a normal end.
    #[unsafe_ignore_trace]
    pub error: String,
}

fn body_value(v: &JsValue, ctx: &mut Context) -> JsResult<JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(JsValue::undefined());
    }
    if super::data::data_of(v).is_some() {
        return Ok(v.clone());
    }
    let d = to_bytes(v, None, ctx)?;
    new_data(d, ctx)
}

/// An argument, with null for one not given (upstream's events and
/// messages have `null`, not `undefined`, where nothing was given).
fn arg_or_null(args: &[JsValue], i: usize) -> JsValue {
    match args.get(i) {
        Some(v) if !v.is_undefined() => v.clone(),
        _ => JsValue::null(),
    }
}

/// `event.type`: the event's class name, as upstream's events have it.
pub(crate) fn type_accessor(class: &mut ClassBuilder<'_>, name: &'static str) {
    let get = NativeFunction::from_copy_closure(move |_, _, _| Ok(js_string!(name).into()))
        .to_js_function(class.context().realm());
    class.accessor(js_string!("type"), Some(get), None, Attribute::CONFIGURABLE);
}

fn is_body_like(v: &JsValue) -> bool {
    v.is_string() || super::data::data_of(v).is_some()
}

/// Declares a read/write accessor for a field of a native class.
macro_rules! field_accessor {
    ($class:expr, $ty:ty, $name:literal, $field:ident) => {{
        let get = NativeFunction::from_fn_ptr(|this, _, _| {
            let o = this
                .as_object()
                .ok_or_else(|| JsNativeError::typ().with_message("bad this"))?;
            let r = o
                .downcast_ref::<$ty>()
                .map(|m| m.$field.clone())
                .unwrap_or_default();
            Ok(r.into())
        })
        .to_js_function($class.context().realm());
        let set = NativeFunction::from_fn_ptr(|this, args, _| {
            let o = this
                .as_object()
                .ok_or_else(|| JsNativeError::typ().with_message("bad this"))?;
            if let Some(mut m) = o.downcast_mut::<$ty>() {
                m.$field = args.first().cloned().unwrap_or_default().into();
            }
            Ok(JsValue::undefined())
        })
        .to_js_function($class.context().realm());
        $class.accessor(
            js_string!($name),
            Some(get),
            Some(set),
            Attribute::CONFIGURABLE,
        );
    }};
}

impl Class for MessageObject {
    const NAME: &'static str = "Message";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let a0 = args.first().cloned().unwrap_or_default();
        // `new Message(body)` when the only argument is text or Data.
        if args.len() == 1 && is_body_like(&a0) {
            return Ok(MessageObject {
                head: JsValue::null(),
                body: body_value(&a0, ctx)?,
                tail: JsValue::null(),
                payload: JsValue::undefined(),
            });
        }
        // As upstream: a second argument that is neither text, Data nor
        // null is the message's payload (a decoded body, as codecs give).
        let a1 = args.get(1).cloned().unwrap_or_default();
        let (body, payload) = if is_body_like(&a1) || a1.is_null_or_undefined() {
            let body = match body_value(&a1, ctx)? {
                b if b.is_undefined() => JsValue::null(),
                b => b,
            };
            (body, JsValue::undefined())
        } else {
            (JsValue::null(), a1)
        };
        Ok(MessageObject {
            head: arg_or_null(args, 0),
            body,
            tail: arg_or_null(args, 2),
            payload,
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        // Upstream's order, which console output follows.
        field_accessor!(class, MessageObject, "head", head);
        field_accessor!(class, MessageObject, "tail", tail);
        field_accessor!(class, MessageObject, "body", body);
        field_accessor!(class, MessageObject, "payload", payload);
        Ok(())
    }
}

impl Class for MessageStartObject {
    const NAME: &'static str = "MessageStart";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Ok(MessageStartObject::new(arg_or_null(args, 0)))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        type_accessor(class, "MessageStart");
        let get = NativeFunction::from_fn_ptr(|this, _, ctx| match this.as_object() {
            Some(o) => MessageStartObject::head_of(&o, ctx),
            None => Err(JsNativeError::typ().with_message("bad this").into()),
        });
        let set = NativeFunction::from_fn_ptr(|this, args, ctx| {
            let o = this
                .as_object()
                .ok_or_else(|| JsNativeError::typ().with_message("bad this"))?;
            // The native head is made first: the event still carries it on.
            MessageStartObject::head_of(&o, ctx)?;
            if let Some(mut m) = o.downcast_mut::<MessageStartObject>() {
                m.head = args.first().cloned().unwrap_or_default();
            }
            Ok(JsValue::undefined())
        });
        let realm = class.context().realm().clone();
        class.accessor(
            js_string!("head"),
            Some(get.to_js_function(&realm)),
            Some(set.to_js_function(&realm)),
            Attribute::CONFIGURABLE,
        );
        Ok(())
    }
}

impl Class for MessageEndObject {
    const NAME: &'static str = "MessageEnd";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Ok(MessageEndObject {
            tail: arg_or_null(args, 0),
            payload: args.get(1).cloned().unwrap_or_default(),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        type_accessor(class, "MessageEnd");
        field_accessor!(class, MessageEndObject, "tail", tail);
        field_accessor!(class, MessageEndObject, "payload", payload);
        Ok(())
    }
}

impl Class for StreamEndObject {
    const NAME: &'static str = "StreamEnd";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let error = match args.first() {
            Some(v) if !v.is_undefined() => v.to_string(ctx)?.to_std_string_escaped(),
            _ => String::new(),
        };
        Ok(StreamEndObject { error })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        type_accessor(class, "StreamEnd");
        let get = NativeFunction::from_fn_ptr(|this, _, _| {
            let o = this
                .as_object()
                .ok_or_else(|| JsNativeError::typ().with_message("bad this"))?;
            let e = o
                .downcast_ref::<StreamEndObject>()
                .map(|m| m.error.clone())
                .unwrap_or_default();
            Ok(if e.is_empty() {
                JsValue::undefined()
            } else {
                js_string!(e).into()
            })
        })
        .to_js_function(class.context().realm());
        class.accessor(
            js_string!("error"),
            Some(get),
            None,
            Attribute::CONFIGURABLE,
        );
        Ok(())
    }
}
