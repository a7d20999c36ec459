//! `muxHTTP(key?, options)`: the client side of HTTP/1. Requests of many streams
//! share upstream sessions: one sub-pipeline per session (usually ending in
//! `connect`), chosen by a key that defaults to the inbound connection. Responses
//! come back to the requesting streams in order.

use crate::http_codec::native_head;
use crate::util::Callback;
use crate::SubLayout;
use pipy_codec::http1::{Decoder, Encoder};
use pipy_core::{
    Event, EventTarget, Filter, FilterDump, FilterTemplate, Head, Output, Pipeline, StreamError,
    SubKind,
};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// Options of `muxHTTP`.
#[derive(Clone, Debug)]
pub struct MuxOptions {
    /// How long an unused session stays open.
    pub max_idle: Duration,
    /// Most requests waiting on one session (0: no limit).
    pub max_queue: usize,
}

impl Default for MuxOptions {
    fn default() -> Self {
        Self {
            max_idle: Duration::from_secs(60),
            max_queue: 0,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum PoolKey {
    Inbound(SocketAddr, SocketAddr),
    /// An object key, by identity (a load balancer's resource, say).
    Object(boa_engine::JsObject),
    Value(String),
    None,
}

type Sessions = RefCell<HashMap<PoolKey, Vec<Rc<Session>>>>;

/// Sessions of one `muxHTTP` in a worker, and whether a sweeper closes the idle
/// ones (one timer per pool, not one per request).
#[derive(Default)]
struct PoolInner {
    sessions: Sessions,
    sweeping: Cell<bool>,
}

type Pool = Rc<PoolInner>;

/// Closes sessions that nobody used for `max_idle`; ends with its pool.
async fn sweep(pool: Weak<PoolInner>, max_idle: Duration) {
    let period = (max_idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        tokio::time::sleep(period).await;
        let Some(pool) = pool.upgrade() else { return };
        let now = Instant::now();
        let idle: Vec<Rc<Session>> = pool
            .sessions
            .borrow()
            .values()
            .flatten()
            .filter(|s| {
                s.idle_since
                    .get()
                    .is_some_and(|t| now.duration_since(t) >= max_idle)
            })
            .cloned()
            .collect();
        for s in idle {
            s.close(StreamError::NoError);
        }
    }
}

/// Template of `muxHTTP`.
pub struct MuxHttpTemplate {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    pool: Pool,
}

impl MuxHttpTemplate {
    /// `muxHTTP(key?, options)`; the session pipeline comes with `.to(...)`.
    pub fn new(key: Option<Callback>, sub: SubLayout, options: MuxOptions) -> Self {
        Self {
            key,
            sub,
            options,
            pool: Pool::default(),
        }
    }
}

impl FilterTemplate for MuxHttpTemplate {
    fn name(&self) -> &'static str {
        "muxHTTP"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]).with_kind(SubKind::Mux))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(MuxHttp {
            key: self.key.clone(),
            sub: self.sub.clone(),
            options: self.options.clone(),
            pool: self.pool.clone(),
            session: None,
            done: false,
        })
    }
}

struct SessionState {
    pipeline: Option<Pipeline>,
    encoder: Encoder,
    decoder: Decoder,
    waiting: VecDeque<EventTarget>,
    closed: bool,
}

/// One upstream session shared by streams. Events from its pipeline go through
/// an inbox so that a session busy sending a request can take a reply at once.
struct Session {
    state: RefCell<SessionState>,
    inbox: RefCell<VecDeque<Event>>,
    busy: Cell<bool>,
    users: Cell<usize>,
    key: PoolKey,
    pool: Weak<PoolInner>,
    /// When the last user left, if none came back since.
    idle_since: Cell<Option<Instant>>,
}

impl Session {
    fn deliver(self: &Rc<Self>, evt: Event) {
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

    fn on_upstream(self: &Rc<Self>, evt: Event) {
        let mut out = Vec::new();
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
                    failed = Some(if err == StreamError::NoError {
                        StreamError::ConnectionReset
                    } else {
                        err
                    });
                }
                _ => {}
            }
        }
        for e in out {
            let done = matches!(e, Event::MessageEnd(_));
            let target = self.state.borrow().waiting.front().cloned();
            if let Some(t) = target {
                t.send(e);
            }
            if done {
                self.state.borrow_mut().waiting.pop_front();
            }
        }
        if let Some(err) = failed {
            self.close(err);
        }
    }

    fn close(self: &Rc<Self>, err: StreamError) {
        let waiting = {
            let mut st = self.state.borrow_mut();
            st.closed = true;
            st.pipeline = None;
            std::mem::take(&mut st.waiting)
        };
        for t in waiting {
            t.send(Event::StreamEnd(err));
        }
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

    /// Sends request events into the session pipeline.
    fn send(self: &Rc<Self>, evt: Event) {
        let was_busy = self.busy.replace(true);
        let mut data = Vec::new();
        let pipeline = {
            let mut st = self.state.borrow_mut();
            st.encoder.encode(evt, &mut |d| data.push(d));
            st.pipeline.clone()
        };
        if let Some(p) = pipeline {
            for d in data {
                p.input(Event::Data(d));
            }
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

    fn acquire(&self) {
        self.users.set(self.users.get() + 1);
        self.idle_since.set(None);
    }

    fn release(&self) {
        let n = self.users.get().saturating_sub(1);
        self.users.set(n);
        if n == 0 {
            self.idle_since.set(Some(Instant::now()));
        }
    }
}

struct MuxHttp {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    pool: Pool,
    session: Option<Rc<Session>>,
    done: bool,
}

impl MuxHttp {
    fn pool_key(&self, out: &Output<'_>) -> PoolKey {
        match &self.key {
            // A key function that throws ends the stream (`Callback::call`).
            Some(cb) => match cb.call(&[], out) {
                Some(v) => match (v.as_object(), v.as_string()) {
                    (Some(o), _) => PoolKey::Object(o.clone()),
                    (None, Some(s)) => PoolKey::Value(s.to_std_string_escaped()),
                    _ if v.is_undefined() || v.is_null() => PoolKey::None,
                    _ => PoolKey::Value(v.display().to_string()),
                },
                None => PoolKey::None,
            },
            None => match out.context().inbound {
                Some(i) => PoolKey::Inbound(i.remote, i.local),
                None => PoolKey::None,
            },
        }
    }

    fn open_session(&mut self, out: &Output<'_>) -> Option<Rc<Session>> {
        let key = self.pool_key(out);
        if out.failed() {
            return None;
        }
        let max_queue = self.options.max_queue;
        if let Some(list) = self.pool.sessions.borrow().get(&key) {
            if let Some(s) = list.iter().find(|s| {
                let st = s.state.borrow();
                !st.closed && (max_queue == 0 || st.waiting.len() < max_queue)
            }) {
                return Some(s.clone());
            }
        }
        let layout = self.sub.get()?;
        let session = Rc::new(Session {
            state: RefCell::new(SessionState {
                pipeline: None,
                encoder: Encoder::request(),
                decoder: Decoder::response(),
                waiting: VecDeque::new(),
                closed: false,
            }),
            inbox: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            users: Cell::new(0),
            key: key.clone(),
            pool: Rc::downgrade(&self.pool),
            idle_since: Cell::new(None),
        });
        let weak = Rc::downgrade(&session);
        let target = EventTarget::Func(Rc::new(move |e| {
            if let Some(s) = weak.upgrade() {
                s.deliver(e);
            }
        }));
        let p = Pipeline::new(&layout, out.context().fork(), target);
        session.state.borrow_mut().pipeline = Some(p);
        self.pool
            .sessions
            .borrow_mut()
            .entry(key)
            .or_default()
            .push(session.clone());
        if !self.pool.sweeping.replace(true) {
            tokio::task::spawn_local(sweep(Rc::downgrade(&self.pool), self.options.max_idle));
        }
        Some(session)
    }
}

impl Filter for MuxHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match evt {
            Event::MessageStart(_) => {
                if self.session.is_none() {
                    let Some(s) = self.open_session(out) else {
                        if !out.failed() {
                            tracing::error!("muxHTTP has no sub-pipeline: add .to(...)");
                            out.push(Event::StreamEnd(StreamError::UnknownError));
                        }
                        self.done = true;
                        return;
                    };
                    s.acquire();
                    self.session = Some(s);
                }
                let s = self.session.clone().expect("session set above");
                let evt = native_head(evt, true);
                let is_head = matches!(&evt, Event::MessageStart(Head::Request(r)) if r.method.eq_ignore_ascii_case("HEAD"));
                {
                    let mut st = s.state.borrow_mut();
                    st.decoder.expect_response(is_head);
                    st.waiting.push_back(out.reply_target(0));
                }
                s.send(evt);
            }
            Event::Data(_) | Event::MessageEnd(_) => {
                if let Some(s) = self.session.clone() {
                    s.send(evt);
                }
            }
            // A stream that ends in error before its first request (a callback in
            // front of muxHTTP threw) gets that end back, as nothing will answer.
            Event::StreamEnd(err) if self.session.is_none() && err != StreamError::NoError => {
                self.done = true;
                out.push(Event::StreamEnd(err));
            }
            Event::StreamEnd(_) => {}
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        if evt.is_stream_end() {
            self.done = true;
        }
        out.push(evt);
    }
}

impl Drop for MuxHttp {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            s.release();
        }
    }
}
