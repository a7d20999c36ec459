//! `YAML.parse`, `YAML.stringify`, `YAML.decode` and `YAML.encode` (a global
//! upstream has beyond its reference; its samples read their configuration
//! with it). The object is in the prelude; these two helpers convert between
//! YAML text and JSON text with serde_yaml.
//!
//! Where upstream 1.5.18 differs (seen side by side): it gives every scalar as
//! a string (`a: 1` parses to `{a: "1"}`) and its `stringify` returns an empty
//! string. Here plain scalars resolve as the YAML 1.2 core schema says
//! (numbers, booleans, null) and `stringify` writes YAML.

use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue, NativeFunction};

/// Deepest nesting converted: deeper documents are refused, not overflowed.
const MAX_DEPTH: usize = 256;

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// YAML text as JSON text; `None` for an empty document.
pub fn yaml_to_json(text: &str) -> Result<Option<String>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let v: serde_json::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    if depth(&v) > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    serde_json::to_string(&v)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// JSON text as YAML text.
pub fn json_to_yaml(text: &str) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    serde_yaml::to_string(&v).map_err(|e| e.to_string())
}

fn text_arg(args: &[JsValue], ctx: &mut Context) -> JsResult<String> {
    crate::convert::arg_text(args, 0, ctx)
}

fn error(msg: String) -> boa_engine::JsError {
    JsNativeError::error().with_message(msg).into()
}

/// Installs the helpers the prelude takes (and removes) from the global object.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let to_json = NativeFunction::from_fn_ptr(|_, args, ctx| {
        match yaml_to_json(&text_arg(args, ctx)?).map_err(error)? {
            Some(json) => Ok(js_string!(json).into()),
            None => Ok(JsValue::undefined()),
        }
    });
    let to_yaml = NativeFunction::from_fn_ptr(|_, args, ctx| {
        let yaml = json_to_yaml(&text_arg(args, ctx)?).map_err(error)?;
        Ok(js_string!(yaml).into())
    });
    for (name, f) in [
        ("__pipy_yaml_to_json", to_json),
        ("__pipy_json_to_yaml", to_yaml),
    ] {
        let func = f.to_js_function(ctx.realm());
        ctx.register_global_property(js_string!(name), func, Attribute::all())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    #[test]
    fn documents_become_values_by_the_core_schema() {
        assert_eq!(
            run("JSON.stringify(YAML.parse('a: 1\\nb: [x, \"7\", 2.5, true, null, 0x10]\\nc:\\n  d: |\\n    two\\n    lines\\n'))"),
            r#"{"a":1,"b":["x","7",2.5,true,null,16],"c":{"d":"two\nlines\n"}}"#
        );
        assert_eq!(run("String(YAML.parse(''))"), "undefined");
        assert_eq!(
            run("JSON.stringify(YAML.decode(new Data('- 1\\n- a')))"),
            r#"[1,"a"]"#
        );
        assert_eq!(
            run("JSON.stringify(YAML.parse('a: 1', (k, v) => typeof v === 'number' ? v * 10 : v))"),
            r#"{"a":10}"#
        );
        assert!(run("try { YAML.parse('a: [1') } catch (e) { e.message }").contains("expected"));
    }

    #[test]
    fn values_become_yaml_that_reads_back() {
        let v = "{a: 1, b: [1, 'two', {c: null}], s: 'x: y', m: 'l1\\nl2', q: '007', t: true}";
        assert_eq!(
            run(&format!(
                "JSON.stringify(YAML.parse(YAML.stringify({v}))) === JSON.stringify({v})"
            )),
            "true"
        );
        assert_eq!(
            run("YAML.stringify({a: 1, b: [2, 3]})"),
            "a: 1\nb:\n- 2\n- 3\n"
        );
        assert_eq!(run("YAML.encode({a: 'x'}).toString()"), "a: x\n");
        assert_eq!(run("String(YAML.stringify(undefined))"), "undefined");
    }
}
