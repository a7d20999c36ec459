//! HTTP message heads as scripts see them, built lazily.
//!
//! A decoded head stays native; a script that touches `msg.head` gets a small
//! object whose fields (`method`, `path`, `protocol`, `status`, `statusText`,
//! `headers`) are accessors over the native head. Strings are made only for
//! the fields read, the `headers` object only when asked for. Turning the head
//! back into a native one (to encode it) copies nothing a script did not touch.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use bytes::Bytes;
use pipy_core::{HeaderMap, RequestHead, ResponseHead, Version};

/// The native head behind a script head object.
#[derive(Clone)]
pub enum NativeHead {
    /// A request head.
    Request(Box<RequestHead>),
    /// A response head.
    Response(Box<ResponseHead>),
}

/// The Rust side of a script head object.
#[derive(Trace, Finalize, JsData)]
pub struct HeadObject {
    #[unsafe_ignore_trace]
    native: NativeHead,
    /// The `headers` object, once a script asked for it (or set one).
    headers: Option<JsObject>,
}

impl HeadObject {
    /// A script object over a native head.
    pub fn wrap(native: NativeHead, ctx: &mut Context) -> JsResult<JsValue> {
        Ok(HeadObject::from_data(
            HeadObject {
                native,
                headers: None,
            },
            ctx,
        )?
        .into())
    }
}

/// The native head of a script head object, with the script's header edits.
/// `None` when `v` is not a head object made here.
pub fn native_of(v: &JsValue, ctx: &mut Context) -> JsResult<Option<NativeHead>> {
    let Some(o) = v.as_object() else {
        return Ok(None);
    };
    let (mut native, headers) = match o.downcast_ref::<HeadObject>() {
        Some(h) => (h.native.clone(), h.headers.clone()),
        None => return Ok(None),
    };
    if let Some(h) = headers {
        let map = match &mut native {
            NativeHead::Request(r) => &mut r.headers,
            NativeHead::Response(r) => &mut r.headers,
        };
        if !headers_unchanged(map, &h, ctx)? {
            *map = headers_from_object(&h, ctx)?;
        }
    }
    Ok(Some(native))
}

/// Whether a headers object still holds exactly the native fields (the common
/// case of a script that only read them), checked without allocating.
fn headers_unchanged(map: &HeaderMap, obj: &JsObject, ctx: &mut Context) -> JsResult<bool> {
    let keys = obj.own_property_keys(ctx)?;
    let mut names = 0;
    for (i, (name, value)) in map.iter().enumerate() {
        // Repeated names became arrays: let the full conversion handle them.
        if map
            .iter()
            .take(i)
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            return Ok(false);
        }
        names += 1;
        let key = js_string!(String::from_utf8_lossy(name).to_ascii_lowercase().as_str());
        let v = obj.get(key, ctx)?;
        let Some(s) = v.as_string() else {
            return Ok(false);
        };
        if s.to_std_string_escaped().as_bytes() != value.as_ref() {
            return Ok(false);
        }
    }
    Ok(keys.len() == names)
}

/// Header fields from a plain object (`{name: value | [values]}`).
pub fn headers_from_object(h: &JsObject, ctx: &mut Context) -> JsResult<HeaderMap> {
    let mut map = HeaderMap::new();
    for key in h.own_property_keys(ctx)? {
        let name = key.to_string();
        let value = h.get(key, ctx)?;
        if value.is_undefined() || value.is_null() {
            continue;
        }
        if let Some(arr) = value.as_object().filter(|o| o.is_array()) {
            let arr = JsArray::from_object(arr.clone())?;
            for i in 0..arr.length(ctx)? {
                let s = arr.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped();
                map.append(Bytes::from(name.clone()), Bytes::from(s));
            }
        } else {
            let s = value.to_string(ctx)?.to_std_string_escaped();
            map.append(Bytes::from(name), Bytes::from(s));
        }
    }
    Ok(map)
}

/// A plain object of header fields: lower-case names, repeated ones as arrays.
pub fn headers_to_object(h: &HeaderMap, ctx: &mut Context) -> JsResult<JsObject> {
    let obj = JsObject::with_object_proto(ctx.intrinsics());
    for (name, value) in h.iter() {
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let val = js_string!(String::from_utf8_lossy(value).as_ref());
        let k = js_string!(key.as_str());
        let prev = obj.get(k.clone(), ctx)?;
        if prev.is_undefined() {
            obj.set(k, val, false, ctx)?;
        } else if let Some(arr) = prev.as_object().filter(|o| o.is_array()) {
            JsArray::from_object(arr.clone())?.push(val, ctx)?;
        } else {
            let arr = JsArray::from_iter([prev, val.into()], ctx);
            obj.set(k, arr, false, ctx)?;
        }
    }
    Ok(obj)
}

fn this_head(this: &JsValue) -> JsResult<JsObject> {
    this.as_object()
        .filter(|o| o.is::<HeadObject>())
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message("not a message head")
                .into()
        })
}

fn version_text(v: Version) -> &'static str {
    v.as_str()
}

fn read(this: &JsValue, field: &str, ctx: &mut Context) -> JsResult<JsValue> {
    let o = this_head(this)?;
    if field == "headers" {
        if let Some(h) = o
            .downcast_ref::<HeadObject>()
            .and_then(|h| h.headers.clone())
        {
            return Ok(h.into());
        }
        let map = match &o.downcast_ref::<HeadObject>().expect("checked").native {
            NativeHead::Request(r) => r.headers.clone(),
            NativeHead::Response(r) => r.headers.clone(),
        };
        let h = headers_to_object(&map, ctx)?;
        if let Some(mut head) = o.downcast_mut::<HeadObject>() {
            head.headers = Some(h.clone());
        }
        return Ok(h.into());
    }
    let head = o.downcast_ref::<HeadObject>().expect("checked");
    Ok(match (&head.native, field) {
        (NativeHead::Request(r), "method") => js_string!(r.method.as_str()).into(),
        (NativeHead::Request(r), "path") => js_string!(r.path.as_str()).into(),
        (NativeHead::Request(r), "protocol") => js_string!(version_text(r.version)).into(),
        (NativeHead::Response(r), "status") => JsValue::from(r.status as i32),
        (NativeHead::Response(r), "statusText") => {
            let t = if r.status_text.is_empty() {
                crate::convert::reason_phrase(r.status)
            } else {
                r.status_text.as_str()
            };
            js_string!(t).into()
        }
        (NativeHead::Response(r), "protocol") => js_string!(version_text(r.version)).into(),
        _ => JsValue::undefined(),
    })
}

fn write(this: &JsValue, field: &str, v: &JsValue, ctx: &mut Context) -> JsResult<()> {
    let o = this_head(this)?;
    if field == "headers" {
        let h = v
            .as_object()
            .unwrap_or_else(|| JsObject::with_object_proto(ctx.intrinsics()));
        if let Some(mut head) = o.downcast_mut::<HeadObject>() {
            head.headers = Some(h);
        }
        return Ok(());
    }
    let text = if field == "status" {
        String::new()
    } else {
        v.to_string(ctx)?.to_std_string_escaped()
    };
    let status = if field == "status" {
        v.to_u32(ctx)? as u16
    } else {
        0
    };
    let mut head = o.downcast_mut::<HeadObject>().expect("checked");
    match (&mut head.native, field) {
        (NativeHead::Request(r), "method") => r.method = text,
        (NativeHead::Request(r), "path") => r.path = text,
        (NativeHead::Request(r), "protocol") => {
            r.version = if text == "HTTP/1.0" {
                Version::Http10
            } else {
                Version::Http11
            }
        }
        (NativeHead::Response(r), "status") => r.status = status,
        (NativeHead::Response(r), "statusText") => r.status_text = text,
        (NativeHead::Response(r), "protocol") => {
            r.version = if text == "HTTP/1.0" {
                Version::Http10
            } else {
                Version::Http11
            }
        }
        _ => {}
    }
    Ok(())
}

/// Read/write accessor for one field.
macro_rules! field {
    ($class:expr, $name:literal) => {{
        let get = NativeFunction::from_fn_ptr(|this, _, ctx| read(this, $name, ctx))
            .to_js_function($class.context().realm());
        let set = NativeFunction::from_fn_ptr(|this, args, ctx| {
            write(this, $name, &args.first().cloned().unwrap_or_default(), ctx)?;
            Ok(JsValue::undefined())
        })
        .to_js_function($class.context().realm());
        $class.accessor(
            js_string!($name),
            Some(get),
            Some(set),
            Attribute::CONFIGURABLE | Attribute::ENUMERABLE,
        );
    }};
}

impl Class for HeadObject {
    const NAME: &'static str = "HttpHead";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(JsNativeError::typ()
            .with_message("heads come from messages")
            .into())
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        field!(class, "method");
        field!(class, "path");
        field!(class, "protocol");
        field!(class, "status");
        field!(class, "statusText");
        field!(class, "headers");
        // JSON.stringify sees accessors on the prototype as nothing: give it the
        // fields of the head's kind.
        class.method(
            js_string!("toJSON"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let o = this_head(this)?;
                let is_request = matches!(
                    o.downcast_ref::<HeadObject>().expect("checked").native,
                    NativeHead::Request(_)
                );
                let fields: &[&str] = if is_request {
                    &["protocol", "method", "path", "headers"]
                } else {
                    &["protocol", "status", "statusText", "headers"]
                };
                let out = JsObject::with_object_proto(ctx.intrinsics());
                for f in fields {
                    let v = read(this, f, ctx)?;
                    out.set(js_string!(*f), v, false, ctx)?;
                }
                Ok(out.into())
            }),
        );
        Ok(())
    }
}
