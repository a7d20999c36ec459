//! `Outbox`: events a pipeline pushes for an async task on the same thread to
//! write out (a socket writer), without channels or atomics.
//!
//! An outbox is bounded: past its congestion limit it closes the tap of the
//! input that is filling it (see [`crate::flow`]), and past its buffer limit
//! it gives up and tells its writer to end the stream with `BufferOverflow`.

use crate::flow::Congestion;
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
    /// Datagrams to send, in order (an outbox made by [`Outbox::datagrams`]).
    pub packets: Vec<Data>,
    /// The stream ended after these bytes (with this error).
    pub end: Option<StreamError>,
    /// The writer's owner is gone: drop the connection.
    pub abandoned: bool,
    /// More was queued than the buffer limit allows: end with `BufferOverflow`.
    pub overflow: bool,
}

/// How much an outbox holds before it pushes back, and before it gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes waiting at which the input filling the outbox pauses (0: never).
    pub congestion: usize,
    /// Bytes waiting at which more data ends the stream (0: no limit).
    pub buffer: usize,
}

impl Default for Limits {
    /// Upstream's congestion limit (1 MiB); a buffer limit where upstream has
    /// none, so that an input that cannot be paused (a timer, one huge
    /// message after another) cannot grow memory without end.
    fn default() -> Self {
        Self {
            congestion: 1 << 20,
            buffer: 16 << 20,
        }
    }
}

/// A single-thread queue of outgoing bytes with a waker for its one reader.
#[derive(Default)]
pub struct Outbox {
    batch: RefCell<Batch>,
    waker: Cell<Option<Waker>>,
    limits: Limits,
    /// Bytes queued or taken and not yet reported written.
    pending: Cell<usize>,
    congestion: Congestion,
    closed: Cell<bool>,
    /// Each data event is a datagram of its own (UDP), not bytes of a stream.
    datagram: bool,
}

impl Outbox {
    /// A new, empty outbox with the default limits.
    pub fn new() -> Rc<Self> {
        Self::with_limits(Limits::default())
    }

    /// A new, empty outbox with these limits.
    pub fn with_limits(limits: Limits) -> Rc<Self> {
        Rc::new(Self {
            limits,
            ..Self::default()
        })
    }

    /// A new, empty outbox of datagrams: each data event pushed stays one
    /// packet ([`Batch::packets`]).
    pub fn datagrams(limits: Limits) -> Rc<Self> {
        Rc::new(Self {
            limits,
            datagram: true,
            ..Self::default()
        })
    }

    /// Bytes queued or being written.
    pub fn pending(&self) -> usize {
        self.pending.get()
    }

    /// The writer wrote `n` of the bytes it took: inputs paused by this outbox
    /// resume once it is down to half its congestion limit.
    pub fn written(&self, n: usize) {
        let left = self.pending.get().saturating_sub(n);
        self.pending.set(left);
        if self.congestion.is_active() && left <= self.limits.congestion / 2 {
            self.congestion.end();
        }
    }

    /// The writer is gone: drop what is queued and anything pushed later, and
    /// let paused inputs go.
    pub fn close(&self) {
        self.closed.set(true);
        self.pending.set(0);
        {
            let mut b = self.batch.borrow_mut();
            b.data = Data::new();
            b.packets.clear();
        }
        self.congestion.end();
    }

    /// Queues an event: data is appended, `StreamEnd` marks the end; message
    /// boundaries mean nothing on a byte stream and are dropped.
    pub fn push(&self, evt: Event) {
        if self.closed.get() {
            return;
        }
        {
            let mut b = self.batch.borrow_mut();
            if b.end.is_some() || b.overflow {
                return;
            }
            match evt {
                Event::Data(d) => {
                    let pending = self.pending.get();
                    // As upstream: the limit is checked before the new data, so
                    // one message bigger than the limit still goes out whole.
                    if self.limits.buffer > 0 && pending >= self.limits.buffer {
                        b.overflow = true;
                        b.data = Data::new();
                        b.packets.clear();
                        self.pending.set(0);
                        self.closed.set(true);
                    } else {
                        let len = d.len();
                        if self.datagram {
                            b.packets.push(d);
                        } else {
                            b.data.push(d);
                        }
                        self.pending.set(pending + len);
                        if self.limits.congestion > 0 && pending + len >= self.limits.congestion {
                            self.congestion.begin();
                        }
                    }
                }
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
        if !b.data.is_empty()
            || !b.packets.is_empty()
            || b.end.is_some()
            || b.abandoned
            || b.overflow
        {
            return Poll::Ready(());
        }
        self.0.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Tap;

    fn data(n: usize) -> Event {
        Event::Data(Data::from(vec![0u8; n]))
    }

    #[test]
    fn pauses_the_input_filling_it_and_resumes_at_half_the_limit() {
        let out = Outbox::with_limits(Limits {
            congestion: 100,
            buffer: 0,
        });
        let reader = Tap::new();
        let _in = reader.enter();
        out.push(data(60));
        assert!(reader.is_open());
        out.push(data(60));
        assert!(!reader.is_open(), "120 bytes waiting, over 100");
        let taken = out.take();
        assert_eq!(taken.data.len(), 120);
        out.written(60);
        assert!(!reader.is_open(), "60 still being written");
        out.written(20);
        assert!(reader.is_open(), "down to 40, under half the limit");
    }

    #[test]
    fn past_the_buffer_limit_the_stream_ends_with_an_overflow() {
        let out = Outbox::with_limits(Limits {
            congestion: 0,
            buffer: 100,
        });
        out.push(data(150)); // one message bigger than the limit goes out whole
        assert!(!out.take().overflow);
        out.push(data(10));
        let b = out.take();
        assert!(b.overflow);
        assert!(b.data.is_empty());
        out.push(data(10));
        assert!(
            out.take().data.is_empty(),
            "nothing queued after an overflow"
        );
    }

    #[test]
    fn a_closed_outbox_drops_data_and_lets_paused_inputs_go() {
        let out = Outbox::with_limits(Limits {
            congestion: 10,
            buffer: 0,
        });
        let reader = Tap::new();
        {
            let _in = reader.enter();
            out.push(data(20));
        }
        assert!(!reader.is_open());
        out.close();
        assert!(reader.is_open());
        out.push(data(20));
        assert_eq!(out.pending(), 0);
    }
}
