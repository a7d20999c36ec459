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

/// What a Promise settled with: `Ok(value)` or `Err(reason)`.
pub type Settled = Result<JsValue, JsValue>;

type Waiter = Box<dyn FnOnce(Settled)>;

thread_local! {
    static READY: RefCell<Vec<(Waiter, Settled)>> = const { RefCell::new(Vec::new()) };
    static ANY_READY: Cell<bool> = const { Cell::new(false) };
}

/// The continuation, shared by the two reactions; it lives with them, so a
/// Promise that never settles takes it along when it is collected.
#[derive(Clone, boa_gc::Trace, boa_gc::Finalize)]
struct Slot(#[unsafe_ignore_trace] std::rc::Rc<RefCell<Option<Waiter>>>);

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
    let slot = Slot(std::rc::Rc::new(RefCell::new(Some(then))));
    let reaction = |ok: bool| {
        NativeFunction::from_copy_closure_with_captures(
            move |_, args, slot: &Slot, _| {
                let v = args.first().cloned().unwrap_or_default();
                settle(slot, if ok { Ok(v) } else { Err(v) });
                Ok(JsValue::undefined())
            },
            slot.clone(),
        )
        .to_js_function(ctx.realm())
    };
    let (on_ok, on_err) = (reaction(true), reaction(false));
    p.then(Some(on_ok), Some(on_err), ctx)?;
    // A Promise settled already queues its reaction now: run it, or it would
    // wait for the next callback to run the queue.
    ctx.run_jobs()
}

fn settle(slot: &Slot, result: Settled) {
    if let Some(f) = slot.0.borrow_mut().take() {
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
