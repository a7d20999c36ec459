//! `Outbox`: events a pipeline pushes for an async task on the same thread to
//! write out (a socket writer), without channels or atomics.

use crate::{Data, Event, StreamError};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// What has been queued for writing.
#[derive(Default)]
pub struct Batch {
    /// Bytes to write, in order.
    pub data: Data,
    /// The stream ended after these bytes (with this error).
    pub end: Option<StreamError>,
    /// The writer's owner is gone: drop the connection.
    pub abandoned: bool,
}

/// A single-thread queue of outgoing bytes with a waker for its one reader.
#[derive(Default)]
pub struct Outbox {
    batch: RefCell<Batch>,
    waker: Cell<Option<Waker>>,
}

impl Outbox {
    /// A new, empty outbox.
    pub fn new() -> Rc<Self> {
        Rc::new(Self::default())
    }

    /// Queues an event: data is appended, `StreamEnd` marks the end; message
    /// boundaries mean nothing on a byte stream and are dropped.
    pub fn push(&self, evt: Event) {
        {
            let mut b = self.batch.borrow_mut();
            if b.end.is_some() {
                return;
            }
            match evt {
                Event::Data(d) => b.data.push(d),
                Event::StreamEnd(e) => b.end = Some(e),
                _ => return,
            }
        }
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Tells the reader its owner is gone.
    pub fn abandon(&self) {
        self.batch.borrow_mut().abandoned = true;
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Takes everything queued so far.
    pub fn take(&self) -> Batch {
        std::mem::take(&mut *self.batch.borrow_mut())
    }

    /// Waits until something is queued.
    pub fn ready(&self) -> Ready<'_> {
        Ready(self)
    }
}

/// Future of [`Outbox::ready`].
pub struct Ready<'a>(&'a Outbox);

impl Future for Ready<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let b = self.0.batch.borrow();
        if !b.data.is_empty() || b.end.is_some() || b.abandoned {
            return Poll::Ready(());
        }
        self.0.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}
