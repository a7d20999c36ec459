//! `decodeBGP({ enableAS4 })` and `encodeBGP({ enableAS4 })`: BGP-4 messages
//! (see `pipy_codec::bgp`) as Messages.
//!
//! As upstream 1.5.18 behaves (its reference pages copy Dubbo's; compared
//! side by side): a decoded message has no head, its body is its bytes as
//! they came and its `MessageEnd.payload` is `{ type, body }`, `type` being
//! `'OPEN'`, `'UPDATE'`, `'NOTIFICATION'`, `'KEEPALIVE'`, `'ROUTE_REFRESH'`
//! or the number of another type. Bodies:
//! - OPEN `{ version, myAS, holdTime, identifier, parameters }`, a parameter
//!   `{ name, code, value }` whose value is `null`, a Data, or for
//!   `'Capabilities'` (code 2) an array of `{ code, value: Data }`;
//! - UPDATE `{ withdrawnRoutes, pathAttributes, destinations }` (`null` when
//!   empty), prefixes as `'a.b.c.d/len'` text (upstream's IPMask objects
//!   print the same), an attribute `{ name, code, value, optional,
//!   transitive, partial }` with ORIGIN a number, AS_PATH an array of
//!   segments (an AS_SEQUENCE an array of AS numbers, an AS_SET an object
//!   keyed by them), NEXT_HOP text, MULTI_EXIT_DISC and LOCAL_PREF numbers,
//!   AGGREGATOR `[as, ip]`, others a Data;
//! - NOTIFICATION `{ errorCode, errorSubcode, data }`, ROUTE_REFRESH
//!   `{ afi, safi, subtype }` (`subtype` is RFC 7313's, kept so that an
//!   enhanced refresh's begin and end pass through), KEEPALIVE `null`,
//!   another type's bytes a Data.
//!
//! The encoder writes each MessageEnd's payload (a missing type is a
//! KEEPALIVE) and drops the body. Where upstream strays from RFC 4271 we
//! follow the RFC: a bad marker or length (and a malformed body) ends the
//! stream with `ProtocolError` where upstream silently drops the rest, and a
//! ROUTE-REFRESH has its two-octet AFI (upstream writes one octet); with
//! 2-octet AS numbers, one that needs four is written as AS_TRANS (RFC
//! 6793); bodies are not cut to 4096 octets (RFC 8654's extended messages
//! pass through a decoding proxy).

use crate::payload_codec::PayloadEncoder;
use crate::util::{js, Callback};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute as Attr;
use boa_engine::{js_string, Context, JsObject, JsResult, JsValue};
use bytes::Bytes;
use pipy_codec::bgp::{
    self, attr, kind, AttributeValue, Body, Decoder, Frame, Message, Notification, Open, Parameter,
    ParameterValue, Prefix, Segment, Step, Update,
};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output, StreamError};
use pipy_js::api::data::{data_of, new_data};
use pipy_js::convert;
use std::net::Ipv4Addr;

const TYPE_NAMES: [&str; 6] = [
    "",
    "OPEN",
    "UPDATE",
    "NOTIFICATION",
    "KEEPALIVE",
    "ROUTE_REFRESH",
];

const ATTRIBUTE_NAMES: [&str; 8] = [
    "",
    "ORIGIN",
    "AS_PATH",
    "NEXT_HOP",
    "MULTI_EXIT_DISC",
    "LOCAL_PREF",
    "ATOMIC_AGGREGATE",
    "AGGREGATOR",
];

/// The `enableAS4` option: a value or a function, asked per message.
fn as4(option: &Option<Callback>, out: &Output<'_>) -> Option<bool> {
    let Some(cb) = option else { return Some(false) };
    let v = cb.call(&[], out)?;
    Some(match v.as_string() {
        Some(s) => s.to_std_string_escaped() == "true",
        None => v.to_boolean(),
    })
}

fn ip_text(ip: &[u8; 4]) -> JsValue {
    js_string!(Ipv4Addr::from(*ip).to_string()).into()
}

fn data(b: &Bytes, ctx: &mut Context) -> JsResult<JsValue> {
    new_data(Data::from(b.clone()), ctx)
}

fn list(items: Vec<JsValue>, ctx: &mut Context) -> JsValue {
    if items.is_empty() {
        JsValue::null()
    } else {
        JsArray::from_iter(items, ctx).into()
    }
}

fn prefixes_to_js(list_of: &[Prefix], ctx: &mut Context) -> JsValue {
    let items = list_of
        .iter()
        .map(|p| js_string!(format!("{}/{}", Ipv4Addr::from(p.addr), p.len)).into())
        .collect();
    list(items, ctx)
}

fn open_to_js(o: &Open, ctx: &mut Context) -> JsResult<JsValue> {
    let a = Attr::all();
    let mut params = Vec::new();
    for p in &o.parameters {
        let value = match &p.value {
            ParameterValue::Empty => JsValue::null(),
            ParameterValue::Raw(b) => data(b, ctx)?,
            ParameterValue::Capabilities(caps) => {
                let mut out = Vec::new();
                for (code, value) in caps {
                    let value = data(value, ctx)?;
                    out.push(
                        ObjectInitializer::new(ctx)
                            .property(js_string!("code"), i32::from(*code), a)
                            .property(js_string!("value"), value, a)
                            .build()
                            .into(),
                    );
                }
                JsArray::from_iter(out, ctx).into()
            }
        };
        let name = if p.code == 2 {
            js_string!("Capabilities").into()
        } else {
            JsValue::undefined()
        };
        params.push(
            ObjectInitializer::new(ctx)
                .property(js_string!("name"), name, a)
                .property(js_string!("value"), value, a)
                .property(js_string!("code"), i32::from(p.code), a)
                .build()
                .into(),
        );
    }
    let parameters = list(params, ctx);
    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("version"), i32::from(o.version), a)
        .property(js_string!("myAS"), i32::from(o.my_as), a)
        .property(js_string!("holdTime"), i32::from(o.hold_time), a)
        .property(js_string!("identifier"), ip_text(&o.identifier), a)
        .property(js_string!("parameters"), parameters, a)
        .build()
        .into())
}

fn attribute_value_to_js(v: &AttributeValue, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match v {
        AttributeValue::Empty => JsValue::null(),
        AttributeValue::Origin(o) => JsValue::from(i32::from(*o)),
        AttributeValue::AsPath(segments) => {
            let mut out = Vec::new();
            for s in segments {
                out.push(match s {
                    Segment::Sequence(l) => {
                        JsArray::from_iter(l.iter().map(|n| JsValue::from(*n)), ctx).into()
                    }
                    Segment::Set(l) => {
                        let o = JsObject::with_object_proto(ctx.intrinsics());
                        for n in l {
                            o.set(js_string!(n.to_string()), JsValue::from(*n), false, ctx)?;
                        }
                        o.into()
                    }
                });
            }
            JsArray::from_iter(out, ctx).into()
        }
        AttributeValue::NextHop(ip) => ip_text(ip),
        AttributeValue::Number(n) => JsValue::from(*n),
        AttributeValue::Aggregator(n, ip) => {
            JsArray::from_iter([JsValue::from(*n), ip_text(ip)], ctx).into()
        }
        AttributeValue::Raw(b) => data(b, ctx)?,
    })
}

fn update_to_js(u: &Update, ctx: &mut Context) -> JsResult<JsValue> {
    let a = Attr::all();
    let mut attrs = Vec::new();
    for at in &u.attributes {
        let value = attribute_value_to_js(&at.value, ctx)?;
        let name = match ATTRIBUTE_NAMES.get(usize::from(at.code)) {
            Some(n) if !n.is_empty() => js_string!(*n).into(),
            _ => JsValue::undefined(),
        };
        attrs.push(
            ObjectInitializer::new(ctx)
                .property(js_string!("name"), name, a)
                .property(js_string!("value"), value, a)
                .property(js_string!("code"), i32::from(at.code), a)
                .property(js_string!("optional"), at.optional, a)
                .property(js_string!("transitive"), at.transitive, a)
                .property(js_string!("partial"), at.partial, a)
                .build()
                .into(),
        );
    }
    let withdrawn = prefixes_to_js(&u.withdrawn, ctx);
    let attrs = list(attrs, ctx);
    let destinations = prefixes_to_js(&u.destinations, ctx);
    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("withdrawnRoutes"), withdrawn, a)
        .property(js_string!("pathAttributes"), attrs, a)
        .property(js_string!("destinations"), destinations, a)
        .build()
        .into())
}

/// A decoded message as scripts see it (the `MessageEnd.payload`).
pub fn message_to_js(m: &Message, ctx: &mut Context) -> JsResult<JsValue> {
    let a = Attr::all();
    let kind: JsValue = match TYPE_NAMES.get(usize::from(m.kind)) {
        Some(n) if !n.is_empty() => js_string!(*n).into(),
        _ => i32::from(m.kind).into(),
    };
    let body = match &m.body {
        Body::None => JsValue::null(),
        Body::Raw(b) => data(b, ctx)?,
        Body::Open(o) => open_to_js(o, ctx)?,
        Body::Update(u) => update_to_js(u, ctx)?,
        Body::Notification(n) => {
            let d = if n.data.is_empty() {
                JsValue::null()
            } else {
                data(&n.data, ctx)?
            };
            ObjectInitializer::new(ctx)
                .property(js_string!("errorCode"), i32::from(n.code), a)
                .property(js_string!("errorSubcode"), i32::from(n.subcode), a)
                .property(js_string!("data"), d, a)
                .build()
                .into()
        }
        Body::RouteRefresh { afi, subtype, safi } => ObjectInitializer::new(ctx)
            .property(js_string!("afi"), i32::from(*afi), a)
            .property(js_string!("safi"), i32::from(*safi), a)
            .property(js_string!("subtype"), i32::from(*subtype), a)
            .build()
            .into(),
    };
    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("type"), kind, a)
        .property(js_string!("body"), body, a)
        .build()
        .into())
}

fn get(o: &JsObject, k: &str, ctx: &mut Context) -> JsResult<JsValue> {
    o.get(js_string!(k), ctx)
}

/// A number field, cut to its width as upstream does (low bits); missing: `default`.
fn int(v: &JsValue, default: u32, ctx: &mut Context) -> JsResult<u32> {
    if v.is_null_or_undefined() {
        return Ok(default);
    }
    let n = v.to_number(ctx)?;
    Ok(if n.is_finite() {
        (n.trunc() as i64) as u32
    } else {
        0
    })
}

fn int_field(o: &JsObject, k: &str, default: u32, ctx: &mut Context) -> JsResult<u32> {
    let v = get(o, k, ctx)?;
    int(&v, default, ctx)
}

fn ip_of(v: &JsValue, ctx: &mut Context) -> JsResult<[u8; 4]> {
    if v.is_null_or_undefined() {
        return Ok([0; 4]);
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    Ok(s.parse::<Ipv4Addr>().map(|a| a.octets()).unwrap_or([0; 4]))
}

fn items(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<JsValue>> {
    Ok(convert::array_values(v, ctx)?.unwrap_or_default())
}

fn bytes_of(v: &JsValue) -> Option<Bytes> {
    data_of(v).map(|d| d.to_bytes())
}

/// `'a.b.c.d/len'` (no length: 32); anything else a zero-length prefix.
fn prefix_of(v: &JsValue, ctx: &mut Context) -> JsResult<Prefix> {
    let none = Prefix {
        addr: [0; 4],
        len: 0,
    };
    if v.is_null_or_undefined() {
        return Ok(none);
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    let (ip, len) = s.split_once('/').unwrap_or((&s, "32"));
    Ok(match (ip.parse::<Ipv4Addr>(), len.parse::<u8>()) {
        (Ok(ip), Ok(len)) if len <= 32 => Prefix {
            addr: ip.octets(),
            len,
        },
        _ => none,
    })
}

fn prefixes_of(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<Prefix>> {
    let mut out = Vec::new();
    for p in items(v, ctx)? {
        out.push(prefix_of(&p, ctx)?);
    }
    Ok(out)
}

fn open_of(o: &JsObject, ctx: &mut Context) -> JsResult<Open> {
    let mut parameters = Vec::new();
    for p in items(&get(o, "parameters", ctx)?, ctx)? {
        if p.is_undefined() {
            continue;
        }
        let Some(p) = p.as_object() else {
            parameters.push(Parameter {
                code: 0,
                value: ParameterValue::Empty,
            });
            continue;
        };
        let named = get(&p, "name", ctx)?
            .as_string()
            .is_some_and(|s| s.to_std_string_escaped() == "Capabilities");
        let code = if named {
            2
        } else {
            int_field(&p, "code", 0, ctx)? as u8
        };
        let v = get(&p, "value", ctx)?;
        let value = if let Some(b) = bytes_of(&v) {
            ParameterValue::Raw(b)
        } else if code == 2 && v.as_object().is_some_and(|o| o.is_array()) {
            let mut caps = Vec::new();
            for c in items(&v, ctx)? {
                if c.is_undefined() {
                    continue;
                }
                let Some(c) = c.as_object() else {
                    caps.push((0, Bytes::new()));
                    continue;
                };
                let code = int_field(&c, "code", 0, ctx)? as u8;
                let value = bytes_of(&get(&c, "value", ctx)?).unwrap_or_default();
                caps.push((code, value));
            }
            ParameterValue::Capabilities(caps)
        } else {
            ParameterValue::Empty
        };
        parameters.push(Parameter { code, value });
    }
    Ok(Open {
        version: int_field(o, "version", 4, ctx)? as u8,
        my_as: int_field(o, "myAS", 0, ctx)? as u16,
        hold_time: int_field(o, "holdTime", 0, ctx)? as u16,
        identifier: ip_of(&get(o, "identifier", ctx)?, ctx)?,
        parameters,
    })
}

fn attribute_of(v: &JsValue, ctx: &mut Context) -> JsResult<bgp::Attribute> {
    let mut a = bgp::Attribute {
        code: 0,
        optional: false,
        transitive: false,
        partial: false,
        value: AttributeValue::Empty,
    };
    let Some(o) = v.as_object() else {
        return Ok(a);
    };
    let name = get(&o, "name", ctx)?;
    let named = name.as_string().and_then(|s| {
        let s = s.to_std_string_escaped();
        ATTRIBUTE_NAMES
            .iter()
            .position(|n| !n.is_empty() && *n == s)
    });
    a.code = match named {
        Some(i) => i as u8,
        None => int_field(&o, "code", 0, ctx)? as u8,
    };
    a.optional = get(&o, "optional", ctx)?.to_boolean();
    a.transitive = get(&o, "transitive", ctx)?.to_boolean();
    a.partial = get(&o, "partial", ctx)?.to_boolean();
    let v = get(&o, "value", ctx)?;
    a.value = if let Some(b) = bytes_of(&v) {
        AttributeValue::Raw(b)
    } else {
        match a.code {
            attr::ORIGIN => AttributeValue::Origin(int(&v, 0, ctx)? as u8),
            attr::AS_PATH => {
                let mut segments = Vec::new();
                for s in items(&v, ctx)? {
                    let Some(so) = s.as_object() else {
                        segments.push(Segment::Set(Vec::new()));
                        continue;
                    };
                    if so.is_array() {
                        let mut l = Vec::new();
                        for n in items(&s, ctx)? {
                            l.push(int(&n, 0, ctx)?);
                        }
                        segments.push(Segment::Sequence(l));
                    } else {
                        let mut l = Vec::new();
                        for k in so.own_property_keys(ctx)? {
                            let k: JsValue = k.into();
                            l.push(int(&k, 0, ctx)?);
                        }
                        segments.push(Segment::Set(l));
                    }
                }
                AttributeValue::AsPath(segments)
            }
            attr::NEXT_HOP => AttributeValue::NextHop(ip_of(&v, ctx)?),
            attr::MULTI_EXIT_DISC | attr::LOCAL_PREF => AttributeValue::Number(int(&v, 0, ctx)?),
            attr::AGGREGATOR => {
                let l = items(&v, ctx)?;
                let n = int(l.first().unwrap_or(&JsValue::undefined()), 0, ctx)?;
                let ip = ip_of(l.get(1).unwrap_or(&JsValue::undefined()), ctx)?;
                AttributeValue::Aggregator(n, ip)
            }
            _ => AttributeValue::Empty,
        }
    };
    Ok(a)
}

fn update_of(o: &JsObject, ctx: &mut Context) -> JsResult<Update> {
    let mut attributes = Vec::new();
    for a in items(&get(o, "pathAttributes", ctx)?, ctx)? {
        if !a.is_undefined() {
            attributes.push(attribute_of(&a, ctx)?);
        }
    }
    Ok(Update {
        withdrawn: prefixes_of(&get(o, "withdrawnRoutes", ctx)?, ctx)?,
        attributes,
        destinations: prefixes_of(&get(o, "destinations", ctx)?, ctx)?,
    })
}

/// A script's `{ type, body }` as a message.
pub fn message_of(o: &JsObject, ctx: &mut Context) -> JsResult<Message> {
    let t = get(o, "type", ctx)?;
    let kind = if t.is_null_or_undefined() {
        kind::KEEPALIVE
    } else if let Some(s) = t.as_string() {
        let s = s.to_std_string_escaped();
        TYPE_NAMES
            .iter()
            .position(|n| !n.is_empty() && *n == s)
            .map_or(0xff, |i| i as u8)
    } else {
        int(&t, 0, ctx)? as u8
    };
    let b = get(o, "body", ctx)?;
    let body = if let Some(bytes) = bytes_of(&b) {
        Body::Raw(bytes)
    } else if let Some(bo) = b.as_object() {
        match kind {
            kind::OPEN => Body::Open(open_of(&bo, ctx)?),
            kind::UPDATE => Body::Update(update_of(&bo, ctx)?),
            kind::NOTIFICATION => Body::Notification(Notification {
                code: int_field(&bo, "errorCode", 0, ctx)? as u8,
                subcode: int_field(&bo, "errorSubcode", 0, ctx)? as u8,
                data: bytes_of(&get(&bo, "data", ctx)?).unwrap_or_default(),
            }),
            kind::ROUTE_REFRESH => Body::RouteRefresh {
                afi: int_field(&bo, "afi", 0, ctx)? as u16,
                subtype: int_field(&bo, "subtype", 0, ctx)? as u8,
                safi: int_field(&bo, "safi", 0, ctx)? as u8,
            },
            _ => Body::None,
        }
    } else {
        Body::None
    };
    Ok(Message { kind, body })
}

/// Template of `decodeBGP`.
pub struct DecodeTemplate(pub Option<Callback>);

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        "decodeBGP"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decode {
            option: self.0.clone(),
            decoder: Decoder::new(),
            steps: Vec::new(),
            as4: false,
        })
    }
}

struct Decode {
    option: Option<Callback>,
    decoder: Decoder,
    steps: Vec<Step>,
    /// The message being read has 4-octet AS numbers.
    as4: bool,
}

impl Decode {
    fn end(&self, f: &Frame, out: &mut Output<'_>) -> bool {
        let m = match bgp::parse(f, self.as4) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!("decodeBGP: {e}");
                out.fail(StreamError::ProtocolError);
                return false;
            }
        };
        match js(|ctx| message_to_js(&m, ctx)) {
            Ok(p) => {
                out.push(Event::MessageEnd(convert::end_head(
                    JsValue::undefined(),
                    p,
                )));
                true
            }
            Err(_) => {
                out.fail(StreamError::RuntimeError);
                false
            }
        }
    }
}

impl Filter for Decode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) => {
                for chunk in d.chunks() {
                    if let Err(e) = self.decoder.feed(chunk, &mut self.steps) {
                        tracing::error!("decodeBGP: {e}");
                        self.steps.clear();
                        return out.fail(StreamError::ProtocolError);
                    }
                }
                let steps = std::mem::take(&mut self.steps);
                for step in steps {
                    match step {
                        Step::Start => {
                            // Asked per message, before its bytes (as upstream).
                            match as4(&self.option, out) {
                                Some(v) => self.as4 = v,
                                None => return,
                            }
                            out.push(Event::MessageStart(Head::None));
                        }
                        Step::Raw(b) => out.push(Event::Data(Data::from(b))),
                        Step::End(f) => {
                            if !self.end(&f, out) {
                                return;
                            }
                        }
                    }
                }
            }
            Event::StreamEnd(e) => {
                self.decoder = Decoder::new();
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

/// Template of `encodeBGP`.
pub struct EncodeTemplate(pub Option<Callback>);

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        "encodeBGP"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Encode {
            option: self.0.clone(),
            encoder: PayloadEncoder::new(),
        })
    }
}

struct Encode {
    option: Option<Callback>,
    encoder: PayloadEncoder,
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let as4 = if matches!(evt, Event::MessageEnd(_)) {
            match as4(&self.option, out) {
                Some(v) => v,
                None => return,
            }
        } else {
            false
        };
        self.encoder.process("encodeBGP", evt, out, |p, ctx| {
            let mut wire = Vec::new();
            if let Some(o) = p.as_object() {
                bgp::encode(&message_of(&o, ctx)?, as4, &mut wire);
            }
            Ok(wire)
        });
    }
}
