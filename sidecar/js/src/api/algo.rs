//! `algo`: native helpers (`hash`, `uuid`); the classes (`URLRouter`, load
//! balancers, `Cache`) are completed in the prelude on top of this object.

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue, NativeFunction};
use std::hash::{Hash, Hasher};

fn hash(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = args.first().cloned().unwrap_or_default();
    let text = if v.is_object() {
        v.display().to_string()
    } else {
        v.to_string(ctx)?.to_std_string_escaped()
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    // Keep it an exact integer in a JS number.
    Ok(JsValue::from((h.finish() & ((1 << 53) - 1)) as f64))
}

fn uuid(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(js_string!(uuid::Uuid::new_v4().to_string()).into())
}

/// Installs `algo` with its native members.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let algo = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(hash), js_string!("hash"), 1)
        .function(NativeFunction::from_fn_ptr(uuid), js_string!("uuid"), 0)
        .build();
    ctx.register_global_property(js_string!("algo"), algo, Attribute::all())?;
    Ok(())
}
