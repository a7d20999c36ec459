//! `os.env`.

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsObject, JsResult};

/// Installs `os` with `os.env` holding the process environment.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let env = JsObject::with_object_proto(ctx.intrinsics());
    for (k, v) in std::env::vars() {
        env.set(js_string!(k.as_str()), js_string!(v.as_str()), false, ctx)?;
    }
    let os = ObjectInitializer::new(ctx)
        .property(js_string!("env"), env, Attribute::all())
        .build();
    ctx.register_global_property(js_string!("os"), os, Attribute::all())?;
    Ok(())
}
