//! `console.log/info/debug/warn/error`.

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue, NativeFunction};

/// Renders arguments the way `console.log` prints them: strings as they are,
/// other values in their display form, separated by spaces.
pub fn format_args(args: &[JsValue], ctx: &mut Context) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        if a.is_string() {
            if let Ok(t) = a.to_string(ctx) {
                s.push_str(&t.to_std_string_escaped());
            }
        } else if let Some(d) = super::data::data_of(a) {
            s.push_str(&String::from_utf8_lossy(&d.to_vec()));
        } else {
            s.push_str(&a.display().to_string());
        }
    }
    s
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
            tracing::debug!(target: "script", "{}", format_args(a, c));
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
    Ok(())
}
