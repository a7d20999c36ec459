//! `serveHTTP(handler)`: answers each request with a Message, given as a constant
//! or computed by a function of the request. A constant Message is converted to
//! native form once, so serving it runs no script at all.

use crate::http_reply::simple_response;
use crate::util::{js, Callback};
use boa_engine::{Context as JsContext, JsResult, JsValue};
use pipy_core::{Context, Data, Event, Head, ResponseHead};
use pipy_js::convert;
use std::rc::Rc;

/// A constant response, with its HTTP/1.1 encoding made once and shared by
/// every keep-alive request that gets it.
pub struct Fixed {
    head: ResponseHead,
    body: Data,
    wire: std::cell::OnceCell<Data>,
}

impl Fixed {
    /// The response as bytes on the wire, for an HTTP/1.1 keep-alive request
    /// other than HEAD.
    pub(crate) fn wire(&self) -> Data {
        self.wire
            .get_or_init(|| {
                let mut enc = pipy_codec::http1::Encoder::response();
                enc.announce_length(Some(self.body.len() as u64));
                let mut out = Data::new();
                let mut head = self.head.clone();
                head.version = pipy_core::Version::Http11;
                let mut push = |d: Data| out.push(d);
                enc.encode(
                    Event::MessageStart(Head::Response(Box::new(head))),
                    &mut push,
                );
                if !self.body.is_empty() {
                    enc.encode(Event::Data(self.body.clone()), &mut push);
                }
                enc.encode(Event::MessageEnd(Head::None), &mut push);
                // One chunk, so a write is one system call with no copying.
                Data::from(out.to_bytes())
            })
            .clone()
    }

    /// Whether the wire form may stand for this response (it does not ask to
    /// close the connection).
    pub(crate) fn keeps_alive(&self) -> bool {
        !pipy_codec::http1::wants_close(pipy_core::Version::Http11, &self.head.headers)
    }
}

/// What `serveHTTP` answers with.
#[derive(Clone)]
pub enum Handler {
    /// The same response every time.
    Fixed(Rc<Fixed>),
    /// A function of the request Message returning the response Message.
    Function(Callback),
}

impl Handler {
    /// Parses the script argument (a Message or a function).
    pub fn from_js(v: JsValue, ctx: &mut JsContext) -> JsResult<Self> {
        if v.is_callable() {
            return Ok(Handler::Function(Callback::new(v, "serveHTTP")));
        }
        let mut events = Vec::new();
        convert::js_to_events(&v, ctx, &mut events)?;
        let mut head = ResponseHead::default();
        let mut body = Data::new();
        for e in events {
            match e {
                Event::MessageStart(h) => head = convert::response_head(&h, ctx)?,
                Event::Data(d) => body.push(d),
                _ => {}
            }
        }
        Ok(Handler::Fixed(Rc::new(Fixed {
            head,
            body,
            wire: std::cell::OnceCell::new(),
        })))
    }

    /// The response events for one request, or `None` when the handler gave
    /// a Promise: the events then go to `later` once it settles (a rejected
    /// Promise answers 500, as a throwing handler does).
    /// The request's tail (sizes on the wire) is the request Message's `tail`.
    pub(crate) fn respond(
        &self,
        mut head: Head,
        body: Data,
        mut tail: Head,
        ctx: &Rc<Context>,
        later: Box<dyn Fn(Event)>,
    ) -> Option<Vec<Event>> {
        match self {
            Handler::Fixed(r) => {
                let mut v = vec![Event::MessageStart(Head::Response(Box::new(
                    r.head.clone(),
                )))];
                if !r.body.is_empty() {
                    v.push(Event::Data(r.body.clone()));
                }
                v.push(Event::MessageEnd(Head::None));
                Some(v)
            }
            Handler::Function(cb) => {
                let msg = js(|c| convert::message_to_js(&mut head, body, &mut tail, c));
                let Ok(msg) = msg else {
                    return Some(simple_response(500, "", false));
                };
                let Some(result) = cb.eval(&[msg], ctx) else {
                    return Some(simple_response(500, "", false));
                };
                if pipy_js::promise::is_promise(&result) {
                    let r = js(|c| {
                        pipy_js::promise::when_settled(
                            &result,
                            c,
                            Box::new(move |settled| {
                                let events = match settled {
                                    Ok(v) => response_events(&v),
                                    Err(e) => {
                                        tracing::error!(
                                            "serveHTTP: Promise rejected: {}",
                                            e.display()
                                        );
                                        simple_response(500, "", false)
                                    }
                                };
                                events.into_iter().for_each(later);
                            }),
                        )
                    });
                    return match r {
                        Ok(()) => None,
                        Err(_) => Some(simple_response(500, "", false)),
                    };
                }
                Some(response_events(&result))
            }
        }
    }
}

/// The events of a handler's answer (a body alone answers 200).
fn response_events(result: &JsValue) -> Vec<Event> {
    let mut events = Vec::new();
    if let Err(e) = js(|c| convert::js_to_events(result, c, &mut events)) {
        tracing::error!("serveHTTP: bad response: {e}");
        return simple_response(500, "", false);
    }
    if !events.iter().any(|e| matches!(e, Event::MessageStart(_))) {
        // A handler that returns only a body still answers 200.
        events.insert(0, Event::MessageStart(Head::None));
        events.push(Event::MessageEnd(Head::None));
    }
    events
}
