//! `throttleConcurrency`, `throttleDataRate` and `throttleMessageRate`: hold a
//! stream back while an `algo.Quota` is used up.
//!
//! As upstream: the quota (or a function giving one, asked at the first event)
//! is consumed by 1 per stream (concurrency, given back when the stream's
//! pipeline goes), by the bytes of each Data (data rate; a chunk is cut where
//! the quota ends), or by 1 per MessageStart (message rate). When it runs
//! out, the events wait in order until the quota has more; with
//! `blockInput` (the default) the source stops being read meanwhile, so what
//! waits stays small. Without it, what waits is bounded: more ends the stream
//! with `BufferOverflow`.

use crate::util::Callback;
use pipy_core::flow::Congestion;
use pipy_core::{Data, Event, Filter, FilterTemplate, Output, StreamError};
use pipy_js::api::quota::{quota_of, Quota};
use std::collections::VecDeque;
use std::rc::Rc;

/// What a throttle counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Streams at once.
    Concurrency,
    /// Bytes.
    DataRate,
    /// Messages.
    MessageRate,
}

/// Template of a throttle filter.
pub struct ThrottleTemplate {
    kind: Kind,
    quota: Callback,
    block_input: bool,
    limit: usize,
}

impl ThrottleTemplate {
    /// A throttle of `kind` on `quota` (a Quota or a function giving one).
    pub fn new(kind: Kind, quota: Callback, block_input: bool) -> Self {
        Self {
            kind,
            quota,
            block_input,
            limit: crate::handle::DEFAULT_BODY_LIMIT,
        }
    }
}

impl FilterTemplate for ThrottleTemplate {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Concurrency => "throttleConcurrency",
            Kind::DataRate => "throttleDataRate",
            Kind::MessageRate => "throttleMessageRate",
        }
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Throttle {
            kind: self.kind,
            source: self.quota.clone(),
            block_input: self.block_input,
            limit: self.limit,
            quota: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            active: false,
            congestion: Congestion::default(),
        })
    }
}

struct Throttle {
    kind: Kind,
    source: Callback,
    block_input: bool,
    limit: usize,
    quota: Option<Rc<Quota>>,
    queue: VecDeque<Event>,
    queued_bytes: usize,
    /// Concurrency: this stream holds one unit.
    active: bool,
    congestion: Congestion,
}

impl Throttle {
    /// Lets `evt` through if the quota allows; gives back what must wait.
    fn consume(&mut self, evt: Event, quota: &Quota, out: &mut Output<'_>) -> Option<Event> {
        match self.kind {
            Kind::Concurrency => {
                if !self.active {
                    if quota.consume(1.0) < 1.0 {
                        return Some(evt);
                    }
                    self.active = true;
                }
            }
            Kind::MessageRate => {
                if matches!(evt, Event::MessageStart(_)) && quota.consume(1.0) < 1.0 {
                    return Some(evt);
                }
            }
            Kind::DataRate => {
                if let Event::Data(mut d) = evt {
                    let n = quota.consume(d.len() as f64) as usize;
                    if n < d.len() {
                        let head: Data = d.shift(n);
                        if !head.is_empty() {
                            out.push(Event::Data(head));
                        }
                        return Some(Event::Data(d));
                    }
                    out.push(Event::Data(d));
                    return None;
                }
            }
        }
        out.push(evt);
        None
    }

    fn hold(&mut self, evt: Event, front: bool) -> bool {
        if let Event::Data(d) = &evt {
            self.queued_bytes += d.len();
        }
        if front {
            self.queue.push_front(evt);
        } else {
            self.queue.push_back(evt);
        }
        self.queued_bytes <= self.limit
    }

    fn stall(&mut self, quota: &Quota, out: &Output<'_>) {
        quota.wait(out.reply_target(0));
        if self.block_input {
            self.congestion.begin();
        }
    }
}

impl Filter for Throttle {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let quota = match &self.quota {
            Some(q) => q.clone(),
            None => {
                let Some(v) = self.source.call(&[], out) else {
                    return;
                };
                let Some(q) = quota_of(&v) else {
                    tracing::error!(
                        "{}: function did not return an object of type algo.Quota",
                        self.source.origin
                    );
                    return out.fail(StreamError::RuntimeError);
                };
                self.quota = Some(q.clone());
                q
            }
        };
        if !self.queue.is_empty() {
            if !self.hold(evt, false) {
                tracing::error!(
                    "{}: over {} bytes waiting: the stream ends",
                    self.source.origin,
                    self.limit
                );
                self.queue.clear();
                return out.fail(StreamError::BufferOverflow);
            }
            return;
        }
        if let Some(stalled) = self.consume(evt, &quota, out) {
            self.hold(stalled, true);
            self.stall(&quota, out);
        }
    }

    fn on_reply(&mut self, _key: u64, _evt: Event, out: &mut Output<'_>) {
        let Some(quota) = self.quota.clone() else {
            return;
        };
        while let Some(evt) = self.queue.pop_front() {
            if let Event::Data(d) = &evt {
                self.queued_bytes -= d.len();
            }
            if let Some(stalled) = self.consume(evt, &quota, out) {
                self.hold(stalled, true);
                quota.wait(out.reply_target(0));
                return;
            }
        }
        self.queued_bytes = 0;
        self.congestion.end();
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        if self.active {
            if let Some(q) = &self.quota {
                q.produce(1.0);
            }
        }
    }
}
