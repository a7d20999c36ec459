//! The per-thread engine and the hooks the runtime plugs into it.

use crate::{api, vars, ScriptError};
use boa_engine::{Context, JsResult, JsValue};
use std::cell::RefCell;
use std::rc::Rc;

/// What the host asks of the runtime that embeds it.
#[derive(Clone)]
pub struct HostHooks {
    /// The codebase's files: module paths and `pipy.load` resolve here.
    pub codebase: std::sync::Arc<dyn crate::codebase::Codebase>,
    /// Builds the Configuration object `pipy({...})` returns, for a module id.
    pub make_configuration: fn(&mut Context, usize) -> JsResult<JsValue>,
    /// `pipy.exit(code)`.
    pub exit: Rc<dyn Fn(i32)>,
    /// `pipy.restart()`.
    pub restart: Rc<dyn Fn()>,
}

/// Boa's job executor, run only when a job is queued: after every callback the
/// host runs pending jobs, and most callbacks queue none.
#[derive(Default)]
struct Jobs {
    inner: Rc<boa_engine::job::SimpleJobExecutor>,
    pending: std::cell::Cell<bool>,
}

impl boa_engine::job::JobExecutor for Jobs {
    fn enqueue_job(self: Rc<Self>, job: boa_engine::job::Job, ctx: &mut Context) {
        self.pending.set(true);
        self.inner.clone().enqueue_job(job, ctx);
    }

    fn run_jobs(self: Rc<Self>, ctx: &mut Context) -> JsResult<()> {
        if !self.pending.replace(false) {
            return Ok(());
        }
        self.inner.clone().run_jobs(ctx)
    }
}

thread_local! {
    static ENGINE: RefCell<Option<Context>> = const { RefCell::new(None) };
    /// Counts the engines this thread made: script objects remember theirs.
    static GENERATION: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static HOOKS: RefCell<Option<HostHooks>> = const { RefCell::new(None) };
}

/// Creates this thread's engine with every API object installed. Replaces an
/// earlier engine of this thread (a reload starts from a clean realm).
pub fn init_thread(hooks: HostHooks) -> Result<(), ScriptError> {
    let mut ctx = boa_engine::context::ContextBuilder::new()
        .job_executor(Rc::new(Jobs::default()))
        .build()
        .map_err(|e| ScriptError::from_js(&e))?;
    HOOKS.with(|h| *h.borrow_mut() = Some(hooks));
    GENERATION.with(|g| g.set(g.get() + 1));
    vars::reset_thread();
    crate::module::reset_thread();
    api::stats::reset_thread();
    api::head::reset_thread();
    api::install(&mut ctx).map_err(|e| ScriptError::from_js(&e))?;
    ENGINE.with(|e| *e.borrow_mut() = Some(ctx));
    Ok(())
}

/// Which engine of this thread runs now (a reload makes a new one).
pub fn engine_generation() -> u64 {
    GENERATION.with(std::cell::Cell::get)
}

/// Lets go of what this thread's API objects hold for the engine, before the
/// thread ends (its loop is gone: nothing may run on it any more).
pub fn end_thread() {
    api::stats::reset_thread();
    api::head::reset_thread();
    GENERATION.with(|g| g.set(g.get() + 1));
}

/// The hooks given to [`init_thread`].
pub(crate) fn hooks() -> HostHooks {
    HOOKS.with(|h| {
        h.borrow()
            .clone()
            .expect("pipy-js host not initialised on this thread")
    })
}

/// Runs `f` with this thread's engine.
///
/// # Panics
/// When the thread has no engine or the engine is already in use further up the
/// stack (native code called from JS gets the context as an argument instead).
pub fn with_js<R>(f: impl FnOnce(&mut Context) -> R) -> R {
    let r = ENGINE.with(|e| {
        let mut guard = e.borrow_mut();
        let ctx = guard
            .as_mut()
            .expect("pipy-js engine not initialised on this thread");
        f(ctx)
    });
    // The engine is free again: Promises settled meanwhile go on now.
    crate::promise::run_settled();
    r
}

/// [`with_js`], or `None` when the engine is in use further up the stack (a
/// value dropped while a script runs) or the thread has none.
pub fn try_with_js<R>(f: impl FnOnce(&mut Context) -> R) -> Option<R> {
    let r = ENGINE.with(|e| {
        let mut guard = e.try_borrow_mut().ok()?;
        guard.as_mut().map(f)
    })?;
    crate::promise::run_settled();
    Some(r)
}

/// Calls a script function inside the context of a pipeline.
pub fn call(
    func: &JsValue,
    args: &[JsValue],
    pctx: &Rc<pipy_core::Context>,
) -> Result<JsValue, ScriptError> {
    let Some(obj) = func.as_callable() else {
        return Ok(func.clone());
    };
    vars::enter(pctx, || {
        with_js(|ctx| {
            let r = obj.call(&JsValue::undefined(), args, ctx);
            // Promise jobs queued by the callback run now, before the next event.
            let _ = ctx.run_jobs();
            r.map_err(|e| ScriptError::from_js(&e))
        })
    })
}
