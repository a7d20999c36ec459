//! `mux(key?, options?)`: messages of many streams are merged into one shared
//! sub-pipeline per key (by default the inbound connection); each stream's own
//! output is its input, unchanged. The shared pipeline's output is dropped.
//!
//! A shared pipeline lives while streams use it, then `maxIdle` more (60 s by
//! default, as upstream), and no longer: its input ends and it leaves the map.
//! It also leaves when it ends by itself, and after `maxMessages` messages it
//! takes no new streams.

use crate::util::Callback;
use crate::SubLayout;
use pipy_core::{
    Event, EventTarget, Filter, FilterDump, FilterTemplate, Output, Pipeline, StreamError, SubKind,
};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
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
}

impl Default for MuxOptions {
    fn default() -> Self {
        Self {
            max_idle: Duration::from_secs(60),
            max_messages: 0,
            max_queue: 0,
        }
    }
}

/// The shared pipelines of one `mux` in a worker, by key.
#[derive(Default)]
struct Pool {
    sessions: RefCell<HashMap<String, Vec<Rc<Session>>>>,
    sweeping: Cell<bool>,
}

struct Session {
    pipeline: RefCell<Option<Pipeline>>,
    users: Cell<usize>,
    messages: Cell<usize>,
    /// Past `maxMessages`: closes as soon as its last user leaves.
    retired: Cell<bool>,
    idle_since: Cell<Option<Instant>>,
    key: String,
    pool: Weak<Pool>,
}

impl Session {
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
                        .is_some_and(|t| now.duration_since(t) >= max_idle)
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
    pool: Rc<Pool>,
}

impl MuxTemplate {
    /// `mux(key?, options?)`; the shared pipeline comes with `.to(...)`.
    pub fn new(key: Option<Callback>, sub: SubLayout, options: MuxOptions) -> Self {
        Self {
            key,
            sub,
            options,
            pool: Rc::default(),
        }
    }
}

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
            pool: self.pool.clone(),
            session: None,
        })
    }
}

struct Mux {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    pool: Rc<Pool>,
    session: Option<Rc<Session>>,
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
                    users: Cell::new(0),
                    messages: Cell::new(0),
                    retired: Cell::new(false),
                    idle_since: Cell::new(None),
                    key: key.clone(),
                    pool: Rc::downgrade(&self.pool),
                });
                // Output is dropped, but its end means the session is over.
                let weak = Rc::downgrade(&s);
                let target = EventTarget::Func(Rc::new(move |e: Event| {
                    if e.is_stream_end() {
                        if let Some(s) = weak.upgrade() {
                            s.forget();
                            // Not while `close` holds it: it is taking it anyway.
                            if let Ok(mut p) = s.pipeline.try_borrow_mut() {
                                p.take();
                            }
                        }
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

impl Filter for Mux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if evt.is_stream_end() {
            self.leave();
        } else if let Some(s) = self.session(out) {
            if matches!(evt, Event::MessageEnd(_)) {
                let n = s.messages.get() + 1;
                s.messages.set(n);
                if self.options.max_messages > 0 && n >= self.options.max_messages {
                    // Takes no new streams; ends when its users leave.
                    s.retired.set(true);
                    s.forget();
                }
            }
            let p = s.pipeline.borrow().clone();
            if let Some(p) = p {
                p.input(evt.clone());
            }
        }
        out.push(evt);
    }
}

impl Drop for Mux {
    fn drop(&mut self) {
        self.leave();
    }
}
