//! `demux(options?)`: every input message goes, alone, into a sub-pipeline of
//! its own (with a forked context). The filter outputs, in the order of the
//! input messages, the first `outputCount` messages (1 by default) each
//! sub-pipeline outputs, as upstream 1.5 does (its reference pages still say
//! "no output", but scripts see the answers; compared side by side).
//! `demuxQueue(options?)` is its name in upstream 1.5's pipeline API.

use crate::util::Callback;
use crate::SubLayout;
use pipy_core::flow::Congestion;
use pipy_core::{
    Event, Filter, FilterDump, FilterTemplate, Output, Pipeline, StreamError, SubKind,
};
use std::collections::VecDeque;

/// Bytes of answers held for messages behind the front one at which their
/// sources pause.
const HELD_LIMIT: usize = 1 << 20;

/// Template of `demux()`.
pub struct DemuxTemplate {
    sub: SubLayout,
    output_count: usize,
    output_count_fn: Option<Callback>,
}

impl DemuxTemplate {
    /// `demux(options?)`; `output_count` is `outputCount`.
    pub fn new(sub: SubLayout, output_count: usize) -> Self {
        Self {
            sub,
            output_count,
            output_count_fn: None,
        }
    }

    /// The same, with `outputCount` given by a function of each message's
    /// `MessageStart` (as upstream asks it per message).
    pub fn with_output_count_fn(mut self, f: Callback) -> Self {
        self.output_count_fn = Some(f);
        self
    }
}

impl FilterTemplate for DemuxTemplate {
    fn name(&self) -> &'static str {
        "demux"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]).with_kind(SubKind::Demux))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Demux {
            sub: self.sub.clone(),
            output_count: self.output_count,
            output_count_fn: self.output_count_fn.clone(),
            current: None,
            slots: VecDeque::new(),
            next_key: 0,
            input_ended: false,
            held: 0,
            held_back: Congestion::default(),
        })
    }
}

/// One input message and what came back for it so far.
struct Slot {
    key: u64,
    /// Answers not passed on yet (this slot is not at the front).
    held: Vec<Event>,
    /// Messages still to pass on.
    left: usize,
    /// Inside a message being passed on.
    in_message: bool,
    done: bool,
    _pipeline: Pipeline,
}

struct Demux {
    sub: SubLayout,
    output_count: usize,
    output_count_fn: Option<Callback>,
    current: Option<Pipeline>,
    slots: VecDeque<Slot>,
    next_key: u64,
    input_ended: bool,
    held: usize,
    held_back: Congestion,
}

impl Demux {
    /// Passes on what the front slots have, dropping finished ones.
    fn flush(&mut self, out: &mut Output<'_>) {
        while let Some(front) = self.slots.front_mut() {
            for e in front.held.drain(..) {
                if let Event::Data(d) = &e {
                    self.held = self.held.saturating_sub(d.len());
                }
                out.push(e);
            }
            if !front.done {
                break;
            }
            self.slots.pop_front();
        }
        if self.held <= HELD_LIMIT / 2 {
            self.held_back.end();
        }
        if self.input_ended && self.slots.is_empty() {
            self.input_ended = false;
            out.push(Event::StreamEnd(StreamError::NoError));
        }
    }
}

impl Filter for Demux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(_) => {
                let Some(layout) = self.sub.get() else { return };
                let mut evt = evt;
                let mut count = self.output_count;
                if let Some(f) = &self.output_count_fn {
                    let arg = crate::util::js(|ctx| pipy_js::convert::event_to_js(&mut evt, ctx));
                    let Ok(arg) = arg else { return };
                    // A function that throws ends the stream (`Callback::call`).
                    let Some(v) = f.call(&[arg], out) else { return };
                    count = v.as_number().map_or(1, |n| n.max(0.0) as usize);
                }
                let key = self.next_key;
                self.next_key += 1;
                let p = out.sub_pipeline(&layout, true, key);
                self.slots.push_back(Slot {
                    key,
                    held: Vec::new(),
                    left: count,
                    in_message: false,
                    done: count == 0,
                    _pipeline: p.clone(),
                });
                p.input(evt);
                self.current = Some(p);
            }
            Event::Data(_) => {
                if let Some(p) = &self.current {
                    p.input(evt);
                }
            }
            Event::MessageEnd(_) => {
                if let Some(p) = self.current.take() {
                    p.input(evt);
                    // The message is the sub-pipeline's whole input.
                    p.input(Event::StreamEnd(StreamError::NoError));
                }
                self.flush(out);
            }
            Event::StreamEnd(_) => {
                self.input_ended = true;
                self.flush(out);
            }
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        let Some(idx) = self.slots.iter().position(|s| s.key == key) else {
            return;
        };
        let slot = &mut self.slots[idx];
        if slot.done {
            return;
        }
        let pass = match &evt {
            Event::MessageStart(_) => {
                slot.in_message = true;
                true
            }
            Event::Data(_) => slot.in_message,
            Event::MessageEnd(_) => {
                slot.in_message = false;
                slot.left = slot.left.saturating_sub(1);
                slot.done = slot.left == 0;
                true
            }
            Event::StreamEnd(_) => {
                slot.done = true;
                false
            }
        };
        if pass {
            if let Event::Data(d) = &evt {
                self.held += d.len();
                if idx > 0 && self.held >= HELD_LIMIT {
                    self.held_back.begin();
                }
            }
            slot.held.push(evt);
        }
        if idx == 0 {
            self.flush(out);
        }
    }
}
