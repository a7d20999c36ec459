//! `pipe(target, [targetMap], [initArgs])`: passes the stream through a
//! pipeline chosen at run time (upstream 1.5's pipeline API); `initArgs`
//! (an array, or a function of the first event) are what the pipeline's
//! `onStart` is called with. An array target is a chain (see `chain.rs`).
//!
//! As upstream: `target` is a pipeline value, a function of the event giving
//! one, or a name looked up in `targetMap`. The function is asked at each
//! event until it gives a pipeline; events before that wait (up to
//! [`MAX_WAITING`] bytes of Data, past which the stream ends with
//! `BufferOverflow`), then go to the pipeline, which shares the stream's
//! context and outputs where the filter outputs. A stream that ends before
//! a pipeline was chosen ends here (upstream keeps it waiting forever).
//! Arrays given by a function (a chain chosen per stream) are not supported
//! yet: they end the stream with an error naming the filter. Upstream's arrays of
//! pipelines (a chain of them) are not supported here yet: they end the
//! stream with an error naming the filter.

use crate::util::{js, Callback};
use boa_engine::JsValue;
use pipy_core::{Event, Filter, FilterTemplate, Layout, Output, Pipeline, StreamError};
use pipy_js::convert;
use std::rc::Rc;

/// Data held while the target is not chosen yet, at most.
pub const MAX_WAITING: usize = 1 << 20;

/// What a target value names: `Ok(None)` for nothing yet (null or
/// undefined), an error for something that is not a pipeline.
pub type Resolve = Rc<dyn Fn(&JsValue) -> Result<Option<Layout>, String>>;

/// Template of `pipe`.
pub struct PipeTemplate {
    target: Callback,
    resolve: Resolve,
    init: Option<Callback>,
}

impl PipeTemplate {
    /// `pipe(target, [map], [initArgs])`, with target values resolved by
    /// `resolve`; the pipeline's `onStart` gets the arguments `init` gives
    /// (an array, or a function of the first event giving them).
    pub fn new(target: Callback, resolve: Resolve, init: Option<Callback>) -> Self {
        Self {
            target,
            resolve,
            init,
        }
    }
}

impl FilterTemplate for PipeTemplate {
    fn name(&self) -> &'static str {
        "pipe"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Pipe {
            target: self.target.clone(),
            resolve: self.resolve.clone(),
            init: self.init.clone(),
            chosen: None,
            waiting: Vec::new(),
            held: 0,
        })
    }
}

struct Pipe {
    target: Callback,
    resolve: Resolve,
    init: Option<Callback>,
    chosen: Option<Pipeline>,
    waiting: Vec<Event>,
    held: usize,
}

impl Pipe {
    /// The layout the target gives for `evt`, `Ok(None)` while it gives none.
    fn choose(&self, evt: &mut Event, out: &Output<'_>) -> Result<Option<Layout>, ()> {
        let value = if self.target.is_function() {
            let arg = match js(|ctx| convert::event_to_js(evt, ctx)) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!("pipe(): {e}");
                    return Err(());
                }
            };
            self.target.call(&[arg], out).ok_or(())?
        } else {
            self.target.value().clone()
        };
        (self.resolve)(&value).map_err(|e| tracing::error!("pipe(): {e}"))
    }
}

impl Filter for Pipe {
    fn process(&mut self, mut evt: Event, out: &mut Output<'_>) {
        if self.chosen.is_none() {
            match self.choose(&mut evt, out) {
                Err(()) => return out.fail(StreamError::RuntimeError),
                Ok(None) => {
                    if let Event::Data(d) = &evt {
                        self.held += d.len();
                    }
                    let end = evt.is_stream_end();
                    self.waiting.push(evt);
                    if self.held > MAX_WAITING {
                        self.waiting.clear();
                        return out.fail(StreamError::BufferOverflow);
                    }
                    if end {
                        // The stream ended with no pipeline chosen: its end
                        // goes on (upstream holds it forever), what waited
                        // is dropped.
                        if let Some(e) = self.waiting.pop() {
                            self.waiting.clear();
                            out.push(e);
                        }
                    }
                    return;
                }
                Ok(Some(layout)) => {
                    let args = match &self.init {
                        Some(init) => match crate::chain::start_args(init, &mut evt, out) {
                            Some(a) => Some(a),
                            None => return out.fail(StreamError::RuntimeError),
                        },
                        None => None,
                    };
                    let p = out.sub_pipeline(&layout, false, 0);
                    if let Some(args) = args {
                        p.set_start_value(Rc::new(args));
                    }
                    for e in std::mem::take(&mut self.waiting) {
                        p.input(e);
                    }
                    self.held = 0;
                    self.chosen = Some(p);
                }
            }
        }
        if let Some(p) = &self.chosen {
            p.input(evt);
        }
    }
}
