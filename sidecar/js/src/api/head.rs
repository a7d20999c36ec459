//! HTTP message heads as scripts see them, built lazily.
//!
//! A decoded head stays native; a script that touches `msg.head` gets a small
//! object whose fields (`protocol`, `headers`, `headerNames`, then `method`,
//! `scheme`, `authority`, `path` or `status`, `statusText`, in upstream's
//! order) are its own enumerable accessors over the native head. Strings are
//! made only for the fields read, the `headers` object only when asked for. Turning the head
//! back into a native one (to encode it) copies nothing a script did not touch.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::shape::RootShape;
use boa_engine::property::{PropertyDescriptor, PropertyKey};
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsString, JsValue,
    NativeFunction,
};
use boa_gc::{Finalize, Trace};
use bytes::Bytes;
use pipy_core::{Head, HeaderMap, RequestHead, ResponseHead, Version};

/// The native head behind a script head object.
#[derive(Clone)]
pub enum NativeHead {
    /// A request head.
    Request(Box<RequestHead>),
    /// A response head.
    Response(Box<ResponseHead>),
}

impl From<NativeHead> for Head {
    fn from(n: NativeHead) -> Head {
        match n {
            NativeHead::Request(r) => Head::Request(r),
            NativeHead::Response(r) => Head::Response(r),
        }
    }
}

/// The Rust side of a script head object.
#[derive(Trace, Finalize, JsData)]
pub struct HeadObject {
    #[unsafe_ignore_trace]
    native: NativeHead,
    /// The `headers` object, once a script asked for it (or set one).
    headers: Option<JsObject>,
    /// What that object held when made here from the native head: each own
    /// property's key and value, in order (`[key, value, key, value, …]`).
    /// Empty once a script set an object of its own. Lets [`native_of`] tell
    /// an object only read from one changed without converting any string.
    #[unsafe_ignore_trace]
    made: std::rc::Rc<[JsValue]>,
}

/// The fields a head object has as its own, in upstream's order (which
/// `Object.keys`, `JSON.stringify` and console output follow).
const REQUEST_FIELDS: &[&str] = &[
    "protocol",
    "headers",
    "headerNames",
    "method",
    "scheme",
    "authority",
    "path",
];
const RESPONSE_FIELDS: &[&str] = &["protocol", "headers", "headerNames", "status", "statusText"];

/// A field's key and its getter and setter (none for `scheme` and `authority`,
/// HTTP/2's, which are plain data here).
type Accessor = (&'static str, PropertyKey, Option<(JsObject, JsObject)>);

/// What making a head object takes, kept per engine: each field's key,
/// getter and setter (a head object is made per message, so its fields cost
/// no allocation), the class prototype and the engine's root shape. With
/// these a head object can be made where no `Context` is at hand (a lazy
/// `MessageStart`'s head, asked for by code holding only the event).
struct Making {
    accessors: Vec<Accessor>,
    prototype: JsObject,
    root: RootShape,
}

thread_local! {
    static MAKING: std::cell::RefCell<Option<Making>> = const { std::cell::RefCell::new(None) };
}

/// Forgets what the engine being replaced made.
pub(crate) fn reset_thread() {
    MAKING.with(|a| *a.borrow_mut() = None);
    NAMES.with(|n| n.borrow_mut().clear());
}

fn make_accessors(ctx: &mut Context) -> Vec<Accessor> {
    let mut made: Vec<Accessor> = Vec::new();
    for field in REQUEST_FIELDS.iter().chain(RESPONSE_FIELDS).copied() {
        if made.iter().any(|(f, _, _)| *f == field) {
            continue;
        }
        let pair = (field != "scheme" && field != "authority").then(|| {
            let get = NativeFunction::from_copy_closure(move |this, _, ctx| read(this, field, ctx))
                .to_js_function(ctx.realm());
            let set = NativeFunction::from_copy_closure(move |this, args, ctx| {
                write(this, field, &args.first().cloned().unwrap_or_default(), ctx)?;
                Ok(JsValue::undefined())
            })
            .to_js_function(ctx.realm());
            (JsObject::from(get), JsObject::from(set))
        });
        made.push((field, PropertyKey::from(js_string!(field)), pair));
    }
    made
}

impl HeadObject {
    /// A script object over a native head. Its fields are its own enumerable
    /// properties, as upstream's (so `Object.keys`, `Object.assign` and
    /// spreading see them), read and written through to the native head.
    pub fn wrap(native: NativeHead, ctx: &mut Context) -> JsResult<JsValue> {
        Self::prepare(ctx)?;
        Self::wrap_prepared(native).ok_or_else(|| {
            JsNativeError::typ()
                .with_message("message heads not set up")
                .into()
        })
    }

    /// Makes what [`HeadObject::wrap_prepared`] needs, once per engine.
    pub(crate) fn prepare(ctx: &mut Context) -> JsResult<()> {
        if MAKING.with(|m| m.borrow().is_some()) {
            return Ok(());
        }
        let prototype = ctx
            .get_global_class::<HeadObject>()
            .ok_or_else(|| JsNativeError::typ().with_message("class HttpHead not registered"))?
            .prototype();
        let making = Making {
            accessors: make_accessors(ctx),
            prototype,
            root: ctx.root_shape().clone(),
        };
        MAKING.with(|m| *m.borrow_mut() = Some(making));
        Ok(())
    }

    /// Whether [`HeadObject::prepare`] ran on this engine.
    pub(crate) fn prepared() -> bool {
        MAKING.with(|m| m.borrow().is_some())
    }

    /// [`HeadObject::wrap`] without a `Context`, once [`HeadObject::prepare`]
    /// ran on this engine (`None` before).
    pub(crate) fn wrap_prepared(native: NativeHead) -> Option<JsValue> {
        let fields = match native {
            NativeHead::Request(_) => REQUEST_FIELDS,
            NativeHead::Response(_) => RESPONSE_FIELDS,
        };
        MAKING.with(|m| {
            let m = m.borrow();
            let m = m.as_ref()?;
            let data = HeadObject {
                native,
                headers: None,
                made: std::rc::Rc::from([]),
            };
            let object = JsObject::new(&m.root, m.prototype.clone(), data).upcast();
            for field in fields {
                let Some((_, key, pair)) = m.accessors.iter().find(|(f, _, _)| f == field) else {
                    continue;
                };
                let desc = match pair {
                    Some((get, set)) => PropertyDescriptor::builder()
                        .get(get.clone())
                        .set(set.clone())
                        .enumerable(true)
                        .configurable(true)
                        .build(),
                    None => PropertyDescriptor::builder()
                        .value(JsValue::undefined())
                        .writable(true)
                        .enumerable(true)
                        .configurable(true)
                        .build(),
                };
                // A fresh object of our own class: nothing to validate against.
                object.insert_property(key.clone(), desc);
            }
            Some(object.into())
        })
    }
}

/// `headerNames`: the names whose case the wire had other than lower case,
/// by their lower-case form (`{ "user-agent": "User-Agent" }`).
fn header_names(map: &HeaderMap, ctx: &mut Context) -> JsResult<JsObject> {
    let obj = crate::convert::new_object(ctx);
    for (name, _) in map.iter() {
        let original = String::from_utf8_lossy(name);
        let lower = original.to_ascii_lowercase();
        if lower != original {
            obj.set(
                js_string!(lower.as_str()),
                js_string!(original.as_ref()),
                false,
                ctx,
            )?;
        }
    }
    Ok(obj)
}

/// The native head of a script head object, with the script's header edits.
/// `None` when `v` is not a head object made here.
pub fn native_of(v: &JsValue, ctx: &mut Context) -> JsResult<Option<NativeHead>> {
    let Some(o) = v.as_object() else {
        return Ok(None);
    };
    let (mut native, headers, made) = match o.downcast_ref::<HeadObject>() {
        Some(h) => (h.native.clone(), h.headers.clone(), h.made.clone()),
        None => return Ok(None),
    };
    if let Some(h) = headers {
        if made.is_empty() || !unchanged(&h, &made, ctx)? {
            let map = match &mut native {
                NativeHead::Request(r) => &mut r.headers,
                NativeHead::Response(r) => &mut r.headers,
            };
            let edited = headers_from_object(&h, ctx)?;
            *map = with_names_of(edited, map);
        }
    }
    Ok(Some(native))
}

/// `edited` with each name that `original` had spelled as `original` spelled
/// it: a script sees lower-case names, and what it did not rename keeps the
/// wire's case (upstream's `headerNames` still lists them after an edit).
fn with_names_of(edited: HeaderMap, original: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in edited.iter() {
        let name = original
            .iter()
            .map(|(n, _)| n)
            .find(|n| n.eq_ignore_ascii_case(name))
            .unwrap_or(name);
        out.append(Bytes::copy_from_slice(name), value.clone());
    }
    out
}

/// Whether `obj` still holds exactly the keys and values it was made with
/// (`made`, as [`HeadObject::made`]): the same keys in the same order, the
/// same strings. An array (a repeated header) counts as changed, since a
/// script may have pushed to it.
fn unchanged(obj: &JsObject, made: &[JsValue], ctx: &mut Context) -> JsResult<bool> {
    let keys = obj.own_property_keys(ctx)?;
    if keys.len() * 2 != made.len() {
        return Ok(false);
    }
    for (key, pair) in keys.into_iter().zip(made.chunks_exact(2)) {
        let same_key = match (&key, pair[0].as_string()) {
            (PropertyKey::String(k), Some(m)) => *k == m,
            _ => false,
        };
        if !same_key {
            return Ok(false);
        }
        let value = obj.get(key, ctx)?;
        if !value.is_string() || !value.strict_equals(&pair[1]) {
            return Ok(false);
        }
    }
    Ok(true)
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
    let fields = header_fields(h);
    headers_object(fields, ctx).map(|(obj, _)| obj)
}

/// How many header names [`name_string`] keeps made.
const NAME_CACHE: usize = 64;

thread_local! {
    /// Lower-case header names made into script strings lately: most
    /// requests carry the same few names, and a name's string is then a
    /// reference count, not an allocation (nor a lower-casing).
    static NAMES: std::cell::RefCell<Vec<(Bytes, JsString)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The lower-case script string of a header name.
fn name_string(name: &[u8]) -> JsString {
    NAMES.with(|n| {
        let mut n = n.borrow_mut();
        if let Some(i) = n.iter().position(|(k, _)| k.eq_ignore_ascii_case(name)) {
            // Move a name found towards the front: the common ones stay.
            if i > 0 {
                n.swap(i, i - 1);
                return n[i - 1].1.clone();
            }
            return n[0].1.clone();
        }
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        let s = JsString::from(lower.as_str());
        if n.len() >= NAME_CACHE {
            n.pop();
        }
        n.push((Bytes::from(lower), s.clone()));
        s
    })
}

/// Each header's lower-case name and value as script strings, in order.
fn header_fields(h: &HeaderMap) -> Vec<(JsString, JsValue)> {
    h.iter()
        .map(|(name, value)| {
            let value = match std::str::from_utf8(value) {
                Ok(v) => JsString::from(v),
                Err(_) => JsString::from(String::from_utf8_lossy(value).as_ref()),
            };
            (name_string(name), JsValue::from(value))
        })
        .collect()
}

/// The headers object of `fields` (see [`header_fields`]), with each key and
/// value put in, in order (`[key, value, …]`). A repeated name becomes an
/// array of its values. Upstream 1.5.18 keeps only the last value there
/// (side by side: `X-A: 1` and `x-a: 2` give it `"2"`); RFC 9110 (5.3) lets
/// a recipient combine repeated fields but not drop any, so all are kept.
fn headers_object(
    fields: Vec<(JsString, JsValue)>,
    ctx: &mut Context,
) -> JsResult<(JsObject, Vec<JsValue>)> {
    let obj = crate::convert::new_object(ctx);
    let mut made = Vec::with_capacity(fields.len() * 2);
    for (i, (key, value)) in fields.iter().enumerate() {
        // Names are few: a scan finds repeats without a map.
        if fields[..i].iter().any(|(k, _)| k == key) {
            continue;
        }
        let value = if fields[i + 1..].iter().any(|(k, _)| k == key) {
            let values = fields[i..]
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone());
            JsArray::from_iter(values, ctx).into()
        } else {
            value.clone()
        };
        // A fresh plain object and distinct keys: plain data properties, as
        // assignments would make them, without [[Set]]'s lookups.
        made.push(JsValue::from(key.clone()));
        made.push(value.clone());
        obj.insert_property(
            key.clone(),
            PropertyDescriptor::builder()
                .value(value)
                .writable(true)
                .enumerable(true)
                .configurable(true),
        );
    }
    Ok((obj, made))
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
        // Strings only while the head is borrowed: nothing there runs a
        // script or the collector.
        let fields = match &o.downcast_ref::<HeadObject>().expect("checked").native {
            NativeHead::Request(r) => header_fields(&r.headers),
            NativeHead::Response(r) => header_fields(&r.headers),
        };
        let (h, made) = headers_object(fields, ctx)?;
        if let Some(mut head) = o.downcast_mut::<HeadObject>() {
            head.headers = Some(h.clone());
            head.made = made.into();
        }
        return Ok(h.into());
    }
    if field == "headerNames" {
        let map = match &o.downcast_ref::<HeadObject>().expect("checked").native {
            NativeHead::Request(r) => r.headers.clone(),
            NativeHead::Response(r) => r.headers.clone(),
        };
        return Ok(header_names(&map, ctx)?.into());
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
            .unwrap_or_else(|| crate::convert::new_object(ctx));
        if let Some(mut head) = o.downcast_mut::<HeadObject>() {
            head.headers = Some(h);
            head.made = std::rc::Rc::from([]);
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

impl Class for HeadObject {
    const NAME: &'static str = "HttpHead";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(JsNativeError::typ()
            .with_message("heads come from messages")
            .into())
    }

    fn init(_: &mut ClassBuilder<'_>) -> JsResult<()> {
        // The fields are each object's own (see `HeadObject::wrap`).
        Ok(())
    }
}
