//! `dump`, `print`, `dummy`, `onStart`, `onEnd`: small utility filters.

use crate::util::{js, Callback};
use pipy_core::{Event, Filter, FilterDump, FilterTemplate, Output, StreamError};
use pipy_js::convert;

/// Which utility filter.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Logs every event, passing it on.
    Dump,
    /// Writes data to the log output as it is, passing it on.
    Print,
    /// Swallows everything.
    Dummy,
}

/// Template of `dump(tag?)`, `print()` and `dummy()`.
pub struct UtilTemplate {
    kind: Kind,
    tag: Option<Callback>,
    /// Where the script called it: `/main.js 3:6`.
    location: Option<String>,
}

impl UtilTemplate {
    /// A utility filter; `tag` (a value or a function) marks `dump` lines.
    pub fn new(kind: Kind, tag: Option<Callback>, location: Option<String>) -> Self {
        Self {
            kind,
            tag,
            location,
        }
    }
}

impl FilterTemplate for UtilTemplate {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Dump => "dump",
            Kind::Print => "print",
            Kind::Dummy => "dummy",
        }
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Util {
            kind: self.kind,
            tag: self.tag.clone(),
            location: self.location.clone(),
        })
    }
}

struct Util {
    kind: Kind,
    tag: Option<Callback>,
    location: Option<String>,
}

/// The worker thread's number, from its name (`pipy-worker-N`).
fn worker_index() -> Option<String> {
    let t = std::thread::current();
    t.name()?.strip_prefix("pipy-worker-").map(str::to_owned)
}

impl Util {
    /// Upstream's dump line: `[dump] [worker=0] [context=2] [/main.js 3:6]
    /// [tag] MessageStart, head = { ... }`.
    fn dump_line(&self, evt: &Event, out: &Output<'_>) -> Option<String> {
        use std::fmt::Write as _;
        let mut line = String::from("[dump] ");
        if let Some(w) = worker_index() {
            let _ = write!(line, "[worker={w}] ");
        }
        let _ = write!(line, "[context={}] ", out.context().id);
        if let Some(at) = &self.location {
            let _ = write!(line, "[{at}] ");
        }
        if let Some(tag) = &self.tag {
            // A tag function that throws ends the stream (`Callback::call`).
            let v = tag.call(&[], out)?;
            let text = js(|ctx| pipy_js::api::console::format_args(&[v], ctx));
            let _ = write!(line, "[{text}] ");
        }
        let show = |v: Result<boa_engine::JsValue, boa_engine::JsError>| {
            v.map(|v| js(|ctx| pipy_js::api::console::format_args(&[v], ctx)))
                .unwrap_or_default()
        };
        match evt {
            Event::MessageStart(h) => {
                line.push_str("MessageStart");
                if !matches!(h, pipy_core::Head::None) {
                    let _ = write!(
                        line,
                        ", head = {}",
                        show(js(|ctx| convert::head_to_js(h, ctx)))
                    );
                }
            }
            Event::MessageEnd(t) => {
                line.push_str("MessageEnd");
                if !matches!(t, pipy_core::Head::None) {
                    let _ = write!(
                        line,
                        ", tail = {}",
                        show(js(|ctx| convert::head_to_js(t, ctx)))
                    );
                }
            }
            Event::StreamEnd(e) => {
                line.push_str("StreamEnd");
                if *e != StreamError::NoError {
                    let _ = write!(line, ", code = {}", e.name());
                }
            }
            Event::Data(d) => {
                let _ = write!(line, "Data [{}]", d.len());
                if !d.is_empty() {
                    line.push_str(" [");
                    for b in d.bytes().take(16) {
                        let _ = write!(line, " {b:02X}");
                    }
                    line.push_str(if d.len() > 16 { " ... ]" } else { " ]" });
                }
            }
        }
        Some(line)
    }
}

impl Filter for Util {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match self.kind {
            Kind::Dummy => {}
            Kind::Dump => {
                let Some(line) = self.dump_line(&evt, out) else {
                    return;
                };
                tracing::info!(target: "dump", "{line}");
                out.push(evt);
            }
            Kind::Print => {
                // As upstream: the data goes to the log output as it is.
                if let Event::Data(d) = &evt {
                    tracing::info!(target: "print", "{}", String::from_utf8_lossy(&d.to_vec()));
                }
                out.push(evt);
            }
        }
    }
}

/// Template of `onStart(cb)` (events the callback returns go first) and
/// `onEnd(cb)` (called when the stream ends).
pub struct HookTemplate {
    at_start: bool,
    callback: Callback,
}

impl HookTemplate {
    /// `onStart` when `at_start`, else `onEnd`.
    pub fn new(at_start: bool, callback: Callback) -> Self {
        Self { at_start, callback }
    }
}

impl FilterTemplate for HookTemplate {
    fn name(&self) -> &'static str {
        if self.at_start {
            "onStart"
        } else {
            "onEnd"
        }
    }
    /// Upstream keeps `onStart`/`onEnd` on the layout, not as filters: the
    /// graph does not show them.
    fn dump(&self) -> Option<FilterDump> {
        None
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Hook {
            at_start: self.at_start,
            callback: self.callback.clone(),
            fired: false,
            waiting: None,
        })
    }
}

struct Hook {
    at_start: bool,
    callback: Callback,
    fired: bool,
    /// While `onStart`'s Promise is pending: the stream's events held until
    /// it settles, and their bytes.
    waiting: Option<(Vec<Event>, usize)>,
}

/// Most bytes of the stream held while `onStart`'s Promise is pending; past
/// it the stream ends with `BufferOverflow`.
const HELD_LIMIT: usize = 1 << 20;
/// Keys of the settled Promise's replies.
const STARTED: u64 = 1;
const START_REJECTED: u64 = 2;
/// After what the Promise gave: the held events go on.
const START_DONE: u64 = 3;

impl Hook {
    /// Calls `onStart` with the pipeline's startup arguments (a fork branch's
    /// value and index), else with `first` (the first event, when the pipeline
    /// was never started), and pushes the events it returns.
    fn fire_start(&mut self, first: Option<&mut Event>, out: &mut Output<'_>) {
        self.fired = true;
        let start_value = out.start_value();
        let start = start_value
            .as_ref()
            .and_then(|v| v.downcast_ref::<crate::branch::StartArgs>().cloned())
            .or_else(|| {
                // A listener's pipeline: `onStart(inbound => ...)`.
                start_value
                    .as_ref()
                    .filter(|v| v.is::<crate::branch::InboundStart>())
                    .and_then(|_| js(|ctx| pipy_js::vars::inbound_value(out.context(), ctx)).ok())
                    .map(|ib| vec![ib])
            });
        let args = match (start, first) {
            (Some(args), _) => args,
            (None, Some(evt)) => js(|ctx| convert::event_to_js(evt, ctx))
                .ok()
                .into_iter()
                .collect(),
            (None, None) => Vec::new(),
        };
        let Some(v) = self.callback.call(&args, out) else {
            return;
        };
        if pipy_js::promise::is_promise(&v) {
            // Upstream 1.5: the stream waits for the Promise; its events are
            // held and follow what the Promise gives.
            self.waiting = Some((Vec::new(), 0));
            let keys = (STARTED, START_REJECTED, Some(START_DONE));
            if !crate::insert::forward_when_settled(&v, out, keys, "onStart") {
                out.fail(StreamError::RuntimeError);
            }
            return;
        }
        let mut events = Vec::new();
        match js(|ctx| convert::js_to_events(&v, ctx, &mut events)) {
            Ok(()) => events.into_iter().for_each(|e| out.push(e)),
            Err(e) => {
                tracing::error!("onStart: {e}");
                out.fail(StreamError::RuntimeError);
            }
        }
    }
}

impl Filter for Hook {
    /// What `onStart`'s Promise gave (`STARTED`), then word that it is all
    /// there (`START_DONE`): the held events follow. A rejected Promise ends
    /// the stream instead.
    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        match key {
            START_REJECTED => {
                if let Event::StreamEnd(e) = evt {
                    self.waiting = None;
                    out.push(Event::StreamEnd(e));
                }
            }
            START_DONE => {
                if let Some((held, _)) = self.waiting.take() {
                    held.into_iter().for_each(|e| out.push(e));
                }
            }
            _ => out.push(evt),
        }
    }

    fn on_start(&mut self, out: &mut Output<'_>) {
        if self.at_start && !self.fired {
            self.fire_start(None, out);
        }
    }

    fn process(&mut self, mut evt: Event, out: &mut Output<'_>) {
        if self.at_start && !self.fired {
            self.fire_start(Some(&mut evt), out);
            if out.failed() {
                return;
            }
        }
        if let Some((held, bytes)) = &mut self.waiting {
            if let Event::Data(d) = &evt {
                *bytes += d.len();
            }
            if *bytes > HELD_LIMIT {
                self.waiting = None;
                tracing::error!(
                    "onStart: more than {HELD_LIMIT} bytes arrived while its Promise was pending"
                );
                out.fail(StreamError::BufferOverflow);
                return;
            }
            held.push(evt);
            return;
        }
        if !self.at_start && !self.fired && evt.is_stream_end() {
            self.fired = true;
            let arg = js(|ctx| convert::event_to_js(&mut evt, ctx)).ok();
            let args: Vec<_> = arg.into_iter().collect();
            self.callback.eval(&args, out.context());
        }
        out.push(evt);
    }
}
