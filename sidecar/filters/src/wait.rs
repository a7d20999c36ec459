//! `wait(condition, { timeout })`: holds every event until a condition holds.
//!
//! As upstream: `condition` is called on each event while the filter waits;
//! a truthy result lets the held events and everything after through. A
//! Promise lets them through when it resolves (a rejection ends the stream),
//! and is not asked again meanwhile. `timeout` (seconds or text with a unit)
//! lets them through anyway once the first held event waited that long. The
//! held bytes are bounded: more ends the stream with `BufferOverflow`.

use crate::util::{js, Callback};
use pipy_core::io;
use pipy_core::{Data, Event, Filter, FilterTemplate, Output, StreamError};
use std::time::Duration;

/// Template of `wait`.
pub struct WaitTemplate {
    condition: Callback,
    timeout: Option<Duration>,
    limit: usize,
}

impl WaitTemplate {
    /// Waits for `condition`, at most `timeout`.
    pub fn new(condition: Callback, timeout: Option<Duration>) -> Self {
        Self {
            condition,
            timeout,
            limit: crate::handle::DEFAULT_BODY_LIMIT,
        }
    }
}

impl FilterTemplate for WaitTemplate {
    fn name(&self) -> &'static str {
        "wait"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Wait {
            condition: self.condition.clone(),
            timeout: self.timeout,
            limit: self.limit,
            held: Vec::new(),
            held_bytes: 0,
            waiting_promise: false,
            fulfilled: false,
        })
    }
}

struct Wait {
    condition: Callback,
    timeout: Option<Duration>,
    limit: usize,
    held: Vec<Event>,
    held_bytes: usize,
    waiting_promise: bool,
    fulfilled: bool,
}

const FULFILLED: u64 = 1;
const REJECTED: u64 = 2;
const TIMEOUT: u64 = 3;

impl Wait {
    fn fulfill(&mut self, out: &mut Output<'_>) {
        if !self.fulfilled {
            self.fulfilled = true;
            self.held_bytes = 0;
            self.held.drain(..).for_each(|e| out.push(e));
        }
    }
}

impl Filter for Wait {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.fulfilled {
            return out.push(evt);
        }
        if !self.waiting_promise {
            let Some(v) = self.condition.call(&[], out) else {
                return;
            };
            if pipy_js::promise::is_promise(&v) {
                self.waiting_promise = true;
                let ok = out.reply_target(FULFILLED);
                let bad = out.reply_target(REJECTED);
                let r = js(|ctx| {
                    pipy_js::promise::when_settled(
                        &v,
                        ctx,
                        Box::new(move |r| match r {
                            Ok(_) => ok.send(Event::Data(Data::new())),
                            Err(e) => {
                                tracing::error!("wait: Promise rejected: {}", e.display());
                                bad.send(Event::Data(Data::new()));
                            }
                        }),
                    )
                });
                if r.is_err() {
                    return out.fail(StreamError::RuntimeError);
                }
            } else if v.to_boolean() {
                self.fulfill(out);
                return out.push(evt);
            }
        }
        if self.held.is_empty() {
            if let Some(t) = self.timeout.filter(|t| !t.is_zero()) {
                let reply = out.reply_target(TIMEOUT);
                io::after(t, Box::new(move || reply.send(Event::Data(Data::new()))));
            }
        }
        if let Event::Data(d) = &evt {
            self.held_bytes += d.len();
            if self.held_bytes > self.limit {
                tracing::error!("wait: over {} bytes held: the stream ends", self.limit);
                self.held.clear();
                return out.fail(StreamError::BufferOverflow);
            }
        }
        self.held.push(evt);
    }

    fn on_reply(&mut self, key: u64, _evt: Event, out: &mut Output<'_>) {
        match key {
            REJECTED if !self.fulfilled => {
                self.held.clear();
                out.fail(StreamError::RuntimeError);
            }
            FULFILLED | TIMEOUT => self.fulfill(out),
            _ => {}
        }
    }
}
