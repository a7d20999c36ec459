//! `console.log/info/debug/warn/error`, printing values as upstream's console
//! does: strings as they are at the top level and quoted inside containers,
//! `{ key: value }` for objects (a native class's fields, such as a Message's
//! `head` and `body`, first), `[ 1, "b" ]` for arrays, `Function{ name }` for
//! functions and `Data[ 68 69 ]` for the first bytes of Data.
//!
//! Checked against upstream 1.5.18. Differences: upstream quotes the keys of
//! properties added after an object was made (`o.k = 1` prints `"k": 1`) and
//! names anonymous functions by their position; here keys are never quoted and
//! anonymous functions print `Function{  }`. Upstream hides `console.warn` at the
//! default level (its level order puts warn below info), which contradicts its
//! own `--log-level=<debug|info|warn|error>`; here warnings show at `info`.

use boa_engine::object::ObjectInitializer;
use boa_engine::property::{Attribute, PropertyKey};
use boa_engine::{js_string, Context, JsObject, JsResult, JsValue, NativeFunction};
use std::fmt::Write as _;

/// Containers nested deeper than this print as `Type{ ... }` (upstream's limit).
const MAX_DEPTH: usize = 100;
/// Bytes of a Data shown before `... and N more bytes`.
const DATA_BYTES: usize = 10;

/// Renders arguments the way `console.log` prints them, separated by spaces.
pub fn format_args(args: &[JsValue], ctx: &mut Context) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        match a.as_string() {
            Some(t) => s.push_str(&t.to_std_string_escaped()),
            None => dump(a, ctx, &mut Vec::new(), &mut s),
        }
    }
    s
}

/// Writes `s` in double quotes with JSON-style escapes.
fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The class name shown before `{ ... }` of a cut or recursive object: none for
/// plain objects and arrays, as upstream.
fn type_name(obj: &JsObject, ctx: &mut Context) -> String {
    obj.get(js_string!("constructor"), ctx)
        .ok()
        .and_then(|c| c.as_object())
        .and_then(|c| c.get(js_string!("name"), ctx).ok())
        .and_then(|n| n.as_string().map(|s| s.to_std_string_escaped()))
        .filter(|n| n != "Object" && n != "Array")
        .unwrap_or_default()
}

/// Writes one value as upstream's `Console::dump` does.
fn dump(v: &JsValue, ctx: &mut Context, seen: &mut Vec<JsObject>, out: &mut String) {
    let Some(obj) = v.as_object() else {
        match v.as_string() {
            Some(s) => quote(&s.to_std_string_escaped(), out),
            None => out.push_str(&v.display().to_string()),
        }
        return;
    };
    if obj.is_callable() {
        let name = obj
            .get(js_string!("name"), ctx)
            .ok()
            .and_then(|n| n.as_string().map(|s| s.to_std_string_escaped()))
            .unwrap_or_default();
        let _ = write!(out, "Function{{ {name} }}");
        return;
    }
    if let Some(d) = super::data::data_of(v) {
        let bytes = d.to_vec();
        out.push_str("Data[");
        // Eleven bytes show in full; more are cut after ten.
        let shown = if bytes.len() <= DATA_BYTES + 1 {
            bytes.len()
        } else {
            DATA_BYTES
        };
        for b in &bytes[..shown] {
            let _ = write!(out, " {b:02x}");
        }
        if shown < bytes.len() {
            let _ = write!(out, " ... and {} more bytes", bytes.len() - shown);
        }
        out.push_str(" ]");
        return;
    }
    if seen.len() == MAX_DEPTH {
        let _ = write!(out, "{}{{ ... }}", type_name(&obj, ctx));
        return;
    }
    if seen.iter().any(|o| JsObject::equals(o, &obj)) {
        let _ = write!(out, "{}{{ ...recursive }}", type_name(&obj, ctx));
        return;
    }
    seen.push(obj.clone());
    if obj.is_array() {
        dump_array(&obj, ctx, seen, out);
    } else {
        dump_object(&obj, ctx, seen, out);
    }
    seen.pop();
}

fn dump_array(obj: &JsObject, ctx: &mut Context, seen: &mut Vec<JsObject>, out: &mut String) {
    let len = obj
        .get(js_string!("length"), ctx)
        .and_then(|l| l.to_length(ctx))
        .unwrap_or(0);
    out.push_str("[ ");
    let mut holes = 0u64;
    let mut first = true;
    let flush_holes = |holes: &mut u64, first: &mut bool, out: &mut String| {
        if *holes == 0 {
            return;
        }
        if !std::mem::take(first) {
            out.push_str(", ");
        }
        out.push_str("empty");
        if *holes > 1 {
            let _ = write!(out, " x {holes} times");
        }
        *holes = 0;
    };
    for i in 0..len {
        if !obj.has_own_property(i, ctx).unwrap_or(false) {
            holes += 1;
            continue;
        }
        flush_holes(&mut holes, &mut first, out);
        if !std::mem::take(&mut first) {
            out.push_str(", ");
        }
        let item = obj.get(i, ctx).unwrap_or_default();
        dump(&item, ctx, seen, out);
    }
    flush_holes(&mut holes, &mut first, out);
    out.push_str(" ]");
}

/// An own property's descriptor, read without running any script.
fn own_property(
    obj: &JsObject,
    key: &PropertyKey,
) -> Option<boa_engine::property::PropertyDescriptor> {
    obj.borrow().properties().get(key)
}

fn dump_object(obj: &JsObject, ctx: &mut Context, seen: &mut Vec<JsObject>, out: &mut String) {
    out.push_str("{ ");
    let mut first = true;
    // A native class's fields are accessors on its prototype; upstream lists them
    // first, by name, unquoted.
    let object_proto = ctx.intrinsics().constructors().object().prototype();
    if let Some(proto) = obj
        .prototype()
        .filter(|p| !JsObject::equals(p, &object_proto))
    {
        for key in proto.own_property_keys(ctx).unwrap_or_default() {
            let PropertyKey::String(name) = &key else {
                continue;
            };
            let is_getter = own_property(&proto, &key)
                .is_some_and(|d| d.get().is_some_and(|g| !g.is_undefined()));
            // Shadowed by an own property (a head's fields): listed below.
            let shadowed = own_property(obj, &key).is_some();
            if !is_getter || shadowed || name.to_std_string_escaped().starts_with('_') {
                continue;
            }
            if !std::mem::take(&mut first) {
                out.push_str(", ");
            }
            let _ = write!(out, "{}: ", name.to_std_string_escaped());
            let value = obj.get(key.clone(), ctx).unwrap_or_default();
            dump(&value, ctx, seen, out);
        }
    }
    for key in obj.own_property_keys(ctx).unwrap_or_default() {
        let name = match &key {
            PropertyKey::String(s) => s.to_std_string_escaped(),
            PropertyKey::Index(i) => i.get().to_string(),
            PropertyKey::Symbol(_) => continue,
        };
        let enumerable = own_property(obj, &key).is_some_and(|d| d.enumerable() == Some(true));
        if !enumerable {
            continue;
        }
        if !std::mem::take(&mut first) {
            out.push_str(", ");
        }
        out.push_str(&name);
        out.push_str(": ");
        let value = obj.get(key.clone(), ctx).unwrap_or_default();
        dump(&value, ctx, seen, out);
    }
    out.push_str(" }");
}

fn log(level: tracing::Level) -> NativeFunction {
    // One function per level; the level picks the tracing macro.
    match level {
        tracing::Level::ERROR => NativeFunction::from_fn_ptr(|_, a, c| {
            tracing::error!(target: "script", "{}", format_args(a, c));
            Ok(JsValue::undefined())
        }),
        tracing::Level::WARN => NativeFunction::from_fn_ptr(|_, a, c| {
            tracing::warn!(target: "script", "{}", format_args(a, c));
            Ok(JsValue::undefined())
        }),
        tracing::Level::DEBUG => NativeFunction::from_fn_ptr(|_, a, c| {
            if tracing::enabled!(target: "script", tracing::Level::DEBUG) {
                tracing::debug!(target: "script", "{}", format_args(a, c));
            }
            Ok(JsValue::undefined())
        }),
        _ => NativeFunction::from_fn_ptr(|_, a, c| {
            tracing::info!(target: "script", "{}", format_args(a, c));
            Ok(JsValue::undefined())
        }),
    }
}

/// Installs `console`.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    use tracing::Level;
    let console = ObjectInitializer::new(ctx)
        .function(log(Level::INFO), js_string!("log"), 0)
        .function(log(Level::INFO), js_string!("info"), 0)
        .function(log(Level::DEBUG), js_string!("debug"), 0)
        .function(log(Level::WARN), js_string!("warn"), 0)
        .function(log(Level::ERROR), js_string!("error"), 0)
        .build();
    ctx.register_global_property(js_string!("console"), console, Attribute::all())?;
    // `print(...)` and `println(...)`: upstream's globals (its samples use
    // them) writing the values as `console.log` shows them to the standard
    // output, without a header.
    for (name, newline) in [("print", false), ("println", true)] {
        let f = NativeFunction::from_copy_closure(move |_, args, ctx| {
            use std::io::Write;
            let mut text = format_args(args, ctx);
            if newline {
                text.push('\n');
            }
            let mut out = std::io::stdout().lock();
            // A closed standard output loses the text and nothing else.
            let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
            Ok(JsValue::undefined())
        })
        .to_js_function(ctx.realm());
        ctx.register_global_property(js_string!(name), f, Attribute::all())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::{engine, eval};
    use crate::with_js;

    fn show(src: &str) -> String {
        let args = with_js(|ctx| {
            let v = ctx
                .eval(boa_engine::Source::from_bytes(src))
                .expect("evaluates");
            let a = v.as_object().expect("an array of arguments");
            let n = a.get(boa_engine::js_string!("length"), ctx).unwrap();
            let n = n.to_length(ctx).unwrap();
            let args: Vec<_> = (0..n).map(|i| a.get(i, ctx).unwrap()).collect();
            super::format_args(&args, ctx)
        });
        args
    }

    #[test]
    fn values_print_as_upstream_prints_them() {
        engine(&[]);
        assert_eq!(
            show("['top', 1, true, null, undefined]"),
            "top 1 true null undefined"
        );
        assert_eq!(
            show("[{ a: 1, b: 'x', c: [1, 'b'] }]"),
            r#"{ a: 1, b: "x", c: [ 1, "b" ] }"#
        );
        assert_eq!(
            show("[[], {}, [1, , , 4, ,]]"),
            "[  ] {  } [ 1, empty x 2 times, 4, empty ]"
        );
        assert_eq!(
            show("[function foo() {}, { f: () => 1 }]"),
            "Function{ foo } { f: Function{ f } }"
        );
        assert_eq!(show(r#"[{ 'a b': 'a\nb"' }]"#), r#"{ a b: "a\nb\"" }"#);
        assert_eq!(
            show("[new Data('hi'), new Data('0123456789ab')]"),
            "Data[ 68 69 ] Data[ 30 31 32 33 34 35 36 37 38 39 ... and 2 more bytes ]"
        );
        assert_eq!(
            show("var o = { n: 1 }; o.self = o; [o]"),
            r#"{ n: 1, self: { ...recursive } }"#
        );
        assert_eq!(
            show("[new Message({ status: 200 }, 'ok')]"),
            r#"{ head: { status: 200 }, tail: null, body: Data[ 6f 6b ], payload: undefined }"#
        );
        assert_eq!(
            show("[new StreamEnd('ConnectionReset'), new MessageStart()]"),
            r#"{ type: "StreamEnd", error: "ConnectionReset" } { type: "MessageStart", head: null }"#
        );
        assert_eq!(show("[new URL('http://a/b').searchParams]"), "{  }");
        assert_eq!(eval("typeof console.debug"), "function");
    }
}
