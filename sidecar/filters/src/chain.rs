//! `chain(modules)`, `chain()` and `use(modules, pipeline)`: a stream walks
//! through the entry (or named) pipelines of a list of modules; inside one,
//! `chain()` continues to the next, and passes events on when there is none.

use pipy_core::{Chain, Event, Filter, FilterTemplate, Layout, Output, Pipeline};
use std::rc::Rc;

/// Template of `chain(...)` / `use(...)`.
pub struct ChainTemplate {
    /// `Some`: start a new chain over these layouts; `None`: continue the
    /// current chain.
    layouts: Option<Rc<[Layout]>>,
    name: &'static str,
}

impl ChainTemplate {
    /// `chain(modules)` or `use(modules, name)`: start over `layouts`.
    pub fn start(layouts: Vec<Layout>, name: &'static str) -> Self {
        Self {
            layouts: Some(layouts.into()),
            name,
        }
    }

    /// `chain()`: the next step of the current chain.
    pub fn next() -> Self {
        Self {
            layouts: None,
            name: "chain",
        }
    }
}

impl FilterTemplate for ChainTemplate {
    fn name(&self) -> &'static str {
        self.name
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(ChainFilter {
            layouts: self.layouts.clone(),
            step: None,
        })
    }
}

struct ChainFilter {
    layouts: Option<Rc<[Layout]>>,
    /// `Some(None)`: nothing follows, events pass through.
    step: Option<Option<Pipeline>>,
}

impl Filter for ChainFilter {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.step.is_none() {
            let next = match &self.layouts {
                Some(l) => Some(Chain {
                    layouts: l.clone(),
                    index: 0,
                }),
                None => out.chain().map(|c| Chain {
                    layouts: c.layouts.clone(),
                    index: c.index + 1,
                }),
            };
            let pipeline = next
                .filter(|c| c.index < c.layouts.len())
                .and_then(|c| out.chain_pipeline(Rc::new(c), 0));
            self.step = Some(pipeline);
        }
        match &self.step {
            Some(Some(p)) => p.input(evt),
            _ => out.push(evt),
        }
    }
}
