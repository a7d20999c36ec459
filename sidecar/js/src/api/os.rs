//! `os.env`.

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsObject, JsResult};

/// Installs `os` with `os.env` holding the process environment. Names and values
/// that are not UTF-8 are read with U+FFFD in place of their bad bytes: the
/// environment comes from outside the process and must not stop it.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let env = JsObject::with_object_proto(ctx.intrinsics());
    for (k, v) in std::env::vars_os() {
        let (k, v) = (k.to_string_lossy(), v.to_string_lossy());
        env.set(js_string!(&*k), js_string!(&*v), false, ctx)?;
    }
    let os = ObjectInitializer::new(ctx)
        .property(js_string!("env"), env, Attribute::all())
        .build();
    ctx.register_global_property(js_string!("os"), os, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn env_values_that_are_not_utf8_do_not_panic() {
        let bad = std::ffi::OsStr::from_bytes(b"a\xffb");
        std::env::set_var("PIPY_TEST_NOT_UTF8", bad);
        std::env::set_var("PIPY_TEST_UTF8", "ok");
        assert_eq!(
            run("os.env.PIPY_TEST_NOT_UTF8 + ',' + os.env.PIPY_TEST_UTF8"),
            "a\u{fffd}b,ok"
        );
    }
}
