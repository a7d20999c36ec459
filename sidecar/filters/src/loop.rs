//! `loop($=>$...)`: a sub-pipeline whose output is fed back into its input.
//!
//! As upstream: the sub-pipeline starts with the stream's first event; every
//! event it outputs goes out of the filter and back into it, so a script can
//! keep a conversation going (a request whose answer prompts the next) until
//! the sub-pipeline stops answering or ends.
//!
//! Differs from upstream 1.5.18 (compared side by side): upstream defers
//! feedback to a task it arms only once per stream, so from the third round
//! on what the sub-pipeline outputs stays in a buffer for ever (`x1x12` where
//! this gives `x1x12x123`) and the stream never ends. Here every round goes
//! on and a `StreamEnd` from the sub-pipeline ends the stream.

use crate::SubLayout;
use pipy_core::{io, Event, Filter, FilterDump, FilterTemplate, Output, Pipeline};

/// Template of `loop`.
pub struct LoopTemplate(pub SubLayout);

impl FilterTemplate for LoopTemplate {
    fn name(&self) -> &'static str {
        "loop"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Loop {
            sub: self.0.clone(),
            pipeline: None,
            feedback: Vec::new(),
            scheduled: false,
            ended: false,
        })
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint("loop", vec![self.0.get()]))
    }
}

struct Loop {
    sub: SubLayout,
    pipeline: Option<Pipeline>,
    /// What the sub-pipeline output, waiting to go back into it.
    feedback: Vec<Event>,
    /// Whether the feedback is scheduled.
    scheduled: bool,
    /// The sub-pipeline ended: nothing goes back any more.
    ended: bool,
}

const OUTPUT: u64 = 0;
const FEEDBACK: u64 = 1;

impl Filter for Loop {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.pipeline.is_none() {
            let Some(layout) = self.sub.get() else {
                return out.push(evt);
            };
            let p = out.sub_pipeline(&layout, false, OUTPUT);
            p.start();
            self.pipeline = Some(p);
        }
        if let Some(p) = &self.pipeline {
            p.input(evt);
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        if key == FEEDBACK {
            self.scheduled = false;
            if let Some(p) = &self.pipeline {
                for e in std::mem::take(&mut self.feedback) {
                    p.input(e);
                }
            }
            return;
        }
        if self.ended {
            return;
        }
        // Feedback goes in on a later turn of the worker's loop, as upstream
        // defers it: a sub-pipeline that answers everything forever then
        // still lets the worker serve other streams. A StreamEnd ends the
        // loop instead of going round.
        if evt.is_stream_end() {
            self.ended = true;
        } else {
            self.feedback.push(evt.clone());
            if !self.scheduled {
                self.scheduled = true;
                let reply = out.reply_target(FEEDBACK);
                io::after(
                    std::time::Duration::ZERO,
                    Box::new(move || reply.send(Event::Data(Default::default()))),
                );
            }
        }
        out.push(evt);
    }
}
