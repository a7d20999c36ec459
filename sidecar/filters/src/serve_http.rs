//! `serveHTTP(handler)`: answers each request with a Message, given as a constant
//! or computed by a function of the request. A constant Message is converted to
//! native form once, so serving it runs no script at all.

use crate::demux_http::simple_response;
use crate::util::{js, Callback};
use boa_engine::{Context as JsContext, JsResult, JsValue};
use pipy_core::{Context, Data, Event, Head, ResponseHead};
use pipy_js::convert;
use std::rc::Rc;

/// What `serveHTTP` answers with.
#[derive(Clone)]
pub enum Handler {
    /// The same response every time.
    Fixed(Rc<(ResponseHead, Data)>),
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
        Ok(Handler::Fixed(Rc::new((head, body))))
    }

    /// The response events for one request.
    pub(crate) fn respond(&self, mut head: Head, body: Data, ctx: &Rc<Context>) -> Vec<Event> {
        match self {
            Handler::Fixed(r) => {
                let mut v = vec![Event::MessageStart(Head::Response(Box::new(r.0.clone())))];
                if !r.1.is_empty() {
                    v.push(Event::Data(r.1.clone()));
                }
                v.push(Event::MessageEnd(Head::None));
                v
            }
            Handler::Function(cb) => {
                let msg = js(|c| convert::message_to_js(&mut head, body, &mut Head::None, c));
                let Ok(msg) = msg else {
                    return simple_response(500, "", false);
                };
                let Some(result) = cb.eval(&[msg], ctx) else {
                    return simple_response(500, "", false);
                };
                let mut events = Vec::new();
                if let Err(e) = js(|c| convert::js_to_events(&result, c, &mut events)) {
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
        }
    }
}
