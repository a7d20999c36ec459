//! Events from the engine to a task: a local queue that pauses the events'
//! source past a limit (as a socket's outbox does).

use pipy_core::flow::Congestion;
use pipy_core::Event;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// Bytes queued at which the source pauses; it resumes below half.
const LIMIT: usize = 1 << 20;

#[derive(Default)]
pub(super) struct EventQueue {
    events: RefCell<VecDeque<Event>>,
    bytes: Cell<usize>,
    waker: Cell<Option<Waker>>,
    congestion: Congestion,
}

fn size(e: &Event) -> usize {
    match e {
        Event::Data(d) => d.len(),
        _ => 0,
    }
}

impl EventQueue {
    pub(super) fn push(&self, e: Event) {
        self.bytes.set(self.bytes.get() + size(&e));
        self.events.borrow_mut().push_back(e);
        if self.bytes.get() > LIMIT {
            self.congestion.begin();
        }
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    pub(super) async fn pop(&self) -> Event {
        poll_fn(|cx| self.poll_pop(cx)).await
    }

    pub(super) fn poll_pop(&self, cx: &mut std::task::Context<'_>) -> Poll<Event> {
        if let Some(e) = self.events.borrow_mut().pop_front() {
            self.bytes.set(self.bytes.get() - size(&e));
            if self.bytes.get() < LIMIT / 2 {
                self.congestion.end();
            }
            return Poll::Ready(e);
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}
