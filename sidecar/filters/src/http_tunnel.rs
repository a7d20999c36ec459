//! `acceptHTTPTunnel(handler).to(...)` and `connectHTTPTunnel(request).to(...)`:
//! HTTP `CONNECT` tunnels (and `Upgrade: websocket` / `h2c` ones).
//!
//! `acceptHTTPTunnel` sits in a `demuxHTTP` sub-pipeline: it reads the
//! request, asks `handler(request)` for the answer (`undefined` is a bare
//! `200`), and when the answer opens the tunnel (2xx to `CONNECT`, 101 to an
//! upgrade, as upstream decides) passes the rest of the stream to its
//! sub-pipeline. `connectHTTPTunnel` writes its request into its sub-pipeline
//! (usually `muxHTTP().to(...)`), waits for the answer, and then passes the
//! stream through the tunnel.

use crate::http_codec::native_head;
use crate::util::{js, Callback};
use crate::SubLayout;
use pipy_core::flow::Congestion;
use pipy_core::{
    Data, Event, Filter, FilterDump, FilterTemplate, Head, Output, Pipeline, RequestHead,
    StreamError,
};

/// Most bytes of a request body read before the handler decides, and held
/// for a tunnel that is not open yet.
const HOLD_LIMIT: usize = 1 << 20;

/// What kind of tunnel a request asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    Connect,
    Upgrade,
}

fn kind(h: &RequestHead) -> Kind {
    if h.method == "CONNECT" {
        return Kind::Connect;
    }
    match h.headers.get("upgrade") {
        Some(v) if v.eq_ignore_ascii_case(b"websocket") || v.eq_ignore_ascii_case(b"h2c") => {
            Kind::Upgrade
        }
        _ => Kind::None,
    }
}

/// Whether an answer of `status` opens a tunnel of `kind` (upstream's rule).
fn opens(kind: Kind, status: u16) -> bool {
    match kind {
        Kind::Connect => (200..300).contains(&status),
        Kind::Upgrade => status == 101,
        Kind::None => false,
    }
}

/// Template of `acceptHTTPTunnel`.
pub struct AcceptHttpTunnelTemplate {
    sub: SubLayout,
    handler: Callback,
}

impl AcceptHttpTunnelTemplate {
    /// `acceptHTTPTunnel(handler)` whose sub-pipeline is `sub`.
    pub fn new(sub: SubLayout, handler: Callback) -> Self {
        Self { sub, handler }
    }
}

impl FilterTemplate for AcceptHttpTunnelTemplate {
    fn name(&self) -> &'static str {
        "acceptHTTPTunnel"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(AcceptHttpTunnel {
            sub_layout: self.sub.clone(),
            handler: self.handler.clone(),
            request: None,
            body: Data::new(),
            sub: None,
            done: false,
        })
    }
}

struct AcceptHttpTunnel {
    sub_layout: SubLayout,
    handler: Callback,
    request: Option<Head>,
    body: Data,
    /// The tunnel, once open.
    sub: Option<Pipeline>,
    done: bool,
}

impl AcceptHttpTunnel {
    fn answer(&mut self, mut tail: Head, out: &mut Output<'_>) {
        let Some(mut head) = self.request.take() else {
            return;
        };
        let body = std::mem::take(&mut self.body);
        let kind = match &head {
            Head::Request(r) => kind(r),
            _ => Kind::None,
        };
        let Some(answer) = js(|js| pipy_js::convert::message_to_js(&mut head, body, &mut tail, js))
            .ok()
            .and_then(|msg| self.handler.call(&[msg], out))
        else {
            self.done = true;
            return;
        };
        let mut events = Vec::new();
        if answer.is_null() || answer.is_undefined() {
            events.push(Event::MessageStart(Head::None));
            events.push(Event::MessageEnd(Head::None));
        } else if pipy_js::convert::is_message(&answer) {
            let _ = js(|js| pipy_js::convert::js_to_events(&answer, js, &mut events));
        } else {
            tracing::error!("acceptHTTPTunnel: handler did not return a Message");
            self.done = true;
            out.push(Event::StreamEnd(StreamError::RuntimeError));
            return;
        }
        let mut status = 200;
        for e in events {
            let e = native_head(e, false);
            if let Event::MessageStart(Head::Response(r)) = &e {
                status = r.status;
            }
            out.push(e);
        }
        if opens(kind, status) {
            let Some(layout) = self.sub_layout.get() else {
                return;
            };
            // A context of its own, starting from the handler's values.
            self.sub = Some(out.sub_pipeline(&layout, true, 0));
        }
    }
}

impl Filter for AcceptHttpTunnel {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if let Some(sub) = &self.sub {
            sub.input(evt);
            return;
        }
        if self.done {
            return;
        }
        match evt {
            Event::MessageStart(h) => {
                self.request = Some(match native_head(Event::MessageStart(h), true) {
                    Event::MessageStart(h) => h,
                    _ => Head::None,
                });
                self.body = Data::new();
            }
            Event::Data(d) if self.request.is_some() => {
                if self.body.len() + d.len() > HOLD_LIMIT {
                    self.done = true;
                    out.push(Event::StreamEnd(StreamError::BufferOverflow));
                    return;
                }
                self.body.push(d);
            }
            Event::MessageEnd(tail) => self.answer(tail, out),
            Event::StreamEnd(e) => {
                self.done = true;
                out.push(Event::StreamEnd(e));
            }
            Event::Data(_) => {}
        }
    }
}

/// Template of `connectHTTPTunnel`.
pub struct ConnectHttpTunnelTemplate {
    sub: SubLayout,
    request: Callback,
}

impl ConnectHttpTunnelTemplate {
    /// `connectHTTPTunnel(request)` whose sub-pipeline is `sub`: `request` is
    /// a `Message`, or a function giving one.
    pub fn new(sub: SubLayout, request: Callback) -> Self {
        Self { sub, request }
    }
}

impl FilterTemplate for ConnectHttpTunnelTemplate {
    fn name(&self) -> &'static str {
        "connectHTTPTunnel"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(ConnectHttpTunnel {
            sub_layout: self.sub.clone(),
            request: self.request.clone(),
            kind: Kind::None,
            status: 0,
            sub: None,
            open: false,
            held: Vec::new(),
            held_bytes: 0,
            congestion: Congestion::default(),
            dead: false,
        })
    }
}

struct ConnectHttpTunnel {
    sub_layout: SubLayout,
    request: Callback,
    kind: Kind,
    /// The status of the answer being read.
    status: u16,
    sub: Option<Pipeline>,
    open: bool,
    /// What came in before the tunnel opened.
    held: Vec<Event>,
    held_bytes: usize,
    congestion: Congestion,
    dead: bool,
}

impl ConnectHttpTunnel {
    fn start(&mut self, out: &mut Output<'_>) {
        let Some(request) = self.request.call(&[], out) else {
            self.dead = true;
            return;
        };
        let mut events = Vec::new();
        if pipy_js::convert::is_message(&request) {
            let _ = js(|js| pipy_js::convert::js_to_events(&request, js, &mut events));
        }
        if events.is_empty() {
            tracing::error!(
                "connectHTTPTunnel: handshake is not or did not return a request Message"
            );
            self.dead = true;
            out.push(Event::StreamEnd(StreamError::RuntimeError));
            return;
        }
        let Some(layout) = self.sub_layout.get() else {
            return;
        };
        let sub = out.sub_pipeline(&layout, true, 0);
        for e in events {
            let e = native_head(e, true);
            if let Event::MessageStart(Head::Request(r)) = &e {
                self.kind = kind(r);
            }
            sub.input(e);
        }
        self.sub = Some(sub);
    }
}

impl Filter for ConnectHttpTunnel {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.dead {
            return;
        }
        if self.sub.is_none() {
            self.start(out);
        }
        let Some(sub) = &self.sub else { return };
        if self.open {
            sub.input(evt);
            return;
        }
        match evt {
            Event::Data(d) => {
                self.held_bytes += d.len();
                if self.held_bytes > HOLD_LIMIT {
                    self.congestion.begin();
                }
                self.held.push(Event::Data(d));
            }
            e @ Event::StreamEnd(_) => self.held.push(e),
            _ => {}
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if self.dead {
            return;
        }
        if self.open {
            out.push(evt);
            return;
        }
        match evt {
            Event::MessageStart(h) => {
                if let Event::MessageStart(Head::Response(r)) =
                    native_head(Event::MessageStart(h), false)
                {
                    self.status = r.status;
                }
            }
            Event::MessageEnd(_) if opens(self.kind, self.status) => {
                self.open = true;
                self.congestion.end();
                if let Some(sub) = self.sub.clone() {
                    for e in std::mem::take(&mut self.held) {
                        sub.input(e);
                    }
                }
            }
            Event::MessageEnd(_) => {
                tracing::debug!("connectHTTPTunnel: refused with status {}", self.status);
                self.dead = true;
                self.held.clear();
                self.congestion.end();
                out.push(Event::StreamEnd(StreamError::NoError));
            }
            Event::StreamEnd(e) => {
                self.dead = true;
                out.push(Event::StreamEnd(e));
            }
            Event::Data(_) => {}
        }
    }
}
