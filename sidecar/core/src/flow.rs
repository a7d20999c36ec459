//! Backpressure between sockets: taps and congestion.
//!
//! Every socket reader owns a [`Tap`]. While it feeds what it read into a
//! pipeline it *enters* the tap, which makes it the thread's current input.
//! Whatever that event causes happens synchronously on this thread, so when a
//! writer further down finds its buffer over its high-water mark it closes the
//! current tap: the reader that caused the growth stops reading its socket
//! until the writer drains (upstream Pipy's InputContext, Envoy's watermarks).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct TapInner {
    /// How many writers hold this tap closed.
    closed_by: Cell<usize>,
    waker: Cell<Option<Waker>>,
}

/// The read side of one socket: open while nobody downstream is congested.
#[derive(Clone, Default)]
pub struct Tap(Rc<TapInner>);

thread_local! {
    static CURRENT: RefCell<Option<Tap>> = const { RefCell::new(None) };
}

impl Tap {
    /// A new, open tap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the reader may read.
    pub fn is_open(&self) -> bool {
        self.0.closed_by.get() == 0
    }

    /// Makes this tap the thread's current input until the guard drops.
    pub fn enter(&self) -> Entered {
        let prev = CURRENT.with(|c| c.replace(Some(self.clone())));
        Entered(prev)
    }

    /// Waits until the tap is open.
    pub fn opened(&self) -> Opened<'_> {
        Opened(self)
    }

    /// Whether two handles are the same tap.
    pub fn ptr_eq(&self, other: &Tap) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    fn close(&self) {
        self.0.closed_by.set(self.0.closed_by.get() + 1);
    }

    fn open(&self) {
        let n = self.0.closed_by.get().saturating_sub(1);
        self.0.closed_by.set(n);
        if n == 0 {
            if let Some(w) = self.0.waker.take() {
                w.wake();
            }
        }
    }
}

/// The tap of the input being handled on this thread, if any.
pub fn current_tap() -> Option<Tap> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Guard of [`Tap::enter`]: restores the previous current tap.
pub struct Entered(Option<Tap>);

impl Drop for Entered {
    fn drop(&mut self) {
        let prev = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

/// Future of [`Tap::opened`].
pub struct Opened<'a>(&'a Tap);

impl Future for Opened<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.is_open() {
            return Poll::Ready(());
        }
        self.0 .0.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// The taps one congested writer holds closed.
#[derive(Default)]
pub struct Congestion {
    held: RefCell<Vec<Tap>>,
}

impl Congestion {
    /// Closes the current input's tap, once per writer.
    pub fn begin(&self) {
        let Some(tap) = current_tap() else { return };
        let mut held = self.held.borrow_mut();
        if held.iter().any(|t| t.ptr_eq(&tap)) {
            return;
        }
        tap.close();
        held.push(tap);
    }

    /// Reopens every tap this writer closed.
    pub fn end(&self) {
        let held = std::mem::take(&mut *self.held.borrow_mut());
        for t in held {
            t.open();
        }
    }

    /// Whether this writer holds any tap closed.
    pub fn is_active(&self) -> bool {
        !self.held.borrow().is_empty()
    }
}

impl Drop for Congestion {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_congested_writer_closes_the_current_input_until_it_drains() {
        let reader = Tap::new();
        let writer = Congestion::default();
        writer.begin(); // no current input: nothing to close
        assert!(!writer.is_active());
        {
            let _in = reader.enter();
            writer.begin();
            writer.begin(); // once per writer
        }
        assert!(!reader.is_open());
        let other = Congestion::default();
        {
            let _in = reader.enter();
            other.begin();
        }
        writer.end();
        assert!(!reader.is_open(), "still held by the other writer");
        drop(other);
        assert!(reader.is_open());
        assert!(current_tap().is_none());
    }
}
