//! `handleStreamStart`, `handleMessageStart`, `handleData`, `handleMessageBody`,
//! `handleMessageEnd`, `handleMessage`, `handleStreamEnd`: call a script function
//! on some events and pass every event on unchanged.

use crate::util::{js, Callback};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output};
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
        }
    }
}

/// Collects a message's head and body for the whole-message variants.
#[derive(Default)]
pub(crate) struct MessageBuffer {
    pub(crate) head: Option<Head>,
    pub(crate) body: Data,
}

impl MessageBuffer {
    pub(crate) fn start(&mut self, head: &Head) {
        self.head = Some(head.clone());
        self.body = Data::new();
    }
    pub(crate) fn in_message(&self) -> bool {
        self.head.is_some()
    }
}

/// Template of a handle filter.
pub struct HandleTemplate {
    kind: Kind,
    callback: Callback,
}

impl HandleTemplate {
    /// A handle filter of `kind` calling `callback`.
    pub fn new(kind: Kind, callback: Callback) -> Self {
        Self { kind, callback }
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
            msg: MessageBuffer::default(),
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
        let arg = js(|ctx| convert::event_to_js(evt, ctx));
        self.call(arg, out)
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
                    self.msg.body.push(d.clone());
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
