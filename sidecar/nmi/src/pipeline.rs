//! Running native pipelines: their numbers (`pipy_pipeline`), holds, output,
//! and functions scheduled onto their thread from any thread.
//!
//! A pipeline's number is known process-wide (another thread may schedule or
//! free by it); what it runs with (its callbacks, context, output) stays on
//! its own thread. Every call into native code goes through [`call`], which
//! lends the engine and gives the call its scope of values; what the code
//! outputs meanwhile is delivered once it returns and the engine is free
//! again, so that the filters after it may run scripts.

use crate::module::{NativeModule, PipelineDef};
use crate::{engine, values};
use pipy_core::{Event, EventTarget};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A function to run on a pipeline's thread.
type Job = Box<dyn FnOnce() + Send>;

/// What any thread knows of a pipeline.
#[derive(Clone)]
struct Shared {
    post: tokio::sync::mpsc::UnboundedSender<Job>,
    holds: Arc<AtomicI32>,
}

/// What its own thread knows.
struct Local {
    module: Rc<NativeModule>,
    def: PipelineDef,
    user_ptr: *mut c_void,
    context: Rc<pipy_core::Context>,
    output: EventTarget,
    /// Whether its filter still holds it (one of the holds).
    filter_holds: bool,
    /// Held while native code holds the pipeline beyond its filter: a worker
    /// with no port runs on while a module's thread may still answer.
    busy: Option<pipy_js::busy::Busy>,
}

static SHARED: Mutex<Option<HashMap<i32, Shared>>> = Mutex::new(None);
static NEXT_ID: AtomicI32 = AtomicI32::new(1);

thread_local! {
    static LOCAL: RefCell<HashMap<i32, Local>> = RefCell::new(HashMap::new());
    static POST: RefCell<Option<tokio::sync::mpsc::UnboundedSender<Job>>> = const { RefCell::new(None) };
    /// Events output by the native code running now, delivered after it.
    static PENDING: RefCell<Vec<(EventTarget, Event)>> = const { RefCell::new(Vec::new()) };
    /// Free functions of `pjs_native` objects the engine let go of, run
    /// after the native call (never inside the engine's collector).
    static FINALIZED: RefCell<Vec<(crate::api_values::ObjectFree, usize)>> = const { RefCell::new(Vec::new()) };
}

fn shared<R>(f: impl FnOnce(&mut HashMap<i32, Shared>) -> R) -> R {
    let mut g = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(HashMap::new))
}

/// The sender of jobs to this thread, starting its receiver the first time.
fn poster() -> tokio::sync::mpsc::UnboundedSender<Job> {
    POST.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(|| {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
                pipy_core::io::spawn(Box::pin(async move {
                    while let Some(job) = rx.recv().await {
                        job();
                    }
                }));
                tx
            })
            .clone()
    })
}

/// Runs native code `f` with the engine lent and a scope of values, then
/// delivers what it output. `None` when the engine is in use further up.
pub(crate) fn call<R>(f: impl FnOnce(&mut boa_engine::Context) -> R) -> Option<R> {
    let r = pipy_js::try_with_js(|ctx| values::scope(|| f(ctx)))?;
    after_native_call();
    Some(r)
}

/// Delivers the events native code output, and runs the free functions of
/// native objects the engine let go of meanwhile. Only where the engine is
/// free: the filters the events reach may run scripts. (Called by [`call`]
/// once its native code returned, and on the next turn after a collection.)
fn after_native_call() {
    if engine::is_lent() {
        return;
    }
    loop {
        let out = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        let freed = FINALIZED.with(|f| std::mem::take(&mut *f.borrow_mut()));
        if out.is_empty() && freed.is_empty() {
            break;
        }
        for (target, evt) in out {
            target.send(evt);
        }
        for (free, ptr) in freed {
            // SAFETY: the module gave this function for this pointer in
            // `pjs_native`; it runs once, as the object is gone.
            unsafe { free(ptr as *mut c_void) };
        }
    }
}

/// Queues a native object's free function (see [`after_native_call`]); it
/// runs after the native call in progress, or on the next turn of the loop.
pub(crate) fn finalized(free: crate::api_values::ObjectFree, ptr: usize) {
    let first = FINALIZED
        .try_with(|f| {
            let mut f = f.borrow_mut();
            f.push((free, ptr));
            f.len() == 1
        })
        .unwrap_or(false);
    if first {
        pipy_core::io::after_background(
            Duration::ZERO,
            Box::new(|| {
                if pipy_js::try_with_js(|_| ()).is_some() {
                    after_native_call();
                }
            }),
        );
    }
}

/// Starts a pipeline of `module`: its init runs now.
pub(crate) fn create(
    module: Rc<NativeModule>,
    def: PipelineDef,
    context: Rc<pipy_core::Context>,
    output: EventTarget,
) -> i32 {
    let post = poster();
    let id = shared(|m| loop {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if id <= 0 {
            NEXT_ID.store(1, Ordering::Relaxed);
            continue;
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = m.entry(id) {
            slot.insert(Shared {
                post: post.clone(),
                holds: Arc::new(AtomicI32::new(1)),
            });
            break id;
        }
    });
    LOCAL.with(|l| {
        l.borrow_mut().insert(
            id,
            Local {
                module,
                def,
                user_ptr: std::ptr::null_mut(),
                context,
                output,
                filter_holds: true,
                busy: None,
            },
        )
    });
    if let Some(init) = def.init {
        let mut user_ptr: *mut c_void = std::ptr::null_mut();
        call(|ctx| {
            // SAFETY: the module's init callback, with its pipeline number and
            // where it leaves its state.
            engine::lend(ctx, || unsafe { init(id, &mut user_ptr) })
        });
        LOCAL.with(|l| {
            if let Some(p) = l.borrow_mut().get_mut(&id) {
                p.user_ptr = user_ptr;
            }
        });
    }
    id
}

/// Feeds an event to pipeline `id`.
pub(crate) fn input(id: i32, mut evt: Event) {
    let Some((def, user_ptr)) = LOCAL.with(|l| l.borrow().get(&id).map(|p| (p.def, p.user_ptr)))
    else {
        return;
    };
    let Some(process) = def.process else { return };
    call(|ctx| {
        let value = pipy_js::convert::event_to_js(&mut evt, ctx).unwrap_or_default();
        let handle = values::alloc(value);
        // SAFETY: the module's process callback, with the state its init left.
        engine::lend(ctx, || unsafe { process(id, user_ptr, handle) });
    });
}

/// `pipy_hold`: on the pipeline's own thread only.
pub(crate) fn hold(id: i32) {
    let known = LOCAL.with(|l| l.borrow().contains_key(&id));
    if !known {
        return;
    }
    if let Some(s) = shared(|m| m.get(&id).cloned()) {
        s.holds.fetch_add(1, Ordering::AcqRel);
        refresh_busy(id);
    }
}

/// Counts the pipeline as work in flight while native code holds it (its
/// holds now, read afresh: another thread may have scheduled meanwhile).
fn refresh_busy(id: i32) {
    let Some(holds) = shared(|m| m.get(&id).map(|s| s.holds.load(Ordering::Acquire))) else {
        return;
    };
    LOCAL.with(|l| {
        if let Some(p) = l.borrow_mut().get_mut(&id) {
            if holds > i32::from(p.filter_holds) {
                if p.busy.is_none() {
                    p.busy = Some(pipy_js::busy::Busy::begin());
                }
            } else {
                p.busy = None;
            }
        }
    });
}

/// The filter running pipeline `id` is gone: its hold goes.
pub(crate) fn filter_done(id: i32) {
    LOCAL.with(|l| {
        if let Some(p) = l.borrow_mut().get_mut(&id) {
            p.filter_holds = false;
        }
    });
    release(id);
}

/// `pipy_free` (and the end of a pipeline's filter): from any thread.
pub(crate) fn release(id: i32) {
    let Some(s) = shared(|m| m.get(&id).cloned()) else {
        return;
    };
    let mine = LOCAL.with(|l| l.borrow().contains_key(&id));
    if !mine {
        let _ = s.post.send(Box::new(move || release(id)));
        return;
    }
    let left = s.holds.fetch_sub(1, Ordering::AcqRel) - 1;
    if left > 0 {
        refresh_busy(id);
        return;
    }
    if left < 0 {
        return;
    }
    shared(|m| m.remove(&id));
    let Some(p) = LOCAL.with(|l| l.borrow_mut().remove(&id)) else {
        return;
    };
    if let Some(free) = p.def.free {
        let user_ptr = p.user_ptr as usize;
        let run = move || {
            call(|ctx| {
                // SAFETY: the module's free callback, once, with its state.
                engine::lend(ctx, || unsafe { free(id, user_ptr as *mut c_void) })
            })
        };
        if run().is_none() {
            // The engine is busy further up (a script let go of the pipeline
            // that holds this filter): free on the next turn.
            pipy_core::io::after_background(
                Duration::ZERO,
                Box::new(move || {
                    let _ = run();
                }),
            );
        }
    }
    drop(p);
}

/// `pipy_schedule`: from any thread, runs `f(user_ptr)` on the pipeline's
/// thread after `timeout` seconds, holding the pipeline until then.
pub(crate) fn schedule(
    id: i32,
    timeout: f64,
    f: unsafe extern "C" fn(*mut c_void),
    user_ptr: usize,
) {
    let Some(s) = shared(|m| m.get(&id).cloned()) else {
        return;
    };
    // Only a pipeline still held: one whose last hold just went is being
    // freed on its thread, and its state with it.
    let held = s
        .holds
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n > 0).then_some(n + 1)
        });
    if held.is_err() {
        return;
    }
    let job: Job = Box::new(move || {
        refresh_busy(id);
        let run = move || {
            call(|ctx| {
                // SAFETY: the function and pointer the module scheduled.
                engine::lend(ctx, || unsafe { f(user_ptr as *mut c_void) })
            });
            release(id);
        };
        if timeout > 0.0 && timeout.is_finite() {
            let delay = Duration::from_secs_f64(timeout.min(1e9));
            pipy_core::io::after(delay, Box::new(run));
        } else {
            run();
        }
    });
    if s.post.send(job).is_err() {
        s.holds.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `pipy_output_event`: queues an event of pipeline `id` (its own thread).
pub(crate) fn output(id: i32, evt: Event) {
    let Some(target) = LOCAL.with(|l| l.borrow().get(&id).map(|p| p.output.clone())) else {
        return;
    };
    PENDING.with(|p| p.borrow_mut().push((target, evt)));
}

/// The module and context of pipeline `id`, on its own thread.
pub(crate) fn context_of(id: i32) -> Option<(Rc<NativeModule>, Rc<pipy_core::Context>)> {
    LOCAL.with(|l| {
        l.borrow()
            .get(&id)
            .map(|p| (p.module.clone(), p.context.clone()))
    })
}

/// Forgets this thread's pipelines without calling into their modules (the
/// thread ends).
pub(crate) fn clear() {
    // Dropped after the borrow: what they hold may reach back here.
    let gone: Vec<(i32, Local)> = LOCAL.with(|l| l.borrow_mut().drain().collect());
    shared(|m| {
        for (id, _) in &gone {
            m.remove(id);
        }
    });
    drop(gone);
    POST.with(|p| *p.borrow_mut() = None);
    PENDING.with(|p| p.borrow_mut().clear());
}
