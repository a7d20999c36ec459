//! `decodeThrift()` and `encodeThrift()`: Thrift messages (binary, old
//! binary and compact protocols, unframed) as Messages.
//!
//! As upstream 1.5.18 behaves (its reference pages describe an older
//! design; compared side by side): a decoded message's body is its bytes as
//! they came and its `MessageEnd.payload` is `{ protocol, type, seqID, name,
//! fields }`, fields being `{ id, type, value }` with the type's name
//! (`'I32'`, `'STRUCT'`, ...); a struct's value is its array of fields, a
//! list's or set's `{ elementType, elements }`, a map's `{ keyType,
//! valueType, pairs: [[key, value], ...] }`, a binary a string when it is
//! UTF-8 and Data otherwise, a UUID its hyphenated text. The encoder writes
//! each MessageEnd's payload (a message or an array of them; defaults
//! `'compact'`, `'call'`, seqID 0) and drops the body. Upstream's decoder
//! mishandles multi-byte varints, empty strings, maps and doubles; here they
//! follow the Thrift specification. An I64 beyond 2^53 becomes a BigInt
//! (upstream has an Int class). Malformed input, a message over
//! [`MAX_MESSAGE`] bytes or nesting deeper than 64 ends the stream with
//! `ProtocolError` (upstream drops the rest of the stream silently).

use crate::payload_codec::{self, PayloadEncoder};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsBigInt, JsNativeError, JsObject, JsResult, JsValue};
use bytes::Bytes;
use pipy_codec::thrift::{encode, Decoder, Field, Kind, Message, Protocol, Step, Value};
use pipy_core::{Data, Event, Filter, FilterTemplate, Output};
use pipy_js::api::data::{data_of, new_data};
use pipy_js::convert;

/// Most bytes one message may have.
pub const MAX_MESSAGE: usize = 4 << 20;

const TYPE_NAMES: [&str; 5] = ["", "call", "reply", "exception", "oneway"];

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Binary => "binary",
        Protocol::Compact => "compact",
        Protocol::Old => "old",
    }
}

fn uuid_text(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn value_to_js(v: &Value, ctx: &mut Context) -> JsResult<JsValue> {
    let a = Attribute::all();
    Ok(match v {
        Value::Bool(b) => JsValue::from(*b),
        Value::I8(n) => JsValue::from(i32::from(*n)),
        Value::I16(n) => JsValue::from(i32::from(*n)),
        Value::I32(n) => JsValue::from(*n),
        Value::I64(n) => {
            if n.unsigned_abs() <= 1 << 53 {
                JsValue::from(*n as f64)
            } else {
                JsBigInt::from(*n).into()
            }
        }
        Value::Double(d) => JsValue::from(*d),
        Value::Binary(b) => match std::str::from_utf8(b) {
            Ok(s) => js_string!(s).into(),
            Err(_) => new_data(Data::from(b.clone()), ctx)?,
        },
        Value::Uuid(u) => js_string!(uuid_text(u)).into(),
        Value::Struct(fields) => fields_to_js(fields, ctx)?,
        Value::List(k, items) | Value::Set(k, items) => {
            let arr = JsArray::new(ctx)?;
            for i in items {
                let v = value_to_js(i, ctx)?;
                arr.push(v, ctx)?;
            }
            ObjectInitializer::new(ctx)
                .property(js_string!("elementType"), js_string!(k.name()), a)
                .property(js_string!("elements"), arr, a)
                .build()
                .into()
        }
        Value::Map(k, val, pairs) => {
            let arr = JsArray::new(ctx)?;
            for (x, y) in pairs {
                let x = value_to_js(x, ctx)?;
                let y = value_to_js(y, ctx)?;
                let pair = JsArray::from_iter([x, y], ctx);
                arr.push(pair, ctx)?;
            }
            ObjectInitializer::new(ctx)
                .property(js_string!("keyType"), js_string!(k.name()), a)
                .property(js_string!("valueType"), js_string!(val.name()), a)
                .property(js_string!("pairs"), arr, a)
                .build()
                .into()
        }
    })
}

fn fields_to_js(fields: &[Field], ctx: &mut Context) -> JsResult<JsValue> {
    let arr = JsArray::new(ctx)?;
    for f in fields {
        let v = value_to_js(&f.value, ctx)?;
        let o = ObjectInitializer::new(ctx)
            .property(js_string!("id"), i32::from(f.id), Attribute::all())
            .property(
                js_string!("type"),
                js_string!(f.value.kind().name()),
                Attribute::all(),
            )
            .property(js_string!("value"), v, Attribute::all())
            .build();
        arr.push(o, ctx)?;
    }
    Ok(arr.into())
}

/// A decoded message as scripts see it.
pub fn message_to_js(m: &Message, ctx: &mut Context) -> JsResult<JsValue> {
    let fields = fields_to_js(&m.fields, ctx)?;
    let a = Attribute::all();
    Ok(ObjectInitializer::new(ctx)
        .property(
            js_string!("protocol"),
            js_string!(protocol_name(m.protocol)),
            a,
        )
        .property(
            js_string!("type"),
            js_string!(TYPE_NAMES[usize::from(m.kind.min(4))]),
            a,
        )
        .property(js_string!("seqID"), m.seq_id, a)
        .property(
            js_string!("name"),
            js_string!(String::from_utf8_lossy(&m.name).into_owned()),
            a,
        )
        .property(js_string!("fields"), fields, a)
        .build()
        .into())
}

fn get(o: &JsObject, k: &str, ctx: &mut Context) -> JsResult<JsValue> {
    o.get(js_string!(k), ctx)
}

fn kind_of(v: &JsValue, default: Kind) -> Kind {
    v.as_string()
        .and_then(|s| Kind::from_name(&s.to_std_string_escaped()))
        .unwrap_or(default)
}

fn array_items(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<JsValue>> {
    Ok(convert::array_values(v, ctx)?.unwrap_or_default())
}

fn int(v: &JsValue, ctx: &mut Context) -> JsResult<i64> {
    if let Some(b) = v.as_bigint() {
        return Ok(b.to_string().parse::<i64>().unwrap_or(0));
    }
    if v.is_null_or_undefined() {
        return Ok(0);
    }
    let n = v.to_number(ctx)?;
    Ok(if n.is_finite() { n.trunc() as i64 } else { 0 })
}

fn value_from_js(kind: Kind, v: &JsValue, ctx: &mut Context) -> JsResult<Value> {
    Ok(match kind {
        Kind::Bool => Value::Bool(v.to_boolean()),
        Kind::I8 => Value::I8(int(v, ctx)? as i8),
        Kind::I16 => Value::I16(int(v, ctx)? as i16),
        Kind::I32 => Value::I32(int(v, ctx)? as i32),
        Kind::I64 => Value::I64(int(v, ctx)?),
        Kind::Double => Value::Double(if v.is_null_or_undefined() {
            0.0
        } else {
            v.to_number(ctx)?
        }),
        Kind::Binary => Value::Binary(match (v.as_string(), data_of(v)) {
            (Some(s), _) => Bytes::from(s.to_std_string_escaped()),
            (_, Some(d)) => d.to_bytes(),
            _ => Bytes::new(),
        }),
        Kind::Uuid => {
            let mut u = [0u8; 16];
            if let Some(s) = v.as_string() {
                let hex: String = s
                    .to_std_string_escaped()
                    .chars()
                    .filter(|c| *c != '-')
                    .collect();
                if hex.len() == 32 && hex.is_ascii() {
                    for (i, b) in u.iter_mut().enumerate() {
                        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
                    }
                }
            }
            Value::Uuid(u)
        }
        Kind::Struct => Value::Struct(fields_from_js(v, ctx)?),
        Kind::List | Kind::Set => {
            let (elem, items) = match v.as_object() {
                Some(o) => (
                    kind_of(&get(&o, "elementType", ctx)?, Kind::I32),
                    get(&o, "elements", ctx)?,
                ),
                None => (Kind::I32, JsValue::undefined()),
            };
            let mut out = Vec::new();
            for i in array_items(&items, ctx)? {
                out.push(value_from_js(elem, &i, ctx)?);
            }
            if kind == Kind::List {
                Value::List(elem, out)
            } else {
                Value::Set(elem, out)
            }
        }
        Kind::Map => {
            let (k, val, pairs) = match v.as_object() {
                Some(o) => (
                    kind_of(&get(&o, "keyType", ctx)?, Kind::I32),
                    kind_of(&get(&o, "valueType", ctx)?, Kind::I32),
                    get(&o, "pairs", ctx)?,
                ),
                None => (Kind::I32, Kind::I32, JsValue::undefined()),
            };
            let mut out = Vec::new();
            for p in array_items(&pairs, ctx)? {
                let kv = array_items(&p, ctx)?;
                let x = value_from_js(k, kv.first().unwrap_or(&JsValue::undefined()), ctx)?;
                let y = value_from_js(val, kv.get(1).unwrap_or(&JsValue::undefined()), ctx)?;
                out.push((x, y));
            }
            Value::Map(k, val, out)
        }
    })
}

fn fields_from_js(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<Field>> {
    let mut fields = Vec::new();
    for f in array_items(v, ctx)? {
        let Some(o) = f.as_object() else { continue };
        let id = int(&get(&o, "id", ctx)?, ctx)? as i16;
        let kind = kind_of(&get(&o, "type", ctx)?, Kind::I32);
        let value = value_from_js(kind, &get(&o, "value", ctx)?, ctx)?;
        fields.push(Field { id, value });
    }
    Ok(fields)
}

/// A script's message (see the module's notes).
pub fn message_from_js(o: &JsObject, ctx: &mut Context) -> JsResult<Message> {
    let protocol = match get(o, "protocol", ctx)?
        .as_string()
        .map(|s| s.to_std_string_escaped())
        .as_deref()
    {
        Some("binary") => Protocol::Binary,
        Some("old") => Protocol::Old,
        _ => Protocol::Compact,
    };
    let t = get(o, "type", ctx)?;
    let kind = t
        .as_string()
        .and_then(|s| {
            TYPE_NAMES
                .iter()
                .position(|n| !n.is_empty() && **n == s.to_std_string_escaped())
        })
        .unwrap_or(1) as u8;
    let seq_id = int(&get(o, "seqID", ctx)?, ctx)? as i32;
    let name = get(o, "name", ctx)?;
    let name = if name.is_null_or_undefined() {
        Bytes::new()
    } else {
        Bytes::from(name.to_string(ctx)?.to_std_string_escaped())
    };
    let fields = fields_from_js(&get(o, "fields", ctx)?, ctx)?;
    Ok(Message {
        protocol,
        kind,
        seq_id,
        name,
        fields,
    })
}

/// Template of `decodeThrift`.
pub struct DecodeTemplate;

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        "decodeThrift"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decode {
            decoder: Decoder::new(MAX_MESSAGE),
            steps: Vec::new(),
        })
    }
}

struct Decode {
    decoder: Decoder,
    steps: Vec<Step>,
}

impl Filter for Decode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) => {
                let decoder = &mut self.decoder;
                payload_codec::decode(
                    "decodeThrift",
                    &d,
                    &mut self.steps,
                    |c, steps| decoder.feed(c, steps),
                    message_to_js,
                    out,
                );
            }
            Event::StreamEnd(e) => {
                self.decoder = Decoder::new(MAX_MESSAGE);
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

/// Template of `encodeThrift`.
pub struct EncodeTemplate;

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        "encodeThrift"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Encode(PayloadEncoder::new()))
    }
}

struct Encode(PayloadEncoder);

fn encode_payload(p: &JsValue, ctx: &mut Context) -> JsResult<Vec<u8>> {
    let mut out = Vec::new();
    let Some(o) = p.as_object() else {
        return Ok(out);
    };
    if o.is_array() {
        for m in array_items(p, ctx)? {
            if m.is_null_or_undefined() {
                continue;
            }
            let Some(m) = m.as_object() else { break };
            encode(&message_from_js(&m, ctx)?, &mut out);
        }
    } else {
        encode(&message_from_js(&o, ctx)?, &mut out);
    }
    if out.len() > MAX_MESSAGE * 4 {
        return Err(JsNativeError::range()
            .with_message("encodeThrift: output too large")
            .into());
    }
    Ok(out)
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.0.process("encodeThrift", evt, out, encode_payload);
    }
}
