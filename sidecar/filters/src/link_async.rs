//! `linkAsync(name | pick)`: `link` whose sub-pipeline takes the stream's
//! events on the next turn of the loop instead of inside the filter's call,
//! so that a pipeline can feed one that answers back into it without
//! re-entering itself (upstream 1.5's filter of this name, which also
//! reaches pipelines of other threads; here it links within the thread).
//! Its output comes straight back out.

use crate::branch::Resolver;
use crate::util::Callback;
use crate::SubLayout;
use pipy_core::{Event, Filter, FilterDump, FilterTemplate, Output, Pipeline, StreamError};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

/// Which pipeline a stream goes through.
#[derive(Clone)]
pub enum Target {
    /// One named pipeline.
    Fixed(SubLayout),
    /// A function of nothing giving a name per stream.
    Pick(Callback, Resolver),
}

/// Template of `linkAsync`.
pub struct LinkAsyncTemplate(pub Target);

impl FilterTemplate for LinkAsyncTemplate {
    fn name(&self) -> &'static str {
        "linkAsync"
    }
    fn dump(&self) -> Option<FilterDump> {
        match &self.0 {
            Target::Fixed(sub) => Some(FilterDump::joint(self.name(), vec![sub.get()])),
            Target::Pick(..) => None,
        }
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(LinkAsync {
            target: self.0.clone(),
            link: None,
        })
    }
}

/// The linked pipeline and the events waiting for the next turn.
struct Link {
    pipeline: Pipeline,
    queue: RefCell<VecDeque<Event>>,
    scheduled: Cell<bool>,
}

impl Link {
    fn flush(&self) {
        self.scheduled.set(false);
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(e) = next else { break };
            self.pipeline.input(e);
        }
    }
}

struct LinkAsync {
    target: Target,
    link: Option<Rc<Link>>,
}

impl LinkAsync {
    fn open(&mut self, out: &mut Output<'_>) -> Option<Rc<Link>> {
        let layout = match &self.target {
            Target::Fixed(sub) => sub.get()?,
            Target::Pick(pick, resolve) => {
                // A function that throws ends the stream (`Callback::call`).
                let v = pick.call(&[], out)?;
                let name = v.display().to_string().trim_matches('"').to_string();
                match resolve(&name) {
                    Some(l) => l,
                    None => {
                        tracing::error!("linkAsync(): unknown pipeline layout name: {name}");
                        out.fail(StreamError::RuntimeError);
                        return None;
                    }
                }
            }
        };
        let link = Rc::new(Link {
            pipeline: out.sub_pipeline(&layout, false, 0),
            queue: RefCell::new(VecDeque::new()),
            scheduled: Cell::new(false),
        });
        self.link = Some(link.clone());
        Some(link)
    }
}

impl Filter for LinkAsync {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let link = match &self.link {
            Some(l) => l.clone(),
            None => match self.open(out) {
                Some(l) => l,
                None => return,
            },
        };
        link.queue.borrow_mut().push_back(evt);
        if !link.scheduled.replace(true) {
            // Held until the turn comes, so that a stream's last events
            // (its end among them) reach the link even if the stream is gone.
            let link = link.clone();
            pipy_core::io::after(Duration::ZERO, Box::new(move || link.flush()));
        }
    }
}
