//! `Data`: byte buffers in scripts.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use pipy_core::Data;

/// The Rust side of a script's `Data` object.
#[derive(Trace, Finalize, JsData, Default)]
pub struct DataObject {
    /// The bytes.
    #[unsafe_ignore_trace]
    pub data: Data,
}

/// Wraps bytes in a new script `Data` object.
pub fn new_data(data: Data, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(DataObject::from_data(DataObject { data }, ctx)?.into())
}

/// The bytes of a script `Data` object, if the value is one.
pub fn data_of(v: &JsValue) -> Option<Data> {
    v.as_object()?
        .downcast_ref::<DataObject>()
        .map(|d| d.data.clone())
}

fn this_data(this: &JsValue) -> JsResult<JsObject> {
    match this.as_object() {
        Some(o) if o.is::<DataObject>() => Ok(o.clone()),
        _ => Err(JsNativeError::typ()
            .with_message("not a Data object")
            .into()),
    }
}

/// Encodes text into bytes: `utf8` (default), `hex`, `base64`, `base64url`.
pub fn encode_text(text: &str, encoding: &str) -> JsResult<Vec<u8>> {
    match encoding {
        "" | "utf8" | "utf-8" => Ok(text.as_bytes().to_vec()),
        "hex" => hex_decode(text).ok_or_else(|| bad("invalid hex string")),
        "base64" => base64_decode(text, false).ok_or_else(|| bad("invalid base64 string")),
        "base64url" => base64_decode(text, true).ok_or_else(|| bad("invalid base64url string")),
        other => Err(bad(&format!("unknown encoding '{other}'"))),
    }
}

/// Decodes bytes into text with an encoding as in [`encode_text`].
pub fn decode_text(bytes: &[u8], encoding: &str) -> JsResult<String> {
    match encoding {
        "" | "utf8" | "utf-8" => Ok(String::from_utf8_lossy(bytes).into_owned()),
        "hex" => Ok(hex::encode(bytes)),
        "base64" => Ok(base64_encode(bytes, false)),
        "base64url" => Ok(base64_encode(bytes, true)),
        other => Err(bad(&format!("unknown encoding '{other}'"))),
    }
}

fn bad(msg: &str) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.to_string()).into()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok()
}

/// Base64 engines: standard with padding, and base64url without; both decode
/// text with or without padding.
fn base64_engine(url: bool) -> base64::engine::GeneralPurpose {
    use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
    let config = GeneralPurposeConfig::new()
        .with_encode_padding(!url)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    let alphabet = if url {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    base64::engine::GeneralPurpose::new(alphabet, config)
}

/// Base64 (or base64url, unpadded) text of bytes.
pub fn base64_encode(bytes: &[u8], url: bool) -> String {
    use base64::Engine as _;
    base64_engine(url).encode(bytes)
}

/// Bytes of base64 (or base64url) text; line breaks and spaces are skipped.
fn base64_decode(s: &str, url: bool) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64_engine(url).decode(compact).ok()
}

/// Converts a script value to bytes: `Data`, string (UTF-8), array of byte values.
pub fn to_bytes(v: &JsValue, encoding: Option<&str>, ctx: &mut Context) -> JsResult<Data> {
    if let Some(d) = data_of(v) {
        return Ok(d);
    }
    if v.is_undefined() || v.is_null() {
        return Ok(Data::new());
    }
    if let Some(obj) = v.as_object() {
        if obj.is_array() {
            let arr = JsArray::from_object(obj.clone())?;
            let n = arr.length(ctx)?;
            let mut bytes = Vec::with_capacity(n as usize);
            for i in 0..n {
                bytes.push(arr.get(i, ctx)?.to_u32(ctx)? as u8);
            }
            return Ok(bytes.into());
        }
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    Ok(encode_text(&s, encoding.unwrap_or("utf8"))?.into())
}

fn arg_str(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<String> {
    match args.get(i) {
        Some(v) if !v.is_undefined() => Ok(v.to_string(ctx)?.to_std_string_escaped()),
        _ => Ok(String::new()),
    }
}

fn push(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_data(this)?;
    let more = to_bytes(args.first().unwrap_or(&JsValue::undefined()), None, ctx)?;
    if let Some(mut d) = obj.downcast_mut::<DataObject>() {
        d.data.push(more);
    }
    Ok(this.clone())
}

fn shift(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_data(this)?;
    let n = match args.first() {
        Some(v) if !v.is_undefined() => v.to_length(ctx)? as usize,
        _ => usize::MAX,
    };
    let taken = obj
        .downcast_mut::<DataObject>()
        .map(|mut d| d.data.shift(n))
        .unwrap_or_default();
    new_data(taken, ctx)
}

/// Shared by `shiftTo` (inclusive) and `shiftWhile`.
fn shift_by(
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
    inclusive: bool,
) -> JsResult<JsValue> {
    let obj = this_data(this)?;
    let f = args
        .first()
        .and_then(|v| v.as_callable())
        .ok_or_else(|| bad("expects a callback"))?;
    let bytes: Vec<u8> = obj
        .downcast_ref::<DataObject>()
        .map(|d| d.data.to_vec())
        .unwrap_or_default();
    let mut n = 0;
    for b in bytes {
        let hit = f
            .call(&JsValue::undefined(), &[JsValue::from(b as i32)], ctx)?
            .to_boolean();
        if inclusive {
            n += 1;
            if hit {
                break;
            }
        } else if hit {
            n += 1;
        } else {
            break;
        }
    }
    let taken = obj
        .downcast_mut::<DataObject>()
        .map(|mut d| d.data.shift(n))
        .unwrap_or_default();
    new_data(taken, ctx)
}

fn to_array(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_data(this)?;
    let bytes: Vec<JsValue> = obj
        .downcast_ref::<DataObject>()
        .map(|d| d.data.bytes().map(|b| JsValue::from(b as i32)).collect())
        .unwrap_or_default();
    Ok(JsArray::from_iter(bytes, ctx).into())
}

fn to_string(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_data(this)?;
    let enc = arg_str(args, 0, ctx)?;
    let bytes = obj
        .downcast_ref::<DataObject>()
        .map(|d| d.data.to_vec())
        .unwrap_or_default();
    Ok(js_string!(decode_text(&bytes, &enc)?).into())
}

impl Class for DataObject {
    const NAME: &'static str = "Data";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let enc = arg_str(args, 1, ctx)?;
        let enc = if enc.is_empty() {
            None
        } else {
            Some(enc.as_str())
        };
        let data = match args.first() {
            Some(v) => to_bytes(v, enc, ctx)?,
            None => Data::new(),
        };
        Ok(DataObject { data })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        super::message::type_accessor(class, "Data");
        class
            .method(js_string!("push"), 1, NativeFunction::from_fn_ptr(push))
            .method(js_string!("shift"), 1, NativeFunction::from_fn_ptr(shift))
            .method(
                js_string!("shiftTo"),
                1,
                NativeFunction::from_fn_ptr(|t, a, c| shift_by(t, a, c, true)),
            )
            .method(
                js_string!("shiftWhile"),
                1,
                NativeFunction::from_fn_ptr(|t, a, c| shift_by(t, a, c, false)),
            )
            .method(
                js_string!("toArray"),
                0,
                NativeFunction::from_fn_ptr(to_array),
            )
            .method(
                js_string!("toString"),
                1,
                NativeFunction::from_fn_ptr(to_string),
            )
            .static_method(
                js_string!("from"),
                2,
                NativeFunction::from_fn_ptr(|_, args, ctx| {
                    let enc = arg_str(args, 1, ctx)?;
                    let enc = if enc.is_empty() {
                        None
                    } else {
                        Some(enc.as_str())
                    };
                    // Unlike the constructor, text that does not decode gives null.
                    match to_bytes(args.first().unwrap_or(&JsValue::undefined()), enc, ctx) {
                        Ok(d) => new_data(d, ctx),
                        Err(_) => Ok(JsValue::null()),
                    }
                }),
            );
        let size = NativeFunction::from_fn_ptr(|this, _, _| {
            let obj = this_data(this)?;
            let n = obj
                .downcast_ref::<DataObject>()
                .map(|d| d.data.len())
                .unwrap_or(0);
            Ok(i32::try_from(n)
                .map(JsValue::from)
                .unwrap_or_else(|_| JsValue::from(n as f64)))
        })
        .to_js_function(class.context().realm());
        class.accessor(
            js_string!("size"),
            Some(size),
            None,
            Attribute::CONFIGURABLE,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let e = base64_encode(s.as_bytes(), false);
            assert_eq!(base64_decode(&e, false).unwrap(), s.as_bytes());
        }
        assert_eq!(base64_encode(b"foobar", false), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo", false), "Zm8=");
        assert_eq!(base64_encode(b"\xfb\xff", true), "-_8");
        assert_eq!(hex_decode("0aff").unwrap(), vec![10, 255]);
        assert!(hex_decode("0g").is_none());
        assert_eq!(base64_decode("Zm8", false).unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v\nYmFy", false).unwrap(), b"foobar");
        assert_eq!(base64_decode("-_8=", true).unwrap(), b"\xfb\xff");
        assert!(base64_decode("Zm9v!", false).is_none());
    }
}
