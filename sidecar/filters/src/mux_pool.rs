//! The shared sessions of a mux filter (`mux`/`muxQueue`, `muxFastCGI`): one
//! sub-pipeline per session, found by a key (by default the inbound
//! connection), shared by the streams that join it. What a session's pipeline
//! outputs goes to its streams as its [`Wire`] routes it: in order for
//! `mux`, by request ID for `muxFastCGI`.
//!
//! A session lives while streams use it, then `maxIdle` more (60 s by
//! default, as upstream), and no longer: its input ends and it leaves the
//! pool. It also leaves when it ends by itself, after `maxMessages` messages
//! it takes no new streams, and at `maxQueue` streams another one opens for
//! the same key.

use crate::util::Callback;
use boa_engine::JsValue;
use pipy_core::{Event, EventTarget, Layout, Output, Pipeline, StreamError};
use std::cell::{Cell, RefCell, RefMut};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// How a session's output reaches the streams that share it.
pub(crate) trait Wire: Default + 'static {
    /// Routes one event of the session's output (never a `StreamEnd`),
    /// pushing what goes where to `deliveries`.
    fn route(&mut self, evt: Event, deliveries: &mut Vec<(EventTarget, Event)>);
    /// The session's output ended: the streams still waiting.
    fn end(&mut self) -> Vec<EventTarget>;
}

/// Where and how long sessions are shared.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sharing {
    /// How long a session nobody uses stays open.
    pub max_idle: Duration,
    /// Streams one session takes at once (0: no limit).
    pub max_queue: usize,
}

/// The sessions of one mux filter in a worker, by key, and whether a
/// sweeper closes the idle ones (one timer per pool, not one per request).
/// `mux`'s and `muxFastCGI`'s hold [`Session`]s, `muxHTTP`'s its own.
pub(crate) struct Sessions<S> {
    /// foldhash, seeded per process: keys may come from a peer's input, and
    /// SipHash cost a few hundred instructions per request here.
    pub(crate) by_key: RefCell<foldhash::HashMap<SessionKey, Vec<Rc<S>>>>,
    sweeping: Cell<bool>,
}

impl<S> Default for Sessions<S> {
    fn default() -> Self {
        Self {
            by_key: RefCell::default(),
            sweeping: Cell::new(false),
        }
    }
}

/// A session a pool's sweeper closes once idle long enough.
pub(crate) trait Pooled: 'static {
    /// Whether it has been idle for its whole `maxIdle` by `now`.
    fn expired(&self, now: Instant) -> bool;
    /// Closes it (it leaves its pool).
    fn close_idle(self: &Rc<Self>);
}

impl<S: Pooled> Sessions<S> {
    /// Takes `session` out of the list of `key` (if still there).
    pub(crate) fn forget(&self, key: &SessionKey, session: &Rc<S>) {
        let mut by_key = self.by_key.borrow_mut();
        if let Some(list) = by_key.get_mut(key) {
            list.retain(|s| !Rc::ptr_eq(s, session));
            if list.is_empty() {
                by_key.remove(key);
            }
        }
    }

    /// Starts the sweeper, every so often for `max_idle`, unless it runs.
    pub(crate) fn sweep_from_now(self: &Rc<Self>, max_idle: Duration) {
        if !self.sweeping.replace(true) {
            sweep(Rc::downgrade(self), max_idle);
        }
    }
}

/// The sessions of one `mux` or `muxFastCGI`.
pub(crate) type Pool<W> = Sessions<Session<W>>;

/// One shared sub-pipeline and the streams using it.
pub(crate) struct Session<W> {
    pipeline: RefCell<Option<Pipeline>>,
    wire: RefCell<W>,
    users: Cell<usize>,
    messages: Cell<usize>,
    /// Past `maxMessages`: closes as soon as its last user leaves.
    retired: Cell<bool>,
    idle_since: Cell<Option<Instant>>,
    /// How long it stays once idle (`maxIdle` of the stream that opened it).
    max_idle: Duration,
    key: SessionKey,
    pool: Weak<Pool<W>>,
}

/// What streams share a session by: an object by identity (a load
/// balancer's resource, a peer), other values by their text, or the inbound
/// connection (the default).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum SessionKey {
    /// The inbound connection, by its addresses.
    Inbound(SocketAddr, SocketAddr),
    /// An object, by identity.
    Object(boa_engine::JsObject),
    /// Any other value, by its text.
    Value(String),
    /// No key (null, undefined, or no inbound connection).
    None,
}

impl SessionKey {
    /// The key a script value stands for.
    pub(crate) fn of_value(v: &JsValue) -> Self {
        match (v.as_object(), v.as_string()) {
            (Some(o), _) => SessionKey::Object(o.clone()),
            (None, Some(s)) => SessionKey::Value(s.to_std_string_escaped()),
            _ if v.is_null_or_undefined() => SessionKey::None,
            _ => SessionKey::Value(v.display().to_string()),
        }
    }

    /// The key of the stream's inbound connection.
    pub(crate) fn inbound(out: &Output<'_>) -> Self {
        match out.context().inbound {
            Some(i) => SessionKey::Inbound(i.remote, i.local),
            None => SessionKey::None,
        }
    }
}

/// The key of a stream's session: the key function's answer or value, else
/// the inbound connection. `None` when the function threw (the stream ends).
pub(crate) fn session_key(key: &Option<Callback>, out: &Output<'_>) -> Option<SessionKey> {
    Some(match key {
        Some(k) => SessionKey::of_value(&k.call(&[], out)?),
        None => SessionKey::inbound(out),
    })
}

impl<W: Wire> Pool<W> {
    /// Joins a session of `key` with room for one more stream, opening one
    /// from `layout` if there is none.
    pub(crate) fn join(
        self: &Rc<Self>,
        key: SessionKey,
        sharing: Sharing,
        layout: &Layout,
        out: &Output<'_>,
    ) -> Rc<Session<W>> {
        let existing = self.by_key.borrow().get(&key).and_then(|list| {
            list.iter()
                .find(|s| sharing.max_queue == 0 || s.users.get() < sharing.max_queue)
                .cloned()
        });
        let s = existing.unwrap_or_else(|| self.open(key, sharing, layout, out));
        s.users.set(s.users.get() + 1);
        s.idle_since.set(None);
        s
    }

    fn open(
        self: &Rc<Self>,
        key: SessionKey,
        sharing: Sharing,
        layout: &Layout,
        out: &Output<'_>,
    ) -> Rc<Session<W>> {
        let s = Rc::new(Session {
            pipeline: RefCell::new(None),
            wire: RefCell::new(W::default()),
            users: Cell::new(0),
            messages: Cell::new(0),
            retired: Cell::new(false),
            idle_since: Cell::new(None),
            max_idle: sharing.max_idle,
            key: key.clone(),
            pool: Rc::downgrade(self),
        });
        let weak = Rc::downgrade(&s);
        let target = EventTarget::Func(Rc::new(move |e: Event| {
            if let Some(s) = weak.upgrade() {
                s.route(e);
            }
        }));
        let p = Pipeline::new(layout, out.context().fork(), target);
        *s.pipeline.borrow_mut() = Some(p);
        self.by_key
            .borrow_mut()
            .entry(key)
            .or_default()
            .push(s.clone());
        self.sweep_from_now(sharing.max_idle);
        s
    }
}

impl<W: Wire> Session<W> {
    /// The session's routing state.
    pub(crate) fn wire(&self) -> RefMut<'_, W> {
        self.wire.borrow_mut()
    }

    /// Sends events into the shared pipeline.
    pub(crate) fn input(&self, events: impl IntoIterator<Item = Event>) {
        let p = self.pipeline.borrow().clone();
        if let Some(p) = p {
            for e in events {
                p.input(e);
            }
        }
    }

    /// Counts one message; past `max_messages` the session takes no new
    /// streams and ends when its users leave.
    pub(crate) fn count_message(self: &Rc<Self>, max_messages: usize) {
        let n = self.messages.get() + 1;
        self.messages.set(n);
        if max_messages > 0 && n >= max_messages {
            self.retired.set(true);
            self.forget();
        }
    }

    /// A stream stops using the session.
    pub(crate) fn leave(self: &Rc<Self>) {
        let n = self.users.get().saturating_sub(1);
        self.users.set(n);
        if n == 0 {
            self.idle_since.set(Some(Instant::now()));
            if self.retired.get() {
                self.close();
            }
        }
    }

    /// Passes what the shared pipeline outputs to the streams it is for.
    fn route(self: &Rc<Self>, evt: Event) {
        if let Event::StreamEnd(err) = evt {
            self.forget();
            // Not while `close` holds it: it is taking it anyway.
            if let Ok(mut p) = self.pipeline.try_borrow_mut() {
                p.take();
            }
            let waiting = self.wire.borrow_mut().end();
            for target in waiting {
                target.send(Event::StreamEnd(err));
            }
            return;
        }
        let mut deliveries = Vec::new();
        self.wire.borrow_mut().route(evt, &mut deliveries);
        // Sent with the wire released: a stream may answer at once.
        for (target, e) in deliveries {
            target.send(e);
        }
    }

    /// Takes the session out of its pool (if still there).
    fn forget(self: &Rc<Self>) {
        if let Some(pool) = self.pool.upgrade() {
            pool.forget(&self.key, self);
        }
    }

    /// Ends the shared pipeline's input and forgets it.
    fn close(self: &Rc<Self>) {
        self.forget();
        let pipeline = self.pipeline.borrow_mut().take();
        if let Some(p) = pipeline {
            p.input(Event::StreamEnd(StreamError::NoError));
        }
    }
}

impl<W: Wire> Pooled for Session<W> {
    fn expired(&self, now: Instant) -> bool {
        self.idle_since
            .get()
            .is_some_and(|t| now.duration_since(t) >= self.max_idle)
    }

    fn close_idle(self: &Rc<Self>) {
        self.close();
    }
}

/// Closes the sessions idle for their `maxIdle`, every so often, while the
/// pool lives (housekeeping: a portless worker does not wait for it).
fn sweep<S: Pooled>(pool: Weak<Sessions<S>>, max_idle: Duration) {
    let period = (max_idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    pipy_core::io::after_background(
        period,
        Box::new(move || {
            let Some(live) = pool.upgrade() else { return };
            let now = Instant::now();
            let idle: Vec<Rc<S>> = live
                .by_key
                .borrow()
                .values()
                .flatten()
                .filter(|s| s.expired(now))
                .cloned()
                .collect();
            for s in idle {
                s.close_idle();
            }
            sweep(pool, max_idle);
        }),
    );
}
