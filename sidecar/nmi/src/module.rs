//! Loading a native module: `dlopen`, its `pipy_module_init()`, and what it
//! defined there. A module is loaded once per thread and engine (a reload of
//! the codebase initialises it again for the new engine, as a new thread
//! would); the shared object itself stays mapped for the process's life,
//! since its own threads may still run.

use crate::engine;
use boa_engine::{Context, JsValue};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::rc::Rc;

/// `fn_pipeline_init`.
pub(crate) type InitFn = unsafe extern "C" fn(i32, *mut *mut c_void);
/// `fn_pipeline_free`.
pub(crate) type FreeFn = unsafe extern "C" fn(i32, *mut c_void);
/// `fn_pipeline_process`.
pub(crate) type ProcessFn = unsafe extern "C" fn(i32, *mut c_void, i32);

/// The callbacks of one pipeline a module defined.
#[derive(Clone, Copy)]
pub(crate) struct PipelineDef {
    pub(crate) init: Option<InitFn>,
    pub(crate) free: Option<FreeFn>,
    pub(crate) process: Option<ProcessFn>,
}

/// What `pipy_module_init()` defines, gathered while it runs.
#[derive(Default)]
pub(crate) struct Definitions {
    variables: Vec<(i32, String, Option<String>, JsValue)>,
    pipelines: Vec<(String, PipelineDef)>,
}

/// A native module as loaded on this thread.
pub struct NativeModule {
    path: String,
    /// The module of context variables its variables live in (`pipy_js::vars`).
    vars_module: usize,
    /// Slot of each variable id.
    slots: HashMap<i32, usize>,
    entry: Option<PipelineDef>,
    named: HashMap<String, PipelineDef>,
}

impl NativeModule {
    /// The path it was loaded from, as the script gave it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The pipeline `use(path, name)` runs: the entry one for an empty name.
    pub(crate) fn pipeline(&self, name: &str) -> Result<PipelineDef, String> {
        if name.is_empty() {
            self.entry.ok_or_else(|| {
                format!(
                    "cannot find the entry pipeline in native module {}",
                    self.path
                )
            })
        } else {
            self.named.get(name).copied().ok_or_else(|| {
                format!(
                    "cannot find pipeline '{name}' in native module {}",
                    self.path
                )
            })
        }
    }

    /// The context-variable slot of variable `id`.
    pub(crate) fn variable(&self, id: i32) -> Option<(usize, usize)> {
        self.slots.get(&id).map(|s| (self.vars_module, *s))
    }
}

thread_local! {
    /// Modules loaded for the engine of this generation, by path.
    static LOADED: RefCell<(u64, HashMap<String, Rc<NativeModule>>)> =
        RefCell::new((0, HashMap::new()));
    /// Definitions of the module whose init runs now.
    static DEFINING: RefCell<Option<Definitions>> = const { RefCell::new(None) };
    /// The last variable id handed out for an id below 0 (per thread, as
    /// upstream's).
    static LAST_VARIABLE_ID: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// Adds a variable to the module being defined; its id, or -1 outside an init.
pub(crate) fn define_variable(id: i32, name: String, ns: Option<String>, value: JsValue) -> i32 {
    DEFINING.with(|d| {
        let mut d = d.borrow_mut();
        let Some(defs) = d.as_mut() else { return -1 };
        let id = if id < 0 {
            LAST_VARIABLE_ID.with(|n| n.replace(n.get() + 1))
        } else {
            id
        };
        defs.variables.push((id, name, ns, value));
        id
    })
}

/// Adds a pipeline to the module being defined (ignored outside an init).
pub(crate) fn define_pipeline(name: String, def: PipelineDef) {
    DEFINING.with(|d| {
        if let Some(defs) = d.borrow_mut().as_mut() {
            defs.pipelines.push((name, def));
        }
    });
}

/// The module at `path` for this thread's engine, loading and initialising it
/// the first time.
pub fn load(path: &str, ctx: &mut Context) -> Result<Rc<NativeModule>, String> {
    let generation = pipy_js::engine_generation();
    let known = LOADED.with(|l| {
        let mut l = l.borrow_mut();
        if l.0 != generation {
            *l = (generation, HashMap::new());
            // Inits run again for the new engine: ids handed out come out
            // as the first time (modules keep them in their own globals).
            LAST_VARIABLE_ID.with(|n| n.set(0));
        }
        l.1.get(path).cloned()
    });
    // Once per thread and engine, as upstream's; each version of the
    // codebase that uses it keeps it (and its variables) alive.
    let (vars_module, alive) =
        pipy_js::module::native_module(path, known.as_ref().map(|m| m.vars_module));
    if let (true, Some(m)) = (alive, known) {
        return Ok(m);
    }
    let init = open(path)?;
    DEFINING.with(|d| *d.borrow_mut() = Some(Definitions::default()));
    // SAFETY: `init` is the module's `pipy_module_init`, of the C type
    // `void (*)(void)` by the interface's contract.
    engine::lend(ctx, || unsafe { init() });
    let defs = DEFINING.with(|d| d.borrow_mut().take()).unwrap_or_default();
    let module = Rc::new(build(path, vars_module, defs)?);
    LOADED.with(|l| l.borrow_mut().1.insert(path.to_string(), module.clone()));
    Ok(module)
}

fn build(path: &str, vars_module: usize, defs: Definitions) -> Result<NativeModule, String> {
    let mut vars: Vec<(String, Option<String>, JsValue)> = Vec::new();
    let mut slots = HashMap::new();
    for (id, name, ns, value) in defs.variables {
        if vars.iter().any(|(n, ..)| *n == name) {
            return Err(format!(
                "duplicated variables {name} in native module {path}"
            ));
        }
        slots.insert(id, vars.len());
        vars.push((name, ns, value));
    }
    let mut entry = None;
    let mut named = HashMap::new();
    for (name, def) in defs.pipelines {
        if name.is_empty() {
            entry = Some(def);
        } else if named.insert(name.clone(), def).is_some() {
            return Err(format!(
                "duplicated pipeline {name} in native module {path}"
            ));
        }
    }
    pipy_js::vars::declare_native(vars_module, &vars);
    Ok(NativeModule {
        path: path.to_string(),
        vars_module,
        slots,
        entry,
        named,
    })
}

/// Maps the shared object (once per process: `dlopen` counts) and finds its
/// init function.
fn open(path: &str) -> Result<unsafe extern "C" fn(), String> {
    let c_path = CString::new(path).map_err(|_| format!("cannot load native module '{path}'"))?;
    // SAFETY: a NUL-terminated path; the handle is never closed (the module's
    // code may run on its own threads for as long as the process does).
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW) };
    if handle.is_null() {
        return Err(format!(
            "cannot load native module '{path}' due to: {}",
            last_dl_error()
        ));
    }
    // SAFETY: a live handle and a NUL-terminated name.
    let sym = unsafe { libc::dlsym(handle, c"pipy_module_init".as_ptr()) };
    if sym.is_null() {
        return Err(format!(
            "pipy_module_init() not found in native module {path}"
        ));
    }
    // SAFETY: the interface declares `pipy_module_init` as `void (void)`.
    Ok(unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn()>(sym) })
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated message of this thread.
    let msg: *const c_char = unsafe { libc::dlerror() };
    if msg.is_null() {
        return "unknown error".to_string();
    }
    // SAFETY: checked non-null above; valid until the next dl call here.
    unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned()
}

/// Forgets this thread's modules (its engine is going away).
pub(crate) fn clear() {
    LOADED.with(|l| *l.borrow_mut() = (0, HashMap::new()));
    LAST_VARIABLE_ID.with(|n| n.set(0));
}
