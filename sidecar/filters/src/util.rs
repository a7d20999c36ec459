//! Shared helpers: script callbacks and values that may be functions.

use boa_engine::JsValue;
use pipy_core::{Context, Output, StreamError};
use std::rc::Rc;

/// A script value given to a filter: either a constant or a function called per
/// use with some arguments.
#[derive(Clone)]
pub struct Callback {
    value: JsValue,
    /// Where the filter was declared, for error messages.
    pub origin: &'static str,
}

impl Callback {
    /// Wraps a script value.
    pub fn new(value: JsValue, origin: &'static str) -> Self {
        Self { value, origin }
    }

    /// Whether the value is a function.
    pub fn is_function(&self) -> bool {
        self.value.is_callable()
    }

    /// The raw value.
    pub fn value(&self) -> &JsValue {
        &self.value
    }

    /// Calls the function with `args` (or returns the constant), logging errors
    /// (once, with the script's file:line:column) under the filter's name.
    pub fn eval(&self, args: &[JsValue], ctx: &Rc<Context>) -> Option<JsValue> {
        if !self.value.is_callable() {
            return Some(self.value.clone());
        }
        match pipy_js::call(&self.value, args, ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!("{}: exception in callback: {}", self.origin, e);
                None
            }
        }
    }

    /// [`Callback::eval`] for a filter at work: when the function throws, the
    /// stream ends there with a `RuntimeError` ([`Output::fail`]) and `None` tells
    /// the filter to stop.
    pub fn call(&self, args: &[JsValue], out: &Output<'_>) -> Option<JsValue> {
        let v = self.eval(args, out.context());
        if v.is_none() {
            out.fail(StreamError::RuntimeError);
        }
        v
    }
}

/// Calls `f` with the thread's engine.
pub(crate) fn js<R>(f: impl FnOnce(&mut boa_engine::Context) -> R) -> R {
    pipy_js::with_js(f)
}

/// Header fields of a message head, read and edited in place whatever holds
/// them: a native head, a script's view of one, or a plain script object.
pub(crate) mod headers {
    use super::js;
    use boa_engine::{js_string, JsObject, JsValue};
    use pipy_core::{Head, HeaderMap};
    use pipy_js::api::head::native_of;
    use pipy_js::convert;

    /// Turns a script's view of a native head back into the native head
    /// (with the script's edits), so that it can be edited without the engine.
    fn settle(head: &mut Head) {
        if let Head::Script(s) = head {
            let v = convert::script_value(s);
            if let Ok(Some(n)) = js(|ctx| native_of(&v, ctx)) {
                *head = n.into();
            }
        }
    }

    fn native(head: &mut Head) -> Option<&mut HeaderMap> {
        match head {
            Head::Request(r) => Some(&mut r.headers),
            Head::Response(r) => Some(&mut r.headers),
            _ => None,
        }
    }

    /// A shallow copy of a plain object (its own enumerable properties).
    fn copy(obj: &JsObject, ctx: &mut boa_engine::Context) -> Option<JsObject> {
        let to = boa_engine::object::ObjectInitializer::new(ctx).build();
        for key in obj.own_property_keys(ctx).ok()? {
            let v = obj.get(key.clone(), ctx).ok()?;
            to.set(key, v, false, ctx).ok()?;
        }
        Some(to)
    }

    /// The `headers` object of a plain script head. To edit (`edit`), the
    /// event gets its own copy of the head and of its headers first: a script
    /// often outputs one constant Message for every request, and an edit must
    /// not leak into the next one.
    fn object(head: &mut Head, edit: bool) -> Option<JsObject> {
        let v = match head {
            Head::Script(s) => convert::script_value(s),
            Head::None if edit => js(|ctx| -> JsValue {
                boa_engine::object::ObjectInitializer::new(ctx)
                    .build()
                    .into()
            }),
            _ => return None,
        };
        let obj = v.as_object()?.clone();
        let (obj, headers) = js(|ctx| {
            if !edit {
                let h = obj.get(js_string!("headers"), ctx).ok()?;
                return Some((obj, h.as_object()?.clone()));
            }
            let obj = copy(&obj, ctx)?;
            let h = obj.get(js_string!("headers"), ctx).ok()?;
            let h = match h.as_object() {
                Some(h) => copy(&h, ctx)?,
                None => boa_engine::object::ObjectInitializer::new(ctx).build(),
            };
            obj.set(js_string!("headers"), h.clone(), false, ctx).ok()?;
            Some((obj, h))
        })?;
        if edit {
            *head = convert::script_head(obj.into());
        }
        Some(headers)
    }

    /// The first value of `name` (lower case).
    pub(crate) fn get(head: &mut Head, name: &str) -> Option<String> {
        settle(head);
        if let Some(map) = native(head) {
            return map.get_str(name).map(str::to_owned);
        }
        let h = object(head, false)?;
        js(|ctx| {
            let v = h.get(js_string!(name), ctx).ok()?;
            if v.is_null_or_undefined() {
                return None;
            }
            v.to_string(ctx).ok().map(|s| s.to_std_string_escaped())
        })
    }

    /// Sets `name` (lower case) to `value`, giving a head without fields some.
    pub(crate) fn set(head: &mut Head, name: &str, value: &str) {
        settle(head);
        if let Some(map) = native(head) {
            return map.set(name, bytes::Bytes::copy_from_slice(value.as_bytes()));
        }
        if let Some(h) = object(head, true) {
            js(|ctx| {
                let _ = h.set(js_string!(name), js_string!(value), false, ctx);
            });
        }
    }

    /// Removes `name` (lower case).
    pub(crate) fn remove(head: &mut Head, name: &str) {
        settle(head);
        if let Some(map) = native(head) {
            return map.remove(name);
        }
        if let Some(h) = object(head, false) {
            js(|ctx| {
                let _ = h.delete_property_or_throw(js_string!(name), ctx);
            });
        }
    }
}
