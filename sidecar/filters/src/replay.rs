//! `replay({ delay })`: runs its sub-pipeline again, from the start of the
//! stream, when it ends with `StreamEnd('Replay')`. `repeat(condition)`
//! (upstream 1.5's pipeline API) does the same whenever the sub-pipeline
//! ends and `condition(streamEnd)` gives a truthy value (or a Promise of
//! one); otherwise its `StreamEnd` goes on.
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

/// When the sub-pipeline runs again.
#[derive(Clone)]
enum Again {
    /// `replay`: on `StreamEnd('Replay')`, after the delay.
    OnReplay(Option<Callback>),
    /// `repeat`: when the condition holds for the sub-pipeline's end.
    While(Callback),
}

/// Template of `replay` and `repeat`.
pub struct ReplayTemplate {
    sub: SubLayout,
    again: Again,
    limit: usize,
}

impl ReplayTemplate {
    /// Replays into `sub`, after `delay` (a duration or a function giving one).
    pub fn new(sub: SubLayout, delay: Option<Callback>) -> Self {
        Self {
            sub,
            again: Again::OnReplay(delay),
            limit: crate::handle::DEFAULT_BODY_LIMIT,
        }
    }

    /// `repeat(condition)`: runs `sub` again while `condition` holds.
    pub fn repeat(sub: SubLayout, condition: Callback) -> Self {
        Self {
            sub,
            again: Again::While(condition),
            limit: crate::handle::DEFAULT_BODY_LIMIT,
        }
    }
}

impl FilterTemplate for ReplayTemplate {
    fn name(&self) -> &'static str {
        match self.again {
            Again::OnReplay(_) => "replay",
            Again::While(_) => "repeat",
        }
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Replay {
            sub: self.sub.clone(),
            again: self.again.clone(),
            limit: self.limit,
            kept: Vec::new(),
            kept_bytes: 0,
            pipeline: None,
            generation: 0,
            scheduled: false,
        })
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
}

struct Replay {
    sub: SubLayout,
    again: Again,
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
/// A condition's Promise settled falsy (the end goes on) or rejected.
const STOP: u64 = u64::MAX - 1;

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
        let Again::OnReplay(Some(d)) = &self.again else {
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

impl Replay {
    /// A new sub-pipeline after `delay`; the current one's output is
    /// dropped from now on.
    fn schedule(&mut self, delay: Duration, out: &Output<'_>) {
        self.scheduled = true;
        self.pipeline = None;
        let reply = out.reply_target(TIMER);
        io::after(
            delay,
            Box::new(move || reply.send(Event::Data(Data::new()))),
        );
    }

    /// Whether `repeat`'s condition holds for the end `eos`; `None` when it
    /// gave a Promise (or threw: the stream ended), which answers later
    /// with a reply: `TIMER` to run again, `STOP` with the end to pass on.
    fn ask(&mut self, condition: &Callback, eos: Event, out: &mut Output<'_>) -> Option<bool> {
        let mut arg_event = eos.clone();
        let arg = js(|ctx| pipy_js::convert::event_to_js(&mut arg_event, ctx)).ok()?;
        let v = condition.call(&[arg], out)?;
        if !pipy_js::promise::is_promise(&v) {
            return Some(v.to_boolean());
        }
        self.scheduled = true;
        self.pipeline = None;
        let (again, stop) = (out.reply_target(TIMER), out.reply_target(STOP));
        let r = js(|ctx| {
            pipy_js::promise::when_settled(
                &v,
                ctx,
                Box::new(move |r| match r {
                    Ok(v) if v.to_boolean() => again.send(Event::Data(Data::new())),
                    Ok(_) => stop.send(eos),
                    Err(e) => {
                        tracing::error!("repeat: Promise rejected: {}", e.display());
                        stop.send(Event::StreamEnd(StreamError::RuntimeError));
                    }
                }),
            )
        });
        if r.is_err() {
            out.fail(StreamError::RuntimeError);
        }
        None
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
        if key == STOP {
            self.kept.clear();
            self.kept_bytes = 0;
            self.scheduled = false;
            return out.push(evt);
        }
        if key != self.generation || self.scheduled {
            return;
        }
        let again = match (&self.again, &evt) {
            (Again::OnReplay(_), Event::StreamEnd(StreamError::Replay)) => true,
            (Again::While(condition), Event::StreamEnd(_)) => {
                let condition = condition.clone();
                match self.ask(&condition, evt.clone(), out) {
                    Some(again) => again,
                    // Asked a Promise: its answer comes as a reply.
                    None => return,
                }
            }
            _ => false,
        };
        if !again {
            return out.push(evt);
        }
        let Some(delay) = self.delay(out) else {
            return;
        };
        self.schedule(delay, out);
    }
}
