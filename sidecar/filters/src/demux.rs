//! `demux()`: every input message goes, alone, into a sub-pipeline of its own
//! (with a forked context). The filter outputs nothing; the sub-pipelines'
//! output is dropped, as in upstream's current API.

use crate::SubLayout;
use pipy_core::{
    Event, EventTarget, Filter, FilterDump, FilterTemplate, Output, Pipeline, SubKind,
};

/// Template of `demux()`.
pub struct DemuxTemplate(pub SubLayout);

impl FilterTemplate for DemuxTemplate {
    fn name(&self) -> &'static str {
        "demux"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.0.get()]).with_kind(SubKind::Demux))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Demux {
            sub: self.0.clone(),
            current: None,
            next_key: 0,
        })
    }
}

struct Demux {
    sub: SubLayout,
    current: Option<Pipeline>,
    next_key: u64,
}

impl Filter for Demux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(_) => {
                let Some(layout) = self.sub.get() else { return };
                let p = out.sub_pipeline(&layout, true, self.next_key);
                self.next_key += 1;
                p.set_output(EventTarget::Discard);
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
                    p.input(Event::StreamEnd(pipy_core::StreamError::NoError));
                }
            }
            Event::StreamEnd(_) => {}
        }
    }
}
