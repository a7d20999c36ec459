//! `dump`, `print`, `dummy`, `onStart`, `onEnd`: small utility filters.

use crate::util::{js, Callback};
use pipy_core::{Event, Filter, FilterDump, FilterTemplate, Output, StreamError};
use pipy_js::convert;
use std::io::Write;

/// Which utility filter.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Prints every event to stderr, passing it on.
    Dump,
    /// Prints data as text to stdout, passing it on.
    Print,
    /// Swallows everything.
    Dummy,
}

/// Template of `dump(tag?)`, `print()` and `dummy()`.
pub struct UtilTemplate {
    kind: Kind,
    tag: String,
}

impl UtilTemplate {
    /// A utility filter; `tag` prefixes `dump` lines.
    pub fn new(kind: Kind, tag: String) -> Self {
        Self { kind, tag }
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
        })
    }
}

struct Util {
    kind: Kind,
    tag: String,
}

impl Filter for Util {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match self.kind {
            Kind::Dummy => {}
            Kind::Dump => {
                let text = match &evt {
                    Event::Data(d) => format!("Data {:?}", String::from_utf8_lossy(&d.to_vec())),
                    Event::MessageStart(h) => {
                        let v = js(|ctx| {
                            convert::head_to_js(h, ctx)
                                .map(|v| convert::to_json_text(&v, ctx).unwrap_or_default())
                        });
                        format!("MessageStart {}", v.unwrap_or_default())
                    }
                    Event::MessageEnd(_) => "MessageEnd".to_string(),
                    Event::StreamEnd(e) => format!("StreamEnd {}", e.name()),
                };
                let _ = writeln!(
                    std::io::stderr(),
                    "[dump] {}{}{}",
                    self.tag,
                    if self.tag.is_empty() { "" } else { " " },
                    text
                );
                out.push(evt);
            }
            Kind::Print => {
                if let Event::Data(d) = &evt {
                    let mut o = std::io::stdout().lock();
                    for c in d.chunks() {
                        let _ = o.write_all(c);
                    }
                    let _ = o.flush();
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
        })
    }
}

struct Hook {
    at_start: bool,
    callback: Callback,
    fired: bool,
}

impl Hook {
    /// Calls `onStart` with the pipeline's startup arguments (a fork branch's
    /// value and index), else with `first` (the first event, when the pipeline
    /// was never started), and pushes the events it returns.
    fn fire_start(&mut self, first: Option<&mut Event>, out: &mut Output<'_>) {
        self.fired = true;
        let start = out
            .start_value()
            .and_then(|v| v.downcast_ref::<crate::branch::StartArgs>().cloned());
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
        if !self.at_start && !self.fired && evt.is_stream_end() {
            self.fired = true;
            let arg = js(|ctx| convert::event_to_js(&mut evt, ctx)).ok();
            let args: Vec<_> = arg.into_iter().collect();
            self.callback.eval(&args, out.context());
        }
        out.push(evt);
    }
}
