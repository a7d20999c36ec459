//! `insert(events)`: puts events into the stream before its first event.
//!
//! As upstream: `events` is an event, a Message, an array of those, or a
//! function returning one of them or a Promise of one. The stream's first
//! event passes at once; what a Promise gives follows when it settles (a
//! rejected Promise ends the stream with the error).

use crate::util::{js, Callback};
use pipy_core::{Event, EventTarget, Filter, FilterTemplate, Output, StreamError};
use pipy_js::convert;

/// Template of `insert`.
pub struct InsertTemplate(pub Callback);

impl FilterTemplate for InsertTemplate {
    fn name(&self) -> &'static str {
        "insert"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Insert {
            events: self.0.clone(),
            inserted: false,
        })
    }
}

struct Insert {
    events: Callback,
    inserted: bool,
}

const SETTLED: u64 = 1;
const REJECTED: u64 = 2;

/// Sends the events a settled Promise gave back to the filter under `key`
/// (`SETTLED`), or a `RuntimeError` under `REJECTED`.
pub(crate) fn forward_settled(
    result: pipy_js::promise::Settled,
    target: &EventTarget,
    origin: &str,
) {
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("{origin}: Promise rejected: {}", e.display());
            target.send(Event::StreamEnd(StreamError::RuntimeError));
            return;
        }
    };
    let mut events = Vec::new();
    let ok = convert::is_event_value(&value)
        && js(|ctx| convert::js_to_events(&value, ctx, &mut events)).is_ok();
    if !ok && !value.is_null_or_undefined() {
        tracing::error!(
            "{origin}: Promise was not fulfilled with an event or Message or an array of those"
        );
        target.send(Event::StreamEnd(StreamError::RuntimeError));
        return;
    }
    events.into_iter().for_each(|e| target.send(e));
}

/// Waits for Promise `v`, then sends what it gives back to the filter of
/// `out`: its events under `keys.0`, or a `RuntimeError` under `keys.1` when
/// it is rejected; then, with `keys.2`, a `StreamEnd` under that key to say
/// it is all there. False when the Promise could not be waited for.
pub(crate) fn forward_when_settled(
    v: &boa_engine::JsValue,
    out: &Output<'_>,
    keys: (u64, u64, Option<u64>),
    origin: &'static str,
) -> bool {
    let ok = out.reply_target(keys.0);
    let bad = out.reply_target(keys.1);
    let done = keys.2.map(|k| out.reply_target(k));
    js(|ctx| {
        pipy_js::promise::when_settled(
            v,
            ctx,
            Box::new(move |r| {
                let target = if r.is_ok() { &ok } else { &bad };
                forward_settled(r, target, origin);
                if let Some(done) = &done {
                    done.send(Event::StreamEnd(StreamError::NoError));
                }
            }),
        )
    })
    .is_ok()
}

impl Filter for Insert {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.inserted {
            self.inserted = true;
            let Some(v) = self.events.call(&[], out) else {
                return;
            };
            if pipy_js::promise::is_promise(&v) {
                if !forward_when_settled(&v, out, (SETTLED, REJECTED, None), "insert") {
                    out.fail(StreamError::RuntimeError);
                    return;
                }
            } else {
                let mut events = Vec::new();
                let ok = (v.is_null_or_undefined() || convert::is_event_value(&v))
                    && js(|ctx| convert::js_to_events(&v, ctx, &mut events)).is_ok();
                if !ok {
                    tracing::error!(
                        "insert: inserting object is not an event or Message or an array of those"
                    );
                    out.fail(StreamError::RuntimeError);
                    return;
                }
                events.into_iter().for_each(|e| out.push(e));
            }
        }
        out.push(evt);
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        if key == REJECTED {
            out.fail(StreamError::RuntimeError);
            return;
        }
        out.push(evt);
    }
}
