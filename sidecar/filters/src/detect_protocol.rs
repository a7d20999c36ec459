//! `detectProtocol(callback, { timeout })`: tells from a stream's first bytes
//! whether it is HTTP/1, HTTP/2 (cleartext preface) or TLS, and calls
//! `callback('HTTP' | 'HTTP2' | 'TLS' | '')` once. Every event passes through
//! unchanged. As upstream: the answer is `''` when no detector matches or
//! when `timeout` (seconds, default 1; 0 for none) passes first, and events
//! the callback returns go out before the event that decided.

use crate::util::Callback;
use boa_engine::js_string;
use pipy_codec::detect::{Detector, Protocol};
use pipy_core::{io, Event, Filter, FilterTemplate, Output};
use std::time::Duration;

/// Template of `detectProtocol`.
pub struct DetectProtocolTemplate {
    callback: Callback,
    timeout: Option<Duration>,
}

impl DetectProtocolTemplate {
    /// `detectProtocol(callback)` answering `''` after `timeout` without a match.
    pub fn new(callback: Callback, timeout: Option<Duration>) -> Self {
        Self { callback, timeout }
    }
}

impl FilterTemplate for DetectProtocolTemplate {
    fn name(&self) -> &'static str {
        "detectProtocol"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(DetectProtocol {
            callback: self.callback.clone(),
            timeout: self.timeout,
            detector: Some(Detector::new()),
            timer: false,
        })
    }
}

struct DetectProtocol {
    callback: Callback,
    timeout: Option<Duration>,
    /// `None` once the answer was given.
    detector: Option<Detector>,
    timer: bool,
}

/// Key of the timer's reply.
const TIMER: u64 = 1;

impl DetectProtocol {
    fn answer(&mut self, p: Protocol, out: &mut Output<'_>) {
        self.detector = None;
        let Some(v) = self
            .callback
            .eval(&[js_string!(p.name()).into()], out.context())
        else {
            out.push(Event::StreamEnd(pipy_core::StreamError::RuntimeError));
            return;
        };
        // Only events (or arrays of them) are output; other values are ignored.
        let mut events = Vec::new();
        if pipy_js::convert::is_event_value(&v) {
            let _ = crate::util::js(|js| pipy_js::convert::js_to_events(&v, js, &mut events));
        }
        for e in events {
            out.push(e);
        }
    }
}

impl Filter for DetectProtocol {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.timer && self.detector.is_some() {
            self.timer = true;
            if let Some(t) = self.timeout {
                let reply = out.reply_target(TIMER);
                io::after(
                    t,
                    Box::new(move || reply.send(Event::Data(Default::default()))),
                );
            }
        }
        if let (Event::Data(d), Some(detector)) = (&evt, &mut self.detector) {
            let found = d.chunks().find_map(|c| detector.feed(c));
            if let Some(p) = found {
                self.answer(p, out);
            }
        }
        out.push(evt);
    }

    fn on_reply(&mut self, key: u64, _evt: Event, out: &mut Output<'_>) {
        if key == TIMER && self.detector.is_some() {
            self.answer(Protocol::Unknown, out);
        }
    }
}
