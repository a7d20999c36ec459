//! The client side of HTTP/2 for `muxHTTP({ version: 2 })`: one connection
//! per session, its requests multiplexed as streams.

use super::convert;
use super::pipe::{Inbox, Pipe};
use super::queue::EventQueue;
use super::server::send_data;
use bytes::Bytes;
use h2::client::SendRequest;
use h2::Reason;
use pipy_core::flow::Tap;
use pipy_core::{Data, Event, EventTarget, Head, RequestHead, StreamError};
use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;

/// The connection of one `muxHTTP` session.
pub(crate) struct Client {
    inbox: Rc<Inbox>,
    /// Ready once the handshake is done; `None` again once it failed or ended.
    sender: Rc<RefCell<Sender>>,
}

enum Sender {
    Connecting(Vec<std::task::Waker>),
    Ready(SendRequest<Bytes>),
    Gone,
}

impl Client {
    /// Opens a connection that writes through `write` (into the session's
    /// pipeline); `closed` is told when it ends.
    pub(crate) fn start(write: Rc<dyn Fn(Bytes)>, closed: Rc<dyn Fn(StreamError)>) -> Self {
        let inbox = Rc::new(Inbox::default());
        let sender = Rc::new(RefCell::new(Sender::Connecting(Vec::new())));
        let pipe = Pipe::new(inbox.clone(), write);
        let s = sender.clone();
        pipy_core::io::spawn(Box::pin(async move {
            let handshake = h2::client::Builder::new()
                .initial_window_size(super::WINDOW)
                .initial_connection_window_size(super::WINDOW)
                .max_header_list_size(super::MAX_HEADER_LIST)
                .handshake::<_, Bytes>(pipe)
                .await;
            let (send, conn) = match handshake {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!("[http2] client handshake failed: {e}");
                    set(&s, Sender::Gone);
                    closed(StreamError::ProtocolError);
                    return;
                }
            };
            set(&s, Sender::Ready(send));
            let result = conn.await;
            set(&s, Sender::Gone);
            closed(match result {
                Ok(()) => StreamError::NoError,
                Err(e) => {
                    tracing::debug!("[http2] client connection: {e}");
                    StreamError::ConnectionReset
                }
            });
        }));
        Client { inbox, sender }
    }

    /// Bytes from the server.
    pub(crate) fn feed(&self, d: Data) {
        for c in d.chunks() {
            self.inbox.push(c.clone());
        }
    }

    /// The server closed its side.
    pub(crate) fn end(&self) {
        self.inbox.end();
    }

    /// Sends a request: its body and end come through the returned stream;
    /// the answer goes to `reply`.
    pub(crate) fn request(&self, head: RequestHead, reply: EventTarget) -> Stream {
        let body = Rc::new(EventQueue::default());
        let sender = self.sender.clone();
        let b = body.clone();
        let cancel = Rc::new(Cancel::default());
        let c = cancel.clone();
        pipy_core::io::spawn(Box::pin(async move {
            if let Err(e) = exchange(&sender, head, &b, &reply, &c).await {
                tracing::debug!("[http2] request failed: {e}");
                reply.send(Event::StreamEnd(StreamError::ConnectionReset));
            }
        }));
        Stream { body, cancel }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.inbox.end();
    }
}

fn set(cell: &RefCell<Sender>, new: Sender) {
    let old = std::mem::replace(&mut *cell.borrow_mut(), new);
    if let Sender::Connecting(wakers) = old {
        for w in wakers {
            w.wake();
        }
    }
}

/// The request side of one stream, fed by its `muxHTTP` filter.
pub(crate) struct Stream {
    body: Rc<EventQueue>,
    cancel: Rc<Cancel>,
}

/// Set when the requesting stream is gone: its exchange ends, which resets
/// the HTTP/2 stream (a response that never ends must not hold it).
#[derive(Default)]
struct Cancel {
    asked: std::cell::Cell<bool>,
    detached: std::cell::Cell<bool>,
    waker: std::cell::Cell<Option<std::task::Waker>>,
}

impl Stream {
    /// Lets the exchange run to its end after this handle goes (a stream
    /// that moved on to its next request still wants this answer).
    pub(crate) fn detach(&self) {
        self.cancel.detached.set(true);
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if self.cancel.detached.get() {
            return;
        }
        self.cancel.asked.set(true);
        if let Some(w) = self.cancel.waker.take() {
            w.wake();
        }
    }
}

impl Stream {
    /// A body `Data`, the `MessageEnd`, or a `StreamEnd` (the request was cut).
    pub(crate) fn push(&self, e: Event) {
        self.body.push(e);
    }
}

async fn exchange(
    sender: &RefCell<Sender>,
    head: RequestHead,
    body: &EventQueue,
    reply: &EventTarget,
    cancel: &Cancel,
) -> Result<(), h2::Error> {
    // Wait for the handshake, then for room for one more stream.
    let mut send = poll_fn(|cx| match &mut *sender.borrow_mut() {
        Sender::Connecting(w) => {
            w.push(cx.waker().clone());
            std::task::Poll::Pending
        }
        Sender::Ready(s) => std::task::Poll::Ready(Ok(s.clone())),
        Sender::Gone => std::task::Poll::Ready(Err(h2::Error::from(Reason::CANCEL))),
    })
    .await?;
    poll_fn(|cx| send.poll_ready(cx)).await?;
    let Some(req) = convert::request_out(&head) else {
        reply.send(Event::StreamEnd(StreamError::ProtocolError));
        return Ok(());
    };
    let connect = head.method == "CONNECT";
    let (response, mut stream) = send.send_request(req, false)?;
    // The body goes out while the answer may already come back.
    let upload = async {
        loop {
            match body.pop().await {
                Event::Data(d) => {
                    for c in d.chunks() {
                        send_data(&mut stream, c.clone()).await?;
                    }
                }
                Event::MessageEnd(Head::Trailers(t)) => {
                    stream.send_trailers(convert::trailers_out(&t))?;
                    return Ok::<_, h2::Error>(());
                }
                // A CONNECT's stream goes on with tunnel data after its head.
                Event::MessageEnd(_) if connect => {}
                Event::StreamEnd(StreamError::NoError) if connect => {
                    stream.send_data(Bytes::new(), true)?;
                    return Ok(());
                }
                Event::MessageEnd(_) => {
                    stream.send_data(Bytes::new(), true)?;
                    return Ok(());
                }
                Event::StreamEnd(_) => {
                    stream.send_reset(Reason::CANCEL);
                    return Ok(());
                }
                Event::MessageStart(_) => {}
            }
        }
    };
    let download = async {
        let resp = response.await?;
        let (parts, mut recv) = resp.into_parts();
        let tunnel = connect && parts.status.is_success();
        reply.send(Event::MessageStart(Head::Response(Box::new(
            convert::response_in(&parts),
        ))));
        if tunnel {
            reply.send(Event::MessageEnd(Head::None));
        }
        let tap = Tap::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk?;
            let n = chunk.len();
            {
                let _in = tap.enter();
                reply.send(Event::Data(Data::from(chunk)));
            }
            tap.opened().await;
            let _ = recv.flow_control().release_capacity(n);
        }
        if tunnel {
            reply.send(Event::StreamEnd(StreamError::NoError));
            return Ok(());
        }
        let tail = match recv.trailers().await? {
            Some(t) => Head::Trailers(Box::new(convert::trailers_in(&t))),
            None => Head::None,
        };
        reply.send(Event::MessageEnd(tail));
        Ok::<_, h2::Error>(())
    };
    let mut upload = std::pin::pin!(upload);
    let mut download = std::pin::pin!(download);
    let mut uploaded = false;
    poll_fn(|cx| {
        cancel.waker.set(Some(cx.waker().clone()));
        if cancel.asked.get() {
            // Dropping the stream's halves resets it.
            return std::task::Poll::Ready(Ok(()));
        }
        if !uploaded {
            if let std::task::Poll::Ready(r) = upload.as_mut().poll(cx) {
                uploaded = true;
                if let Err(e) = r {
                    return std::task::Poll::Ready(Err(e));
                }
            }
        }
        download.as_mut().poll(cx)
    })
    .await
}

use std::future::Future;
