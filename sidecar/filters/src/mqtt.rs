//! `decodeMQTT({ protocolLevel })` and `encodeMQTT({ protocolLevel })`: MQTT
//! 3.1.1 and 5 packets as Messages.
//!
//! As upstream: a packet's head is `{ type, dup, retain, sessionPresent, qos,
//! packetIdentifier, protocolLevel, keepAlive, reasonCode, topicName,
//! properties }` (MQTT 5 properties by name, user properties among them by
//! their own names), its body the payload bytes (a PUBLISH's message), and
//! `MessageEnd.payload` what the payload means: for CONNECT `{ clientID,
//! username, password, will: { qos, retain, properties, topic, payload },
//! cleanStart }`, for SUBSCRIBE `{ topicFilters: [{ filter, qos }] }`, for
//! UNSUBSCRIBE the filters, for SUBACK and UNSUBACK the reason codes. The
//! encoder takes the same (a PUBLISH's message from the body) and passes the
//! MessageStart and MessageEnd on around the packet bytes.
//!
//! The protocol level is 5 unless `protocolLevel` (a number or a function)
//! says otherwise, and a CONNECT sets it for the rest of its stream, as the
//! reference describes. Upstream 1.5.18's code differs, and this follows
//! MQTT instead (all compared side by side; MQTT 5 streams give the same
//! bytes): it parses every packet but a CONNECT as MQTT 5, so 3.1.1 traffic
//! does not decode; a packet with no remaining bytes (`E0 00`) stops its
//! decoder; the decoder swaps the user name and password flags; the encoder
//! writes `dup` on a QoS bit and never writes will properties; MQTT 5's short
//! forms (no reason code) are dropped. Here those all follow the standard.
//! Malformed framing or a packet over [`MAX_PACKET`] bytes ends the stream
//! with `ProtocolError`; a packet whose content does not parse is dropped,
//! as upstream drops it.

use crate::util::{js, Callback};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsObject, JsResult, JsValue};
use bytes::Bytes;
use pipy_codec::mqtt::{
    self, Connect, Framer, Head as MqttHead, Payload, PropValue, Properties, Will, TYPES,
};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output, StreamError};
use pipy_js::api::data::{data_of, new_data};
use pipy_js::convert;

/// Most bytes one packet may have.
pub const MAX_PACKET: usize = crate::handle::DEFAULT_BODY_LIMIT;

fn text(b: &[u8]) -> JsValue {
    js_string!(String::from_utf8_lossy(b).into_owned()).into()
}

fn properties_to_js(props: &Option<Properties>, ctx: &mut Context) -> JsResult<JsValue> {
    let Some(props) = props else {
        return Ok(JsValue::null());
    };
    let o = ObjectInitializer::new(ctx).build();
    for (name, v) in props {
        let v = match v {
            PropValue::Int(n) => JsValue::from(*n as f64),
            PropValue::Str(s) => text(s),
            PropValue::Bin(b) => new_data(Data::from(b.clone()), ctx)?,
        };
        o.set(
            js_string!(String::from_utf8_lossy(name).into_owned()),
            v,
            false,
            ctx,
        )?;
    }
    Ok(o.into())
}

fn head_to_js(h: &MqttHead, ctx: &mut Context) -> JsResult<JsValue> {
    let props = properties_to_js(&h.properties, ctx)?;
    let mut b = ObjectInitializer::new(ctx);
    let a = Attribute::all();
    b.property(
        js_string!("type"),
        js_string!(TYPES[usize::from(h.ptype & 15)]),
        a,
    )
    .property(js_string!("dup"), h.dup, a)
    .property(js_string!("retain"), h.retain, a)
    .property(js_string!("sessionPresent"), h.session_present, a)
    .property(js_string!("qos"), i32::from(h.qos), a)
    .property(
        js_string!("packetIdentifier"),
        i32::from(h.packet_identifier),
        a,
    )
    .property(js_string!("protocolLevel"), i32::from(h.protocol_level), a)
    .property(js_string!("keepAlive"), i32::from(h.keep_alive), a)
    .property(js_string!("reasonCode"), i32::from(h.reason_code), a);
    if let Some(t) = &h.topic_name {
        b.property(js_string!("topicName"), text(t), a);
    }
    b.property(js_string!("properties"), props, a);
    Ok(b.build().into())
}

fn payload_to_js(p: &Payload, ctx: &mut Context) -> JsResult<JsValue> {
    let a = Attribute::all();
    Ok(match p {
        Payload::None => JsValue::undefined(),
        Payload::Connect(c) => {
            let password = match &c.password {
                Some(p) => new_data(Data::from(p.clone()), ctx)?,
                None => JsValue::null(),
            };
            let will = match &c.will {
                Some(w) => {
                    let props = properties_to_js(&Some(w.properties.clone()), ctx)?;
                    let payload = match &w.payload {
                        Some(p) => new_data(Data::from(p.clone()), ctx)?,
                        None => JsValue::null(),
                    };
                    let mut b = ObjectInitializer::new(ctx);
                    b.property(js_string!("qos"), i32::from(w.qos), a)
                        .property(js_string!("retain"), w.retain, a)
                        .property(js_string!("properties"), props, a);
                    if let Some(t) = &w.topic {
                        b.property(js_string!("topic"), text(t), a);
                    }
                    b.property(js_string!("payload"), payload, a);
                    b.build().into()
                }
                None => JsValue::null(),
            };
            let mut b = ObjectInitializer::new(ctx);
            if let Some(id) = &c.client_id {
                b.property(js_string!("clientID"), text(id), a);
            }
            if let Some(u) = &c.username {
                b.property(js_string!("username"), text(u), a);
            }
            b.property(js_string!("password"), password, a)
                .property(js_string!("will"), will, a)
                .property(js_string!("cleanStart"), c.clean_start, a);
            b.build().into()
        }
        Payload::Subscribe(filters) => {
            let arr = JsArray::new(ctx)?;
            for (f, o) in filters {
                let e = ObjectInitializer::new(ctx)
                    .property(js_string!("filter"), text(f), a)
                    .property(js_string!("qos"), i32::from(o & 3), a)
                    .build();
                arr.push(e, ctx)?;
            }
            ObjectInitializer::new(ctx)
                .property(js_string!("topicFilters"), arr, a)
                .build()
                .into()
        }
        Payload::Codes(codes) => {
            let arr = JsArray::new(ctx)?;
            for c in codes {
                arr.push(i32::from(*c), ctx)?;
            }
            arr.into()
        }
        Payload::Unsubscribe(filters) => {
            let arr = JsArray::new(ctx)?;
            for f in filters {
                arr.push(text(f), ctx)?;
            }
            arr.into()
        }
    })
}

/// The protocol level an option gives (a number or a function of nothing).
fn level_option(option: &Option<Callback>, out: &Output<'_>) -> Option<u8> {
    let v = option.as_ref()?.call(&[], out)?;
    let n = v.as_number()?;
    Some(if n >= 5.0 { 5 } else { 4 })
}

/// Template of `decodeMQTT`.
pub struct DecodeTemplate(pub Option<Callback>);

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        "decodeMQTT"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decode {
            option: self.0.clone(),
            level: None,
            framer: Framer::new(MAX_PACKET),
            packets: Vec::new(),
        })
    }
}

struct Decode {
    option: Option<Callback>,
    level: Option<u8>,
    framer: Framer,
    packets: Vec<(u8, Bytes)>,
}

impl Filter for Decode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) => {
                let mut packets = std::mem::take(&mut self.packets);
                for chunk in d.chunks() {
                    if let Err(e) = self.framer.feed(chunk, &mut packets) {
                        tracing::error!("decodeMQTT: {e}");
                        return out.fail(StreamError::ProtocolError);
                    }
                }
                for (first, rest) in packets.drain(..) {
                    let level = match self.level {
                        Some(l) => l,
                        None => {
                            let l = level_option(&self.option, out).unwrap_or(5);
                            self.level = Some(l);
                            l
                        }
                    };
                    let Some((head, body, payload)) = mqtt::decode(first, rest, level) else {
                        tracing::debug!("decodeMQTT: a malformed packet dropped");
                        continue;
                    };
                    if head.ptype == 1 {
                        self.level = Some(head.protocol_level);
                    }
                    let r = js(|ctx| -> JsResult<(JsValue, JsValue)> {
                        Ok((head_to_js(&head, ctx)?, payload_to_js(&payload, ctx)?))
                    });
                    let Ok((h, p)) = r else {
                        return out.fail(StreamError::RuntimeError);
                    };
                    out.push(Event::MessageStart(convert::script_head(h)));
                    if !body.is_empty() {
                        out.push(Event::Data(Data::from(body)));
                    }
                    out.push(Event::MessageEnd(convert::end_head(
                        JsValue::undefined(),
                        p,
                    )));
                }
                self.packets = packets;
            }
            Event::StreamEnd(e) => {
                self.framer = Framer::new(MAX_PACKET);
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

fn get(o: &JsObject, key: &str, ctx: &mut Context) -> JsResult<JsValue> {
    o.get(js_string!(key), ctx)
}

fn int(v: &JsValue, ctx: &mut Context) -> JsResult<i64> {
    if v.is_null_or_undefined() {
        return Ok(0);
    }
    let n = v.to_number(ctx)?;
    Ok(if n.is_finite() { n.trunc() as i64 } else { 0 })
}

fn bytes_of(v: &JsValue, ctx: &mut Context) -> JsResult<Option<Bytes>> {
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    if let Some(d) = data_of(v) {
        return Ok(Some(d.to_bytes()));
    }
    Ok(Some(Bytes::from(v.to_string(ctx)?.to_std_string_escaped())))
}

fn properties_from_js(v: &JsValue, ctx: &mut Context) -> JsResult<Option<Properties>> {
    let Some(o) = v.as_object() else {
        return Ok(None);
    };
    let mut props = Vec::new();
    for key in o.own_property_keys(ctx)? {
        let name = key.to_string();
        let value = o.get(key, ctx)?;
        let kind = mqtt::PROPERTIES
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|p| p.2);
        let pv = match kind {
            Some(mqtt::PropType::Str) => PropValue::Str(bytes_of(&value, ctx)?.unwrap_or_default()),
            Some(mqtt::PropType::Bin) => {
                PropValue::Bin(data_of(&value).map(|d| d.to_bytes()).unwrap_or_default())
            }
            Some(_) => PropValue::Int(int(&value, ctx)?),
            None => PropValue::Str(Bytes::from(value.to_string(ctx)?.to_std_string_escaped())),
        };
        props.push((Bytes::from(name), pv));
    }
    Ok(Some(props))
}

/// A script's head as an MQTT head; `level` when it names none.
fn head_from_js(h: &Head, level: u8, ctx: &mut Context) -> JsResult<(MqttHead, bool)> {
    let mut head = MqttHead::new(1, level);
    let o = match h {
        Head::Script(s) => convert::script_value(s).as_object(),
        _ => None,
    };
    let Some(o) = o else {
        return Ok((head, false));
    };
    if let Some(t) = get(&o, "type", ctx)?.as_string() {
        let t = t.to_std_string_escaped();
        if let Some(n) = TYPES.iter().position(|x| !x.is_empty() && *x == t) {
            head.ptype = n as u8;
        }
    }
    head.dup = get(&o, "dup", ctx)?.to_boolean();
    head.retain = get(&o, "retain", ctx)?.to_boolean();
    head.session_present = get(&o, "sessionPresent", ctx)?.to_boolean();
    head.qos = int(&get(&o, "qos", ctx)?, ctx)? as u8 & 3;
    head.packet_identifier = int(&get(&o, "packetIdentifier", ctx)?, ctx)? as u16;
    let lv = get(&o, "protocolLevel", ctx)?;
    let explicit = !lv.is_null_or_undefined();
    if explicit {
        head.protocol_level = int(&lv, ctx)? as u8;
    }
    head.keep_alive = int(&get(&o, "keepAlive", ctx)?, ctx)? as u16;
    head.reason_code = int(&get(&o, "reasonCode", ctx)?, ctx)? as u8;
    head.topic_name = bytes_of(&get(&o, "topicName", ctx)?, ctx)?;
    head.properties = properties_from_js(&get(&o, "properties", ctx)?, ctx)?;
    Ok((head, explicit))
}

fn payload_from_js(ptype: u8, v: &JsValue, ctx: &mut Context) -> JsResult<Payload> {
    let o = v.as_object();
    Ok(match ptype {
        1 => {
            let mut c = Connect::default();
            if let Some(o) = o {
                c.client_id = bytes_of(&get(&o, "clientID", ctx)?, ctx)?;
                c.username = bytes_of(&get(&o, "username", ctx)?, ctx)?;
                c.password = bytes_of(&get(&o, "password", ctx)?, ctx)?;
                c.clean_start = get(&o, "cleanStart", ctx)?.to_boolean();
                if let Some(w) = get(&o, "will", ctx)?.as_object() {
                    c.will = Some(Will {
                        qos: int(&get(&w, "qos", ctx)?, ctx)? as u8 & 3,
                        retain: get(&w, "retain", ctx)?.to_boolean(),
                        properties: properties_from_js(&get(&w, "properties", ctx)?, ctx)?
                            .unwrap_or_default(),
                        topic: bytes_of(&get(&w, "topic", ctx)?, ctx)?,
                        payload: bytes_of(&get(&w, "payload", ctx)?, ctx)?,
                    });
                }
            }
            Payload::Connect(c)
        }
        8 => {
            let mut filters = Vec::new();
            if let Some(list) = o
                .map(|o| get(&o, "topicFilters", ctx))
                .transpose()?
                .and_then(|v| v.as_object())
                .filter(|a| a.is_array())
            {
                let a = JsArray::from_object(list)?;
                for i in 0..a.length(ctx)? {
                    let e = a.get(i, ctx)?;
                    let (f, q) = match e.as_object() {
                        Some(e) => (
                            bytes_of(&get(&e, "filter", ctx)?, ctx)?.unwrap_or_default(),
                            int(&get(&e, "qos", ctx)?, ctx)? as u8 & 3,
                        ),
                        None => (Bytes::new(), 0),
                    };
                    filters.push((f, q));
                }
            }
            Payload::Subscribe(filters)
        }
        9..=11 => {
            let mut codes = Vec::new();
            let mut filters = Vec::new();
            if let Some(a) = o.filter(|o| o.is_array()) {
                let a = JsArray::from_object(a)?;
                for i in 0..a.length(ctx)? {
                    let e = a.get(i, ctx)?;
                    if ptype == 10 {
                        filters.push(Bytes::from(e.to_string(ctx)?.to_std_string_escaped()));
                    } else {
                        codes.push(int(&e, ctx)? as u8);
                    }
                }
            }
            if ptype == 10 {
                Payload::Unsubscribe(filters)
            } else {
                Payload::Codes(codes)
            }
        }
        _ => Payload::None,
    })
}

/// Template of `encodeMQTT`.
pub struct EncodeTemplate(pub Option<Callback>);

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        "encodeMQTT"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Encode {
            option: self.0.clone(),
            level: None,
            head: None,
            body: Data::new(),
        })
    }
}

struct Encode {
    option: Option<Callback>,
    level: Option<u8>,
    head: Option<MqttHead>,
    body: Data,
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(h) => {
                if self.head.is_some() {
                    return;
                }
                let level = match self.level {
                    Some(l) => l,
                    None => {
                        let l = level_option(&self.option, out).unwrap_or(5);
                        self.level = Some(l);
                        l
                    }
                };
                match js(|ctx| head_from_js(&h, level, ctx)) {
                    Ok((head, _)) => {
                        if head.ptype == 1 {
                            self.level = Some(head.protocol_level);
                        }
                        self.head = Some(head);
                        self.body = Data::new();
                        out.push(Event::MessageStart(h));
                    }
                    Err(e) => {
                        tracing::error!("encodeMQTT: {e}");
                        out.fail(StreamError::RuntimeError);
                    }
                }
            }
            Event::Data(d) => {
                if self.head.as_ref().is_some_and(|h| h.ptype == 3) {
                    if self.body.len() + d.len() > MAX_PACKET {
                        tracing::error!("encodeMQTT: a PUBLISH over {MAX_PACKET} bytes");
                        return out.fail(StreamError::BufferOverflow);
                    }
                    self.body.push(d);
                }
            }
            Event::MessageEnd(t) => {
                let Some(head) = self.head.take() else { return };
                let payload = convert::payload_of(&t);
                match js(|ctx| payload_from_js(head.ptype, &payload, ctx)) {
                    Ok(p) => {
                        let body = std::mem::take(&mut self.body).to_vec();
                        let packet = mqtt::encode(&head, &body, &p);
                        out.push(Event::Data(Data::from(Bytes::from(packet))));
                        out.push(Event::MessageEnd(t));
                    }
                    Err(e) => {
                        tracing::error!("encodeMQTT: {e}");
                        out.fail(StreamError::RuntimeError);
                    }
                }
            }
            Event::StreamEnd(e) => {
                self.head = None;
                out.push(Event::StreamEnd(e));
            }
        }
    }
}
