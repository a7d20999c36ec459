//! `acceptProxyProtocol(handler).to(...)` and
//! `connectProxyProtocol(header).to(...)`: HAProxy's PROXY protocol, v1 and v2.
//!
//! `acceptProxyProtocol` reads the header a load balancer puts in front of
//! the stream, asks `handler(header)` whether to go on, and passes the rest
//! of the stream to its sub-pipeline. `connectProxyProtocol` writes a header
//! in front of what it passes to its sub-pipeline.
//!
//! Two fixes of upstream 1.5 (which scripts cannot rely on): the client's
//! `StreamEnd` reaches the sub-pipeline (upstream drops it, leaving the
//! sub-pipeline open), and a v2 `UNKNOWN` header yields no addresses
//! (upstream reads them from bytes that are not there).

use crate::util::{js, Callback};
use crate::SubLayout;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, JsValue};
use pipy_codec::proxy_protocol::{self as pp, Command, Header, Parsed, Protocol};
use pipy_core::{Data, Event, Filter, FilterDump, FilterTemplate, Output, Pipeline, StreamError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Template of `acceptProxyProtocol`.
pub struct AcceptProxyProtocolTemplate {
    sub: SubLayout,
    handler: Callback,
}

impl AcceptProxyProtocolTemplate {
    /// `acceptProxyProtocol(handler)` whose sub-pipeline is `sub`.
    pub fn new(sub: SubLayout, handler: Callback) -> Self {
        Self { sub, handler }
    }
}

impl FilterTemplate for AcceptProxyProtocolTemplate {
    fn name(&self) -> &'static str {
        "acceptProxyProtocol"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(AcceptProxyProtocol {
            sub_layout: self.sub.clone(),
            handler: self.handler.clone(),
            seen: Vec::new(),
            sub: None,
            refused: false,
        })
    }
}

struct AcceptProxyProtocol {
    sub_layout: SubLayout,
    handler: Callback,
    /// Bytes of the header so far.
    seen: Vec<u8>,
    sub: Option<Pipeline>,
    refused: bool,
}

/// The header as upstream shows it to a handler.
fn header_object(h: &Header) -> JsValue {
    js(|js| {
        let mut o = ObjectInitializer::new(js);
        o.property(js_string!("version"), h.version, Attribute::all());
        if h.version == 2 {
            let cmd = match h.command {
                Command::Local => "LOCAL",
                Command::Proxy => "PROXY",
            };
            o.property(js_string!("command"), js_string!(cmd), Attribute::all());
        }
        o.property(
            js_string!("protocol"),
            js_string!(h.protocol.name()),
            Attribute::all(),
        );
        if let (Some((sa, sp)), Some((ta, tp))) = (h.source, h.target) {
            o.property(
                js_string!("sourceAddress"),
                js_string!(sa.to_string()),
                Attribute::all(),
            );
            o.property(
                js_string!("targetAddress"),
                js_string!(ta.to_string()),
                Attribute::all(),
            );
            o.property(js_string!("sourcePort"), sp, Attribute::all());
            o.property(js_string!("targetPort"), tp, Attribute::all());
        }
        o.build().into()
    })
}

impl AcceptProxyProtocol {
    fn refuse(&mut self, out: &mut Output<'_>) {
        self.refused = true;
        self.seen = Vec::new();
        out.push(Event::StreamEnd(StreamError::NoError));
    }
}

impl Filter for AcceptProxyProtocol {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.refused {
            return;
        }
        if let Some(sub) = &self.sub {
            sub.input(evt);
            return;
        }
        let d = match evt {
            Event::Data(d) => d,
            Event::StreamEnd(e) => {
                self.refused = true;
                out.push(Event::StreamEnd(e));
                return;
            }
            _ => return,
        };
        self.seen.extend(d.bytes());
        match pp::parse(&self.seen) {
            Ok(Parsed::Incomplete) => {}
            Err(e) => {
                tracing::debug!("acceptProxyProtocol: {e}");
                self.refuse(out);
            }
            Ok(Parsed::Done(header, used)) => {
                let accepted = self.handler.eval(&[header_object(&header)], out.context());
                match accepted {
                    Some(v) if v.to_boolean() => {
                        let Some(layout) = self.sub_layout.get() else {
                            return;
                        };
                        let sub = out.sub_pipeline(&layout, false, 0);
                        let rest = self.seen.split_off(used);
                        self.seen = Vec::new();
                        self.sub = Some(sub.clone());
                        sub.input(Event::Data(Data::from(rest)));
                    }
                    Some(_) => self.refuse(out),
                    None => {
                        out.push(Event::StreamEnd(StreamError::RuntimeError));
                        self.refuse(out);
                    }
                }
            }
        }
    }
}

/// Template of `connectProxyProtocol`.
pub struct ConnectProxyProtocolTemplate {
    sub: SubLayout,
    header: Callback,
}

impl ConnectProxyProtocolTemplate {
    /// `connectProxyProtocol(header)` whose sub-pipeline is `sub`.
    pub fn new(sub: SubLayout, header: Callback) -> Self {
        Self { sub, header }
    }
}

impl FilterTemplate for ConnectProxyProtocolTemplate {
    fn name(&self) -> &'static str {
        "connectProxyProtocol"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(ConnectProxyProtocol {
            sub_layout: self.sub.clone(),
            header: self.header.clone(),
            sub: None,
            dead: false,
        })
    }
}

struct ConnectProxyProtocol {
    sub_layout: SubLayout,
    header: Callback,
    sub: Option<Pipeline>,
    dead: bool,
}

/// The header bytes upstream writes for a script's object.
fn header_bytes(v: &JsValue) -> Option<Vec<u8>> {
    let obj = v.as_object()?;
    js(|js| {
        let get =
            |k: &str, js: &mut boa_engine::Context| obj.get(js_string!(k), js).unwrap_or_default();
        let text = |v: JsValue| v.as_string().map(|s| s.to_std_string_escaped());
        let version = get("version", js).as_number().unwrap_or(1.0);
        let protocol = text(get("protocol", js)).unwrap_or_else(|| "TCP4".into());
        let command = text(get("command", js));
        let port = |v: JsValue| v.as_number().map(|n| n as u16).unwrap_or(0);
        let (sport, tport) = (port(get("sourcePort", js)), port(get("targetPort", js)));
        let v6 = matches!(protocol.as_str(), "TCP6" | "UDP6");
        // Addresses that do not parse become zeros (upstream writes v1's
        // verbatim; a string is not to put arbitrary bytes on the wire).
        let zero = if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        let addr = |v: JsValue| {
            text(v)
                .and_then(|s| s.parse::<IpAddr>().ok())
                .filter(|a| a.is_ipv6() == v6)
                .unwrap_or(zero)
        };
        let (src, dst) = (
            addr(get("sourceAddress", js)),
            addr(get("targetAddress", js)),
        );
        if version != 2.0 {
            // Upstream writes the protocol as given, and addresses even for UNKNOWN.
            let protocol: String = protocol
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            return Some(format!("PROXY {protocol} {src} {dst} {sport} {tport}\r\n").into_bytes());
        }
        let protocol = match protocol.as_str() {
            "UDP4" => Protocol::Udp4,
            "TCP6" => Protocol::Tcp6,
            "UDP6" => Protocol::Udp6,
            _ => Protocol::Tcp4,
        };
        Some(pp::encode_v2(&Header {
            version: 2,
            command: if command.as_deref() == Some("LOCAL") {
                Command::Local
            } else {
                Command::Proxy
            },
            protocol,
            source: Some((src, sport)),
            target: Some((dst, tport)),
            tlvs: Vec::new(),
        }))
    })
}

impl Filter for ConnectProxyProtocol {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.dead {
            return;
        }
        if self.sub.is_none() {
            let Some(v) = self.header.call(&[], out) else {
                self.dead = true;
                return;
            };
            let Some(bytes) = header_bytes(&v) else {
                tracing::error!("connectProxyProtocol: an object containing source/target addresses is expected");
                self.dead = true;
                out.push(Event::StreamEnd(StreamError::RuntimeError));
                return;
            };
            let Some(layout) = self.sub_layout.get() else {
                return;
            };
            let sub = out.sub_pipeline(&layout, false, 0);
            sub.input(Event::Data(Data::from(bytes)));
            self.sub = Some(sub);
        }
        if let Some(sub) = &self.sub {
            sub.input(evt);
        }
    }
}
