//! One upstream session of `muxHTTP`: the encoder of the requests it sends, the
//! decoder of the responses it reads, and the streams waiting for them in order.

use super::PoolKey;
use crate::mux_pool::{Pooled, Sessions};
use pipy_codec::http1::{Decoder, Encoder};
use pipy_core::flow::Congestion;
use pipy_core::{Event, EventTarget, Head, Pipeline, StreamError};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Instant;

/// The mutable part of a session.
pub(super) struct SessionState {
    pub(super) pipeline: Option<Pipeline>,
    pub(super) encoder: Encoder,
    pub(super) decoder: Decoder,
    /// The streams whose requests are on the wire, in order, with the
    /// targets of their responses.
    pub(super) waiting: VecDeque<(u64, EventTarget)>,
    pub(super) closed: bool,
    /// After a `101`: the session belongs to the front waiting stream for good.
    pub(super) tunnel: bool,
    /// The session speaks HTTP/2 (`version: 2`).
    pub(super) h2: Option<Rc<crate::http2::client::Client>>,
    /// A version still to be known (a `version` function gave a Promise).
    pub(super) version: Option<PendingVersion>,
}

/// A version given as a Promise, and the streams waiting for it.
pub(super) struct PendingVersion {
    promise: boa_engine::object::builtins::JsPromise,
    pub(super) waiters: Vec<EventTarget>,
}

impl PendingVersion {
    pub(super) fn new(promise: boa_engine::object::builtins::JsPromise) -> Self {
        Self {
            promise,
            waiters: Vec::new(),
        }
    }
}

/// A request waiting for its turn on a session's connection (another stream's
/// request is on the wire), with its reply target and the events so far.
pub(super) struct Queued {
    stream: u64,
    target: EventTarget,
    events: Vec<Event>,
    bytes: usize,
    complete: bool,
    /// Holds the stream's source paused while its queued body is over the limit.
    backlog: Rc<Congestion>,
}

/// Bytes of a queued request at which it counts as ready to take the wire (it
/// then streams the rest) and its source pauses until it does; four times
/// this ends the stream (a source that cannot be paused).
const QUEUE_LIMIT: usize = 64 * 1024;

/// What one queued event counts for besides its bytes (so that a body in
/// one-byte pieces is bounded too).
const EVENT_COST: usize = 64;

/// One upstream session shared by streams. Events from its pipeline go through
/// an inbox so that a session busy sending a request can take a reply at once.
///
/// Requests go on the wire one at a time, each from its start to its end: a
/// request arriving while another is being sent waits in `queue`. When the
/// wire frees, a queued request that is whole (or has `QUEUE_LIMIT` bytes)
/// goes before one still arriving, so a slow uploader holds back few others.
/// (Upstream buffers each message whole before sending it.)
pub(super) struct Session {
    pub(super) state: RefCell<SessionState>,
    /// The stream whose request is on the wire, between its start and its end.
    pub(super) wire: Cell<Option<u64>>,
    /// After a `101`: the stream the tunnel belongs to.
    pub(super) tunnel_owner: Cell<Option<u64>>,
    pub(super) queue: RefCell<VecDeque<Queued>>,
    pub(super) inbox: RefCell<VecDeque<Event>>,
    /// Reused buffer of decoded response events.
    pub(super) scratch: Cell<Vec<Event>>,
    pub(super) busy: Cell<bool>,
    pub(super) users: Cell<usize>,
    /// Requests sent on this session so far (`maxMessages`).
    pub(super) requests: Cell<usize>,
    pub(super) key: PoolKey,
    pub(super) pool: Weak<Sessions<Session>>,
    /// When the last user left, if none came back since.
    pub(super) idle_since: Cell<Option<Instant>>,
    /// How long it stays once idle (`maxIdle` of the stream that opened it).
    pub(super) max_idle: std::time::Duration,
}

impl Pooled for Session {
    fn expired(&self, now: Instant) -> bool {
        self.idle_since
            .get()
            .is_some_and(|t| now.duration_since(t) >= self.max_idle)
    }

    fn close_idle(self: &Rc<Self>) {
        self.close(StreamError::NoError);
    }
}

impl Session {
    pub(super) fn deliver(self: &Rc<Self>, evt: Event) {
        self.inbox.borrow_mut().push_back(evt);
        if self.busy.get() {
            return;
        }
        self.busy.set(true);
        loop {
            let next = self.inbox.borrow_mut().pop_front();
            let Some(evt) = next else { break };
            self.on_upstream(evt);
        }
        self.busy.set(false);
    }

    /// Settles an open version once its Promise has: HTTP/2 or HTTP/1.1
    /// from then on, and the waiting streams go on. `false` while open.
    pub(super) fn settle_version(self: &Rc<Self>, evt: &Event) -> bool {
        use boa_engine::builtins::promise::PromiseState;
        let state = match &self.state.borrow().version {
            None => return true,
            Some(v) => v.promise.state(),
        };
        let http2 = match state {
            PromiseState::Pending if evt.is_stream_end() => None,
            PromiseState::Pending => return false,
            PromiseState::Fulfilled(v) => Some(matches!(
                super::MuxVersion::from_value(&v),
                super::MuxVersion::Http2
            )),
            PromiseState::Rejected(_) => None,
        };
        let waiters = self
            .state
            .borrow_mut()
            .version
            .take()
            .map(|v| v.waiters)
            .unwrap_or_default();
        match http2 {
            Some(h2) => {
                if h2 {
                    self.start_http2();
                }
                for w in waiters {
                    w.send(Event::Data(pipy_core::Data::new()));
                }
            }
            None => {
                for w in waiters {
                    w.send(Event::StreamEnd(StreamError::ConnectionReset));
                }
                self.close(StreamError::ConnectionReset);
            }
        }
        true
    }

    /// Makes the session speak HTTP/2 through its pipeline.
    pub(super) fn start_http2(self: &Rc<Self>) {
        let (w1, w2) = (Rc::downgrade(self), Rc::downgrade(self));
        let client = crate::http2::client::Client::start(
            Rc::new(move |b: bytes::Bytes| {
                let p = w1.upgrade().and_then(|s| s.state.borrow().pipeline.clone());
                if let Some(p) = p {
                    p.input(Event::Data(pipy_core::Data::from(b)));
                }
            }),
            Rc::new(move |err| {
                if let Some(s) = w2.upgrade() {
                    s.close(err);
                }
            }),
        );
        self.state.borrow_mut().h2 = Some(Rc::new(client));
    }

    pub(super) fn on_upstream(self: &Rc<Self>, evt: Event) {
        if !self.settle_version(&evt) {
            // Nothing but the pipeline's start can come before a request.
            return;
        }
        let h2 = self.state.borrow().h2.clone();
        if let Some(client) = h2 {
            match evt {
                Event::Data(d) => client.feed(d),
                Event::StreamEnd(_) => client.end(),
                _ => {}
            }
            return;
        }
        let mut out = self.scratch.take();
        let mut failed = None;
        {
            let mut st = self.state.borrow_mut();
            match evt {
                Event::Data(d) => {
                    if let Err(e) = st.decoder.decode(d, &mut |e| out.push(e)) {
                        tracing::debug!("muxHTTP: bad response: {e}");
                        failed = Some(StreamError::ProtocolError);
                    }
                }
                Event::StreamEnd(err) => {
                    let _ = st.decoder.eof(&mut |e| out.push(e));
                    failed = Some(match err {
                        // The far end of a tunnel closing is its normal end.
                        StreamError::NoError if st.tunnel => err,
                        StreamError::NoError => StreamError::ConnectionReset,
                        err => err,
                    });
                }
                _ => {}
            }
        }
        let mut upgrade = false;
        // The decoder left HTTP with the last response of this batch.
        let left_http = self.state.borrow().decoder.is_tunnel() && !self.state.borrow().tunnel;
        let last_end = out.iter().rposition(|e| matches!(e, Event::MessageEnd(_)));
        for (i, e) in out.drain(..).enumerate() {
            let decoder_tunnel = left_http && Some(i) == last_end;
            let done = match &e {
                Event::MessageStart(Head::Response(h)) => {
                    upgrade = h.status == 101;
                    false
                }
                // A 101, or a 2xx to a CONNECT: the decoder left HTTP.
                Event::MessageEnd(_) if upgrade || decoder_tunnel => {
                    self.dedicate();
                    false
                }
                Event::MessageEnd(_) => true,
                _ => false,
            };
            let target = self.state.borrow().waiting.front().map(|w| w.1.clone());
            if let Some(t) = target {
                t.send(e);
            }
            if done {
                self.state.borrow_mut().waiting.pop_front();
            }
        }
        self.scratch.replace(out);
        if let Some(err) = failed {
            self.close(err);
        }
    }

    /// A `101` came: the session leaves the pool and keeps its stream for good.
    /// Requests queued behind the upgraded one (a shared session) will get no
    /// answer: their streams end now.
    pub(super) fn dedicate(self: &Rc<Self>) {
        let others: Vec<EventTarget> = {
            let mut st = self.state.borrow_mut();
            st.tunnel = true;
            self.tunnel_owner.set(st.waiting.front().map(|w| w.0));
            let front = st.waiting.len().min(1);
            st.waiting.drain(front..).map(|w| w.1).collect()
        };
        let queued = std::mem::take(&mut *self.queue.borrow_mut());
        self.wire.set(None);
        self.leave_pool();
        for t in others {
            t.send(Event::StreamEnd(StreamError::ConnectionReset));
        }
        for q in queued {
            q.backlog.end();
            q.target
                .send(Event::StreamEnd(StreamError::ConnectionReset));
        }
    }

    /// Whether the session is a tunnel that belongs to `stream`.
    pub(super) fn is_tunnel_of(&self, stream: u64) -> bool {
        self.state.borrow().tunnel && self.tunnel_owner.get() == Some(stream)
    }

    /// Whether `stream` can send a new request here: not once the session
    /// closed, or became another stream's tunnel.
    pub(super) fn takes_requests_from(&self, stream: u64) -> bool {
        let st = self.state.borrow();
        !st.closed && (!st.tunnel || self.tunnel_owner.get() == Some(stream))
    }

    pub(super) fn leave_pool(self: &Rc<Self>) {
        if let Some(pool) = self.pool.upgrade() {
            pool.forget(&self.key, self);
        }
    }

    pub(super) fn close(self: &Rc<Self>, err: StreamError) {
        let waiting = {
            let mut st = self.state.borrow_mut();
            st.closed = true;
            st.pipeline = None;
            // Its HTTP/2 connection ends, and with it the streams on it.
            st.h2 = None;
            std::mem::take(&mut st.waiting)
        };
        let queued = std::mem::take(&mut *self.queue.borrow_mut());
        self.wire.set(None);
        for q in &queued {
            q.backlog.end();
        }
        for t in waiting
            .into_iter()
            .map(|w| w.1)
            .chain(queued.into_iter().map(|q| q.target))
        {
            t.send(Event::StreamEnd(err));
        }
        self.leave_pool();
    }

    /// Sends request events into the session pipeline (a `StreamEnd` only goes
    /// there in a tunnel: it is the client's FIN).
    pub(super) fn send(self: &Rc<Self>, evt: Event) {
        let was_busy = self.busy.replace(true);
        let end = evt.is_stream_end();
        let pipeline = {
            let mut st = self.state.borrow_mut();
            let p = st.pipeline.clone();
            if let Some(p) = &p {
                st.encoder.encode(evt, &mut |d| p.input(Event::Data(d)));
            }
            p
        };
        if let (true, Some(p)) = (end, pipeline) {
            p.input(Event::StreamEnd(StreamError::NoError));
        }
        self.busy.set(was_busy);
        // Anything that came back while we were sending.
        if !was_busy && !self.inbox.borrow().is_empty() {
            let first = self.inbox.borrow_mut().pop_front();
            if let Some(e) = first {
                self.deliver(e);
            }
        }
    }

    /// Takes one event of a stream's request: onto the wire if the request is
    /// there (or the wire is free), otherwise into the queue. `target` comes
    /// with a request's start and gets the response. `false`: the stream's
    /// queued request is over its hard limit (the stream should end).
    pub(super) fn submit(
        self: &Rc<Self>,
        stream: u64,
        evt: Event,
        target: Option<EventTarget>,
        backlog: &Rc<Congestion>,
    ) -> bool {
        if self.state.borrow().tunnel {
            if self.tunnel_owner.get() == Some(stream) {
                self.send(evt);
            } else if let Some(t) = target {
                // Another stream's tunnel: no request of ours goes there.
                t.send(Event::StreamEnd(StreamError::ConnectionReset));
            }
            return true;
        }
        if let Some(t) = &target {
            if self.state.borrow().closed {
                // Nothing will answer on a closed session.
                t.send(Event::StreamEnd(StreamError::ConnectionReset));
                return true;
            }
            // A new start ends this stream's previous request, if open (the
            // encoder ends that message where it stands).
            if self.wire.get() == Some(stream) {
                self.wire.set(None);
            }
            for e in self.queue.borrow_mut().iter_mut() {
                if e.stream == stream {
                    e.complete = true;
                }
            }
            if self.wire.get().is_none() && self.queue.borrow().is_empty() {
                // The wire is free and nobody waits: straight on.
                self.start(stream, t.clone(), &evt);
                self.send(evt);
                return true;
            }
        } else if self.wire.get() == Some(stream) {
            let end = matches!(evt, Event::MessageEnd(_));
            self.send(evt);
            if end && self.wire.get() == Some(stream) {
                self.wire.set(None);
                self.pump();
            }
            return true;
        }
        {
            let mut q = self.queue.borrow_mut();
            match (target, q.iter_mut().rev().find(|e| e.stream == stream)) {
                (Some(target), _) => q.push_back(Queued {
                    stream,
                    target,
                    events: vec![evt],
                    bytes: EVENT_COST,
                    complete: false,
                    backlog: backlog.clone(),
                }),
                (None, Some(e)) if !e.complete => {
                    e.bytes += EVENT_COST;
                    match &evt {
                        Event::Data(d) => e.bytes += d.len(),
                        Event::MessageEnd(_) => e.complete = true,
                        _ => {}
                    }
                    e.events.push(evt);
                    if e.bytes > QUEUE_LIMIT * 4 {
                        return false;
                    }
                    // We are handling this stream's input (unless inside the
                    // session's own I/O): its source pauses.
                    if e.bytes >= QUEUE_LIMIT && self.wire.get().is_some() && !self.busy.get() {
                        e.backlog.begin();
                    }
                }
                _ => {
                    drop(q);
                    // Bytes outside any request (none in practice): as before,
                    // straight on when nothing else is being sent.
                    if self.wire.get().is_none() {
                        self.send(evt);
                    }
                    return true;
                }
            }
        }
        self.pump();
        true
    }

    /// While the wire is free, puts the first ready queued request on it.
    fn pump(self: &Rc<Self>) {
        while self.wire.get().is_none() {
            let next = {
                let mut q = self.queue.borrow_mut();
                // A whole request first; else the oldest, to stream the rest.
                let ready = q.iter().position(|e| e.complete || e.bytes >= QUEUE_LIMIT);
                q.remove(ready.unwrap_or(0))
            };
            let Some(req) = next else { break };
            req.backlog.end();
            if self.state.borrow().closed {
                req.target
                    .send(Event::StreamEnd(StreamError::ConnectionReset));
                continue;
            }
            match req.events.first() {
                Some(first) => self.start(req.stream, req.target, first),
                None => continue,
            }
            // The wire is this request's while its events go (a whole one's
            // too: nothing may slip in between them).
            for e in req.events {
                self.send(e);
            }
            if req.complete && self.wire.get() == Some(req.stream) {
                self.wire.set(None);
            }
        }
    }

    /// Puts a request on the wire: its response is awaited in this order, and
    /// the wire is its own until its end.
    fn start(&self, stream: u64, target: EventTarget, first: &Event) {
        let mut st = self.state.borrow_mut();
        match first {
            Event::MessageStart(Head::Request(r)) => st.decoder.expect_response_to(&r.method),
            _ => st.decoder.expect_response(false),
        }
        st.waiting.push_back((stream, target));
        self.wire.set(Some(stream));
    }

    /// The stream `stream` ended before its request did. A request cut on the
    /// wire leaves the connection's framing broken: the session closes. One
    /// still queued is simply dropped.
    pub(super) fn abandon(self: &Rc<Self>, stream: u64) {
        if self.wire.get() == Some(stream) {
            self.wire.set(None);
            self.close(StreamError::ConnectionReset);
            return;
        }
        self.queue
            .borrow_mut()
            .retain(|e| e.stream != stream || e.complete);
    }

    /// Requests sent or waiting to be sent.
    pub(super) fn load(&self) -> usize {
        self.state.borrow().waiting.len() + self.queue.borrow().len()
    }

    pub(super) fn acquire(&self) {
        self.users.set(self.users.get() + 1);
        self.idle_since.set(None);
    }

    pub(super) fn release(&self) {
        let n = self.users.get().saturating_sub(1);
        self.users.set(n);
        if n == 0 {
            self.idle_since.set(Some(Instant::now()));
        }
    }
}
