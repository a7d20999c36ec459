//! The script engine as the C functions reach it: native code runs only
//! inside calls this crate makes (a module's init, a pipeline's callbacks, a
//! scheduled function), each of which lends the thread's engine for its
//! duration. A C function called at any other time, or from another thread,
//! finds no engine and does nothing.

use boa_engine::Context;
use std::cell::Cell;

thread_local! {
    static ENGINE: Cell<*mut Context> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs native code `f` with `ctx` lent to the C functions it calls.
pub(crate) fn lend<R>(ctx: &mut Context, f: impl FnOnce() -> R) -> R {
    let prev = ENGINE.with(|e| e.replace(ctx as *mut Context));
    let r = f();
    ENGINE.with(|e| e.set(prev));
    r
}

/// Runs `f` with the engine lent to the running native code, if any.
///
/// `f` must not call native code (which could reach the engine again):
/// callers gather what they need here and call out afterwards.
pub(crate) fn with<R>(f: impl FnOnce(&mut Context) -> R) -> Option<R> {
    // Taken while `f` runs: a C function reached from inside it (a native
    // object's free function run by the collector) finds no engine instead
    // of a second `&mut` to it.
    let ptr = ENGINE.with(|e| e.replace(std::ptr::null_mut()));
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `lend` stored this pointer from a `&mut Context` that its caller
    // does not touch until the native code it runs returns, and it is reset
    // before that borrow ends. Only one `&mut` made here lives at a time: the
    // pointer is out of reach until `f` returns.
    let ctx = unsafe { &mut *ptr };
    let r = f(ctx);
    ENGINE.with(|e| e.set(ptr));
    Some(r)
}

/// Whether native code runs now (inside [`lend`]).
pub(crate) fn is_lent() -> bool {
    ENGINE.with(|e| !e.get().is_null())
}
