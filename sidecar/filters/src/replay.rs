//! `replay({ delay })`: runs its sub-pipeline again, from the start of the
//! stream, when it ends with `StreamEnd('Replay')`.
//!
//! As upstream: every input event is kept and streamed into the
//! sub-pipeline; when the sub-pipeline outputs a `StreamEnd` whose error is
//! `Replay`, a new sub-pipeline gets all the kept events again after `delay`
//! (seconds, text with a unit, or a function returning either; none by
//! default) and what the old one outputs later is dropped. The kept bytes are
//! bounded: more ends the stream with `BufferOverflow`.

use crate::util::{js, Callback};
use crate::SubLayout;
use pipy_core::io;
use pipy_core::{Data, Event, Filter, FilterDump, FilterTemplate, Output, Pipeline, StreamError};
use std::time::Duration;

/// Template of `replay`.
pub struct ReplayTemplate {
    sub: SubLayout,
    delay: Option<Callback>,
    limit: usize,
}

impl ReplayTemplate {
    /// Replays into `sub`, after `delay` (a duration or a function giving one).
    pub fn new(sub: SubLayout, delay: Option<Callback>) -> Self {
        Self {
            sub,
            delay,
            limit: crate::handle::DEFAULT_BODY_LIMIT,
        }
    }
}

impl FilterTemplate for ReplayTemplate {
    fn name(&self) -> &'static str {
        "replay"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Replay {
            sub: self.sub.clone(),
            delay: self.delay.clone(),
            limit: self.limit,
            kept: Vec::new(),
            kept_bytes: 0,
            pipeline: None,
            generation: 0,
            scheduled: false,
        })
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint("replay", vec![self.sub.get()]))
    }
}

struct Replay {
    sub: SubLayout,
    delay: Option<Callback>,
    limit: usize,
    kept: Vec<Event>,
    kept_bytes: usize,
    pipeline: Option<Pipeline>,
    /// Replies carry the generation of the sub-pipeline that sent them;
    /// `u64::MAX` is the replay timer.
    generation: u64,
    scheduled: bool,
}

const TIMER: u64 = u64::MAX;

impl Replay {
    fn start(&mut self, out: &Output<'_>) -> Option<Pipeline> {
        let layout = self.sub.get()?;
        self.generation += 1;
        let p = out.sub_pipeline(&layout, false, self.generation);
        p.start();
        self.pipeline = Some(p.clone());
        Some(p)
    }

    fn delay(&self, out: &Output<'_>) -> Option<Duration> {
        let Some(d) = &self.delay else {
            return Some(Duration::ZERO);
        };
        let v = d.call(&[], out)?;
        let parsed = js(|ctx| -> Result<Duration, String> {
            if let Some(n) = v.as_number() {
                // NaN and huge values are clamped (a day at most).
                let n = if n.is_nan() {
                    0.0
                } else {
                    n.clamp(0.0, 86400.0)
                };
                return Ok(Duration::from_secs_f64(n));
            }
            let text = v
                .to_string(ctx)
                .map_err(|e| e.to_string())?
                .to_std_string_escaped();
            pipy_core::units::parse_duration(&text)
        });
        match parsed {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!("replay: bad delay: {e}");
                out.fail(StreamError::RuntimeError);
                None
            }
        }
    }
}

impl Filter for Replay {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        // While a replay is due, events are only kept: the new sub-pipeline
        // gets them all when it starts.
        let p = match &self.pipeline {
            Some(p) => Some(p.clone()),
            None if self.scheduled => None,
            None => match self.start(out) {
                Some(p) => Some(p),
                None => return out.push(evt),
            },
        };
        if let Event::Data(d) = &evt {
            self.kept_bytes += d.len();
            if self.kept_bytes > self.limit {
                tracing::error!("replay: over {} bytes kept: the stream ends", self.limit);
                self.kept.clear();
                return out.fail(StreamError::BufferOverflow);
            }
        }
        self.kept.push(evt.clone());
        if let Some(p) = p.filter(|_| !self.scheduled) {
            p.input(evt);
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        if key == TIMER {
            if self.scheduled {
                self.scheduled = false;
                if let Some(p) = self.start(out) {
                    for e in self.kept.clone() {
                        p.input(e);
                    }
                }
            }
            return;
        }
        if key != self.generation || self.scheduled {
            return;
        }
        if let Event::StreamEnd(StreamError::Replay) = evt {
            let Some(delay) = self.delay(out) else {
                return;
            };
            self.scheduled = true;
            self.pipeline = None;
            let reply = out.reply_target(TIMER);
            io::after(
                delay,
                Box::new(move || reply.send(Event::Data(Data::new()))),
            );
            return;
        }
        out.push(evt);
    }
}
