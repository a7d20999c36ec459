//! `Hessian.decode(data)` and `Hessian.encode(value)` (see
//! `pipy_codec::hessian` for the wire forms).
//!
//! As upstream 1.5.18 behaves (compared side by side): `decode` gives an
//! array of every value in the data (a Dubbo body holds several), stopping
//! quietly at malformed input with the values read whole; ints and longs
//! become `Int` objects (`'i32'`, `'i64'`) so that they are written back as
//! ints and longs, doubles plain numbers, dates `Date`s, binary `Data`, and
//! lists, maps and objects `{ kind, type, elements }` (`elements` an array,
//! an array of `[key, value]` pairs, or an object of fields; `null` when
//! empty). `encode` writes an array's elements one after another, a plain
//! number as a double, an `Int` by its width, and `{ kind, type, elements }`
//! as such. Where upstream writes a nested array or a plain object as an
//! empty list, we write a list of the array's values and a map of the
//! object's fields; a BigInt is a long; the same object met twice is a
//! reference (`Q`, numbered as values start, as the decoder counts them).

use boa_engine::object::builtins::{JsArray, JsDate};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsObject, JsResult, JsValue, NativeFunction};
use pipy_codec::hessian::{decode_all, Encoder, Value};
use pipy_core::Data;

use super::data::{data_of, new_data};
use super::int::{global_class, int_of, new_int};

/// Deepest nesting `encode` follows.
const MAX_DEPTH: usize = 128;

fn collection(kind: &str, t: &Option<String>, ctx: &mut Context) -> JsObject {
    let t: JsValue = match t {
        Some(t) => js_string!(t.as_str()).into(),
        // Untyped: `undefined`, as upstream leaves it.
        None => JsValue::undefined(),
    };
    ObjectInitializer::new(ctx)
        .property(js_string!("kind"), js_string!(kind), Attribute::all())
        .property(js_string!("type"), t, Attribute::all())
        .property(js_string!("elements"), JsValue::null(), Attribute::all())
        .build()
}

/// A value as scripts see it; `seen` holds lists, maps and objects in the
/// order they started, for references.
fn to_js(v: &Value, seen: &mut Vec<JsObject>, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match v {
        Value::Null => JsValue::null(),
        Value::Bool(b) => JsValue::from(*b),
        Value::Int(n) => new_int("i32", n.to_string(), ctx)?,
        Value::Long(n) => new_int("i64", n.to_string(), ctx)?,
        Value::Double(d) => JsValue::from(*d),
        Value::Date(ms) => {
            let date = global_class("Date", ctx)?;
            date.construct(&[JsValue::from(*ms as f64)], None, ctx)?
                .into()
        }
        Value::String(s) => js_string!(s.as_str()).into(),
        Value::Binary(b) => new_data(Data::from(b.clone()), ctx)?,
        Value::List(t, items) => {
            let o = collection("list", t, ctx);
            seen.push(o.clone());
            if !items.is_empty() {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(to_js(i, seen, ctx)?);
                }
                let arr = JsArray::from_iter(out, ctx);
                o.set(js_string!("elements"), arr, false, ctx)?;
            }
            o.into()
        }
        Value::Map(t, entries) => {
            let o = collection("map", t, ctx);
            seen.push(o.clone());
            if !entries.is_empty() {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let k = to_js(k, seen, ctx)?;
                    let v = to_js(v, seen, ctx)?;
                    out.push(JsArray::from_iter([k, v], ctx).into());
                }
                let arr = JsArray::from_iter(out, ctx);
                o.set(js_string!("elements"), arr, false, ctx)?;
            }
            o.into()
        }
        Value::Object(class, fields) => {
            let o = collection("object", &Some(class.clone()), ctx);
            seen.push(o.clone());
            if !fields.is_empty() {
                let f = JsObject::with_object_proto(ctx.intrinsics());
                for (name, v) in fields {
                    let v = to_js(v, seen, ctx)?;
                    f.set(js_string!(name.as_str()), v, false, ctx)?;
                }
                o.set(js_string!("elements"), f, false, ctx)?;
            }
            o.into()
        }
        Value::Ref(n) => seen
            .get(*n as usize)
            .cloned()
            .map_or(JsValue::null(), Into::into),
    })
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = args.first().cloned().unwrap_or_default();
    if v.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    let Some(data) = data_of(&v) else {
        return Err(JsNativeError::typ()
            .with_message("Hessian.decode: argument #1 expects a Data")
            .into());
    };
    let (values, err) = decode_all(&data.to_bytes());
    if let Some(e) = err {
        tracing::debug!("Hessian.decode: {e}");
    }
    let mut seen = Vec::new();
    let mut out = Vec::with_capacity(values.len());
    for v in &values {
        out.push(to_js(v, &mut seen, ctx)?);
    }
    Ok(JsArray::from_iter(out, ctx).into())
}

/// Writes script values, numbering lists, maps and objects as they start.
struct Writer {
    e: Encoder,
    /// Lists, maps and objects written so far, by identity, with their numbers.
    seen: std::collections::HashMap<JsObject, u32>,
}

fn too_deep() -> boa_engine::JsError {
    JsNativeError::range()
        .with_message("Hessian.encode: values nest too deep")
        .into()
}

fn items(v: &JsValue, ctx: &mut Context) -> JsResult<Option<Vec<JsValue>>> {
    crate::convert::array_values(v, ctx)
}

/// Own enumerable string keys of `o` (as `Object.keys` gives them), with
/// their values.
fn fields(o: &JsObject, ctx: &mut Context) -> JsResult<Vec<(String, JsValue)>> {
    let object = global_class("Object", ctx)?;
    let keys = object.get(js_string!("keys"), ctx)?;
    let Some(keys) = keys.as_callable() else {
        return Ok(Vec::new());
    };
    let names = keys.call(&object.into(), &[o.clone().into()], ctx)?;
    let mut out = Vec::new();
    for k in items(&names, ctx)?.unwrap_or_default() {
        let name = k.to_string(ctx)?;
        let v = o.get(name.clone(), ctx)?;
        out.push((name.to_std_string_escaped(), v));
    }
    Ok(out)
}

impl Writer {
    fn value(&mut self, v: &JsValue, depth: usize, ctx: &mut Context) -> JsResult<()> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        if v.is_undefined() {
            return Ok(());
        }
        if v.is_null() {
            self.e.out.push(b'N');
            return Ok(());
        }
        if let Some(b) = v.as_boolean() {
            self.e.out.push(if b { b'T' } else { b'F' });
            return Ok(());
        }
        if let Some(n) = v.as_number() {
            self.e.double(n);
            return Ok(());
        }
        if let Some(b) = v.as_bigint() {
            let n = b.to_string().parse::<i128>().map(|n| n as i64).unwrap_or(0);
            self.e.long(n);
            return Ok(());
        }
        if let Some(s) = v.as_string() {
            self.e.string(&s.to_std_string_escaped());
            return Ok(());
        }
        let Some(o) = v.as_object() else {
            return Ok(());
        };
        if let Some(d) = data_of(v) {
            self.e.binary(&d.to_bytes());
            return Ok(());
        }
        if let Some((width, n)) = int_of(&o, ctx)? {
            if width == 64 {
                self.e.long(n);
            } else {
                self.e.int(n as i32);
            }
            return Ok(());
        }
        if let Ok(date) = JsDate::from_object(o.clone()) {
            let ms = date.get_time(ctx)?.to_number(ctx)?;
            self.e.out.push(0x4a);
            let ms = if ms.is_finite() { ms as i64 } else { 0 };
            self.e.out.extend_from_slice(&ms.to_be_bytes());
            return Ok(());
        }
        if let Some(i) = self.seen.get(&o) {
            self.e.reference(*i);
            return Ok(());
        }
        let n = self.seen.len() as u32;
        self.seen.insert(o.clone(), n);
        if let Some(list) = items(v, ctx)? {
            self.e.list_start(None, list.len());
            for i in &list {
                self.value(i, depth + 1, ctx)?;
            }
            return Ok(());
        }
        let kind = o.get(js_string!("kind"), ctx)?;
        let kind = kind.as_string().map(|s| s.to_std_string_escaped());
        let t = o.get(js_string!("type"), ctx)?;
        let t = if t.is_null_or_undefined() {
            None
        } else {
            Some(t.to_string(ctx)?.to_std_string_escaped())
        };
        let elements = o.get(js_string!("elements"), ctx)?;
        match kind.as_deref() {
            Some("list") => {
                let list = items(&elements, ctx)?.unwrap_or_default();
                self.e.list_start(t.as_deref(), list.len());
                for i in &list {
                    self.value(i, depth + 1, ctx)?;
                }
            }
            Some("map") => {
                self.e.map_start(t.as_deref());
                for pair in items(&elements, ctx)?.unwrap_or_default() {
                    let kv = items(&pair, ctx)?.ok_or_else(|| {
                        JsNativeError::typ()
                            .with_message("Hessian.encode: a map entry is not a [key, value] array")
                    })?;
                    self.value(kv.first().unwrap_or(&JsValue::null()), depth + 1, ctx)?;
                    self.value(kv.get(1).unwrap_or(&JsValue::null()), depth + 1, ctx)?;
                }
                self.e.end();
            }
            Some("object") => {
                let Some(class) = t.filter(|t| !t.is_empty()) else {
                    return Err(JsNativeError::typ()
                        .with_message("Hessian.encode: an object needs a type (its class name)")
                        .into());
                };
                let f = match elements.as_object() {
                    Some(e) => fields(&e, ctx)?,
                    None => Vec::new(),
                };
                let names: Vec<String> = f.iter().map(|(n, _)| n.clone()).collect();
                self.e.object_start(&class, &names);
                for (_, v) in &f {
                    self.value(v, depth + 1, ctx)?;
                }
            }
            _ => {
                // A plain object: a map of its fields.
                self.e.map_start(None);
                for (k, v) in fields(&o, ctx)? {
                    self.e.string(&k);
                    self.value(&v, depth + 1, ctx)?;
                }
                self.e.end();
            }
        }
        Ok(())
    }
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = args.first().cloned().unwrap_or_default();
    let mut w = Writer {
        e: Encoder::new(),
        seen: Default::default(),
    };
    match items(&v, ctx)? {
        Some(list) => {
            for i in &list {
                w.value(i, 0, ctx)?;
            }
        }
        None => w.value(&v, 0, ctx)?,
    }
    new_data(Data::from(bytes::Bytes::from(w.e.out)), ctx)
}

/// Installs the `Hessian` global.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let h = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .build();
    ctx.register_global_property(js_string!("Hessian"), h, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    fn js(body: &str) -> String {
        run(&format!("(() => {{ {body} }})()"))
    }

    #[test]
    fn values_decode_with_their_kinds_and_encode_back_byte_for_byte() {
        // "2.0.2", int 1, long 0, null, double 1.0, a typed list of one string,
        // an object with a nested object, a map, a date.
        let hex = "05322e302e3291e04e5c5607 5b737472696e679103303033\
                   430150920161016260 90 4301519101786103313233\
                   48017a9c5a 4a00000186a090d0fe"
            .replace(' ', "");
        assert_eq!(
            js(&format!(
                "const d = new Data('{hex}', 'hex'); const v = Hessian.decode(d);
                 return [v.length, v[1].type, v[2].type, v[4], typeof v[4], v[5].kind, v[5].type,
                         v[5].elements[0], v[6].type, v[6].elements.a.type, v[6].elements.b.elements.x,
                         v[7].elements[0][1] + 0, v[8].getTime(),
                         Hessian.encode(v).toString('hex') === d.toString('hex')].join()"
            )),
            "9,i32,i64,1,number,list,[string,003,P,i32,123,12,1677731090686,true"
        );
    }

    #[test]
    fn script_values_encode_as_upstream_writes_them() {
        assert_eq!(
            js("return Hessian.encode([1, 0, 2.5, new Int('i32', 1), new Int('i64', 1), 'hi', null, true, \
                {kind: 'list', type: null, elements: null}]).toString('hex')"),
            "5c5b44400400000000000091e1026869 4e54 5890".replace(' ', "")
        );
        // A plain object is a map of its fields, an array a list, and an
        // object met twice a reference.
        assert_eq!(
            js("const o = {a: [1]}; return Hessian.encode([o, o]).toString('hex')"),
            "4801615891 5c5a 5190".replace(' ', "")
        );
    }

    #[test]
    fn bad_input_is_no_exception() {
        assert_eq!(
            js("return Hessian.decode(new Data([0x91, 0x56, 0x01])).length"),
            "1"
        );
        assert_eq!(js("return Hessian.decode(null)"), "null");
        assert!(js("try { Hessian.decode('x') } catch (e) { return 'threw' }") == "threw");
        assert!(
            js(
                "const a = {}; let x = a; for (let i = 0; i < 200; i++) { x.n = {}; x = x.n } \
                    try { Hessian.encode(a) } catch (e) { return e instanceof RangeError }"
            ) == "true"
        );
    }
}
