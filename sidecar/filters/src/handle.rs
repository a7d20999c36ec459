//! `handleStreamStart`, `handleMessageStart`, `handleData`, `handleMessageBody`,
//! `handleMessageEnd`, `handleMessage`, `handleStreamEnd`: call a script function
//! on some events and pass every event on unchanged; `handle` on every event
//! (upstream 1.5's pipeline API).

use crate::util::{js, Callback};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output, StreamError};
use pipy_js::convert;

/// Which events a handle/replace filter reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The first event of the stream.
    StreamStart,
    /// Each `MessageStart`.
    MessageStart,
    /// Each `Data`.
    Data,
    /// Each message's whole body, at its end.
    MessageBody,
    /// Each `MessageEnd`.
    MessageEnd,
    /// Each whole message, at its end.
    Message,
    /// The `StreamEnd`.
    StreamEnd,
    /// Every event (`handle`, `replace`: upstream 1.5's pipeline API).
    Event,
}

impl Kind {
    /// Every kind, in the order the reference lists them.
    pub const ALL: [Kind; 7] = [
        Kind::StreamStart,
        Kind::MessageStart,
        Kind::Data,
        Kind::MessageBody,
        Kind::MessageEnd,
        Kind::Message,
        Kind::StreamEnd,
    ];

    /// The `handle...` filter's name as scripts spell it.
    pub fn handle_name(self) -> &'static str {
        match self {
            Kind::StreamStart => "handleStreamStart",
            Kind::MessageStart => "handleMessageStart",
            Kind::Data => "handleData",
            Kind::MessageBody => "handleMessageBody",
            Kind::MessageEnd => "handleMessageEnd",
            Kind::Message => "handleMessage",
            Kind::StreamEnd => "handleStreamEnd",
            Kind::Event => "handle",
        }
    }

    /// The `replace...` filter's name as scripts spell it.
    pub fn replace_name(self) -> &'static str {
        match self {
            Kind::StreamStart => "replaceStreamStart",
            Kind::MessageStart => "replaceMessageStart",
            Kind::Data => "replaceData",
            Kind::MessageBody => "replaceMessageBody",
            Kind::MessageEnd => "replaceMessageEnd",
            Kind::Message => "replaceMessage",
            Kind::StreamEnd => "replaceStreamEnd",
            Kind::Event => "replace",
        }
    }
}

/// The most body a whole-message filter gathers when the script sets no
/// `bufferLimit` (upstream has no limit; one client must not be able to make
/// a worker hold an unbounded body).
pub const DEFAULT_BODY_LIMIT: usize = 16 << 20;

/// How much of a message body a whole-message filter gathers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLimit {
    /// The script's `bufferLimit`: the body is cut to this many bytes, as
    /// upstream cuts it.
    Truncate(usize),
    /// No `bufferLimit`: past this many bytes the stream ends with
    /// `BufferOverflow` (a `500` under `demuxHTTP`).
    Fail(usize),
}

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit::Fail(DEFAULT_BODY_LIMIT)
    }
}

/// Collects a message's head and body for the whole-message variants.
#[derive(Default)]
pub(crate) struct MessageBuffer {
    pub(crate) head: Option<Head>,
    pub(crate) body: Data,
    pub(crate) limit: BodyLimit,
}

impl MessageBuffer {
    pub(crate) fn new(limit: BodyLimit) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }
    pub(crate) fn start(&mut self, head: &Head) {
        self.head = Some(head.clone());
        self.body = Data::new();
    }
    pub(crate) fn in_message(&self) -> bool {
        self.head.is_some()
    }
    /// Adds body data within the limit; `false` when the stream must end.
    pub(crate) fn push(&mut self, mut d: Data) -> bool {
        match self.limit {
            BodyLimit::Truncate(max) => {
                let room = max.saturating_sub(self.body.len());
                if d.len() > room {
                    d = d.shift(room);
                }
                self.body.push(d);
                true
            }
            BodyLimit::Fail(max) => {
                if self.body.len() + d.len() > max {
                    tracing::error!("message body over {max} bytes: the stream ends (set bufferLimit to cut it instead)");
                    self.head = None;
                    self.body = Data::new();
                    return false;
                }
                self.body.push(d);
                true
            }
        }
    }
}

/// Template of a handle filter.
pub struct HandleTemplate {
    kind: Kind,
    callback: Callback,
    limit: BodyLimit,
}

impl HandleTemplate {
    /// A handle filter of `kind` calling `callback`.
    pub fn new(kind: Kind, callback: Callback) -> Self {
        Self {
            kind,
            callback,
            limit: BodyLimit::default(),
        }
    }

    /// The same, gathering bodies within `limit`.
    pub fn with_limit(mut self, limit: BodyLimit) -> Self {
        self.limit = limit;
        self
    }
}

impl FilterTemplate for HandleTemplate {
    fn name(&self) -> &'static str {
        self.kind.handle_name()
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Handle {
            kind: self.kind,
            callback: self.callback.clone(),
            started: false,
            msg: MessageBuffer::new(self.limit),
        })
    }
}

struct Handle {
    kind: Kind,
    callback: Callback,
    started: bool,
    msg: MessageBuffer,
}

impl Handle {
    /// Calls the script with `arg`; `false` when it threw (the stream then ends
    /// here: see [`Callback::call`]).
    fn call(&self, arg: boa_engine::JsResult<boa_engine::JsValue>, out: &Output<'_>) -> bool {
        match arg {
            Ok(a) => self.callback.call(&[a], out).is_some(),
            Err(e) => {
                tracing::error!("{}: {}", self.callback.origin, e);
                out.fail(pipy_core::StreamError::RuntimeError);
                false
            }
        }
    }

    fn call_with_event(&self, evt: &mut Event, out: &Output<'_>) -> bool {
        // A message head becomes a script object only if the script reads it.
        let arg = js(|ctx| convert::start_to_js_lazy(evt, ctx));
        let settle = arg.as_ref().ok().cloned();
        let ok = self.call(arg, out);
        if let Some(arg) = settle {
            convert::settle_lazy(evt, &arg);
        }
        ok
    }
}

impl Filter for Handle {
    fn process(&mut self, mut evt: Event, out: &mut Output<'_>) {
        let ok = match self.kind {
            Kind::StreamStart if !self.started => {
                self.started = true;
                self.call_with_event(&mut evt, out)
            }
            Kind::MessageStart if matches!(evt, Event::MessageStart(_)) => {
                self.call_with_event(&mut evt, out)
            }
            Kind::Data if matches!(evt, Event::Data(_)) => self.call_with_event(&mut evt, out),
            Kind::MessageEnd if matches!(evt, Event::MessageEnd(_)) => {
                self.call_with_event(&mut evt, out)
            }
            Kind::StreamEnd if evt.is_stream_end() => self.call_with_event(&mut evt, out),
            Kind::Event => self.call_with_event(&mut evt, out),
            Kind::Message | Kind::MessageBody => match &mut evt {
                Event::MessageStart(h) => {
                    if self.kind == Kind::Message {
                        // Share the script head with what flows downstream.
                        let _ = js(|ctx| convert::touch_head(h, ctx));
                    }
                    self.msg.start(h);
                    true
                }
                Event::Data(d) if self.msg.in_message() => {
                    if !self.msg.push(d.clone()) {
                        out.fail(StreamError::BufferOverflow);
                    }
                    true
                }
                Event::MessageEnd(t) if self.msg.in_message() => {
                    let mut head = self.msg.head.take().unwrap_or_default();
                    let body = std::mem::take(&mut self.msg.body);
                    let arg = js(|ctx| {
                        if self.kind == Kind::Message {
                            convert::message_to_js(&mut head, body, t, ctx)
                        } else {
                            pipy_js::api::data::new_data(body, ctx)
                        }
                    });
                    self.call(arg, out)
                }
                _ => true,
            },
            _ => true,
        };
        if ok {
            out.push(evt);
        }
    }
}
