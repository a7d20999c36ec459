//! Rust data that holds script values inside a script object, made safe to sweep.
//!
//! Boa's collector does not update reference counts while it drops the objects it
//! swept (`boa_gc::finalizer_safe()` is false then). A script value kept in Rust
//! inside such an object (a callback in a Configuration's filter templates, a
//! resource in a load balancer's sticky map) would therefore keep its count forever:
//! rooted, never collected, and with it everything it reaches, down to the compiled
//! code of its module. [`SweepSafe`] moves its content to a graveyard instead when it
//! is dropped during a sweep, and [`bury`] drops the graveyard outside the sweep.

use std::any::Any;
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// The values waiting for [`bury`].
struct Graveyard(RefCell<Vec<Box<dyn Any>>>);

/// At thread exit the engine's heap may be gone before this thread-local is
/// destroyed: the script handles still here must not touch it, so they are leaked
/// (the thread is ending anyway).
impl Drop for Graveyard {
    fn drop(&mut self) {
        std::mem::forget(std::mem::take(self.0.get_mut()));
    }
}

thread_local! {
    static GRAVEYARD: Graveyard = const { Graveyard(RefCell::new(Vec::new())) };
}

/// A value dropped normally, except during a collection's sweep, when it waits in
/// the graveyard for [`bury`].
pub struct SweepSafe<T: 'static>(Option<T>);

impl<T: 'static> SweepSafe<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(Some(value))
    }
}

impl<T: 'static> Deref for SweepSafe<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Only `drop` takes the value out.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("SweepSafe used after drop"))
    }
}

impl<T: 'static> DerefMut for SweepSafe<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_mut()
            .unwrap_or_else(|| unreachable!("SweepSafe used after drop"))
    }
}

impl<T: 'static> Drop for SweepSafe<T> {
    fn drop(&mut self) {
        if !boa_gc::finalizer_safe() {
            if let Some(value) = self.0.take() {
                let mut value = Some(value);
                let _ = GRAVEYARD.try_with(|g| {
                    if let Some(v) = value.take() {
                        g.0.borrow_mut().push(Box::new(v));
                    }
                });
                // The graveyard is gone (thread exit): leak rather than touch a heap
                // that may be gone too.
                std::mem::forget(value);
            }
        }
    }
}

/// Drops what sweeps left in the graveyard. Call it outside a collection: after
/// `boa_gc::force_collect()`, or from a timer.
pub fn bury() {
    let dead = GRAVEYARD.with(|g| std::mem::take(&mut *g.0.borrow_mut()));
    drop(dead);
}

/// How many values wait in the graveyard.
pub fn waiting() -> usize {
    GRAVEYARD.with(|g| g.0.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use boa_engine::{JsData, JsObject};
    use boa_gc::{Finalize, Trace};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPPED: AtomicUsize = AtomicUsize::new(0);

    struct Token;
    impl Drop for Token {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[derive(Trace, Finalize, JsData)]
    struct Probe {
        #[unsafe_ignore_trace]
        _token: Token,
    }

    /// Rust data of a script object, holding another script object only in Rust.
    #[derive(Trace, Finalize, JsData)]
    struct Holder {
        #[unsafe_ignore_trace]
        _held: SweepSafe<JsObject>,
    }

    /// An object held only from inside a swept object is freed once the graveyard
    /// is buried (dropped inside the sweep, it would stay rooted for ever).
    #[test]
    fn values_held_by_swept_objects_are_freed() {
        let _ctx = boa_engine::Context::default();
        let probe = JsObject::from_proto_and_data(None, Probe { _token: Token });
        let holder = JsObject::from_proto_and_data(
            None,
            Holder {
                _held: SweepSafe::new(probe),
            },
        );
        drop(holder);
        boa_gc::force_collect();
        assert_eq!(waiting(), 1, "the swept holder's content waits");
        assert_eq!(DROPPED.load(Ordering::SeqCst), 0);
        bury();
        boa_gc::force_collect();
        assert_eq!(DROPPED.load(Ordering::SeqCst), 1, "the probe was collected");
    }
}
