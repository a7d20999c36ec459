//! `replaceStreamStart`, `replaceMessageStart`, `replaceData`,
//! `replaceMessageBody`, `replaceMessageEnd`, `replaceMessage`,
//! `replaceStreamEnd`, and `replace` for every event (upstream 1.5's
//! pipeline API): swap some events for what a script value gives.

use crate::handle::{BodyLimit, Kind, MessageBuffer};
use crate::util::{js, Callback};
use boa_engine::JsValue;
use pipy_core::{Event, Filter, FilterTemplate, Head, Output, StreamError};
use pipy_js::convert;

/// Template of a replace filter. The replacement is a constant or a function of
/// the event; its result is a Message, an event, Data, text, an array of those,
/// or `undefined` for nothing.
pub struct ReplaceTemplate {
    kind: Kind,
    replacement: Callback,
    limit: BodyLimit,
}

impl ReplaceTemplate {
    /// A replace filter of `kind`.
    pub fn new(kind: Kind, replacement: Callback) -> Self {
        Self {
            kind,
            replacement,
            limit: BodyLimit::default(),
        }
    }

    /// The same, gathering bodies within `limit`.
    pub fn with_limit(mut self, limit: BodyLimit) -> Self {
        self.limit = limit;
        self
    }
}

impl FilterTemplate for ReplaceTemplate {
    fn name(&self) -> &'static str {
        self.kind.replace_name()
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Replace {
            kind: self.kind,
            replacement: self.replacement.clone(),
            started: false,
            msg: MessageBuffer::new(self.limit),
        })
    }
}

struct Replace {
    kind: Kind,
    replacement: Callback,
    started: bool,
    msg: MessageBuffer,
}

impl Replace {
    /// Evaluates the replacement for `arg` and pushes the resulting events.
    /// A throwing callback or a bad replacement ends the stream with
    /// `RuntimeError` (see [`Output::fail`]).
    fn emit(&self, arg: Option<JsValue>, out: &mut Output<'_>) {
        let args: Vec<JsValue> = arg.into_iter().collect();
        let Some(v) = self.replacement.call(&args, out) else {
            return;
        };
        let mut events = Vec::new();
        match js(|ctx| convert::js_to_events(&v, ctx, &mut events)) {
            Ok(()) => events.into_iter().for_each(|e| out.push(e)),
            Err(e) => {
                tracing::error!("{}: bad replacement: {}", self.replacement.origin, e);
                out.fail(StreamError::RuntimeError);
            }
        }
    }

    fn emit_for_event(&self, mut evt: Event, out: &mut Output<'_>) {
        if !self.replacement.is_function() {
            return self.emit(None, out);
        }
        match js(|ctx| convert::event_to_js(&mut evt, ctx)) {
            Ok(a) => self.emit(Some(a), out),
            Err(e) => {
                tracing::error!("{}: {}", self.replacement.origin, e);
                out.fail(StreamError::RuntimeError);
            }
        }
    }
}

impl Filter for Replace {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match self.kind {
            Kind::StreamStart if !self.started => {
                self.started = true;
                self.emit_for_event(evt, out);
            }
            Kind::MessageStart if matches!(evt, Event::MessageStart(_)) => {
                self.emit_for_event(evt, out)
            }
            Kind::Data if matches!(evt, Event::Data(_)) => self.emit_for_event(evt, out),
            Kind::MessageEnd if matches!(evt, Event::MessageEnd(_)) => {
                self.emit_for_event(evt, out)
            }
            Kind::StreamEnd if evt.is_stream_end() => self.emit_for_event(evt, out),
            Kind::Event => self.emit_for_event(evt, out),
            Kind::Message | Kind::MessageBody => match evt {
                Event::MessageStart(h) => {
                    self.msg.start(&h);
                    if self.kind == Kind::MessageBody {
                        out.push(Event::MessageStart(h));
                    }
                }
                Event::Data(d) if self.msg.in_message() => {
                    if !self.msg.push(d) {
                        out.fail(StreamError::BufferOverflow);
                    }
                }
                // A stream ending cleanly inside a message ends that message
                // (as upstream: the replacement goes out, then the StreamEnd,
                // which upstream's replaceMessage swallows; we pass it on so
                // that the stream still ends). An error end replaces nothing.
                Event::StreamEnd(e) if self.msg.in_message() && e == StreamError::NoError => {
                    self.replace_message(Head::default(), out);
                    if out.failed() {
                        return;
                    }
                    out.push(Event::StreamEnd(e));
                }
                Event::MessageEnd(t) if self.msg.in_message() => {
                    let t = self.replace_message(t, out);
                    if self.kind == Kind::MessageBody && !out.failed() {
                        out.push(Event::MessageEnd(t));
                    }
                }
                other => out.push(other),
            },
            _ => out.push(evt),
        }
    }
}

impl Replace {
    /// Replaces the message gathered so far (its end `t`, which comes back
    /// for `replaceMessageBody` to pass on after the new body).
    fn replace_message(&mut self, mut t: Head, out: &mut Output<'_>) -> Head {
        let mut head = self.msg.head.take().unwrap_or_default();
        let body = std::mem::take(&mut self.msg.body);
        if !self.replacement.is_function() {
            self.emit(None, out);
            return t;
        }
        let arg = js(|ctx| {
            if self.kind == Kind::Message {
                convert::message_to_js(&mut head, body, &mut t, ctx)
            } else {
                pipy_js::api::data::new_data(body, ctx)
            }
        });
        match arg {
            Ok(a) => self.emit(Some(a), out),
            Err(e) => {
                tracing::error!("{}: {}", self.replacement.origin, e);
                out.fail(StreamError::RuntimeError);
            }
        }
        t
    }
}
