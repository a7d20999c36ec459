//! The global `pipy`: a function (`pipy({...})` starts a Configuration) with
//! `solve`, `load`, `import`, `exit`, `restart`, `exec`, `pid`, `argv`, `now`,
//! `since`, `version`, `name`, `uuid`, `source`, `thread` and `performance`.

use crate::{host, module};
use boa_engine::object::FunctionObjectBuilder;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue, NativeFunction};
use std::rc::Rc;

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

thread_local! {
    /// `pipy.exit(fn)`'s callbacks of this thread's engine.
    static EXIT_CALLBACKS: std::cell::RefCell<Vec<boa_engine::object::builtins::JsFunction>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `pipy.exit(fn)` callbacks kept per thread at most.
const MAX_EXIT_CALLBACKS: usize = 1024;

/// Forgets the exit callbacks of the version being replaced (a new version
/// registers its own).
pub(crate) fn reset_exit_callbacks() {
    EXIT_CALLBACKS.with(|c| c.borrow_mut().clear());
}

/// Runs (once) the callbacks `pipy.exit(fn)` registered on this thread, as
/// the worker stops; returns how many of the Promises they gave are still
/// pending, which the worker waits for (within its drain time).
pub fn run_exit_callbacks() -> Rc<std::cell::Cell<usize>> {
    let pending = Rc::new(std::cell::Cell::new(0));
    let callbacks = EXIT_CALLBACKS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    if callbacks.is_empty() {
        return pending;
    }
    crate::with_js(|ctx| {
        for f in callbacks {
            match f.call(&JsValue::undefined(), &[], ctx) {
                Ok(v) if crate::promise::is_promise(&v) => {
                    pending.set(pending.get() + 1);
                    let p = pending.clone();
                    let _ = crate::promise::when_settled(
                        &v,
                        ctx,
                        Box::new(move |_| p.set(p.get().saturating_sub(1))),
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!("pipy.exit() callback: {e}"),
            }
        }
        let _ = ctx.run_jobs();
    });
    pending
}

fn exit(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    // `pipy.exit(fn)`: run `fn` when the worker stops, as upstream.
    if let Some(f) = args
        .first()
        .and_then(|v| v.as_callable())
        .and_then(boa_engine::object::builtins::JsFunction::from_object)
    {
        EXIT_CALLBACKS.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() < MAX_EXIT_CALLBACKS {
                c.push(f);
            } else {
                tracing::warn!(
                    "pipy.exit(): more than {MAX_EXIT_CALLBACKS} callbacks; this one is left out"
                );
            }
        });
        return Ok(JsValue::undefined());
    }
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

/// What `pipy.name`, `pipy.uuid` and `pipy.source` tell: the instance's
/// name and uuid (a repo's worker), and where its codebase came from.
#[derive(Clone, Default)]
pub struct Instance {
    /// `--instance-name`.
    pub name: String,
    /// The uuid the instance reports with.
    pub uuid: String,
    /// The script file or the repo URL.
    pub source: String,
}

static INSTANCE: std::sync::Mutex<Option<Instance>> = std::sync::Mutex::new(None);

/// When the process started, in ms since the epoch (`pipy.since`), and as an
/// instant (`pipy.now()` counts from it).
fn started() -> &'static (f64, std::time::Instant) {
    static STARTED: std::sync::OnceLock<(f64, std::time::Instant)> = std::sync::OnceLock::new();
    STARTED.get_or_init(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as f64)
            .unwrap_or(0.0);
        (ms, std::time::Instant::now())
    })
}

/// Sets what `pipy.name`, `pipy.uuid` and `pipy.source` tell engines made
/// from now on.
pub fn set_instance(instance: Instance) {
    started();
    if let Ok(mut i) = INSTANCE.lock() {
        *i = Some(instance);
    }
}

thread_local! {
    /// (worker index, worker count) of this thread, for `pipy.thread`.
    static THREAD: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 1)) };
}

/// Tells this thread's engines which worker they run in (`pipy.thread`).
pub fn set_thread(index: usize, concurrency: usize) {
    THREAD.with(|t| t.set((index, concurrency)));
}

fn now(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(started().1.elapsed().as_secs_f64() * 1000.0))
}

/// The members of `pipy` that describe the process: `since`, `now()`,
/// `version`, `name`, `uuid`, `source`, `thread` and `performance`.
fn install_info(f: &boa_engine::JsObject, ctx: &mut Context) -> JsResult<()> {
    let instance = INSTANCE
        .lock()
        .ok()
        .and_then(|i| i.clone())
        .unwrap_or_default();
    f.set(js_string!("since"), started().0, false, ctx)?;
    f.set(
        js_string!("name"),
        js_string!(instance.name.as_str()),
        false,
        ctx,
    )?;
    f.set(
        js_string!("uuid"),
        js_string!(instance.uuid.as_str()),
        false,
        ctx,
    )?;
    f.set(
        js_string!("source"),
        js_string!(instance.source.as_str()),
        false,
        ctx,
    )?;
    let version = boa_engine::object::ObjectInitializer::new(ctx)
        .property(
            js_string!("tag"),
            js_string!(env!("CARGO_PKG_VERSION")),
            boa_engine::property::Attribute::all(),
        )
        .property(
            js_string!("commit"),
            js_string!(""),
            boa_engine::property::Attribute::all(),
        )
        .property(
            js_string!("date"),
            js_string!(""),
            boa_engine::property::Attribute::all(),
        )
        .build();
    f.set(js_string!("version"), version, false, ctx)?;
    let (index, concurrency) = THREAD.with(std::cell::Cell::get);
    let thread = boa_engine::object::ObjectInitializer::new(ctx)
        .property(
            js_string!("id"),
            index as u32,
            boa_engine::property::Attribute::READONLY,
        )
        .property(
            js_string!("concurrency"),
            concurrency as u32,
            boa_engine::property::Attribute::READONLY,
        )
        .build();
    f.set(js_string!("thread"), thread, false, ctx)?;
    let now_fn = NativeFunction::from_fn_ptr(now).to_js_function(ctx.realm());
    f.set(js_string!("now"), now_fn.clone(), false, ctx)?;
    let performance = boa_engine::object::ObjectInitializer::new(ctx)
        .property(
            js_string!("timeOrigin"),
            started().0,
            boa_engine::property::Attribute::READONLY,
        )
        .property(
            js_string!("now"),
            now_fn,
            boa_engine::property::Attribute::all(),
        )
        .build();
    f.set(js_string!("performance"), performance, false, ctx)?;
    f.set(
        js_string!("exec"),
        NativeFunction::from_fn_ptr(super::pipy_exec::exec).to_js_function(ctx.realm()),
        false,
        ctx,
    )?;
    Ok(())
}

/// Files `pipy.watch` looks at at once per thread, at most.
const MAX_WATCHES: usize = 256;

thread_local! {
    static WATCHES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How often `pipy.watch` looks at the file.
const WATCH_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// `pipy.watch(path)`: a Promise that resolves once the codebase's file
/// changes (looked at every second).
fn watch(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args, ctx)?;
    let key = crate::codebase::normalize(&path).to_string();
    let first = module::read_file(&key);
    let (promise, resolvers) = boa_engine::object::builtins::JsPromise::new_pending(ctx);
    if WATCHES.with(std::cell::Cell::get) >= MAX_WATCHES {
        return Err(JsNativeError::error()
            .with_message(format!(
                "pipy.watch(): more than {MAX_WATCHES} files watched"
            ))
            .into());
    }
    WATCHES.with(|w| w.set(w.get() + 1));
    let engine = host::engine_generation();
    fn look(
        key: String,
        first: Option<Vec<u8>>,
        resolve: boa_engine::object::builtins::JsFunction,
        engine: u64,
    ) {
        pipy_core::io::after(
            WATCH_PERIOD,
            Box::new(move || {
                // The engine that asked is gone: stop looking.
                if host::engine_generation() != engine {
                    WATCHES.with(|w| w.set(w.get().saturating_sub(1)));
                    return;
                }
                if module::read_file(&key) != first {
                    WATCHES.with(|w| w.set(w.get().saturating_sub(1)));
                    crate::with_js(|ctx| {
                        let _ = resolve.call(&JsValue::undefined(), &[], ctx);
                        let _ = ctx.run_jobs();
                    });
                } else {
                    look(key, first, resolve, engine);
                }
            }),
        );
    }
    look(key, first, resolvers.resolve, engine);
    Ok(promise.into())
}

/// `pipy.list(dir)`: the codebase's files under `dir`, at any depth.
fn list(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let dir = path_arg(args, ctx)?;
    let names: Vec<JsValue> = crate::overlay::list(&dir, host::hooks().codebase.as_ref())
        .into_iter()
        .map(|n| js_string!(n.as_str()).into())
        .collect();
    Ok(boa_engine::object::builtins::JsArray::from_iter(names, ctx).into())
}

/// `pipy.mount(name, dir)`: a folder of the file system as `/name/` of the
/// codebase.
fn mount(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = crate::convert::arg_text(args, 0, ctx)?;
    let dir = crate::convert::arg_text(args, 1, ctx)?;
    crate::overlay::mount(&name, &dir, host::hooks().codebase.as_ref())
        .map_err(|e| JsNativeError::error().with_message(e))?;
    Ok(JsValue::undefined())
}

/// `pipy.unmount(name)`.
fn unmount(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    crate::overlay::unmount(&crate::convert::arg_text(args, 0, ctx)?);
    Ok(JsValue::undefined())
}

/// `pipy.patch(path, content)`: the file's content, in memory, for every
/// later read (a reload included).
fn patch(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = crate::convert::arg_text(args, 0, ctx)?;
    let content = args.get(1).cloned().unwrap_or_default();
    let bytes = match super::data::data_of(&content) {
        Some(d) => d.to_bytes().to_vec(),
        None if content.is_string() => content.to_string(ctx)?.to_std_string_escaped().into_bytes(),
        None => {
            return Err(JsNativeError::typ()
                .with_message("pipy.patch(): argument #2 expects a string or a Data")
                .into())
        }
    };
    crate::overlay::patch(&path, bytes)
        .map_err(|e| JsNativeError::range().with_message(format!("pipy.patch(): {e}")))?;
    Ok(JsValue::undefined())
}

/// `pipy.fork(f)`: calls `f` in a new context (its context variables start
/// afresh), as upstream's, and gives what it returns.
fn fork(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = args
        .first()
        .and_then(|f| f.as_callable())
        .ok_or_else(|| JsNativeError::typ().with_message("pipy.fork(): expects a function"))?;
    let pctx = pipy_core::Context::new(None);
    crate::vars::enter(&pctx, || f.call(&JsValue::undefined(), &[], ctx))
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
        ("watch", NativeFunction::from_fn_ptr(watch)),
        ("list", NativeFunction::from_fn_ptr(list)),
        ("fork", NativeFunction::from_fn_ptr(fork)),
        ("exit", NativeFunction::from_fn_ptr(exit)),
        ("restart", NativeFunction::from_fn_ptr(restart)),
        ("mount", NativeFunction::from_fn_ptr(mount)),
        ("unmount", NativeFunction::from_fn_ptr(unmount)),
        ("patch", NativeFunction::from_fn_ptr(patch)),
    ] {
        let fo = func.to_js_function(ctx.realm());
        f.set(js_string!(name), fo, false, ctx)?;
    }
    // `pipy.pid`, as upstream's declarations have it.
    f.set(js_string!("pid"), std::process::id(), false, ctx)?;
    let tty = super::tty::object(ctx)?;
    f.set(js_string!("tty"), tty, false, ctx)?;
    let argv: Vec<JsValue> = ARGV
        .get()
        .map(|a| a.iter().map(|s| js_string!(s.as_str()).into()).collect())
        .unwrap_or_default();
    let argv = boa_engine::object::builtins::JsArray::from_iter(argv, ctx);
    f.set(js_string!("argv"), argv, false, ctx)?;
    install_info(&f, ctx)?;
    ctx.register_global_property(js_string!("pipy"), f, Attribute::all())?;
    Ok(())
}
