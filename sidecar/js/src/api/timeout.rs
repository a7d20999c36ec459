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
use std::time::{Duration, Instant};

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
    /// When it fires; a restart moves it.
    deadline: Instant,
    /// Whether a timer runs for it: one at most, whatever the restarts.
    timer_live: bool,
    /// Counts as work in flight (`crate::busy`) until it fires or is
    /// canceled.
    busy: Option<crate::busy::Busy>,
    /// The engine it was made in: a reload's new engine never runs its
    /// callbacks.
    engine: u64,
    /// (resolve, reject) of each pending `wait()`.
    waiters: Vec<(JsFunction, JsFunction)>,
    /// The object to settle waiters with, held only while some wait.
    object: Option<JsObject>,
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

fn uncount(s: &mut Shared) {
    s.busy = None;
}

/// Starts (again) the timer: the deadline moves, and a timer is armed unless
/// one runs already (it re-arms itself for a moved deadline).
fn schedule(shared: &Rc<RefCell<Shared>>) {
    let arm = {
        let mut s = shared.borrow_mut();
        s.state = State::Pending;
        s.deadline = Instant::now() + s.duration;
        if s.busy.is_none() {
            s.busy = Some(crate::busy::Busy::begin());
        }
        !std::mem::replace(&mut s.timer_live, true)
    };
    if arm {
        let d = shared.borrow().duration;
        arm_timer(shared.clone(), d);
    }
}

fn arm_timer(shared: Rc<RefCell<Shared>>, after: Duration) {
    // Its own count (`busy`) keeps a portless worker while it is pending; a
    // canceled one's timer does not.
    pipy_core::io::after_background(after, Box::new(move || tick(shared)));
}

/// The timer ran out: fire, or wait on for a deadline a restart moved.
fn tick(shared: Rc<RefCell<Shared>>) {
    let fire = {
        let mut s = shared.borrow_mut();
        if s.state != State::Pending {
            s.timer_live = false;
            return;
        }
        let now = Instant::now();
        if now < s.deadline {
            let left = s.deadline - now;
            drop(s);
            return arm_timer(shared, left);
        }
        s.timer_live = false;
        s.state = State::Fired;
        uncount(&mut s);
        !s.waiters.is_empty()
    };
    if fire {
        crate::with_js(|ctx| {
            notify(&shared, ctx);
            let _ = ctx.run_jobs();
        });
    }
}

/// Settles every waiting `wait()`: resolved when fired, rejected when
/// canceled (nothing when the engine that made them is gone).
fn notify(shared: &Rc<RefCell<Shared>>, ctx: &mut Context) {
    let (state, waiters, object, engine) = {
        let mut s = shared.borrow_mut();
        (
            s.state,
            std::mem::take(&mut s.waiters),
            s.object.take(),
            s.engine,
        )
    };
    let Some(object) = object else {
        return;
    };
    if engine != crate::host::engine_generation() {
        return;
    }
    let v: JsValue = object.into();
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
    match state {
        State::Fired => Ok(JsPromise::resolve(JsValue::from(object), ctx)?.into()),
        State::Canceled => {
            let v = JsValue::from(object);
            Ok(JsPromise::reject(boa_engine::JsError::from_opaque(v), ctx)?.into())
        }
        State::Pending => {
            let (promise, resolvers) = JsPromise::new_pending(ctx);
            let mut s = shared.borrow_mut();
            s.waiters.push((resolvers.resolve, resolvers.reject));
            s.object = Some(object);
            Ok(promise.into())
        }
    }
}

fn restart(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (_, shared) = this_timeout(this)?;
    if let Some(v) = args.first().filter(|v| !v.is_undefined()) {
        shared.borrow_mut().duration = seconds(v, ctx)?;
    }
    schedule(&shared);
    Ok(JsValue::undefined())
}

fn cancel(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (_, shared) = this_timeout(this)?;
    {
        let mut s = shared.borrow_mut();
        if s.state != State::Pending {
            return Ok(JsValue::undefined());
        }
        s.state = State::Canceled;
        uncount(&mut s);
    }
    notify(&shared, ctx);
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
            deadline: Instant::now() + duration,
            timer_live: false,
            busy: None,
            engine: crate::host::engine_generation(),
            waiters: Vec::new(),
            object: None,
        }))))
    }

    fn object_constructor(
        instance: &JsObject<Self>,
        _: &[JsValue],
        _: &mut Context,
    ) -> JsResult<()> {
        // The timer starts with the object.
        let shared = instance.borrow().data().0.clone();
        schedule(&shared);
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
