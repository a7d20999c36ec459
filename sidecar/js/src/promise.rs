//! Native code waiting on a script's Promise.
//!
//! A filter handed a Promise (`wait`, `insert`) asks to be told when it
//! settles. Boa runs the reactions inside its job queue, that is inside the
//! engine; the filter's continuation runs as soon as the engine is let go
//! (when the outermost [`crate::with_js`] returns), where it may call scripts
//! again. So a Promise settled by a callback is acted on before the next
//! event, as upstream's microtasks are.

use boa_engine::{Context, JsResult, JsValue, NativeFunction};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// What a Promise settled with: `Ok(value)` or `Err(reason)`.
pub type Settled = Result<JsValue, JsValue>;

type Waiter = Box<dyn FnOnce(Settled)>;

thread_local! {
    static WAITERS: RefCell<HashMap<u64, Waiter>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u64> = const { Cell::new(1) };
    static READY: RefCell<Vec<(Waiter, Settled)>> = const { RefCell::new(Vec::new()) };
    static ANY_READY: Cell<bool> = const { Cell::new(false) };
}

/// Whether `v` is a Promise.
pub fn is_promise(v: &JsValue) -> bool {
    v.as_promise().is_some()
}

/// Calls `then` once `promise` settles, on the worker's loop after the job
/// that settled it. A Promise that never settles never calls it; the caller
/// bounds its wait with a timeout of its own where one applies.
pub fn when_settled(promise: &JsValue, ctx: &mut Context, then: Waiter) -> JsResult<()> {
    let Some(p) = promise.as_promise() else {
        then(Ok(promise.clone()));
        return Ok(());
    };
    let id = NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    });
    WAITERS.with(|w| w.borrow_mut().insert(id, then));
    let reaction = |ok: bool| {
        NativeFunction::from_copy_closure_with_captures(
            move |_, args, id: &u64, _| {
                let v = args.first().cloned().unwrap_or_default();
                settle(*id, if ok { Ok(v) } else { Err(v) });
                Ok(JsValue::undefined())
            },
            id,
        )
        .to_js_function(ctx.realm())
    };
    let (on_ok, on_err) = (reaction(true), reaction(false));
    p.then(Some(on_ok), Some(on_err), ctx)?;
    // A Promise settled already queues its reaction now: run it, or it would
    // wait for the next callback to run the queue.
    ctx.run_jobs()
}

fn settle(id: u64, result: Settled) {
    if let Some(f) = WAITERS.with(|w| w.borrow_mut().remove(&id)) {
        READY.with(|r| r.borrow_mut().push((f, result)));
        ANY_READY.with(|a| a.set(true));
    }
}

/// Runs the continuations of the Promises settled so far; called with the
/// engine free.
pub(crate) fn run_settled() {
    while ANY_READY.with(|a| a.replace(false)) {
        let ready = READY.with(|r| std::mem::take(&mut *r.borrow_mut()));
        for (f, result) in ready {
            f(result);
        }
    }
}
