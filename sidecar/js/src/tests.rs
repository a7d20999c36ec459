//! Unit tests of modules and context variables, on an engine over an in-memory
//! codebase (no runtime, no sockets).

use crate::testing::engine;
use crate::{call, module, vars, with_js};
use boa_engine::{js_string, JsObject, JsValue};
use pipy_core::Context;

/// Loads `path` and returns its value.
fn load(path: &str) -> Result<JsValue, String> {
    with_js(|ctx| module::load(path, ctx))
        .map(|(_, v)| v)
        .map_err(|e| e.message)
}

/// Member `name` of an object value.
fn member(v: &JsValue, name: &str) -> JsValue {
    with_js(|ctx| {
        v.as_object()
            .expect("an object")
            .get(js_string!(name), ctx)
            .expect("readable")
    })
}

fn number(v: JsValue) -> f64 {
    v.as_number().expect("a number")
}

#[test]
fn context_variables_are_per_pipeline_context() {
    engine(&[(
        "main.js",
        "(pipy({ n: 1, s: 'x' }), { get: () => n, inc: () => ++n, s: () => s })",
    )]);
    let m = load("main.js").unwrap();
    let (get, inc) = (member(&m, "get"), member(&m, "inc"));
    let (a, b) = (Context::new(None), Context::new(None));
    assert_eq!(number(call(&inc, &[], &a).unwrap()), 2.0);
    assert_eq!(number(call(&inc, &[], &a).unwrap()), 3.0);
    assert_eq!(
        number(call(&get, &[], &b).unwrap()),
        1.0,
        "b starts from the default"
    );
    assert_eq!(number(call(&get, &[], &a).unwrap()), 3.0);
    // A forked context starts from a copy of its parent's values.
    let c = a.fork();
    assert_eq!(number(call(&inc, &[], &c).unwrap()), 4.0);
    assert_eq!(number(call(&get, &[], &a).unwrap()), 3.0);
    let s = call(&member(&m, "s"), &[], &b).unwrap();
    assert_eq!(s.as_string().unwrap().to_std_string_escaped(), "x");
}

#[test]
fn exported_variables_are_shared_with_importers() {
    engine(&[
        (
            "a.js",
            "(pipy(), { set: v => (shared = v), get: () => shared })",
        ),
        ("b.js", "(pipy(), { get: () => shared })"),
    ]);
    let a = load("a.js").unwrap();
    let b = load("b.js").unwrap();
    // Ids in load order.
    let ids = module::current();
    let (ida, idb) = (ids[0], ids[1]);
    with_js(|ctx| {
        let exported = JsObject::with_object_proto(ctx.intrinsics());
        exported.set(js_string!("shared"), 7, false, ctx).unwrap();
        vars::export(ida, &module::scope(ida).unwrap(), "ns", &exported, ctx).unwrap();
        let spec = JsObject::with_object_proto(ctx.intrinsics());
        spec.set(js_string!("shared"), js_string!("ns"), false, ctx)
            .unwrap();
        vars::import(idb, &module::scope(idb).unwrap(), &spec, ctx).unwrap();
    });
    let p = Context::new(None);
    assert_eq!(number(call(&member(&b, "get"), &[], &p).unwrap()), 7.0);
    call(&member(&a, "set"), &[JsValue::from(9)], &p).unwrap();
    assert_eq!(number(call(&member(&b, "get"), &[], &p).unwrap()), 9.0);
    assert_eq!(
        number(call(&member(&b, "get"), &[], &Context::new(None)).unwrap()),
        7.0,
        "another context sees the default"
    );
}

#[test]
fn modules_load_once_and_report_their_mistakes() {
    engine(&[
        ("main.js", "({ n: Math.random() });"),
        ("bad.js", "(pipy()\n  .x(\n"),
        ("throws.js", "pipy(\n  undefinedThing.y)"),
        (
            "loop.js",
            "pipy.load ? (loopValue = 1, pipy.solve('loop2.js')) : 0",
        ),
        ("loop2.js", "1 + 1"),
    ]);
    let first = member(&load("main.js").unwrap(), "n");
    let again = member(&load("./main.js").unwrap(), "n");
    assert_eq!(first, again, "one evaluation per path");
    let e = load("bad.js").unwrap_err();
    assert!(e.starts_with("bad.js:") && e.contains("SyntaxError"), "{e}");
    let e = load("throws.js").unwrap_err();
    assert!(
        e.contains("ReferenceError") && e.contains("throws.js:2:"),
        "{e}"
    );
    let e = load("missing.js").unwrap_err();
    assert!(e.contains("missing.js") && e.contains("cannot read"), "{e}");
    assert_eq!(
        number(load("loop.js").unwrap()),
        2.0,
        "pipy.solve evaluates a file"
    );
}
