//! The global `pipy`: a function (`pipy({...})` starts a Configuration) with
//! `solve`, `load`, `import`, `exit`, `restart`, `pid` and `argv`.

use crate::{host, module};
use boa_engine::object::FunctionObjectBuilder;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue, NativeFunction};

fn path_arg(args: &[JsValue], ctx: &mut Context) -> JsResult<String> {
    match args.first() {
        Some(v) if !v.is_undefined() => Ok(v.to_string(ctx)?.to_std_string_escaped()),
        _ => Err(JsNativeError::typ()
            .with_message("expects a file path")
            .into()),
    }
}

fn load(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args, ctx)?;
    match module::read_file(&path) {
        Some(bytes) => super::data::new_data(bytes.into(), ctx),
        // Upstream answers null for a file that is not there.
        None => Ok(JsValue::null()),
    }
}

fn solve(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args, ctx)?;
    module::solve(&path, ctx)
}

/// `pipy.import(path)`: the exports of a module of the codebase, relative to
/// the module loading now (or to the root).
fn import(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let spec = path_arg(args, ctx)?;
    let referrer = module::loading().and_then(module::path).unwrap_or_default();
    module::import(&referrer, &spec, ctx)
}

fn exit(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let code = match args.first() {
        Some(v) if !v.is_undefined() => v.to_i32(ctx)?,
        _ => 0,
    };
    (host::hooks().exit)(code);
    Ok(JsValue::undefined())
}

fn restart(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    (host::hooks().restart)();
    Ok(JsValue::undefined())
}

/// The process's `pipy.argv`: the program, then the script's arguments.
static ARGV: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Sets `pipy.argv` for every engine made from now on: the program's path,
/// then the arguments given after `--args` (or `--`), as upstream's.
pub fn set_argv(script_args: &[String]) {
    let program = std::env::args().next().unwrap_or_else(|| "pipy".into());
    let mut argv = vec![program];
    argv.extend(script_args.iter().cloned());
    let _ = ARGV.set(argv);
}

/// Installs `pipy`.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let f = FunctionObjectBuilder::new(
        ctx.realm(),
        NativeFunction::from_fn_ptr(module::pipy_function),
    )
    .name(js_string!("pipy"))
    .length(1)
    .build();
    for (name, func) in [
        ("load", NativeFunction::from_fn_ptr(load)),
        ("solve", NativeFunction::from_fn_ptr(solve)),
        ("import", NativeFunction::from_fn_ptr(import)),
        ("exit", NativeFunction::from_fn_ptr(exit)),
        ("restart", NativeFunction::from_fn_ptr(restart)),
    ] {
        let fo = func.to_js_function(ctx.realm());
        f.set(js_string!(name), fo, false, ctx)?;
    }
    // `pipy.pid`, as upstream's declarations have it.
    f.set(js_string!("pid"), std::process::id(), false, ctx)?;
    let argv: Vec<JsValue> = ARGV
        .get()
        .map(|a| a.iter().map(|s| js_string!(s.as_str()).into()).collect())
        .unwrap_or_default();
    let argv = boa_engine::object::builtins::JsArray::from_iter(argv, ctx);
    f.set(js_string!("argv"), argv, false, ctx)?;
    ctx.register_global_property(js_string!("pipy"), f, Attribute::all())?;
    Ok(())
}
