//! `produce(producer)`: a stream of its own making. At the first event in
//! (which, like every input, is dropped) the filter outputs what `producer`
//! gives: an event, a Message, an array of those, or a Promise of one. A
//! function producer is asked again each time its last answer went out,
//! until it gives a `StreamEnd` (which ends the stream) or fails, as
//! upstream 1.5 does; a plain value is output once.
//!
//! Where we differ from upstream, on purpose: a function answering `null`
//! or `undefined` ends production (upstream asks it again at once, forever,
//! and the thread never gets back to its loop); answers that are not
//! Promises are taken [`BATCH`] at a time, then the loop turns before the
//! next ones, so other streams are served between them (and not before a
//! congested writer downstream drained what went out).

use crate::util::{js, Callback};
use pipy_core::flow::Tap;
use pipy_core::{Event, EventTarget, Filter, FilterTemplate, Output, StreamError};
use pipy_js::convert;
use std::time::Duration;

/// Answers of a function producer taken in one turn of the loop.
pub const BATCH: usize = 64;

/// Reply keys: an event a Promise gave, "ask again", a rejection.
const EVENT: u64 = 1;
const AGAIN: u64 = 2;
const REJECTED: u64 = 3;

/// Template of `produce`.
pub struct ProduceTemplate(pub Callback);

impl FilterTemplate for ProduceTemplate {
    fn name(&self) -> &'static str {
        "produce"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Produce {
            producer: self.0.clone(),
            started: false,
            done: false,
            tap: Tap::new(),
        })
    }
}

struct Produce {
    producer: Callback,
    started: bool,
    done: bool,
    /// Closed by a congested writer downstream: the next batch waits.
    tap: Tap,
}

/// What an answer held.
enum Consumed {
    /// Events went out; ask again (for a function).
    More,
    /// Nothing, a `StreamEnd` or an error: production is over.
    Over,
}

/// Sends `events` to `target` up to a `StreamEnd`.
fn deliver(value: &boa_engine::JsValue, target: &mut dyn FnMut(Event)) -> Result<Consumed, ()> {
    if value.is_null_or_undefined() {
        return Ok(Consumed::Over);
    }
    let mut events = Vec::new();
    if !convert::is_event_value(value)
        || js(|ctx| convert::js_to_events(value, ctx, &mut events)).is_err()
    {
        return Err(());
    }
    for e in events {
        let end = matches!(e, Event::StreamEnd(_));
        target(e);
        if end {
            return Ok(Consumed::Over);
        }
    }
    Ok(Consumed::More)
}

impl Produce {
    fn produce(&mut self, out: &mut Output<'_>) {
        let tap = self.tap.clone();
        let entered = tap.enter();
        for _ in 0..BATCH {
            if self.done {
                return;
            }
            // A function that throws ends the stream (`Callback::call`).
            let Some(v) = self.producer.call(&[], out) else {
                self.done = true;
                return;
            };
            if pipy_js::promise::is_promise(&v) {
                self.wait(&v, out);
                return;
            }
            match deliver(&v, &mut |e| out.push(e)) {
                Ok(Consumed::More) if self.producer.is_function() => {}
                Ok(_) => {
                    self.done = true;
                    return;
                }
                Err(()) => return self.fail(out),
            }
        }
        drop(entered);
        // Many answers at once: the rest after a turn of the loop, and once
        // what went out drained if a writer downstream is congested.
        let again = out.reply_target(AGAIN);
        if tap.is_open() {
            pipy_core::io::after(
                Duration::ZERO,
                Box::new(move || again.send(Event::Data(Default::default()))),
            );
        } else {
            pipy_core::io::spawn(Box::pin(async move {
                tap.opened().await;
                again.send(Event::Data(Default::default()));
            }));
        }
    }

    /// Outputs what the Promise gives when it settles, then asks again.
    fn wait(&mut self, promise: &boa_engine::JsValue, out: &mut Output<'_>) {
        let events = out.reply_target(EVENT);
        let again = out.reply_target(AGAIN);
        let rejected = out.reply_target(REJECTED);
        let ask_again = self.producer.is_function();
        let r = js(|ctx| {
            pipy_js::promise::when_settled(
                promise,
                ctx,
                Box::new(move |r| settled(r, ask_again, &events, &again, &rejected)),
            )
        });
        if r.is_err() {
            self.fail(out);
        }
    }

    fn fail(&mut self, out: &mut Output<'_>) {
        tracing::error!("produce: production is not an event");
        self.done = true;
        out.fail(StreamError::RuntimeError);
    }
}

fn settled(
    result: pipy_js::promise::Settled,
    ask_again: bool,
    events: &EventTarget,
    again: &EventTarget,
    rejected: &EventTarget,
) {
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("produce: Promise rejected: {}", e.display());
            rejected.send(Event::StreamEnd(StreamError::RuntimeError));
            return;
        }
    };
    match deliver(&value, &mut |e| events.send(e)) {
        Ok(Consumed::More) if ask_again => again.send(Event::Data(Default::default())),
        Ok(_) => {}
        Err(()) => {
            tracing::error!("produce: production is not an event");
            rejected.send(Event::StreamEnd(StreamError::RuntimeError));
        }
    }
}

impl Filter for Produce {
    fn process(&mut self, _evt: Event, out: &mut Output<'_>) {
        if !self.started {
            self.started = true;
            self.produce(out);
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match key {
            EVENT => {
                if matches!(evt, Event::StreamEnd(_)) {
                    self.done = true;
                }
                out.push(evt);
            }
            AGAIN => self.produce(out),
            _ => {
                self.done = true;
                out.fail(StreamError::RuntimeError);
            }
        }
    }
}
