//! One upstream session of `muxHTTP`: the encoder of the requests it sends, the
//! decoder of the responses it reads, and the streams waiting for them in order.

use super::{PoolInner, PoolKey};
use pipy_codec::http1::{Decoder, Encoder};
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
    pub(super) waiting: VecDeque<EventTarget>,
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

/// One upstream session shared by streams. Events from its pipeline go through
/// an inbox so that a session busy sending a request can take a reply at once.
pub(super) struct Session {
    pub(super) state: RefCell<SessionState>,
    pub(super) inbox: RefCell<VecDeque<Event>>,
    /// Reused buffer of decoded response events.
    pub(super) scratch: Cell<Vec<Event>>,
    pub(super) busy: Cell<bool>,
    pub(super) users: Cell<usize>,
    /// Requests sent on this session so far (`maxMessages`).
    pub(super) requests: Cell<usize>,
    pub(super) key: PoolKey,
    pub(super) pool: Weak<PoolInner>,
    /// When the last user left, if none came back since.
    pub(super) idle_since: Cell<Option<Instant>>,
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
            let target = self.state.borrow().waiting.front().cloned();
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
            let front = st.waiting.len().min(1);
            st.waiting.drain(front..).collect()
        };
        self.leave_pool();
        for t in others {
            t.send(Event::StreamEnd(StreamError::ConnectionReset));
        }
    }

    pub(super) fn leave_pool(self: &Rc<Self>) {
        if let Some(pool) = self.pool.upgrade() {
            let mut sessions = pool.sessions.borrow_mut();
            if let Some(list) = sessions.get_mut(&self.key) {
                list.retain(|s| !Rc::ptr_eq(s, self));
                if list.is_empty() {
                    sessions.remove(&self.key);
                }
            }
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
        for t in waiting {
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
