//! The byte stream an HTTP/2 connection (the `h2` crate, which is async)
//! reads and writes, joined to a pipeline: what the pipeline receives is
//! pushed in, what the connection writes goes to a function.

use bytes::{Buf, Bytes};
use pipy_core::flow::Tap;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes waiting for the connection to read them.
#[derive(Default)]
pub(crate) struct Inbox {
    chunks: RefCell<VecDeque<Bytes>>,
    ended: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Inbox {
    /// Gives the connection more bytes.
    pub(crate) fn push(&self, b: Bytes) {
        if !b.is_empty() {
            self.chunks.borrow_mut().push_back(b);
            self.wake();
        }
    }

    /// No more bytes will come.
    pub(crate) fn end(&self) {
        self.ended.set(true);
        self.wake();
    }

    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// The connection's end of the pipe. Its writes go out under a tap of their
/// own, so that a congested writer downstream (the socket's outbox) pauses
/// them as it pauses a socket reader.
pub(crate) struct Pipe {
    inbox: Rc<Inbox>,
    write: Rc<dyn Fn(Bytes)>,
    tap: Tap,
}

impl Pipe {
    /// A pipe reading `inbox` and writing through `write`.
    pub(crate) fn new(inbox: Rc<Inbox>, write: Rc<dyn Fn(Bytes)>) -> Self {
        Self {
            inbox,
            write,
            tap: Tap::new(),
        }
    }
}

impl AsyncRead for Pipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut chunks = self.inbox.chunks.borrow_mut();
        let Some(front) = chunks.front_mut() else {
            if self.inbox.ended.get() {
                return Poll::Ready(Ok(()));
            }
            self.inbox.waker.set(Some(cx.waker().clone()));
            return Poll::Pending;
        };
        let n = front.len().min(buf.remaining());
        buf.put_slice(&front[..n]);
        front.advance(n);
        if front.is_empty() {
            chunks.pop_front();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !self.tap.is_open() {
            let mut opened = self.tap.opened();
            if Pin::new(&mut opened).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let _in = self.tap.enter();
        (self.write)(Bytes::copy_from_slice(buf));
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
