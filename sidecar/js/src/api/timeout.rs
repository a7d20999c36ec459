//! `new Timeout(seconds)`: a timer that starts when made, with `wait()` (a
//! Promise that resolves with the Timeout when it fires, or rejects with it
//! when canceled), `restart(seconds?)` and `cancel()`. A global upstream has
//! beyond its reference; its tests and samples pace themselves with
//! `new Timeout(1).wait().then(...)`.
//!
//! Where upstream 1.5.18 differs: its `restart(seconds)` keeps the old
//! duration and `restart()` throws (the argument test is inverted); here
//! `restart(seconds)` takes the new duration and `restart()` the old one.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsFunction;
use boa_engine::object::builtins::JsPromise;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq)]
enum State {
    Pending,
    Fired,
    Canceled,
}

/// What a Timeout's timer and its waiters share.
struct Shared {
    duration: Duration,
    state: State,
    /// Which schedule is current: a restart or cancel makes older timers moot.
    round: u64,
    /// (resolve, reject) of each pending `wait()`.
    waiters: Vec<(JsFunction, JsFunction)>,
}

/// The script object of `Timeout`.
#[derive(Trace, Finalize, JsData)]
pub struct Timeout(#[unsafe_ignore_trace] Rc<RefCell<Shared>>);

fn seconds(v: &JsValue, ctx: &mut Context) -> JsResult<Duration> {
    let n = v.to_number(ctx)?;
    Duration::try_from_secs_f64(n.max(0.0)).map_err(|_| {
        JsNativeError::typ()
            .with_message(format!("Timeout: {n} is not a number of seconds"))
            .into()
    })
}

fn this_timeout(this: &JsValue) -> JsResult<(JsObject, Rc<RefCell<Shared>>)> {
    let o = this
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message("not a Timeout"))?;
    let shared = o
        .downcast_ref::<Timeout>()
        .map(|t| t.0.clone())
        .ok_or_else(|| JsNativeError::typ().with_message("not a Timeout"))?;
    Ok((o.clone(), shared))
}

thread_local! {
    /// Timers of this thread not yet run out (canceled ones included until
    /// their time).
    static PENDING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static DONE: Rc<tokio::sync::Notify> = Rc::new(tokio::sync::Notify::new());
}

/// Timers of this thread still to run out: a worker with no port stays
/// while there are some, as upstream's event loop does.
pub fn pending() -> usize {
    PENDING.with(std::cell::Cell::get)
}

/// Waits until no timer of this thread is left.
pub async fn all_done() {
    let done = DONE.with(Rc::clone);
    while pending() > 0 {
        done.notified().await;
    }
}

/// Starts (again) the timer of `object`. The timer holds the object until it
/// fires, as upstream's does, so `new Timeout(1).wait()` keeps it alive.
fn schedule(object: JsObject, shared: &Rc<RefCell<Shared>>) {
    let (round, duration) = {
        let mut s = shared.borrow_mut();
        s.round += 1;
        s.state = State::Pending;
        (s.round, s.duration)
    };
    let shared = shared.clone();
    PENDING.with(|p| p.set(p.get() + 1));
    pipy_core::io::after(
        duration,
        Box::new(move || {
            PENDING.with(|p| p.set(p.get().saturating_sub(1)));
            if pending() == 0 {
                DONE.with(|d| d.notify_waiters());
            }
            if shared.borrow().round != round {
                return;
            }
            shared.borrow_mut().state = State::Fired;
            if !shared.borrow().waiters.is_empty() {
                crate::with_js(|ctx| {
                    notify(&object, &shared, ctx);
                    let _ = ctx.run_jobs();
                });
            }
        }),
    );
}

/// Settles every waiting `wait()`: resolved when fired, rejected when canceled.
fn notify(object: &JsObject, shared: &Rc<RefCell<Shared>>, ctx: &mut Context) {
    let (state, waiters) = {
        let mut s = shared.borrow_mut();
        (s.state, std::mem::take(&mut s.waiters))
    };
    let v: JsValue = object.clone().into();
    for (resolve, reject) in waiters {
        let f = if state == State::Fired {
            resolve
        } else {
            reject
        };
        let _ = f.call(&JsValue::undefined(), std::slice::from_ref(&v), ctx);
    }
}

fn wait(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (object, shared) = this_timeout(this)?;
    let state = shared.borrow().state;
    let v: JsValue = object.into();
    match state {
        State::Fired => Ok(JsPromise::resolve(v, ctx)?.into()),
        State::Canceled => Ok(JsPromise::reject(boa_engine::JsError::from_opaque(v), ctx)?.into()),
        State::Pending => {
            let (promise, resolvers) = JsPromise::new_pending(ctx);
            shared
                .borrow_mut()
                .waiters
                .push((resolvers.resolve, resolvers.reject));
            Ok(promise.into())
        }
    }
}

fn restart(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (object, shared) = this_timeout(this)?;
    if let Some(v) = args.first().filter(|v| !v.is_undefined()) {
        shared.borrow_mut().duration = seconds(v, ctx)?;
    }
    schedule(object, &shared);
    Ok(JsValue::undefined())
}

fn cancel(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (object, shared) = this_timeout(this)?;
    {
        let mut s = shared.borrow_mut();
        s.round += 1;
        s.state = State::Canceled;
    }
    notify(&object, &shared, ctx);
    Ok(JsValue::undefined())
}

impl Class for Timeout {
    const NAME: &'static str = "Timeout";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let duration = match args.first() {
            Some(v) if !v.is_undefined() => seconds(v, ctx)?,
            _ => {
                return Err(JsNativeError::typ()
                    .with_message("Timeout(): argument #1 expects a number of seconds")
                    .into())
            }
        };
        Ok(Timeout(Rc::new(RefCell::new(Shared {
            duration,
            state: State::Pending,
            round: 0,
            waiters: Vec::new(),
        }))))
    }

    fn object_constructor(
        instance: &JsObject<Self>,
        _: &[JsValue],
        _: &mut Context,
    ) -> JsResult<()> {
        // The timer starts with the object.
        let shared = instance.borrow().data().0.clone();
        schedule(instance.clone().upcast(), &shared);
        Ok(())
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class
            .method(js_string!("wait"), 0, NativeFunction::from_fn_ptr(wait))
            .method(
                js_string!("restart"),
                1,
                NativeFunction::from_fn_ptr(restart),
            )
            .method(js_string!("cancel"), 0, NativeFunction::from_fn_ptr(cancel));
        Ok(())
    }
}
