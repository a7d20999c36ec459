//! Unit-test helpers: this thread's engine over an in-memory codebase, and
//! evaluation of snippets to text.

use crate::codebase::MemoryCodebase;
use crate::{init_thread, with_js, HostHooks};
use boa_engine::{js_string, Context, JsObject, JsResult, JsValue, Source};
use std::rc::Rc;
use std::sync::Arc;

/// The Configuration a test module's `pipy({...})` returns: a plain object
/// remembering its module id as `module`.
fn stub_configuration(ctx: &mut Context, module: usize) -> JsResult<JsValue> {
    let o = JsObject::with_object_proto(ctx.intrinsics());
    o.set(js_string!("module"), module as u32, false, ctx)?;
    Ok(o.into())
}

/// Starts a fresh engine on this thread whose codebase holds `files`.
pub(crate) fn engine(files: &[(&str, &str)]) {
    let mut codebase = MemoryCodebase::new("test");
    for (path, text) in files {
        codebase.insert(path, *text);
    }
    init_thread(HostHooks {
        codebase: Arc::new(codebase),
        make_configuration: stub_configuration,
        exit: Rc::new(|_| {}),
        restart: Rc::new(|| {}),
    })
    .expect("engine starts");
}

/// Evaluates `src` on this thread's engine: the value as `String(value)`, or
/// `!` and the error's text when it throws.
pub(crate) fn eval(src: &str) -> String {
    with_js(|ctx| match ctx.eval(Source::from_bytes(src)) {
        Ok(v) => v
            .to_string(ctx)
            .map_or_else(|e| format!("!{e}"), |s| s.to_std_string_escaped()),
        Err(e) => format!("!{e}"),
    })
}

/// Starts an empty engine and evaluates `src` on it.
pub(crate) fn run(src: &str) -> String {
    engine(&[]);
    eval(src)
}
