//! `link`, `branch`, `branchMessageStart`, `branchMessage` and `fork`: filters
//! that pass a stream through (or alongside) a sub-pipeline sharing its context.

use crate::util::{js, Callback};
use crate::SubLayout;
use boa_engine::JsValue;
use pipy_core::{Event, Filter, FilterDump, FilterTemplate, Output, OutputFrom, Pipeline};
use pipy_js::convert;
use std::rc::Rc;

/// Template of `link(name)`: everything goes through one named sub-pipeline.
pub struct LinkTemplate(pub SubLayout);

impl FilterTemplate for LinkTemplate {
    fn name(&self) -> &'static str {
        "link"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.0.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Branch {
            trigger: Trigger::Stream,
            arms: vec![(None, self.0.clone())],
            chosen: None,
            buffer: Vec::new(),
            held: 0,
            in_message: false,
        })
    }
}

/// Resolves a pipeline name of the module at run time (`link(() => name)`).
pub type Resolver = Rc<dyn Fn(&str) -> Option<pipy_core::Layout>>;

/// Template of `link(() => name)`: each stream goes through the named
/// pipeline its function picks when the stream starts (upstream 1.5).
pub struct DynamicLinkTemplate {
    pick: Callback,
    resolve: Resolver,
}

impl DynamicLinkTemplate {
    /// `link(pick)`, with names looked up by `resolve`.
    pub fn new(pick: Callback, resolve: Resolver) -> Self {
        Self { pick, resolve }
    }
}

impl FilterTemplate for DynamicLinkTemplate {
    fn name(&self) -> &'static str {
        "link"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(DynamicLink {
            pick: self.pick.clone(),
            resolve: self.resolve.clone(),
            chosen: None,
        })
    }
}

struct DynamicLink {
    pick: Callback,
    resolve: Resolver,
    chosen: Option<Pipeline>,
}

impl Filter for DynamicLink {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.chosen.is_none() {
            // A function that throws ends the stream (`Callback::call`).
            let Some(v) = self.pick.call(&[], out) else {
                return;
            };
            let name = v.display().to_string().trim_matches('"').to_string();
            let Some(layout) = (self.resolve)(&name) else {
                tracing::error!("link(): no pipeline named '{name}'");
                out.fail(pipy_core::StreamError::RuntimeError);
                return;
            };
            self.chosen = Some(out.sub_pipeline(&layout, false, 0));
        }
        if let Some(p) = &self.chosen {
            p.input(evt);
        }
    }
}

/// When a branch makes its choice.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// On the first event (`branch`).
    Stream,
    /// On the first MessageStart (`branchMessageStart`).
    MessageStart,
    /// On the first whole message (`branchMessage`).
    Message,
}

impl Trigger {
    /// The filter's name as a script spells it.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Stream => "branch",
            Trigger::MessageStart => "branchMessageStart",
            Trigger::Message => "branchMessage",
        }
    }
}

/// Template of the branch family. Arms are (condition, layout); an arm without a
/// condition is the fallback.
pub struct BranchTemplate {
    trigger: Trigger,
    arms: Vec<(Option<Callback>, SubLayout)>,
}

impl BranchTemplate {
    /// A branch choosing by `trigger` among `arms`.
    pub fn new(trigger: Trigger, arms: Vec<(Option<Callback>, SubLayout)>) -> Self {
        Self { trigger, arms }
    }
}

impl FilterTemplate for BranchTemplate {
    fn name(&self) -> &'static str {
        self.trigger.name()
    }
    fn dump(&self) -> Option<FilterDump> {
        let subs = self.arms.iter().map(|(_, sub)| sub.get()).collect();
        Some(FilterDump::joint(self.name(), subs))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Branch {
            trigger: self.trigger,
            arms: self.arms.clone(),
            chosen: None,
            buffer: Vec::new(),
            held: 0,
            in_message: false,
        })
    }
}

struct Branch {
    trigger: Trigger,
    arms: Vec<(Option<Callback>, SubLayout)>,
    /// `Some(None)`: chosen to pass events straight through.
    chosen: Option<Option<Pipeline>>,
    buffer: Vec<Event>,
    /// Bytes of data in `buffer`.
    held: usize,
    in_message: bool,
}

impl Branch {
    /// Picks an arm; `None` when no condition holds and there is no fallback.
    fn choose(&self, arg: Option<JsValue>, out: &Output<'_>) -> Option<SubLayout> {
        let args: Vec<JsValue> = arg.into_iter().collect();
        for (cond, layout) in &self.arms {
            match cond {
                None => return Some(layout.clone()),
                Some(c) => {
                    match c.call(&args, out) {
                        Some(v) if v.to_boolean() => return Some(layout.clone()),
                        Some(_) => {}
                        // It threw: the stream ends here (`Output::fail`).
                        None => return None,
                    }
                }
            }
        }
        None
    }

    fn arg_for(&self, evt: &mut Event) -> Option<JsValue> {
        match self.trigger {
            Trigger::Stream => None,
            _ => js(|ctx| convert::event_to_js(evt, ctx)).ok(),
        }
    }

    fn message_arg(&mut self) -> Option<JsValue> {
        // Rebuild the buffered message as a script Message.
        let mut head = pipy_core::Head::None;
        let mut body = pipy_core::Data::new();
        let mut tail = pipy_core::Head::None;
        for e in &mut self.buffer {
            match e {
                Event::MessageStart(h) => head = h.clone(),
                Event::Data(d) => body.push(d.clone()),
                Event::MessageEnd(t) => tail = t.clone(),
                _ => {}
            }
        }
        js(|ctx| convert::message_to_js(&mut head, body, &mut tail, ctx)).ok()
    }

    fn decide(&mut self, arg: Option<JsValue>, out: &mut Output<'_>) -> bool {
        let Some(layout) = self.choose(arg, out) else {
            return false;
        };
        let pipeline = layout.get().map(|l| out.sub_pipeline(&l, false, 0));
        self.chosen = Some(pipeline);
        self.held = 0;
        for e in std::mem::take(&mut self.buffer) {
            self.forward(e, out);
        }
        true
    }

    fn forward(&mut self, evt: Event, out: &mut Output<'_>) {
        match &self.chosen {
            Some(Some(p)) => p.input(evt),
            _ => out.push(evt),
        }
    }
}

impl Filter for Branch {
    fn process(&mut self, mut evt: Event, out: &mut Output<'_>) {
        if self.chosen.is_some() {
            return self.forward(evt, out);
        }
        // Held until a condition decides: within the same bound as a gathered body.
        if let Event::Data(d) = &evt {
            self.held += d.len();
            if self.held > crate::handle::DEFAULT_BODY_LIMIT {
                tracing::error!(
                    "{}: more than {} bytes held before a branch was chosen",
                    self.trigger.name(),
                    crate::handle::DEFAULT_BODY_LIMIT
                );
                self.buffer.clear();
                out.fail(pipy_core::StreamError::BufferOverflow);
                return;
            }
        }
        match self.trigger {
            Trigger::Stream => {
                self.buffer.push(evt);
                self.decide(None, out);
            }
            Trigger::MessageStart => {
                let is_start = matches!(evt, Event::MessageStart(_));
                let arg = if is_start {
                    self.arg_for(&mut evt)
                } else {
                    None
                };
                self.buffer.push(evt);
                if is_start {
                    self.decide(arg, out);
                }
            }
            Trigger::Message => {
                match &evt {
                    Event::MessageStart(_) => self.in_message = true,
                    Event::MessageEnd(_) => self.in_message = false,
                    _ => {}
                }
                let end = matches!(evt, Event::MessageEnd(_));
                self.buffer.push(evt);
                if end {
                    let arg = self.message_arg();
                    self.decide(arg, out);
                }
            }
        }
    }
}

/// Template of `fork(...)`: copies of the stream go to sub-pipelines with forked
/// contexts, whose output is dropped; the stream itself passes on unchanged.
pub struct ForkTemplate {
    sub: SubLayout,
    count: Option<Callback>,
    mode: ForkMode,
}

/// What a fork does with its branches' output.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ForkMode {
    /// `fork`: the branches' output is dropped; the stream goes on at once.
    Fork,
    /// `forkJoin`: the stream goes on once every branch's stream ended
    /// (upstream 1.5's pipeline API); their output is dropped.
    Join,
    /// `forkRace`: the output is that of the branch that outputs first; the
    /// stream itself goes no further.
    Race,
}

impl ForkTemplate {
    /// `fork(startupValues?)`; one sub-pipeline per startup value (one if none).
    pub fn new(sub: SubLayout, count: Option<Callback>) -> Self {
        Self::with_mode(sub, count, ForkMode::Fork)
    }

    /// `fork`, `forkJoin` or `forkRace`.
    pub fn with_mode(sub: SubLayout, count: Option<Callback>, mode: ForkMode) -> Self {
        Self { sub, count, mode }
    }
}

/// Events of the stream a `forkJoin` holds while its branches run, at most
/// (in bytes of Data); past that the stream ends with `BufferOverflow`.
pub const MAX_JOIN_HELD: usize = 1 << 20;

impl FilterTemplate for ForkTemplate {
    fn name(&self) -> &'static str {
        match self.mode {
            ForkMode::Fork => "fork",
            ForkMode::Join => "forkJoin",
            ForkMode::Race => "forkRace",
        }
    }
    fn dump(&self) -> Option<FilterDump> {
        let from = match self.mode {
            ForkMode::Fork => OutputFrom::Myself,
            _ => OutputFrom::Subs,
        };
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]).with_output(from))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Fork {
            sub: self.sub.clone(),
            count: self.count.clone(),
            mode: self.mode,
            forks: None,
            ended: 0,
            held: Vec::new(),
            held_bytes: 0,
            winner: None,
        })
    }
}

struct Fork {
    sub: SubLayout,
    count: Option<Callback>,
    mode: ForkMode,
    forks: Option<Vec<Pipeline>>,
    /// `forkJoin`: branches whose stream ended.
    ended: usize,
    /// `forkJoin`: the stream's events waiting for the branches.
    held: Vec<Event>,
    held_bytes: usize,
    /// `forkRace`: the branch whose output is the filter's.
    winner: Option<u64>,
}

/// What a fork branch's `onStart` receives: its startup value and, for an element
/// of an array, its index (upstream's arguments).
pub type StartArgs = Vec<JsValue>;

/// The startup value of a listener's pipeline: its `onStart` gets the
/// connection's `__inbound` object, as upstream's does.
pub struct InboundStart;

impl Fork {
    /// One `onStart` argument list per sub-pipeline, and whether each gets a
    /// context of its own: an array gives one forked branch per element (with its
    /// index); any other value (or none) one branch sharing the context. `None`
    /// when the startup function threw.
    fn startup_values(&self, out: &Output<'_>) -> Option<(Vec<StartArgs>, bool)> {
        let v = match &self.count {
            Some(c) => c.call(&[], out)?,
            None => JsValue::undefined(),
        };
        let items = js(|ctx| {
            let o = v.as_object().filter(|o| o.is_array())?;
            let n = o
                .get(boa_engine::js_string!("length"), ctx)
                .ok()?
                .to_length(ctx)
                .ok()?;
            (0..n)
                .map(|i| Some(vec![o.get(i, ctx).ok()?, JsValue::from(i as f64)]))
                .collect::<Option<Vec<_>>>()
        });
        Some(match items {
            Some(items) => (items, true),
            None => (vec![vec![v]], false),
        })
    }
}

impl Filter for Fork {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.forks.is_none() {
            let Some((starts, fork)) = self.startup_values(out) else {
                self.forks = Some(Vec::new());
                return;
            };
            let forks = match self.sub.get() {
                None => Vec::new(),
                Some(l) => starts
                    .into_iter()
                    .enumerate()
                    .map(|(i, args)| {
                        // forkJoin and forkRace fork their branches whatever
                        // the startup value, as upstream.
                        let p = out.sub_pipeline(&l, fork || self.mode != ForkMode::Fork, i as u64);
                        if self.mode == ForkMode::Fork {
                            p.set_output(pipy_core::EventTarget::Discard);
                        }
                        p.set_start_value(std::rc::Rc::new(args));
                        p.start();
                        p
                    })
                    .collect(),
            };
            self.forks = Some(forks);
        }
        for p in self.forks.iter().flatten() {
            p.input(evt.clone());
        }
        match self.mode {
            ForkMode::Fork => out.push(evt),
            ForkMode::Race => {}
            ForkMode::Join => {
                let n = self.forks.as_ref().map_or(0, Vec::len);
                if self.ended >= n {
                    out.push(evt);
                    return;
                }
                if let Event::Data(d) = &evt {
                    self.held_bytes += d.len();
                }
                self.held.push(evt);
                if self.held_bytes > MAX_JOIN_HELD {
                    self.held.clear();
                    out.fail(pipy_core::StreamError::BufferOverflow);
                }
            }
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        match self.mode {
            ForkMode::Fork => {}
            ForkMode::Race => {
                let winner = *self.winner.get_or_insert(key);
                if winner == key {
                    out.push(evt);
                }
            }
            ForkMode::Join => {
                if evt.is_stream_end() {
                    self.ended += 1;
                    let n = self.forks.as_ref().map_or(0, Vec::len);
                    if self.ended == n {
                        self.held_bytes = 0;
                        for e in std::mem::take(&mut self.held) {
                            out.push(e);
                        }
                    }
                }
            }
        }
    }
}
