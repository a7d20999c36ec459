//! The server side of HTTP/2 for `demuxHTTP` and `serveHTTP`: one task per
//! connection, one sub-pipeline (or handler call) per stream.

use super::convert;
use super::pipe::{Inbox, Pipe};
use super::queue::EventQueue;
use crate::http_codec::native_head;
use crate::serve_http::Handler;
use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use pipy_core::flow::Tap;
use pipy_core::{
    Context, Data, Event, EventTarget, Head, Layout, Pipeline, ResponseHead, StreamError,
};
use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

/// What a stream's request goes to.
#[derive(Clone)]
pub(crate) enum Target {
    /// A sub-pipeline per request (`demuxHTTP`).
    Pipeline(Layout),
    /// A handler (`serveHTTP`), given the whole request.
    Serve(Handler),
}

/// Most bytes of a request body a `serveHTTP` handler is given.
const SERVE_BODY_LIMIT: usize = crate::handle::DEFAULT_BODY_LIMIT;

/// An HTTP/2 connection being served: the filter's handle on its task.
pub(crate) struct Server {
    inbox: Rc<Inbox>,
    /// Says GOAWAY. Held here only to keep it alive: the reload registry
    /// holds it weakly.
    _drain_hook: Rc<dyn Fn()>,
}

/// The worker asked the connection to wind down (GOAWAY).
#[derive(Default)]
struct Drain {
    asked: Cell<bool>,
    waker: Cell<Option<std::task::Waker>>,
}

impl Server {
    /// Starts serving a connection whose bytes go out through `output` (as
    /// `Data`, then `StreamEnd` when the connection is over).
    pub(crate) fn start(target: Target, ctx: Rc<Context>, output: EventTarget) -> Self {
        let inbox = Rc::new(Inbox::default());
        let draining = Rc::new(Drain::default());
        let out = output.clone();
        let pipe = Pipe::new(
            inbox.clone(),
            Rc::new(move |b: Bytes| out.send(Event::Data(Data::from(b)))),
        );
        let d = draining.clone();
        let drain_hook: Rc<dyn Fn()> = Rc::new(move || {
            d.asked.set(true);
            if let Some(w) = d.waker.take() {
                w.wake();
            }
        });
        *ctx.on_drain.borrow_mut() = Some(drain_hook.clone());
        pipy_core::io::on_reload(&drain_hook);
        ctx.requests.set(Some(0));
        pipy_core::io::spawn(Box::pin(run(pipe, target, ctx, output, draining)));
        Server {
            inbox,
            _drain_hook: drain_hook,
        }
    }

    /// Bytes from the client.
    pub(crate) fn feed(&self, d: Data) {
        for c in d.chunks() {
            self.inbox.push(c.clone());
        }
    }

    /// The client closed its side.
    pub(crate) fn end(&self) {
        self.inbox.end();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The filter is gone: the task ends at its next read.
        self.inbox.end();
    }
}

async fn run(pipe: Pipe, target: Target, ctx: Rc<Context>, output: EventTarget, drain: Rc<Drain>) {
    let handshake = h2::server::Builder::new()
        .initial_window_size(super::WINDOW)
        .initial_connection_window_size(super::WINDOW)
        .max_concurrent_streams(super::MAX_STREAMS)
        .max_header_list_size(super::MAX_HEADER_LIST)
        .handshake::<_, Bytes>(pipe)
        .await;
    let mut conn = match handshake {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("[http2] handshake failed: {e}");
            output.send(Event::StreamEnd(StreamError::ProtocolError));
            return;
        }
    };
    let mut shutting_down = false;
    loop {
        let next = poll_fn(|cx| {
            if drain.asked.get() && !shutting_down {
                shutting_down = true;
                conn.graceful_shutdown();
            }
            drain.waker.set(Some(cx.waker().clone()));
            conn.poll_accept(cx)
        })
        .await;
        match next {
            Some(Ok((req, respond))) => {
                let ctx = ctx.clone();
                ctx.requests.set(Some(ctx.requests.get().unwrap_or(0) + 1));
                let target = target.clone();
                pipy_core::io::spawn(Box::pin(async move {
                    serve_stream(req, respond, &target, &ctx).await;
                    ctx.requests
                        .set(Some(ctx.requests.get().unwrap_or(1).saturating_sub(1)));
                }));
            }
            Some(Err(e)) => {
                tracing::debug!("[http2] connection error: {e}");
                break;
            }
            None => break,
        }
    }
    output.send(Event::StreamEnd(StreamError::NoError));
}

async fn serve_stream(
    req: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
    target: &Target,
    ctx: &Rc<Context>,
) {
    let (parts, body) = req.into_parts();
    let head = convert::request_in(&parts);
    let answers = Rc::new(EventQueue::default());
    match target {
        Target::Pipeline(layout) => {
            let q = answers.clone();
            let p = Pipeline::new(
                layout,
                ctx.fork(),
                EventTarget::Func(Rc::new(move |e| q.push(e))),
            );
            let connect = head.method == "CONNECT";
            p.input(Event::MessageStart(Head::Request(Box::new(head))));
            if connect {
                // A CONNECT's head is the whole request; what follows on the
                // stream is tunnel data (RFC 9113 §8.5).
                p.input(Event::MessageEnd(Head::None));
            }
            let pump = pin!(pump_body(body, &p, connect));
            let send = pin!(send_answer(&answers, respond, connect));
            // The request body and the answer go on side by side; the stream
            // is done when the answer is.
            join_first_second(pump, send).await;
        }
        Target::Serve(handler) => {
            let Some((body, tail)) = gather(body).await else {
                let mut respond = respond;
                respond.send_reset(Reason::REFUSED_STREAM);
                return;
            };
            let q = answers.clone();
            let events = handler.respond(
                Head::Request(Box::new(head)),
                body,
                tail,
                ctx,
                Box::new(move |e| q.push(e)),
            );
            for e in events.into_iter().flatten() {
                answers.push(e);
            }
            send_answer(&answers, respond, false).await;
        }
    }
}

/// Runs `a` alongside `b` until `b` completes.
async fn join_first_second(
    mut a: std::pin::Pin<&mut impl Future<Output = ()>>,
    mut b: std::pin::Pin<&mut impl Future<Output = ()>>,
) {
    let mut a_done = false;
    poll_fn(|cx| {
        if !a_done && a.as_mut().poll(cx).is_ready() {
            a_done = true;
        }
        b.as_mut().poll(cx)
    })
    .await
}

/// Passes the request body into the sub-pipeline, acknowledging each chunk
/// to the client only once the pipeline's writers have room.
async fn pump_body(mut body: RecvStream, p: &Pipeline, tunnel: bool) {
    let tap = Tap::new();
    loop {
        match body.data().await {
            Some(Ok(chunk)) => {
                let n = chunk.len();
                {
                    let _in = tap.enter();
                    p.input(Event::Data(Data::from(chunk)));
                }
                tap.opened().await;
                let _ = body.flow_control().release_capacity(n);
            }
            Some(Err(e)) => {
                // A reset from the client.
                tracing::debug!("[http2] request body: {e}");
                p.input(Event::StreamEnd(StreamError::ConnectionReset));
                return;
            }
            None => break,
        }
    }
    if tunnel {
        p.input(Event::StreamEnd(StreamError::NoError));
        return;
    }
    let tail = match body.trailers().await {
        Ok(Some(t)) => Head::Trailers(Box::new(convert::trailers_in(&t))),
        _ => Head::None,
    };
    p.input(Event::MessageEnd(tail));
}

/// The whole request body for a handler, within its limit.
async fn gather(mut body: RecvStream) -> Option<(Data, Head)> {
    let mut all = Data::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.ok()?;
        let n = chunk.len();
        all.push(Data::from(chunk));
        if all.len() > SERVE_BODY_LIMIT {
            return None;
        }
        let _ = body.flow_control().release_capacity(n);
    }
    let tail = match body.trailers().await {
        Ok(Some(t)) => Head::Trailers(Box::new(convert::trailers_in(&t))),
        _ => Head::None,
    };
    Some((all, tail))
}

/// Sends what the sub-pipeline answers: head, body as the client's window
/// allows, then trailers or the end of the stream. The head waits for the
/// first byte of body, so that an answer without one goes out as a single
/// HEADERS frame (gRPC's trailers-only form).
async fn send_answer(answers: &EventQueue, mut respond: SendResponse<Bytes>, connect: bool) {
    let mut head: Option<Box<ResponseHead>> = None;
    let mut send: Option<SendStream<Bytes>> = None;
    // A 2xx to a CONNECT: the stream carries the tunnel until its end.
    let mut tunnel = false;
    loop {
        // A client that resets the stream (or leaves) ends it here; the
        // sub-pipeline goes with it.
        let next = poll_fn(|cx| {
            let reset = match &mut send {
                Some(s) => s.poll_reset(cx).is_ready(),
                None => respond.poll_reset(cx).is_ready(),
            };
            if reset {
                return Poll::Ready(None);
            }
            answers.poll_pop(cx).map(Some)
        })
        .await;
        let Some(next) = next else { return };
        match next {
            Event::MessageEnd(_)
                if connect
                    && !tunnel
                    && head
                        .as_ref()
                        .is_some_and(|h| (200..300).contains(&h.status)) =>
            {
                let h = head.take().unwrap_or_default();
                match respond.send_response(convert::response_out(&h), false) {
                    Ok(s) => send = Some(s),
                    Err(_) => return,
                }
                tunnel = true;
            }
            Event::StreamEnd(_) if tunnel => {
                if let Some(s) = &mut send {
                    let _ = s.send_data(Bytes::new(), true);
                }
                return;
            }
            Event::MessageStart(h) if head.is_none() && send.is_none() => {
                head = Some(match native_head(Event::MessageStart(h), false) {
                    Event::MessageStart(Head::Response(r)) => r,
                    _ => Box::default(),
                });
            }
            Event::Data(d) if d.is_empty() => {}
            Event::Data(d) => {
                if send.is_none() {
                    let h = head.take().unwrap_or_default();
                    match respond.send_response(convert::response_out(&h), false) {
                        Ok(s) => send = Some(s),
                        Err(_) => return,
                    }
                }
                if let Some(s) = &mut send {
                    for c in d.chunks() {
                        if send_data(s, c.clone()).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Event::MessageEnd(tail) => {
                let Some(s) = &mut send else {
                    let h = head.take().unwrap_or_default();
                    let mut r = convert::response_out(&h);
                    if let Head::Trailers(t) = &tail {
                        r.headers_mut().extend(convert::trailers_out(t));
                    }
                    let _ = respond.send_response(r, true);
                    return;
                };
                let _ = match tail {
                    Head::Trailers(t) => s.send_trailers(convert::trailers_out(&t)),
                    _ => s.send_data(Bytes::new(), true),
                };
                return;
            }
            Event::StreamEnd(err) => {
                match &mut send {
                    // Nothing answered: a gateway error, as HTTP/1 gets.
                    None => {
                        let status = crate::http_reply::status_for(err);
                        let mut r = http::Response::new(());
                        *r.status_mut() = http::StatusCode::from_u16(status)
                            .unwrap_or(http::StatusCode::BAD_GATEWAY);
                        let _ = respond.send_response(r, true);
                    }
                    Some(s) => s.send_reset(Reason::INTERNAL_ERROR),
                }
                return;
            }
            Event::MessageStart(_) => {}
        }
    }
}

/// Sends `bytes` as the peer's window allows.
pub(super) async fn send_data(
    s: &mut SendStream<Bytes>,
    mut bytes: Bytes,
) -> Result<(), h2::Error> {
    while !bytes.is_empty() {
        s.reserve_capacity(bytes.len());
        let n = poll_fn(|cx| match s.poll_capacity(cx) {
            Poll::Ready(Some(Ok(n))) if n > 0 => Poll::Ready(Ok(n)),
            Poll::Ready(Some(Ok(_))) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Err(e)),
            Poll::Ready(None) => Poll::Ready(Err(h2::Error::from(Reason::CANCEL))),
            Poll::Pending => Poll::Pending,
        })
        .await?;
        let chunk = bytes.split_to(n.min(bytes.len()));
        s.send_data(chunk, false)?;
    }
    Ok(())
}
