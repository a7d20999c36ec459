//! `mux(key?, options?)` (`muxQueue` in upstream 1.5's pipeline API): the
//! messages of many streams go, each whole and one
//! after another, into one shared sub-pipeline per key (by default the
//! inbound connection); the first `outputCount` messages (1 by default) the
//! shared pipeline outputs for each are that stream's answers, in order. This
//! is upstream 1.5's behaviour (its reference pages still say a mux outputs
//! its input; compared side by side).
//!
//! A shared pipeline lives while streams use it, then `maxIdle` more (60 s by
//! default, as upstream), and no longer: its input ends and it leaves the map.
//! It also leaves when it ends by itself, after `maxMessages` messages it
//! takes no new streams, and at `maxQueue` streams another one opens for the
//! same key.

use crate::util::Callback;
use crate::SubLayout;
use pipy_core::{
    Event, EventTarget, Filter, FilterDump, FilterTemplate, Output, Pipeline, StreamError, SubKind,
};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// Options of `mux`.
#[derive(Clone, Debug)]
pub struct MuxOptions {
    /// How long a shared pipeline nobody uses stays open.
    pub max_idle: Duration,
    /// Messages after which a shared pipeline takes no new streams (0: no limit).
    pub max_messages: usize,
    /// Streams one shared pipeline takes at once; more open another one for
    /// the same key (0: no limit).
    pub max_queue: usize,
    /// Answers (messages out of the shared pipeline) per message in.
    pub output_count: usize,
}

impl Default for MuxOptions {
    fn default() -> Self {
        Self {
            max_idle: Duration::from_secs(60),
            max_messages: 0,
            max_queue: 0,
            output_count: 1,
        }
    }
}

/// The shared pipelines of one `mux` in a worker, by key.
#[derive(Default)]
struct Pool {
    sessions: RefCell<HashMap<String, Vec<Rc<Session>>>>,
    sweeping: Cell<bool>,
}

/// A stream waiting for answers.
struct Waiter {
    target: EventTarget,
    left: usize,
}

struct Session {
    pipeline: RefCell<Option<Pipeline>>,
    /// Streams whose messages went in, in order, waiting for their answers.
    waiting: RefCell<VecDeque<Waiter>>,
    users: Cell<usize>,
    messages: Cell<usize>,
    /// Past `maxMessages`: closes as soon as its last user leaves.
    retired: Cell<bool>,
    idle_since: Cell<Option<Instant>>,
    /// How long it stays once idle (`maxIdle` of the stream that opened it).
    max_idle: Duration,
    key: String,
    pool: Weak<Pool>,
}

impl Session {
    /// Passes what the shared pipeline outputs to the stream it answers.
    fn route(self: &Rc<Self>, evt: Event) {
        if let Event::StreamEnd(err) = evt {
            self.forget();
            // Not while `close` holds it: it is taking it anyway.
            if let Ok(mut p) = self.pipeline.try_borrow_mut() {
                p.take();
            }
            let waiting = std::mem::take(&mut *self.waiting.borrow_mut());
            for w in waiting {
                w.target.send(Event::StreamEnd(err));
            }
            return;
        }
        let target = {
            let mut q = self.waiting.borrow_mut();
            let Some(front) = q.front_mut() else { return };
            let target = front.target.clone();
            if matches!(evt, Event::MessageEnd(_)) {
                front.left -= 1;
                if front.left == 0 {
                    q.pop_front();
                }
            }
            target
        };
        target.send(evt);
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

    /// Takes the session out of its pool (if still there).
    fn forget(self: &Rc<Self>) {
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

    /// Ends the shared pipeline's input and forgets it.
    fn close(self: &Rc<Self>) {
        self.forget();
        let pipeline = self.pipeline.borrow_mut().take();
        if let Some(p) = pipeline {
            p.input(Event::StreamEnd(StreamError::NoError));
        }
    }
}

/// Closes the sessions idle for `max_idle`, every so often, while the pool lives.
fn sweep(pool: Weak<Pool>, max_idle: Duration) {
    let period = (max_idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    pipy_core::io::after(
        period,
        Box::new(move || {
            let Some(live) = pool.upgrade() else { return };
            let now = Instant::now();
            let idle: Vec<Rc<Session>> = live
                .sessions
                .borrow()
                .values()
                .flatten()
                .filter(|s| {
                    s.idle_since
                        .get()
                        .is_some_and(|t| now.duration_since(t) >= s.max_idle)
                })
                .cloned()
                .collect();
            for s in idle {
                s.close();
            }
            sweep(pool, max_idle);
        }),
    );
}

/// Template of `mux()`.
pub struct MuxTemplate {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    options_fn: Option<(Callback, OptionsParser)>,
    output_count_fn: Option<Callback>,
    pool: Rc<Pool>,
}

impl MuxTemplate {
    /// `mux(key?, options?)`; the shared pipeline comes with `.to(...)`.
    pub fn new(key: Option<Callback>, sub: SubLayout, options: MuxOptions) -> Self {
        Self {
            key,
            sub,
            options,
            options_fn: None,
            output_count_fn: None,
            pool: Rc::default(),
        }
    }

    /// The same, with `outputCount` given by a function of each message's
    /// `MessageStart`, as upstream asks it per message.
    pub fn with_output_count_fn(mut self, f: Callback) -> Self {
        self.output_count_fn = Some(f);
        self
    }

    /// The same, with options given by a function, asked when a stream sends
    /// its first message and read by `parse`.
    pub fn with_options_fn(mut self, f: Callback, parse: OptionsParser) -> Self {
        self.options_fn = Some((f, parse));
        self
    }
}

/// Reads the options object a function returned (the Configuration's reader).
pub type OptionsParser =
    fn(&boa_engine::JsValue, &mut boa_engine::Context) -> boa_engine::JsResult<MuxOptions>;

impl FilterTemplate for MuxTemplate {
    fn name(&self) -> &'static str {
        "mux"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]).with_kind(SubKind::Mux))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Mux {
            key: self.key.clone(),
            sub: self.sub.clone(),
            options: self.options.clone(),
            options_fn: self.options_fn.clone(),
            output_count_fn: self.output_count_fn.clone(),
            pool: self.pool.clone(),
            session: None,
            message: Vec::new(),
            held: 0,
            expected: 0,
            input_ended: false,
            done: false,
        })
    }
}

struct Mux {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    /// Asked once, at the stream's first message; then `None`.
    options_fn: Option<(Callback, OptionsParser)>,
    output_count_fn: Option<Callback>,
    pool: Rc<Pool>,
    session: Option<Rc<Session>>,
    /// The message being gathered, to go into the shared pipeline whole.
    message: Vec<Event>,
    /// Bytes of body in `message`.
    held: usize,
    /// Answers still to come.
    expected: usize,
    input_ended: bool,
    done: bool,
}

impl Mux {
    fn key(&self, out: &Output<'_>) -> Option<String> {
        Some(match &self.key {
            // A key function that throws ends the stream (`Callback::call`).
            Some(k) => k.call(&[], out)?.display().to_string(),
            None => out
                .context()
                .inbound
                .map(|i| i.id.to_string())
                .unwrap_or_default(),
        })
    }

    fn session(&mut self, out: &Output<'_>) -> Option<Rc<Session>> {
        if let Some(s) = &self.session {
            return Some(s.clone());
        }
        let key = self.key(out)?;
        let max_queue = self.options.max_queue;
        let existing = self.pool.sessions.borrow().get(&key).and_then(|list| {
            list.iter()
                .find(|s| max_queue == 0 || s.users.get() < max_queue)
                .cloned()
        });
        let s = match existing {
            Some(s) => s,
            None => {
                let layout = self.sub.get()?;
                let s = Rc::new(Session {
                    pipeline: RefCell::new(None),
                    waiting: RefCell::new(VecDeque::new()),
                    users: Cell::new(0),
                    messages: Cell::new(0),
                    retired: Cell::new(false),
                    idle_since: Cell::new(None),
                    max_idle: self.options.max_idle,
                    key: key.clone(),
                    pool: Rc::downgrade(&self.pool),
                });
                let weak = Rc::downgrade(&s);
                let target = EventTarget::Func(Rc::new(move |e: Event| {
                    if let Some(s) = weak.upgrade() {
                        s.route(e);
                    }
                }));
                let p = Pipeline::new(&layout, out.context().fork(), target);
                *s.pipeline.borrow_mut() = Some(p);
                self.pool
                    .sessions
                    .borrow_mut()
                    .entry(key)
                    .or_default()
                    .push(s.clone());
                if !self.pool.sweeping.replace(true) {
                    sweep(Rc::downgrade(&self.pool), self.options.max_idle);
                }
                s
            }
        };
        s.acquire();
        self.session = Some(s.clone());
        Some(s)
    }

    fn leave(&mut self) {
        if let Some(s) = self.session.take() {
            s.release();
            if s.retired.get() && s.users.get() == 0 {
                s.close();
            }
        }
    }
}

impl Mux {
    /// Sends the gathered message into the shared pipeline and waits for its
    /// answers.
    fn send(&mut self, out: &mut Output<'_>) {
        let mut count = self.options.output_count;
        if let (Some(f), Some(start)) = (&self.output_count_fn, self.message.first_mut()) {
            let arg = crate::util::js(|ctx| pipy_js::convert::event_to_js(start, ctx));
            let Ok(arg) = arg else { return };
            // A function that throws ends the stream (`Callback::call`).
            let Some(v) = f.call(&[arg], out) else { return };
            count = v.as_number().map_or(1, |n| n.max(0.0) as usize);
        }
        let Some(s) = self.session(out) else {
            self.message.clear();
            return;
        };
        let n = s.messages.get() + 1;
        s.messages.set(n);
        if self.options.max_messages > 0 && n >= self.options.max_messages {
            // Takes no new streams; ends when its users leave.
            s.retired.set(true);
            s.forget();
        }
        if count > 0 {
            s.waiting.borrow_mut().push_back(Waiter {
                target: out.reply_target(0),
                left: count,
            });
            self.expected += count;
        }
        let p = s.pipeline.borrow().clone();
        let message = std::mem::take(&mut self.message);
        self.held = 0;
        if let Some(p) = p {
            for e in message {
                p.input(e);
            }
        }
    }

    fn finish(&mut self, err: StreamError, out: &mut Output<'_>) {
        self.done = true;
        self.leave();
        out.push(Event::StreamEnd(err));
    }
}

impl Filter for Mux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match evt {
            Event::MessageStart(_) => {
                if let Some((f, parse)) = self.options_fn.take() {
                    // A function that throws ends the stream (`Callback::call`).
                    let Some(v) = f.call(&[], out) else { return };
                    match crate::util::js(|ctx| parse(&v, ctx)) {
                        Ok(o) => self.options = o,
                        Err(e) => {
                            tracing::error!("mux(): options: {e}");
                            out.fail(StreamError::RuntimeError);
                            return;
                        }
                    }
                }
                self.message.clear();
                self.held = 0;
                self.message.push(evt);
            }
            Event::Data(d) => {
                if self.message.is_empty() {
                    return;
                }
                self.held += d.len();
                if self.held > crate::handle::DEFAULT_BODY_LIMIT {
                    tracing::error!(
                        "mux: a message over {} bytes",
                        crate::handle::DEFAULT_BODY_LIMIT
                    );
                    self.message.clear();
                    out.fail(StreamError::BufferOverflow);
                    return;
                }
                self.message.push(Event::Data(d));
            }
            Event::MessageEnd(_) => {
                if self.message.is_empty() {
                    return;
                }
                self.message.push(evt);
                self.send(out);
            }
            Event::StreamEnd(err) => {
                self.input_ended = true;
                if self.expected == 0 {
                    self.finish(err, out);
                }
            }
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match evt {
            Event::StreamEnd(err) => self.finish(err, out),
            Event::MessageEnd(_) => {
                out.push(evt);
                self.expected = self.expected.saturating_sub(1);
                if self.input_ended && self.expected == 0 {
                    self.finish(StreamError::NoError, out);
                }
            }
            e => out.push(e),
        }
    }
}

impl Drop for Mux {
    fn drop(&mut self) {
        self.leave();
    }
}
