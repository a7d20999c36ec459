//! Modules: script files whose value is a Configuration.
//!
//! A module's source is one expression (the form upstream's reference
//! documents). It is evaluated as the body of a function
//! `with (scope) { return (SOURCE) }`, on the same first line so that positions in
//! errors match the file, and `pipy({...})` inside it declares the module's context
//! variables on `scope`.
//!
//! Or it is written in statements, as upstream 1.5 also runs them (see
//! [`crate::statement`]): a `#!` line, top-level statements, `import` and
//! `export` between files of the codebase. Its body runs inside the same
//! `with (scope)`, where its top-level `var $name`s are context variables;
//! its value is its default export, and importers get its exports object.

use crate::{host, vars, ScriptError};
use boa_engine::{Context, JsObject, JsResult, JsValue, Source};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

struct ModuleEntry {
    path: String,
    scope: JsObject,
    value: Option<JsValue>,
    /// What importers get: a statement module's exports, or `{ default:
    /// value }` made for an expression module when first imported.
    exports: Option<JsObject>,
    /// Written in statements.
    statements: bool,
}

thread_local! {
    /// Modules by id; `None` once released (ids are never reused).
    static MODULES: RefCell<Vec<Option<ModuleEntry>>> = const { RefCell::new(Vec::new()) };
    static BY_PATH: RefCell<HashMap<String, usize>> = RefCell::new(HashMap::new());
    static LOADING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static SOLVED: RefCell<HashMap<String, JsValue>> = RefCell::new(HashMap::new());
}

/// Forgets every module of this thread.
pub(crate) fn reset_thread() {
    MODULES.with(|m| m.borrow_mut().clear());
    BY_PATH.with(|m| m.borrow_mut().clear());
    LOADING.with(|m| m.borrow_mut().clear());
    SOLVED.with(|m| m.borrow_mut().clear());
}

/// Starts loading a new version of the codebase on this engine: files are read
/// and evaluated again, while modules of the running version keep their ids (and
/// so their context variables) for the streams still using them.
pub fn begin_reload() {
    crate::api::pipy::reset_exit_callbacks();
    BY_PATH.with(|m| m.borrow_mut().clear());
    LOADING.with(|m| m.borrow_mut().clear());
    SOLVED.with(|m| m.borrow_mut().clear());
}

/// Reads a file of the codebase.
pub fn read_file(path: &str) -> Option<Vec<u8>> {
    // What `pipy.patch` and `pipy.mount` laid over the codebase comes first.
    match crate::overlay::read(path) {
        Some(content) => content,
        None => host::hooks().codebase.read(path),
    }
}

fn read_source(path: &str) -> Result<String, ScriptError> {
    let bytes = read_file(path).ok_or_else(|| {
        ScriptError::new(format!(
            "{path}: cannot read (codebase {})",
            host::hooks().codebase.describe()
        ))
    })?;
    String::from_utf8(bytes).map_err(|_| ScriptError::new(format!("{path}: not UTF-8 text")))
}

/// Removes a trailing `;` so a module written as a statement still reads as one
/// expression.
fn expression_body(src: &str) -> &str {
    let mut s = src.trim_end();
    while let Some(t) = s.strip_suffix(';') {
        s = t.trim_end();
    }
    s
}

/// What goes before a module's source, on its first line.
pub(crate) const WRAPPER_PREFIX: &str = "(function(__pipy_scope__){with(__pipy_scope__){return(";

/// The module being evaluated right now (`pipy()` declares into it).
pub fn loading() -> Option<usize> {
    LOADING.with(|l| l.borrow().last().copied())
}

/// Scope object of a module.
pub fn scope(id: usize) -> Option<JsObject> {
    MODULES.with(|m| m.borrow().get(id)?.as_ref().map(|e| e.scope.clone()))
}

/// Path of a module as given to [`load`].
pub fn path(id: usize) -> Option<String> {
    MODULES.with(|m| m.borrow().get(id)?.as_ref().map(|e| e.path.clone()))
}

/// Ids of the modules of the version loaded last (the running one once a load
/// or reload succeeded), in load order.
pub fn current() -> Vec<usize> {
    let mut ids: Vec<usize> = BY_PATH.with(|b| b.borrow().values().copied().collect());
    ids.sort_unstable();
    ids
}

/// Adds a module of the version loading now under `key`, its variables'
/// module in step (the two tables share ids); returns its id.
fn add_module(key: &str, scope: JsObject, value: Option<JsValue>) -> usize {
    let id = vars::new_module();
    MODULES.with(|m| {
        let mut m = m.borrow_mut();
        debug_assert_eq!(m.len(), id);
        m.push(Some(ModuleEntry {
            path: key.to_string(),
            scope,
            value,
            exports: None,
            statements: false,
        }))
    });
    BY_PATH.with(|b| b.borrow_mut().insert(key.to_string(), id));
    id
}

/// A native module's place among this thread's modules (its context
/// variables live there), as part of the version loading now: `id` when
/// the module it names is still alive (a native module loads once per
/// thread, as upstream's, and each version that uses it keeps it), else a
/// new id for it. The key is the module's path, marked as native.
pub fn native_module(path: &str, known: Option<usize>) -> (usize, bool) {
    let key = format!("native:{path}");
    let alive =
        known.filter(|id| MODULES.with(|m| m.borrow().get(*id).is_some_and(Option::is_some)));
    if let Some(id) = alive {
        BY_PATH.with(|b| b.borrow_mut().insert(key, id));
        return (id, true);
    }
    let id = add_module(
        &key,
        JsObject::with_null_proto(),
        Some(JsValue::undefined()),
    );
    (id, false)
}

/// The value a module evaluated to (its Configuration), once it has loaded.
pub fn value(id: usize) -> Option<JsValue> {
    MODULES.with(|m| m.borrow().get(id)?.as_ref().and_then(|e| e.value.clone()))
}

/// Forgets modules of a version that no pipeline uses any more, so that the engine's
/// garbage collector can free their scopes, functions and Configurations. Without
/// this every reload would keep the previous version for the life of the process.
/// The modules of the version loaded last are never released.
pub fn release(ids: &[usize]) {
    let current = current();
    let ids: Vec<usize> = ids
        .iter()
        .copied()
        .filter(|id| !current.contains(id))
        .collect();
    vars::release(&ids);
    MODULES.with(|m| {
        let mut m = m.borrow_mut();
        for id in ids {
            if let Some(entry) = m.get_mut(id) {
                *entry = None;
            }
        }
    });
}

/// Whether module `id` was written in statements (a script that may
/// listen on nothing), not as one expression.
pub fn is_statements(id: usize) -> bool {
    MODULES.with(|m| {
        m.borrow()
            .get(id)
            .and_then(|e| e.as_ref())
            .is_some_and(|e| e.statements)
    })
}

/// How many modules this thread holds (released ones not counted).
pub fn held() -> usize {
    MODULES.with(|m| m.borrow().iter().flatten().count())
}

/// Loads (once) and evaluates a module; returns its id and its value.
pub fn load(path: &str, ctx: &mut Context) -> Result<(usize, JsValue), ScriptError> {
    load_with_source(path, None, ctx)
}

/// Like [`load`], with the source given instead of read from the file (`-e`).
pub fn load_with_source(
    path: &str,
    source: Option<&str>,
    ctx: &mut Context,
) -> Result<(usize, JsValue), ScriptError> {
    let key = crate::codebase::normalize(path).to_string();
    if let Some(id) = BY_PATH.with(|b| b.borrow().get(&key).copied()) {
        let value = MODULES.with(|m| m.borrow().get(id)?.as_ref()?.value.clone());
        return match value {
            Some(v) => Ok((id, v)),
            None => Err(ScriptError::new(format!(
                "{key}: circular module reference"
            ))),
        };
    }
    let src = match source {
        Some(s) => s.to_string(),
        None => read_source(&key)?,
    };
    let scope = JsObject::with_null_proto();
    let id = add_module(&key, scope.clone(), None);
    if crate::statement::is_statement_module(&src) {
        return load_statements(id, &key, &src, &scope, ctx);
    }
    let wrapped = format!("{WRAPPER_PREFIX}{}\n)}}}})", expression_body(&src));
    // Not one expression, but it may be statements that start like one
    // (`pipy.listen(...)` on two lines): it did not parse, so nothing ran,
    // and it is tried as such (whose error then says more).
    let source = Source::from_bytes(&wrapped).with_path(Path::new(&key));
    let func = match ctx.eval(source) {
        Ok(f) => f,
        Err(e) => {
            if crate::statement::transform(&src).is_ok() {
                return load_statements(id, &key, &src, &scope, ctx);
            }
            return Err(ScriptError::in_file(
                &key,
                &e,
                WRAPPER_PREFIX.len(),
                expression_body(&src),
            ));
        }
    };
    LOADING.with(|l| l.borrow_mut().push(id));
    let result = call_wrapper(&func, &scope, ctx);
    LOADING.with(|l| l.borrow_mut().pop());
    let value = result
        .map_err(|e| ScriptError::in_file(&key, &e, WRAPPER_PREFIX.len(), expression_body(&src)))?;
    MODULES.with(|m| {
        if let Some(Some(entry)) = m.borrow_mut().get_mut(id) {
            entry.value = Some(value.clone());
        }
    });
    Ok((id, value))
}

/// What goes before a statement module's body, on its first line.
pub(crate) const STATEMENT_PREFIX: &str =
    "(function(__pipy_scope__,__pipy_import__,__pipy_exports__){with(__pipy_scope__){";

/// Loads a module written in statements (see the module docs).
fn load_statements(
    id: usize,
    key: &str,
    src: &str,
    scope: &JsObject,
    ctx: &mut Context,
) -> Result<(usize, JsValue), ScriptError> {
    let t =
        crate::statement::transform(src).map_err(|e| ScriptError::new(format!("{key}: {e}")))?;
    let fail = |e: boa_engine::JsError| ScriptError::in_file(key, &e, STATEMENT_PREFIX.len(), src);
    vars::declare_plain(id, scope, &t.context_vars, ctx).map_err(fail)?;
    let exports = JsObject::with_object_proto(ctx.intrinsics());
    let referrer = key.to_string();
    let import = boa_engine::NativeFunction::from_copy_closure_with_captures(
        |_, args, referrer: &Referrer, ctx| {
            let spec = args
                .first()
                .cloned()
                .unwrap_or_default()
                .to_string(ctx)?
                .to_std_string_escaped();
            import(&referrer.0, &spec, ctx)
        },
        Referrer(referrer),
    )
    .to_js_function(ctx.realm());
    let wrapped = format!("{STATEMENT_PREFIX}{}\n;{}}}}})", t.body, t.epilogue);
    LOADING.with(|l| l.borrow_mut().push(id));
    let result = (|| -> JsResult<()> {
        let source = Source::from_bytes(&wrapped).with_path(Path::new(key));
        let func = ctx.eval(source)?;
        let func = func.as_callable().ok_or_else(|| {
            boa_engine::JsNativeError::typ().with_message("module wrapper is not callable")
        })?;
        func.call(
            &JsValue::undefined(),
            &[scope.clone().into(), import.into(), exports.clone().into()],
            ctx,
        )?;
        ctx.run_jobs()
    })();
    LOADING.with(|l| l.borrow_mut().pop());
    result.map_err(fail)?;
    // What the body gave its context variables is where each pipeline's start.
    vars::capture_defaults(id, ctx).map_err(fail)?;
    let value = exports
        .get(boa_engine::js_string!("default"), ctx)
        .map_err(fail)?;
    MODULES.with(|m| {
        if let Some(Some(entry)) = m.borrow_mut().get_mut(id) {
            entry.value = Some(value.clone());
            entry.exports = Some(exports);
            entry.statements = true;
        }
    });
    Ok((id, value))
}

/// The importing module's path, for resolving what it imports.
#[derive(Clone, boa_gc::Trace, boa_gc::Finalize)]
struct Referrer(#[unsafe_ignore_trace] String);

/// `spec` as seen from module `referrer`: relative to its folder unless it
/// starts with `/`, with `.` and `..` resolved.
pub fn resolve(referrer: &str, spec: &str) -> String {
    let joined = if spec.starts_with('/') {
        spec.to_string()
    } else {
        let dir = referrer.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{spec}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// `import ... from spec` in module `referrer`, and `pipy.import(spec)`: the
/// exports of the module (loaded once).
pub fn import(referrer: &str, spec: &str, ctx: &mut Context) -> JsResult<JsValue> {
    let path = resolve(referrer, spec);
    let (id, value) = load(&path, ctx).map_err(|e| {
        boa_engine::JsNativeError::error()
            .with_message(format!("cannot import {spec}: {}", e.message))
    })?;
    if let Some(exports) = MODULES.with(|m| m.borrow().get(id)?.as_ref()?.exports.clone()) {
        return Ok(exports.into());
    }
    let exports = JsObject::with_object_proto(ctx.intrinsics());
    exports.set(boa_engine::js_string!("default"), value, false, ctx)?;
    MODULES.with(|m| {
        if let Some(Some(entry)) = m.borrow_mut().get_mut(id) {
            entry.exports = Some(exports.clone());
        }
    });
    Ok(exports.into())
}

/// Calls a module's parsed wrapper with its scope.
fn call_wrapper(func: &JsValue, scope: &JsObject, ctx: &mut Context) -> JsResult<JsValue> {
    let func = func.as_callable().ok_or_else(|| {
        boa_engine::JsNativeError::typ().with_message("module wrapper is not callable")
    })?;
    let v = func.call(&JsValue::undefined(), &[scope.clone().into()], ctx)?;
    ctx.run_jobs()?;
    Ok(v)
}

/// `pipy.solve(path)`: evaluates a file as one expression, once per path.
pub fn solve(path: &str, ctx: &mut Context) -> JsResult<JsValue> {
    let key = crate::codebase::normalize(path).to_string();
    if let Some(v) = SOLVED.with(|s| s.borrow().get(&key).cloned()) {
        return Ok(v);
    }
    let src = read_source(&key)
        .map_err(|e| boa_engine::JsNativeError::error().with_message(e.message))?;
    let wrapped = format!("(function(){{return({}\n)}})", expression_body(&src));
    let source = Source::from_bytes(&wrapped).with_path(Path::new(&key));
    let func = ctx.eval(source)?;
    let v = match func.as_callable() {
        Some(f) => f.call(&JsValue::undefined(), &[], ctx)?,
        None => JsValue::undefined(),
    };
    SOLVED.with(|s| s.borrow_mut().insert(key, v.clone()));
    Ok(v)
}

/// The global `pipy(vars?)`: declares context variables of the loading module and
/// returns its Configuration.
pub(crate) fn pipy_function(
    _this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let Some(id) = loading() else {
        return Err(boa_engine::JsNativeError::error()
            .with_message("pipy() can only be called while a module loads")
            .into());
    };
    if let Some(obj) = args.first().and_then(|v| v.as_object()) {
        let scope = scope(id).expect("loading module has a scope");
        vars::declare(id, &scope, &obj, ctx)?;
    }
    (host::hooks().make_configuration)(ctx, id)
}
