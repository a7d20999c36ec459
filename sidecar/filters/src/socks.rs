//! `acceptSOCKS(handler).to(...)` and `connectSOCKS(target).to(...)`.
//!
//! `acceptSOCKS` serves SOCKS 4, 4a and 5 (CONNECT, no authentication): it
//! asks `handler({ id, ip, domain, port })` whether to accept, answers the
//! client, and passes the rest of the stream to its sub-pipeline.
//! `connectSOCKS` speaks SOCKS 5 to a server through its sub-pipeline,
//! asking for `target` (`host:port`), then passes the stream on.
//!
//! Departures from upstream 1.5, where it fails clients: bytes a client
//! sends right behind its request go to the sub-pipeline (upstream ends the
//! connection), and SOCKS 5 requests for IPv6 addresses are served (upstream
//! refuses them).

use crate::util::{js, Callback};
use crate::SubLayout;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, JsValue};
use pipy_codec::socks::{self, ClientStep, ServerStep};
use pipy_core::{Data, Event, Filter, FilterDump, FilterTemplate, Output, Pipeline, StreamError};

/// Template of `acceptSOCKS`.
pub struct AcceptSocksTemplate {
    sub: SubLayout,
    handler: Callback,
}

impl AcceptSocksTemplate {
    /// `acceptSOCKS(handler)` whose sub-pipeline is `sub`.
    pub fn new(sub: SubLayout, handler: Callback) -> Self {
        Self { sub, handler }
    }
}

impl FilterTemplate for AcceptSocksTemplate {
    fn name(&self) -> &'static str {
        "acceptSOCKS"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(AcceptSocks {
            sub_layout: self.sub.clone(),
            handler: self.handler.clone(),
            server: socks::Server::new(),
            version: 0,
            sub: None,
            done: false,
        })
    }
}

struct AcceptSocks {
    sub_layout: SubLayout,
    handler: Callback,
    server: socks::Server,
    /// The client's SOCKS version, once its first byte came.
    version: u8,
    sub: Option<Pipeline>,
    done: bool,
}

fn request_object(r: &socks::Request) -> JsValue {
    js(|js| {
        let mut o = ObjectInitializer::new(js);
        // As upstream: `id` only for SOCKS 4, `ip` or `domain` as the client gave it.
        let id: JsValue = if r.version == 4 {
            js_string!(r.user.as_str()).into()
        } else {
            JsValue::undefined()
        };
        o.property(js_string!("id"), id, Attribute::all());
        let host: JsValue = js_string!(r.host.as_str()).into();
        let (ip, domain) = if r.domain {
            (JsValue::undefined(), host)
        } else {
            (host, JsValue::undefined())
        };
        o.property(js_string!("ip"), ip, Attribute::all());
        o.property(js_string!("domain"), domain, Attribute::all());
        o.property(js_string!("port"), r.port, Attribute::all());
        o.build().into()
    })
}

impl AcceptSocks {
    fn end(&mut self, reply: Option<Vec<u8>>, out: &mut Output<'_>) {
        self.done = true;
        if let Some(r) = reply {
            out.push(Event::Data(Data::from(r)));
        }
        out.push(Event::StreamEnd(StreamError::NoError));
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Output<'_>) {
        if self.version == 0 {
            self.version = bytes.first().copied().unwrap_or(0);
        }
        let mut input = bytes;
        loop {
            match self.server.feed(input) {
                Ok(ServerStep::NeedMore) => return,
                Ok(ServerStep::Reply(r)) => {
                    out.push(Event::Data(Data::from(r)));
                    input = &[];
                }
                Ok(ServerStep::Request(req, rest)) => return self.decide(req, rest, out),
                Err(e) => {
                    tracing::debug!("acceptSOCKS: {e}");
                    let reply = match (self.version, e) {
                        (4, _) => Some(socks::reply(4, false)),
                        // 0x07: command not supported; 0x01: general failure.
                        (5, socks::Error::UnsupportedCommand) => {
                            Some(vec![5, 7, 0, 1, 0, 0, 0, 0, 0, 0])
                        }
                        (5, socks::Error::NoMethod) => Some(vec![5, 0xff]),
                        (5, _) => Some(vec![5, 1, 0, 1, 0, 0, 0, 0, 0, 0]),
                        _ => None,
                    };
                    return self.end(reply, out);
                }
            }
        }
    }

    fn decide(&mut self, req: socks::Request, rest: Vec<u8>, out: &mut Output<'_>) {
        match self.handler.eval(&[request_object(&req)], out.context()) {
            Some(v) if v.to_boolean() => {
                out.push(Event::Data(Data::from(socks::reply(req.version, true))));
                let Some(layout) = self.sub_layout.get() else {
                    return;
                };
                let sub = out.sub_pipeline(&layout, false, 0);
                self.sub = Some(sub.clone());
                if !rest.is_empty() {
                    sub.input(Event::Data(Data::from(rest)));
                }
            }
            Some(_) => self.end(Some(socks::reply(req.version, false)), out),
            None => {
                out.push(Event::StreamEnd(StreamError::RuntimeError));
                self.end(None, out);
            }
        }
    }
}

impl Filter for AcceptSocks {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if let Some(sub) = &self.sub {
            sub.input(evt);
            return;
        }
        if self.done {
            return;
        }
        match evt {
            Event::Data(d) => self.feed(&d.to_bytes(), out),
            Event::StreamEnd(e) => {
                self.done = true;
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

/// Template of `connectSOCKS`.
pub struct ConnectSocksTemplate {
    sub: SubLayout,
    target: Callback,
}

impl ConnectSocksTemplate {
    /// `connectSOCKS(target)` whose sub-pipeline is `sub`.
    pub fn new(sub: SubLayout, target: Callback) -> Self {
        Self { sub, target }
    }
}

impl FilterTemplate for ConnectSocksTemplate {
    fn name(&self) -> &'static str {
        "connectSOCKS"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(ConnectSocks {
            sub_layout: self.sub.clone(),
            target: self.target.clone(),
            client: None,
            sub: None,
            open: false,
            held: Vec::new(),
            held_bytes: 0,
            dead: false,
        })
    }
}

/// Most bytes held for a tunnel that is not open yet.
const HOLD_LIMIT: usize = 1 << 20;

struct ConnectSocks {
    sub_layout: SubLayout,
    target: Callback,
    client: Option<socks::Client>,
    sub: Option<Pipeline>,
    open: bool,
    /// What came in before the tunnel opened.
    held: Vec<Event>,
    held_bytes: usize,
    dead: bool,
}

/// Splits `host:port` (`[v6]:port` too) at its last colon.
pub(crate) fn host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    Some((host.to_string(), port))
}

impl ConnectSocks {
    fn start(&mut self, out: &mut Output<'_>) {
        let Some(target) = self.target.call(&[], out) else {
            self.dead = true;
            return;
        };
        let Some(text) = target.as_string().map(|s| s.to_std_string_escaped()) else {
            tracing::error!("connectSOCKS: target is not or did not return a string");
            self.dead = true;
            out.push(Event::StreamEnd(StreamError::RuntimeError));
            return;
        };
        let Some((host, port)) = host_port(&text).filter(|(h, _)| h.len() <= 255) else {
            tracing::error!("connectSOCKS: invalid target: {text}");
            self.dead = true;
            out.push(Event::StreamEnd(StreamError::RuntimeError));
            return;
        };
        let Some(layout) = self.sub_layout.get() else {
            return;
        };
        let client = socks::Client::new(&host, port);
        let sub = out.sub_pipeline(&layout, false, 0);
        sub.input(Event::Data(Data::from(client.greeting())));
        self.client = Some(client);
        self.sub = Some(sub);
    }
}

impl Filter for ConnectSocks {
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
        if let Event::Data(d) = &evt {
            self.held_bytes += d.len();
            if self.held_bytes > HOLD_LIMIT {
                self.dead = true;
                out.push(Event::StreamEnd(StreamError::BufferOverflow));
                return;
            }
        }
        self.held.push(evt);
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if self.open {
            out.push(evt);
            return;
        }
        let d = match evt {
            Event::Data(d) => d,
            Event::StreamEnd(e) => {
                self.dead = true;
                out.push(Event::StreamEnd(e));
                return;
            }
            _ => return,
        };
        let (Some(mut client), Some(sub)) = (self.client.take(), self.sub.clone()) else {
            return;
        };
        let bytes = d.to_bytes();
        let mut input: &[u8] = &bytes;
        loop {
            match client.feed(input) {
                Ok(ClientStep::NeedMore) => {
                    self.client = Some(client);
                    return;
                }
                Ok(ClientStep::Send(b)) => {
                    sub.input(Event::Data(Data::from(b)));
                    input = &[];
                }
                Ok(ClientStep::Open(rest)) => {
                    self.open = true;
                    if !rest.is_empty() {
                        out.push(Event::Data(Data::from(rest)));
                    }
                    self.held_bytes = 0;
                    for e in std::mem::take(&mut self.held) {
                        sub.input(e);
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!("connectSOCKS: {e}");
                    self.dead = true;
                    out.push(Event::StreamEnd(StreamError::NoError));
                    return;
                }
            }
        }
    }
}
