//! Filters, layouts and the push-based pipeline that runs them.

use crate::{Context, Event};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One stage of a pipeline.
///
/// `process` receives the events flowing down the pipeline; `on_reply` receives the
/// events coming back from something the filter started (a sub-pipeline, a socket,
/// a timer), tagged with the key the filter chose. Both push their results to `out`,
/// which feeds the next stage.
pub trait Filter {
    /// Handles one event from the previous stage.
    fn process(&mut self, evt: Event, out: &mut Output<'_>);

    /// Handles an event sent back to this filter under `key`. By default the event
    /// continues down the pipeline, which is what a linked sub-pipeline wants.
    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        let _ = key;
        out.push(evt);
    }
}

/// What a script's `pipy().xxx()` call leaves in a layout: a factory of filters.
pub trait FilterTemplate {
    /// The filter's name as a script spells it.
    fn name(&self) -> &'static str;
    /// A fresh filter instance for a new pipeline.
    fn create(&self) -> Box<dyn Filter>;
    /// How the pipeline graph shows this filter (upstream's `Filter::dump`):
    /// by default a plain filter under its name. `None` leaves it out of the
    /// graph. Only called when a graph is drawn, never per stream.
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::plain(self.name()))
    }
}

/// How a joint filter starts its sub-pipelines, as the pipeline graph tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubKind {
    /// One sub-pipeline per stream (`link`, `branch`, `fork`).
    Branch,
    /// One sub-pipeline per message of the stream (`demux`, `demuxHTTP`).
    Demux,
    /// Many streams share a sub-pipeline (`mux`, `muxHTTP`).
    Mux,
}

/// Where the output of a joint filter comes from, as the pipeline graph tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFrom {
    /// The filter passes its own input on (`fork`).
    Myself,
    /// The sub-pipelines' output is the filter's output.
    Subs,
    /// Something else feeds the output.
    Others,
}

/// One filter of a layout as the pipeline graph shows it.
#[derive(Clone, Debug)]
pub struct FilterDump {
    /// Name of the node.
    pub name: String,
    /// The sub-pipelines it starts, in order; `None` for a slot never filled
    /// (a joint filter without `.to(...)`). Empty for a plain filter.
    pub subs: Vec<Option<Layout>>,
    /// How the sub-pipelines are started.
    pub sub_kind: SubKind,
    /// Where the output comes from.
    pub output: OutputFrom,
}

impl FilterDump {
    /// A filter without sub-pipelines.
    pub fn plain(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            subs: Vec::new(),
            sub_kind: SubKind::Branch,
            output: OutputFrom::Myself,
        }
    }

    /// A joint filter: its sub-pipelines, started one per stream, produce its
    /// output (upstream's default for a filter with sub-pipelines).
    pub fn joint(name: impl Into<String>, subs: Vec<Option<Layout>>) -> Self {
        Self {
            name: name.into(),
            subs,
            sub_kind: SubKind::Branch,
            output: OutputFrom::Subs,
        }
    }

    /// The same, with sub-pipelines started as `kind` tells.
    pub fn with_kind(mut self, kind: SubKind) -> Self {
        self.sub_kind = kind;
        self
    }

    /// The same, with the output coming from `output`.
    pub fn with_output(mut self, output: OutputFrom) -> Self {
        self.output = output;
        self
    }
}

struct LayoutInner {
    name: String,
    templates: RefCell<Vec<Rc<dyn FilterTemplate>>>,
    defined: Cell<bool>,
    /// Pipelines of this layout alive now. Atomic because the metrics are read
    /// on another thread; only this layout's own thread writes it, so the
    /// increments never contend.
    active: Arc<AtomicUsize>,
}

/// A named list of filter templates. Layouts are handles: a layout can be referred
/// to (`.to('name')`) before the script defines its filters.
#[derive(Clone)]
pub struct Layout(Rc<LayoutInner>);

impl Layout {
    /// An empty layout.
    pub fn new(name: impl Into<String>) -> Self {
        Layout(Rc::new(LayoutInner {
            name: name.into(),
            templates: RefCell::new(Vec::new()),
            defined: Cell::new(false),
            active: Arc::new(AtomicUsize::new(0)),
        }))
    }

    /// Its name (empty for anonymous layouts).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Appends a filter template.
    pub fn append(&self, t: Rc<dyn FilterTemplate>) {
        self.0.templates.borrow_mut().push(t);
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.0.templates.borrow().len()
    }

    /// Whether it has no filters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Names of its filters, in order.
    pub fn filter_names(&self) -> Vec<&'static str> {
        self.0.templates.borrow().iter().map(|t| t.name()).collect()
    }

    /// Its filters as the pipeline graph shows them, leaving out hidden ones.
    pub fn dump(&self) -> Vec<FilterDump> {
        self.0
            .templates
            .borrow()
            .iter()
            .filter_map(|t| t.dump())
            .collect()
    }

    /// Marks the layout as defined by the script (as opposed to only referenced).
    pub fn mark_defined(&self) {
        self.0.defined.set(true);
    }

    /// Whether the script defined it.
    pub fn is_defined(&self) -> bool {
        self.0.defined.get()
    }

    /// Number of pipelines of this layout alive now (`pipy_pipeline_count`).
    pub fn active(&self) -> usize {
        self.0.active.load(Ordering::Relaxed)
    }

    /// The live count of [`Layout::active`], readable from any thread.
    pub fn active_counter(&self) -> Arc<AtomicUsize> {
        self.0.active.clone()
    }

    /// Whether two handles name the same layout.
    pub fn ptr_eq(&self, other: &Layout) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    fn instantiate(&self) -> Vec<Box<dyn Filter>> {
        self.0
            .templates
            .borrow()
            .iter()
            .map(|t| t.create())
            .collect()
    }
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Layout({:?}, {:?})", self.0.name, self.filter_names())
    }
}

/// Where a pipeline's output goes.
#[derive(Clone, Default)]
pub enum EventTarget {
    /// Dropped.
    #[default]
    Discard,
    /// Back to a filter of another pipeline, as `on_reply(key, ...)`.
    Reply {
        /// The pipeline holding the filter.
        pipeline: Weak<Inner>,
        /// The filter's stage.
        stage: usize,
        /// The key the filter chose.
        key: u64,
    },
    /// Into the first stage of another pipeline.
    Input(Weak<Inner>),
    /// To a function (sockets, tests).
    Func(Rc<dyn Fn(Event)>),
}

impl EventTarget {
    /// Delivers an event. A target whose pipeline is gone drops it.
    pub fn send(&self, evt: Event) {
        match self {
            EventTarget::Discard => {}
            EventTarget::Reply {
                pipeline,
                stage,
                key,
            } => {
                if let Some(p) = pipeline.upgrade() {
                    enqueue(&p, *stage, Some(*key), evt);
                }
            }
            EventTarget::Input(p) => {
                if let Some(p) = p.upgrade() {
                    enqueue(&p, 0, None, evt);
                }
            }
            EventTarget::Func(f) => f(evt),
        }
    }

    /// Whether events sent here are dropped for good.
    pub fn is_closed(&self) -> bool {
        match self {
            EventTarget::Discard => true,
            EventTarget::Reply { pipeline, .. } | EventTarget::Input(pipeline) => {
                pipeline.strong_count() == 0
            }
            EventTarget::Func(_) => false,
        }
    }
}

/// A list of layouts a stream walks through with `chain()`: the pipeline running
/// `layouts[index]` continues to `layouts[index + 1]`.
pub struct Chain {
    /// The layouts, in order.
    pub layouts: Rc<[Layout]>,
    /// Position of the pipeline in the list.
    pub index: usize,
}

struct Work {
    stage: usize,
    key: Option<u64>,
    evt: Event,
}

/// Shared state of a pipeline; reachable only through [`Pipeline`] and targets.
pub struct Inner {
    filters: RefCell<Vec<Box<dyn Filter>>>,
    context: Rc<Context>,
    output: RefCell<EventTarget>,
    queue: RefCell<VecDeque<Work>>,
    busy: Cell<bool>,
    scratch: RefCell<(Vec<Event>, Vec<Event>)>,
    chain: Option<Rc<Chain>>,
    /// A value given by whoever started the pipeline (`fork`'s startup value),
    /// for its `onStart` handler.
    start: RefCell<Option<Rc<dyn std::any::Any>>>,
    /// The layout's count of live pipelines, decremented on drop.
    active: Arc<AtomicUsize>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A running chain of filter instances with its own context.
///
/// Inputs pushed while the pipeline is already running (from inside one of its own
/// filters, directly or through a sub-pipeline) are queued and handled in order by
/// the running loop, so filters never see re-entrant calls.
#[derive(Clone)]
pub struct Pipeline(Rc<Inner>);

impl Pipeline {
    /// Instantiates `layout` with `context`, sending its output to `output`.
    pub fn new(layout: &Layout, context: Rc<Context>, output: EventTarget) -> Self {
        Self::with_chain(layout, context, output, None)
    }

    /// Like [`Pipeline::new`], for a pipeline that is a step of a chain.
    pub fn with_chain(
        layout: &Layout,
        context: Rc<Context>,
        output: EventTarget,
        chain: Option<Rc<Chain>>,
    ) -> Self {
        layout.0.active.fetch_add(1, Ordering::Relaxed);
        Pipeline(Rc::new(Inner {
            filters: RefCell::new(layout.instantiate()),
            context,
            output: RefCell::new(output),
            queue: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            scratch: RefCell::new((Vec::new(), Vec::new())),
            chain,
            start: RefCell::new(None),
            active: layout.0.active.clone(),
        }))
    }

    /// Feeds an event into the first stage.
    pub fn input(&self, evt: Event) {
        enqueue(&self.0, 0, None, evt);
    }

    /// The pipeline's context.
    pub fn context(&self) -> &Rc<Context> {
        &self.0.context
    }

    /// Redirects the pipeline's output.
    pub fn set_output(&self, target: EventTarget) {
        *self.0.output.borrow_mut() = target;
    }

    /// Gives the pipeline a startup value, seen by its filters through
    /// [`Output::start_value`].
    pub fn set_start_value(&self, v: Rc<dyn std::any::Any>) {
        *self.0.start.borrow_mut() = Some(v);
    }

    /// A target feeding this pipeline's first stage, not keeping it alive.
    pub fn input_target(&self) -> EventTarget {
        EventTarget::Input(Rc::downgrade(&self.0))
    }

    /// A target that sends events to the filter at `stage` as replies under `key`.
    pub fn reply_target(&self, stage: usize, key: u64) -> EventTarget {
        EventTarget::Reply {
            pipeline: Rc::downgrade(&self.0),
            stage,
            key,
        }
    }
}

fn enqueue(p: &Rc<Inner>, stage: usize, key: Option<u64>, evt: Event) {
    p.queue.borrow_mut().push_back(Work { stage, key, evt });
    if p.busy.get() {
        return;
    }
    p.busy.set(true);
    // Keep the pipeline alive even if its owner drops it while it is working.
    let keep = p.clone();
    loop {
        let next = keep.queue.borrow_mut().pop_front();
        match next {
            Some(w) => run(&keep, w),
            None => break,
        }
    }
    keep.busy.set(false);
}

fn run(p: &Rc<Inner>, w: Work) {
    let (mut cur, mut next) = std::mem::take(&mut *p.scratch.borrow_mut());
    {
        let mut filters = p.filters.borrow_mut();
        let n = filters.len();
        let mut stage = w.stage;
        if stage < n {
            let mut out = Output {
                buf: &mut cur,
                pipeline: p,
                stage,
            };
            match w.key {
                Some(k) => filters[stage].on_reply(k, w.evt, &mut out),
                None => filters[stage].process(w.evt, &mut out),
            }
            stage += 1;
        } else {
            cur.push(w.evt);
        }
        while stage < n && !cur.is_empty() {
            for evt in cur.drain(..) {
                let mut out = Output {
                    buf: &mut next,
                    pipeline: p,
                    stage,
                };
                filters[stage].process(evt, &mut out);
            }
            std::mem::swap(&mut cur, &mut next);
            stage += 1;
        }
    }
    if !cur.is_empty() {
        let target = p.output.borrow().clone();
        for evt in cur.drain(..) {
            target.send(evt);
        }
    }
    *p.scratch.borrow_mut() = (cur, next);
}

/// Where a filter pushes its results, with access to its pipeline.
pub struct Output<'a> {
    buf: &'a mut Vec<Event>,
    pipeline: &'a Rc<Inner>,
    stage: usize,
}

impl Output<'_> {
    /// Sends an event to the next stage.
    pub fn push(&mut self, evt: Event) {
        self.buf.push(evt);
    }

    /// The context of the pipeline the filter runs in.
    pub fn context(&self) -> &Rc<Context> {
        &self.pipeline.context
    }

    /// A target delivering events back to this filter's `on_reply` under `key`.
    pub fn reply_target(&self, key: u64) -> EventTarget {
        EventTarget::Reply {
            pipeline: Rc::downgrade(self.pipeline),
            stage: self.stage,
            key,
        }
    }

    /// Starts a sub-pipeline whose output comes back to this filter under `key`.
    /// With `fork`, it gets a copy of the context, otherwise shares it.
    pub fn sub_pipeline(&self, layout: &Layout, fork: bool, key: u64) -> Pipeline {
        // Pipelines linked in place stay on their parent's chain step.
        let (ctx, chain) = if fork {
            (self.pipeline.context.fork(), None)
        } else {
            (self.pipeline.context.clone(), self.pipeline.chain.clone())
        };
        Pipeline::with_chain(layout, ctx, self.reply_target(key), chain)
    }

    /// The startup value of this filter's pipeline, if it was given one.
    pub fn start_value(&self) -> Option<Rc<dyn std::any::Any>> {
        self.pipeline.start.borrow().clone()
    }

    /// The chain step this filter's pipeline runs, if any.
    pub fn chain(&self) -> Option<&Rc<Chain>> {
        self.pipeline.chain.as_ref()
    }

    /// Starts the pipeline of a chain step (sharing the context), whose output
    /// comes back to this filter under `key`.
    pub fn chain_pipeline(&self, chain: Rc<Chain>, key: u64) -> Option<Pipeline> {
        let layout = chain.layouts.get(chain.index)?.clone();
        Some(Pipeline::with_chain(
            &layout,
            self.pipeline.context.clone(),
            self.reply_target(key),
            Some(chain),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Data, Head, StreamError};

    /// Uppercases data.
    struct Upper;
    impl Filter for Upper {
        fn process(&mut self, evt: Event, out: &mut Output<'_>) {
            match evt {
                Event::Data(d) => out.push(Event::Data(d.to_vec().to_ascii_uppercase().into())),
                e => out.push(e),
            }
        }
    }
    struct UpperT;
    impl FilterTemplate for UpperT {
        fn name(&self) -> &'static str {
            "upper"
        }
        fn create(&self) -> Box<dyn Filter> {
            Box::new(Upper)
        }
    }

    /// Sends every event through a sub-pipeline and passes its answers on,
    /// prefixed by a marker: exercises re-entrant replies.
    struct Via(Layout, Option<Pipeline>);
    impl Filter for Via {
        fn process(&mut self, evt: Event, out: &mut Output<'_>) {
            let sub = self
                .1
                .get_or_insert_with(|| out.sub_pipeline(&self.0, false, 7))
                .clone();
            sub.input(evt);
        }
        fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
            assert_eq!(key, 7);
            out.push(Event::MessageStart(Head::None));
            out.push(evt);
        }
    }
    struct ViaT(Layout);
    impl FilterTemplate for ViaT {
        fn name(&self) -> &'static str {
            "via"
        }
        fn create(&self) -> Box<dyn Filter> {
            Box::new(Via(self.0.clone(), None))
        }
    }

    fn collect() -> (EventTarget, Rc<RefCell<Vec<Event>>>) {
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        (
            EventTarget::Func(Rc::new(move |e| g.borrow_mut().push(e))),
            got,
        )
    }

    #[test]
    fn events_flow_through_stages_and_sub_pipelines_in_order() {
        let inner = Layout::new("inner");
        inner.append(Rc::new(UpperT));
        let outer = Layout::new("outer");
        outer.append(Rc::new(ViaT(inner)));
        outer.append(Rc::new(UpperT));
        let (target, got) = collect();
        let p = Pipeline::new(&outer, Context::new(None), target);
        p.input(Event::Data(Data::from("ab")));
        p.input(Event::Data(Data::from("cd")));
        p.input(Event::StreamEnd(StreamError::NoError));
        let got = got.borrow();
        let texts: Vec<String> = got
            .iter()
            .map(|e| match e {
                Event::Data(d) => String::from_utf8(d.to_vec()).unwrap(),
                e => format!("{e:?}"),
            })
            .collect();
        assert_eq!(
            texts,
            [
                "MessageStart(None)",
                "AB",
                "MessageStart(None)",
                "CD",
                "MessageStart(None)",
                "StreamEnd(NoError)"
            ]
        );
    }

    #[test]
    fn dead_pipeline_targets_drop_events() {
        let l = Layout::new("x");
        let p = Pipeline::new(&l, Context::new(None), EventTarget::Discard);
        let t = p.input_target();
        assert!(!t.is_closed());
        drop(p);
        assert!(t.is_closed());
        t.send(Event::StreamEnd(StreamError::NoError));
    }

    #[test]
    fn layouts_count_their_live_pipelines() {
        let l = Layout::new("x");
        let p = Pipeline::new(&l, Context::new(None), EventTarget::Discard);
        let q = p.clone();
        let r = Pipeline::new(&l, Context::new(None), EventTarget::Discard);
        assert_eq!(l.active(), 2);
        drop((p, r));
        assert_eq!(l.active(), 1);
        drop(q);
        assert_eq!(l.active_counter().load(Ordering::Relaxed), 0);
    }
}
