//! Helpers for the `Int` class (defined in the prelude): making one from
//! native code and reading one back, exactly (all 64 bits).

use boa_engine::{js_string, Context, JsNativeError, JsObject, JsResult, JsValue};

/// A global constructor (`Int`, `Date`, `Object`) by name.
pub fn global_class(name: &str, ctx: &mut Context) -> JsResult<JsObject> {
    ctx.global_object()
        .get(js_string!(name), ctx)?
        .as_object()
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message(format!("{name} is missing"))
                .into()
        })
}

/// A new `Int` of `t` (`'i32'`, `'u64'`, ...) holding `value`, given as text
/// so that no bit is lost.
pub fn new_int(t: &str, value: String, ctx: &mut Context) -> JsResult<JsValue> {
    let int = global_class("Int", ctx)?;
    int.construct(&[js_string!(t).into(), js_string!(value).into()], None, ctx)
        .map(Into::into)
}

/// An `Int`'s width in bits and its 64 bits (a u64 past i64's range wraps),
/// if `o` is one.
pub fn int_of(o: &JsObject, ctx: &mut Context) -> JsResult<Option<(u32, i64)>> {
    let proto = global_class("Int", ctx)?.get(js_string!("prototype"), ctx)?;
    let is_int = match (o.prototype(), proto.as_object()) {
        (Some(p), Some(q)) => JsObject::equals(&p, &q),
        _ => false,
    };
    if !is_int {
        return Ok(None);
    }
    let width = o.get(js_string!("width"), ctx)?.to_number(ctx)? as u32;
    let text = o
        .get(js_string!("_v"), ctx)?
        .to_string(ctx)?
        .to_std_string_escaped();
    let v = text.parse::<i128>().map(|n| n as i64).unwrap_or(0);
    Ok(Some((width, v)))
}

/// A script value as 64 bits: an `Int`, a BigInt, a number (truncated) or
/// decimal text; anything else 0.
pub fn int64_of(v: &JsValue, ctx: &mut Context) -> JsResult<i64> {
    if let Some(o) = v.as_object() {
        if let Some((_, n)) = int_of(&o, ctx)? {
            return Ok(n);
        }
    }
    if let Some(b) = v.as_bigint() {
        return Ok(b.to_string().parse::<i128>().map(|n| n as i64).unwrap_or(0));
    }
    if let Some(s) = v.as_string() {
        let s = s.to_std_string_escaped();
        if let Ok(n) = s.trim().parse::<i128>() {
            return Ok(n as i64);
        }
    }
    if v.is_null_or_undefined() {
        return Ok(0);
    }
    let n = v.to_number(ctx)?;
    Ok(if n.is_finite() { n.trunc() as i64 } else { 0 })
}
