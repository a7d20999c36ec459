//! `chain(modules)`, `chain()` and `use(modules, pipeline)`: a stream walks
//! through the entry (or named) pipelines of a list of modules; inside one,
//! `chain()` continues to the next, and passes events on when there is none.
//! Upstream 1.5's pipeline API has the same walk as `pipe([p1, p2, ...])`
//! over pipeline values, with `pipeNext()` for `chain()`. `use('mod.so')`
//! runs a native module's pipeline instead (`sidecar/nmi`).

use crate::util::{js, Callback};
use pipy_core::{Chain, Event, Filter, FilterTemplate, Layout, Output, Pipeline};
use std::rc::Rc;

/// Template of `chain(...)` / `use(...)`.
pub struct ChainTemplate {
    /// `Some`: start a new chain over these layouts; `None`: continue the
    /// current chain.
    layouts: Option<Rc<[Layout]>>,
    name: &'static str,
    /// `pipe`'s initial arguments for the chain's pipelines (an array, or a
    /// function of the first event giving them).
    init: Option<Callback>,
}

impl ChainTemplate {
    /// `chain(modules)` or `use(modules, name)`: start over `layouts`.
    pub fn start(layouts: Vec<Layout>, name: &'static str) -> Self {
        Self {
            layouts: Some(layouts.into()),
            name,
            init: None,
        }
    }

    /// `pipe([...], initArgs)`: start over `layouts`, each pipeline starting
    /// with the arguments `init` gives.
    pub fn start_with(layouts: Vec<Layout>, name: &'static str, init: Callback) -> Self {
        Self {
            layouts: Some(layouts.into()),
            name,
            init: Some(init),
        }
    }

    /// `chain()`: the next step of the current chain.
    pub fn next() -> Self {
        Self::next_named("chain")
    }

    /// The next step of the current chain, under another name (`pipeNext`).
    pub fn next_named(name: &'static str) -> Self {
        Self {
            layouts: None,
            name,
            init: None,
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
            init: self.init.clone(),
            step: None,
        })
    }
}

struct ChainFilter {
    layouts: Option<Rc<[Layout]>>,
    init: Option<Callback>,
    /// `Some(None)`: nothing follows, events pass through.
    step: Option<Option<Pipeline>>,
}

impl Filter for ChainFilter {
    fn process(&mut self, mut evt: Event, out: &mut Output<'_>) {
        if self.step.is_none() {
            let start = match &self.init {
                Some(init) => match start_args(init, &mut evt, out) {
                    Some(args) => Some(Rc::new(args) as Rc<dyn std::any::Any>),
                    None => return out.fail(pipy_core::StreamError::RuntimeError),
                },
                None => None,
            };
            let next = match &self.layouts {
                Some(l) => Some(Chain {
                    layouts: l.clone(),
                    index: 0,
                    start,
                }),
                None => out.chain().map(|c| Chain {
                    layouts: c.layouts.clone(),
                    index: c.index + 1,
                    start: c.start.clone(),
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

/// `pipe`'s initial arguments for a stream: an array's elements, a
/// function's result for the first event (spread when an array), or the
/// value itself. `None` when the function threw (the stream then ends).
pub(crate) fn start_args(
    init: &Callback,
    evt: &mut Event,
    out: &Output<'_>,
) -> Option<crate::branch::StartArgs> {
    let value = if init.is_function() {
        let arg = js(|ctx| pipy_js::convert::event_to_js(evt, ctx)).ok()?;
        init.call(&[arg], out)?
    } else {
        init.value().clone()
    };
    let items = js(|ctx| pipy_js::convert::array_values(&value, ctx)).ok()?;
    Some(items.unwrap_or_else(|| vec![value]))
}
