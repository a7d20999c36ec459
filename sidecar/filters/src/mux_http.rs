//! `muxHTTP(key?, options)`: the client side of HTTP/1. Requests of many streams
//! share upstream sessions: one sub-pipeline per session (usually ending in
//! `connect`), chosen by a key that defaults to the inbound connection. Responses
//! come back to the requesting streams in order. A `101` answer dedicates its
//! session to the stream that asked: bytes then flow both ways until either
//! side closes.

use crate::http_codec::native_head;
use crate::util::Callback;
use crate::SubLayout;
use pipy_codec::http1::{Decoder, Encoder, DEFAULT_MAX_HEAD_SIZE};
use pipy_core::{
    Event, EventTarget, Filter, FilterDump, FilterTemplate, Head, Output, Pipeline, StreamError,
    SubKind,
};
use session::{Session, SessionState};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;

mod session;

/// `muxHTTP`'s `version`: the HTTP version its sessions speak upstream.
#[derive(Clone, Default)]
pub enum MuxVersion {
    /// HTTP/1.1.
    #[default]
    Http1,
    /// HTTP/2, streams multiplexed on one connection per session.
    Http2,
    /// A function giving `1`, `2`, `'http/1.1'` or `'h2'` per session.
    Select(Callback),
}

impl MuxVersion {
    /// The version a script value names (`2`, `'2'`, `'h2'`, `'HTTP/2'`).
    pub fn from_value(v: &boa_engine::JsValue) -> Self {
        let text = v.display().to_string();
        match text.trim_matches('"') {
            "2" | "h2" | "HTTP/2" | "http/2" | "HTTP/2.0" => MuxVersion::Http2,
            _ => MuxVersion::Http1,
        }
    }
}

impl std::fmt::Debug for MuxVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MuxVersion::Http1 => "1",
            MuxVersion::Http2 => "2",
            MuxVersion::Select(_) => "function",
        })
    }
}

/// Options of `muxHTTP`.
#[derive(Clone, Debug)]
pub struct MuxOptions {
    /// The HTTP version upstream (`version`).
    pub version: MuxVersion,
    /// How long an unused session stays open.
    pub max_idle: Duration,
    /// Most requests waiting on one session (0: no limit).
    pub max_queue: usize,
    /// Largest response head accepted (`maxHeaderSize`).
    pub max_header_size: usize,
    /// Request bodies up to this size go out with their length (`bufferSize`).
    pub buffer_size: usize,
    /// Requests after which a session takes no new ones (0: no limit).
    pub max_messages: usize,
}

impl Default for MuxOptions {
    fn default() -> Self {
        Self {
            version: MuxVersion::Http1,
            max_idle: Duration::from_secs(60),
            max_queue: 0,
            max_header_size: DEFAULT_MAX_HEAD_SIZE,
            buffer_size: pipy_codec::http1::DEFAULT_BUFFER_SIZE,
            max_messages: 0,
        }
    }
}

use crate::mux_pool::SessionKey as PoolKey;

/// Sessions of one `muxHTTP` in a worker.
type Pool = Rc<crate::mux_pool::Sessions<Session>>;

/// Template of `muxHTTP`.
pub struct MuxHttpTemplate {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    options_fn: Option<(Callback, OptionsParser)>,
    pool: Pool,
}

/// Reads the options object a function returned (the Configuration's reader).
pub type OptionsParser =
    fn(&boa_engine::JsValue, &mut boa_engine::Context) -> boa_engine::JsResult<MuxOptions>;

impl MuxHttpTemplate {
    /// `muxHTTP(key?, options)`; the session pipeline comes with `.to(...)`.
    pub fn new(key: Option<Callback>, sub: SubLayout, options: MuxOptions) -> Self {
        Self {
            key,
            sub,
            options,
            options_fn: None,
            pool: Pool::default(),
        }
    }

    /// The same, with options given by a function, asked when a stream sends
    /// its first request and read by `parse`.
    pub fn with_options_fn(mut self, f: Callback, parse: OptionsParser) -> Self {
        self.options_fn = Some((f, parse));
        self
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
            options_fn: self.options_fn.clone(),
            pool: self.pool.clone(),
            session: None,
            held: Vec::new(),
            held_bytes: 0,
            held_back: Default::default(),
            h2_stream: None,
            sending: false,
            done: false,
            id: next_stream_id(),
            backlog: Rc::default(),
        })
    }
}

struct MuxHttp {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    /// Asked once, at the stream's first request; then `None`.
    options_fn: Option<(Callback, OptionsParser)>,
    pool: Pool,
    session: Option<Rc<Session>>,
    /// Events held while the session's version is open.
    held: Vec<Event>,
    held_bytes: usize,
    /// Pauses the source of held events past [`HOLD_LIMIT`].
    held_back: pipy_core::flow::Congestion,
    /// The HTTP/2 stream of the request being sent.
    h2_stream: Option<crate::http2::client::Stream>,
    /// A request is between its start and its end.
    sending: bool,
    done: bool,
    /// Names this stream's requests in its session's queue.
    id: u64,
    /// Pauses this stream's source while its queued request is over the limit.
    backlog: Rc<pipy_core::flow::Congestion>,
}

/// A number for each `muxHTTP` stream of this thread.
fn next_stream_id() -> u64 {
    thread_local! {
        static NEXT: Cell<u64> = const { Cell::new(0) };
    }
    NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

impl MuxHttp {
    fn pool_key(&self, out: &Output<'_>) -> PoolKey {
        match &self.key {
            // A key function that throws ends the stream (`Callback::call`).
            Some(cb) => match cb.call(&[], out) {
                Some(v) => PoolKey::of_value(&v),
                None => PoolKey::None,
            },
            None => PoolKey::inbound(out),
        }
    }

    fn open_session(&mut self, out: &Output<'_>) -> Option<Rc<Session>> {
        let key = self.pool_key(out);
        if out.failed() {
            return None;
        }
        let (max_queue, max_messages) = (self.options.max_queue, self.options.max_messages);
        if let Some(list) = self.pool.by_key.borrow().get(&key) {
            if let Some(s) = list.iter().find(|s| {
                let st = s.state.borrow();
                // HTTP/2 sessions take any number of streams (the server's
                // limit holds the excess back).
                !st.closed
                    && !st.tunnel
                    && (st.h2.is_some() || max_queue == 0 || s.load() < max_queue)
                    && (max_messages == 0 || s.requests.get() < max_messages)
            }) {
                return Some(s.clone());
            }
        }
        // A Promise (resolved, say, by connectTLS's `handshake` with the ALPN
        // outcome) leaves the version open until it settles.
        let mut promise = None;
        let http2 = match &self.options.version {
            MuxVersion::Http1 => false,
            MuxVersion::Http2 => true,
            MuxVersion::Select(f) => {
                let v = f.call(&[], out)?;
                promise = v.as_promise();
                matches!(MuxVersion::from_value(&v), MuxVersion::Http2)
            }
        };
        let layout = self.sub.get()?;
        let mut decoder = Decoder::response();
        decoder.set_max_head_size(self.options.max_header_size);
        let session = Rc::new(Session {
            state: RefCell::new(SessionState {
                pipeline: None,
                encoder: {
                    let mut e = Encoder::request();
                    e.set_buffer_size(self.options.buffer_size);
                    e
                },
                decoder,
                waiting: VecDeque::new(),
                closed: false,
                tunnel: false,
                h2: None,
                version: promise.map(session::PendingVersion::new),
            }),
            wire: Cell::new(None),
            tunnel_owner: Cell::new(None),
            queue: RefCell::new(VecDeque::new()),
            inbox: RefCell::new(VecDeque::new()),
            scratch: Cell::new(Vec::new()),
            busy: Cell::new(false),
            users: Cell::new(0),
            requests: Cell::new(0),
            key: key.clone(),
            pool: Rc::downgrade(&self.pool),
            idle_since: Cell::new(None),
            max_idle: self.options.max_idle,
        });
        let weak = Rc::downgrade(&session);
        let target = EventTarget::Func(Rc::new(move |e| {
            if let Some(s) = weak.upgrade() {
                s.deliver(e);
            }
        }));
        let p = Pipeline::new(&layout, out.context().fork(), target);
        session.state.borrow_mut().pipeline = Some(p);
        if session.state.borrow().version.is_some() {
            // Start the pipeline (a TLS handshake) while the version is open,
            // and look at the Promise now and then too, in case it settles
            // with nothing coming back from the pipeline.
            p_kick(&session);
            watch_version(Rc::downgrade(&session), VERSION_CHECKS);
        } else if http2 {
            session.start_http2();
        }
        self.pool
            .by_key
            .borrow_mut()
            .entry(key)
            .or_default()
            .push(session.clone());
        self.pool.sweep_from_now(self.options.max_idle);
        Some(session)
    }
}

/// Key of the wake-up a session sends once its version is known.
const WAKE: u64 = 1;

/// How often, and how many times, an open version's Promise is looked at
/// (a minute in all; then the session gives up).
const VERSION_CHECK: Duration = Duration::from_millis(10);
const VERSION_CHECKS: u32 = 6000;

fn watch_version(s: Weak<Session>, left: u32) {
    pipy_core::io::after(
        VERSION_CHECK,
        Box::new(move || {
            let Some(s) = s.upgrade() else { return };
            let open = s.state.borrow().version.is_some() && !s.state.borrow().closed;
            if !open {
                return;
            }
            let probe = if left == 0 {
                Event::StreamEnd(StreamError::ConnectionTimeout)
            } else {
                Event::Data(pipy_core::Data::new())
            };
            if !s.settle_version(&probe) {
                watch_version(Rc::downgrade(&s), left - 1);
            }
        }),
    );
}

/// Sends an empty `Data` into a session's pipeline, so that it starts.
fn p_kick(s: &Rc<Session>) {
    let p = s.state.borrow().pipeline.clone();
    if let Some(p) = p {
        p.input(Event::Data(pipy_core::Data::new()));
    }
}

impl Filter for MuxHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        if !self.held.is_empty() {
            self.hold(evt);
            return;
        }
        // Once this stream's session is its tunnel, only bytes cross it:
        // message boundaries (of a framing filter in front, such as
        // encodeWebSocket) are not new requests, as upstream's.
        if matches!(evt, Event::MessageStart(_) | Event::MessageEnd(_))
            && self
                .session
                .as_ref()
                .is_some_and(|s| s.is_tunnel_of(self.id))
        {
            return;
        }
        match evt {
            Event::MessageStart(_) => {
                if let Some((f, parse)) = self.options_fn.take() {
                    // A function that throws ends the stream (`Callback::call`).
                    let Some(v) = f.call(&[], out) else {
                        self.done = true;
                        return;
                    };
                    match crate::util::js(|ctx| parse(&v, ctx)) {
                        Ok(o) => self.options = o,
                        Err(e) => {
                            tracing::error!("muxHTTP(): options: {e}");
                            out.fail(StreamError::RuntimeError);
                            self.done = true;
                            return;
                        }
                    }
                }
                if let Some(s) = &self.session {
                    // Closed, or another stream's tunnel now: a new session.
                    if !s.takes_requests_from(self.id) {
                        s.release();
                        self.session = None;
                    }
                }
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
                if let Some(v) = &mut s.state.borrow_mut().version {
                    // The version is still open: hold the request until it is known.
                    v.waiters.push(out.reply_target(WAKE));
                    self.hold(evt);
                    return;
                }
                let evt = native_head(evt, true);
                let h2 = s.state.borrow().h2.clone();
                if let Some(client) = h2 {
                    let head = match evt {
                        Event::MessageStart(Head::Request(r)) => *r,
                        _ => Default::default(),
                    };
                    s.requests.set(s.requests.get() + 1);
                    self.sending = true;
                    let next = client.request(head, out.reply_target(0));
                    if let Some(previous) = self.h2_stream.replace(next) {
                        previous.detach();
                    }
                    return;
                }
                s.requests.set(s.requests.get() + 1);
                self.sending = true;
                if !s.submit(self.id, evt, Some(out.reply_target(0)), &self.backlog) {
                    self.overflow(out);
                }
            }
            Event::Data(_) | Event::MessageEnd(_) if self.h2_stream.is_some() => {
                self.sending &= !matches!(evt, Event::MessageEnd(_));
                if let Some(st) = &self.h2_stream {
                    st.push(evt);
                }
            }
            Event::StreamEnd(e) if self.h2_stream.is_some() => {
                // A request cut short resets its stream only; after a whole
                // request the end matters only to a CONNECT's tunnel.
                let cut = std::mem::take(&mut self.sending);
                let e = if cut && e == StreamError::NoError {
                    StreamError::ConnectionReset
                } else {
                    e
                };
                if let Some(st) = &self.h2_stream {
                    st.push(Event::StreamEnd(e));
                }
            }
            Event::Data(_) | Event::MessageEnd(_) => {
                self.sending &= !matches!(evt, Event::MessageEnd(_));
                if let Some(s) = self.session.clone() {
                    if !s.submit(self.id, evt, None, &self.backlog) {
                        self.overflow(out);
                    }
                }
            }
            // A stream that ends in error before its first request (a callback in
            // front of muxHTTP threw) gets that end back, as nothing will answer.
            Event::StreamEnd(err) if self.session.is_none() && err != StreamError::NoError => {
                self.done = true;
                out.push(Event::StreamEnd(err));
            }
            Event::StreamEnd(_) => match self.session.clone() {
                Some(s) if s.is_tunnel_of(self.id) => s.send(evt),
                Some(_) if self.sending => self.abandon(),
                _ => {}
            },
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        if key == WAKE && !self.held.is_empty() {
            if let Event::StreamEnd(e) = evt {
                self.done = true;
                self.held.clear();
                out.push(Event::StreamEnd(e));
                return;
            }
            self.held_bytes = 0;
            self.held_back.end();
            for e in std::mem::take(&mut self.held) {
                self.process(e, out);
            }
            return;
        }
        if evt.is_stream_end() {
            self.done = true;
        }
        out.push(evt);
    }
}

/// Bytes of request held (while a session's version is open) at which the
/// request's source pauses.
const HOLD_LIMIT: usize = 1 << 20;

impl MuxHttp {
    fn hold(&mut self, evt: Event) {
        if let Event::Data(d) = &evt {
            self.held_bytes += d.len();
            if self.held_bytes > HOLD_LIMIT {
                self.held_back.begin();
            }
        }
        self.held.push(evt);
    }

    /// The stream's queued request outgrew its hard limit: it is dropped
    /// and the stream ends.
    fn overflow(&mut self, out: &mut Output<'_>) {
        tracing::error!("muxHTTP: a queued request over its limit");
        self.abandon();
        self.done = true;
        out.fail(StreamError::BufferOverflow);
    }

    /// The stream ended in the middle of its request: the rest will never come,
    /// so the session's framing is lost and it closes.
    fn abandon(&mut self) {
        self.sending = false;
        if let Some(s) = &self.session {
            s.abandon(self.id);
        }
    }
}

impl Drop for MuxHttp {
    fn drop(&mut self) {
        if let (true, Some(st)) = (self.sending, &self.h2_stream) {
            st.push(Event::StreamEnd(StreamError::ConnectionReset));
            self.sending = false;
        }
        if self.sending {
            self.abandon();
        }
        if let Some(s) = self.session.take() {
            s.release();
        }
    }
}
