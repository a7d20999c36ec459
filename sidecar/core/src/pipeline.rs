//! Filters, layouts and the push-based pipeline that runs them.

use crate::{spare, Context, Event, StreamError};
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

    /// Called once, before any event, on a pipeline whose starter calls
    /// [`Pipeline::start`] (a task, a fork branch): what the filter pushes here is
    /// the stream's first input (`onStart`). Nothing by default.
    fn on_start(&mut self, out: &mut Output<'_>) {
        let _ = out;
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
                    enqueue(&p, *stage, Some(*key), Some(evt));
                }
            }
            EventTarget::Input(p) => {
                if let Some(p) = p.upgrade() {
                    enqueue(&p, 0, None, Some(evt));
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
    /// The startup value every pipeline of the chain gets (`pipe`'s initial
    /// arguments), if any.
    pub start: Option<Rc<dyn std::any::Any>>,
}

struct Work {
    stage: usize,
    key: Option<u64>,
    /// `None`: the pipeline starts ([`Filter::on_start`] of every stage).
    evt: Option<Event>,
}

/// Shared state of a pipeline; reachable only through [`Pipeline`] and targets.
pub struct Inner {
    filters: RefCell<Vec<Box<dyn Filter>>>,
    context: Rc<Context>,
    output: RefCell<EventTarget>,
    queue: RefCell<VecDeque<Work>>,
    busy: Cell<bool>,
    scratch: RefCell<Vec<Vec<Event>>>,
    chain: Option<Rc<Chain>>,
    /// A value given by whoever started the pipeline (`fork`'s startup value),
    /// for its `onStart` handler.
    start: RefCell<Option<Rc<dyn std::any::Any>>>,
    /// The layout's count of live pipelines, decremented on drop.
    active: Arc<AtomicUsize>,
    /// A failure the running filter reported through [`Output::fail`].
    failure: Cell<Option<StreamError>>,
    /// Stages whose filter failed: they get no more events. Empty (and never
    /// allocated) unless a callback threw.
    dead: RefCell<Vec<usize>>,
    /// Whether `dead` has any stage: the per-event check reads only this.
    any_dead: Cell<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        // Its buffers go to the next pipeline: one is made per stream.
        for buf in self.scratch.get_mut().drain(..) {
            recycle(buf);
        }
        recycle_queue(std::mem::take(self.queue.get_mut()));
    }
}

/// Spare buffers a thread keeps for the pipelines it makes next (a pipeline
/// is made per stream, and each would allocate its own): at most this many
/// of each kind,
const POOL_SIZE: usize = 256;
/// each with room for at most this many entries (a bigger one is freed).
const KEEP_CAPACITY: usize = 16;

thread_local! {
    static EVENT_BUFS: spare::Pool<Vec<Event>> = const { RefCell::new(Vec::new()) };
    static QUEUES: spare::Pool<VecDeque<Work>> = const { RefCell::new(Vec::new()) };
}

/// An empty event buffer, a spare one if the thread has one.
fn spare_buf() -> Vec<Event> {
    spare::take(&EVENT_BUFS).unwrap_or_default()
}

/// An empty work queue, a spare one if the thread has one.
fn spare_queue() -> VecDeque<Work> {
    spare::take(&QUEUES).unwrap_or_default()
}

/// Keeps an empty work queue for [`spare_queue`].
fn recycle_queue(queue: VecDeque<Work>) {
    if queue.capacity() == 0 || !queue.is_empty() || queue.capacity() > KEEP_CAPACITY {
        return;
    }
    spare::keep(&QUEUES, queue, POOL_SIZE);
}

/// Keeps an event buffer for [`spare_buf`] (emptied first, outside the pool:
/// dropping an event may run code that makes pipelines).
fn recycle(mut buf: Vec<Event>) {
    if buf.capacity() == 0 || buf.capacity() > KEEP_CAPACITY {
        return;
    }
    buf.clear();
    spare::keep(&EVENT_BUFS, buf, POOL_SIZE);
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
            scratch: RefCell::new(Vec::new()),
            chain,
            start: RefCell::new(None),
            active: layout.0.active.clone(),
            failure: Cell::new(None),
            dead: RefCell::new(Vec::new()),
            any_dead: Cell::new(false),
        }))
    }

    /// Feeds an event into the first stage.
    pub fn input(&self, evt: Event) {
        enqueue(&self.0, 0, None, Some(evt));
    }

    /// Starts the pipeline: every filter's [`Filter::on_start`] runs, in order,
    /// and what they push flows down the pipeline. Call it once, before any input,
    /// after [`Pipeline::set_start_value`] if the pipeline has a startup value.
    pub fn start(&self) {
        enqueue(&self.0, 0, None, None);
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

fn enqueue(p: &Rc<Inner>, stage: usize, key: Option<u64>, evt: Option<Event>) {
    let work = Work { stage, key, evt };
    if p.busy.get() {
        // Pushed from inside the pipeline's own work: it waits its turn.
        let mut queue = p.queue.borrow_mut();
        if queue.capacity() == 0 {
            *queue = spare_queue();
        }
        queue.push_back(work);
        return;
    }
    p.busy.set(true);
    // Keep the pipeline alive even if its owner drops it while it is working.
    let keep = p.clone();
    // Not busy, so nothing is queued: this work runs first, without a queue.
    run(&keep, work);
    loop {
        let next = keep.queue.borrow_mut().pop_front();
        match next {
            Some(w) => run(&keep, w),
            None => break,
        }
    }
    keep.busy.set(false);
    // Idle now (a keep-alive connection may stay so for long): its event
    // buffers and its queue go back to the thread's spares.
    for buf in keep.scratch.borrow_mut().iter_mut() {
        if buf.capacity() > 0 {
            recycle(std::mem::take(buf));
        }
    }
    let queue = std::mem::take(&mut *keep.queue.borrow_mut());
    recycle_queue(queue);
}

fn run(p: &Rc<Inner>, w: Work) {
    match w.evt {
        Some(evt) => run_stage(p, w.stage, |f, out| match w.key {
            Some(k) => f.on_reply(k, evt, out),
            None => f.process(evt, out),
        }),
        None => {
            let n = p.filters.borrow().len();
            for stage in 0..n {
                run_stage(p, stage, |f, out| f.on_start(out));
            }
        }
    }
}

/// Calls `call` on the filter at `stage` (or, past the last stage, sends what it
/// pushes to the output), then passes what it pushed down the pipeline, each
/// event through every later filter before the next event (as upstream: a
/// callback sees the state the previous event left, not the batch's last).
/// A stage whose filter failed ([`Output::fail`]) gets nothing more.
fn run_stage(p: &Rc<Inner>, stage: usize, call: impl FnOnce(&mut dyn Filter, &mut Output<'_>)) {
    if is_dead(p, stage) {
        return;
    }
    let mut bufs = std::mem::take(&mut *p.scratch.borrow_mut());
    let mut sink = spare_buf();
    {
        let mut filters = p.filters.borrow_mut();
        let mut cur = take_buf(&mut bufs, stage);
        {
            let mut out = Output {
                buf: &mut cur,
                pipeline: p,
                stage,
            };
            match filters.get_mut(stage) {
                Some(f) => call(f.as_mut(), &mut out),
                None => call(&mut PassThrough, &mut out),
            }
            settle_failure(p, stage, &mut cur, 0);
        }
        descend(p, &mut filters, &mut bufs, stage + 1, &mut cur, &mut sink);
        bufs[stage] = cur;
    }
    if !sink.is_empty() {
        let target = p.output.borrow().clone();
        for evt in sink.drain(..) {
            target.send(evt);
        }
    }
    recycle(sink);
    *p.scratch.borrow_mut() = bufs;
}

/// The reusable buffer of what the filter at `stage` outputs.
fn take_buf(bufs: &mut Vec<Vec<Event>>, stage: usize) -> Vec<Event> {
    if bufs.len() <= stage {
        bufs.resize_with(stage + 1, Vec::new);
    }
    match std::mem::take(&mut bufs[stage]) {
        b if b.capacity() == 0 => spare_buf(),
        b => b,
    }
}

/// Passes `events` through the filters from `stage` on, depth first; what
/// leaves the last one goes to `sink`.
fn descend(
    p: &Rc<Inner>,
    filters: &mut [Box<dyn Filter>],
    bufs: &mut Vec<Vec<Event>>,
    stage: usize,
    events: &mut Vec<Event>,
    sink: &mut Vec<Event>,
) {
    if events.is_empty() {
        return;
    }
    if stage >= filters.len() {
        sink.append(events);
        return;
    }
    let mut next = take_buf(bufs, stage);
    for evt in events.drain(..) {
        if is_dead(p, stage) {
            // An earlier event of this batch made the filter fail.
            break;
        }
        let mut out = Output {
            buf: &mut next,
            pipeline: p,
            stage,
        };
        filters[stage].process(evt, &mut out);
        settle_failure(p, stage, &mut next, 0);
        descend(p, filters, bufs, stage + 1, &mut next, sink);
    }
    bufs[stage] = next;
}

fn is_dead(p: &Inner, stage: usize) -> bool {
    p.any_dead.get() && p.dead.borrow().contains(&stage)
}

/// After a filter call: if the filter failed, what it pushed during the call
/// (from `from` on) is dropped for a `StreamEnd` with the error, and the stage
/// is dead from now on.
fn settle_failure(p: &Inner, stage: usize, buf: &mut Vec<Event>, from: usize) {
    if let Some(err) = p.failure.take() {
        buf.truncate(from);
        buf.push(Event::StreamEnd(err));
        p.dead.borrow_mut().push(stage);
        p.any_dead.set(true);
    }
}

/// Stands for the stage past the last filter: events go straight to the output.
struct PassThrough;

impl Filter for PassThrough {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        out.push(evt);
    }
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

    /// Ends the stream at this filter with `err` (a script callback threw): once
    /// the filter returns, what it pushed in this call is dropped, a
    /// `StreamEnd(err)` goes down the pipeline instead, and the filter gets no more
    /// events, so nothing after it sees the rest of the stream.
    pub fn fail(&self, err: StreamError) {
        self.pipeline.failure.set(Some(err));
    }

    /// Whether [`Output::fail`] was called during this call of the filter.
    pub fn failed(&self) -> bool {
        self.pipeline.failure.get().is_some()
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
        let start = chain.start.clone();
        let p = Pipeline::with_chain(
            &layout,
            self.pipeline.context.clone(),
            self.reply_target(key),
            Some(chain),
        );
        if let Some(v) = start {
            p.set_start_value(v);
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Data, Head, StreamError};

    /// The spare buffers stay bounded whatever passes through: big ones are
    /// freed, not kept, and at most `POOL_SIZE` are kept.
    #[test]
    fn spare_buffers_stay_bounded() {
        recycle(Vec::with_capacity(KEEP_CAPACITY * 4));
        assert!(EVENT_BUFS.with(|b| b.borrow().iter().all(|v| v.capacity() <= KEEP_CAPACITY)));
        for _ in 0..POOL_SIZE * 2 {
            let mut v = Vec::with_capacity(4);
            v.push(Event::Data(Data::from("x")));
            recycle(v);
        }
        EVENT_BUFS.with(|b| {
            let b = b.borrow();
            assert_eq!(b.len(), POOL_SIZE);
            assert!(b.iter().all(Vec::is_empty));
        });
        assert!(spare_buf().is_empty());
    }

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

    /// What a collected stream holds: data as text, other events debug-printed.
    fn texts(got: &RefCell<Vec<Event>>) -> Vec<String> {
        got.borrow()
            .iter()
            .map(|e| match e {
                Event::Data(d) => String::from_utf8(d.to_vec()).unwrap(),
                e => format!("{e:?}"),
            })
            .collect()
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
        let texts = texts(&got);
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

    /// On its first event, feeds another one into its own pipeline (which is
    /// busy with the first), then passes the first on.
    struct FeedBack(bool);
    impl Filter for FeedBack {
        fn process(&mut self, evt: Event, out: &mut Output<'_>) {
            if !self.0 {
                self.0 = true;
                enqueue(
                    out.pipeline,
                    0,
                    None,
                    Some(Event::Data(Data::from("again"))),
                );
            }
            out.push(evt);
        }
    }
    struct FeedBackT;
    impl FilterTemplate for FeedBackT {
        fn name(&self) -> &'static str {
            "feed-back"
        }
        fn create(&self) -> Box<dyn Filter> {
            Box::new(FeedBack(false))
        }
    }

    /// Work that comes while the pipeline is busy waits for the work in hand
    /// to pass every stage; once idle, the pipeline holds no queue and no
    /// event buffer (an idle keep-alive connection's pipeline costs neither).
    #[test]
    fn work_pushed_while_busy_waits_its_turn_and_an_idle_pipeline_holds_no_buffers() {
        let l = Layout::new("x");
        l.append(Rc::new(FeedBackT));
        l.append(Rc::new(UpperT));
        let (target, got) = collect();
        let p = Pipeline::new(&l, Context::new(None), target);
        p.input(Event::Data(Data::from("first")));
        let texts = texts(&got);
        assert_eq!(texts, ["FIRST", "AGAIN"]);
        assert_eq!(p.0.queue.borrow().capacity(), 0);
        assert!(p.0.scratch.borrow().iter().all(|b| b.capacity() == 0));
    }

    /// Pushes a marker when started.
    struct Starter;
    impl Filter for Starter {
        fn process(&mut self, evt: Event, out: &mut Output<'_>) {
            out.push(evt);
        }
        fn on_start(&mut self, out: &mut Output<'_>) {
            out.push(Event::Data(Data::from("start")));
        }
    }
    struct StarterT;
    impl FilterTemplate for StarterT {
        fn name(&self) -> &'static str {
            "starter"
        }
        fn create(&self) -> Box<dyn Filter> {
            Box::new(Starter)
        }
    }

    #[test]
    fn start_runs_every_stage_in_order_before_input() {
        let l = Layout::new("x");
        l.append(Rc::new(StarterT));
        l.append(Rc::new(UpperT));
        l.append(Rc::new(StarterT));
        let (target, got) = collect();
        let p = Pipeline::new(&l, Context::new(None), target);
        p.start();
        p.input(Event::Data(Data::from("in")));
        let texts = texts(&got);
        assert_eq!(texts, ["START", "start", "IN"]);
        let empty = Layout::new("empty");
        let (target, got) = collect();
        Pipeline::new(&empty, Context::new(None), target).start();
        assert!(got.borrow().is_empty());
    }

    /// Fails on data "x", passes everything else.
    struct FailOnX;
    impl Filter for FailOnX {
        fn process(&mut self, evt: Event, out: &mut Output<'_>) {
            if matches!(&evt, Event::Data(d) if d.to_vec() == b"x") {
                out.push(Event::Data(Data::from("dropped")));
                out.fail(StreamError::RuntimeError);
                assert!(out.failed());
                return;
            }
            out.push(evt);
        }
    }
    struct FailOnXT;
    impl FilterTemplate for FailOnXT {
        fn name(&self) -> &'static str {
            "fail"
        }
        fn create(&self) -> Box<dyn Filter> {
            Box::new(FailOnX)
        }
    }

    #[test]
    fn a_failing_filter_ends_the_stream_and_gets_nothing_more() {
        let l = Layout::new("x");
        l.append(Rc::new(FailOnXT));
        l.append(Rc::new(UpperT));
        let (target, got) = collect();
        let p = Pipeline::new(&l, Context::new(None), target);
        p.input(Event::Data(Data::from("a")));
        p.input(Event::Data(Data::from("x")));
        p.input(Event::Data(Data::from("b")));
        p.input(Event::StreamEnd(StreamError::NoError));
        let got: Vec<String> = got.borrow().iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(got, ["Data[1]", "StreamEnd(RuntimeError)"]);
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
