//! `decodeRESP()` and `encodeRESP()`: Redis protocol messages.
//!
//! As upstream: each top-level RESP value becomes a Message whose body is the
//! value's bytes as they came and whose `MessageEnd.payload` is the value: a
//! simple string as a string, an error as an `Error`, an integer as a number,
//! a bulk string as `Data` (null for a null one), an array as an array. The
//! encoder writes each Message's `MessageEnd.payload` (the body is ignored):
//! strings as simple strings, numbers as integers, `Data` as bulk strings,
//! `Error`s as errors, null or undefined as a null bulk string, anything else
//! as its text. Malformed input, a message over [`MAX_MESSAGE`] bytes or
//! nesting deeper than 64 ends the stream with `ProtocolError`, where
//! upstream stops decoding without a word.

use crate::payload_codec::{self, PayloadEncoder};
use boa_engine::object::builtins::JsArray;
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue};
use bytes::Bytes;
use pipy_codec::resp::{encode, Decoder, Step, Value};
use pipy_core::{Data, Event, Filter, FilterTemplate, Output};

/// Most bytes one decoded message may have.
pub const MAX_MESSAGE: usize = crate::handle::DEFAULT_BODY_LIMIT;

/// Template of `decodeRESP`.
pub struct DecodeTemplate;

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        "decodeRESP"
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

/// A RESP value as a script value.
pub fn to_js(v: &Value, ctx: &mut Context) -> JsResult<JsValue> {
    let text = |b: &Bytes| js_string!(String::from_utf8_lossy(b).into_owned());
    Ok(match v {
        Value::Simple(s) => text(s).into(),
        Value::Error(s) => JsNativeError::error()
            .with_message(String::from_utf8_lossy(s).into_owned())
            .into_opaque(ctx)
            .into(),
        Value::Integer(n) => JsValue::from(*n as f64),
        Value::Bulk(None) | Value::Array(None) => JsValue::null(),
        Value::Bulk(Some(b)) => pipy_js::api::data::new_data(Data::from(b.clone()), ctx)?,
        Value::Array(Some(items)) => {
            let a = JsArray::new(ctx)?;
            for i in items {
                let v = to_js(i, ctx)?;
                a.push(v, ctx)?;
            }
            a.into()
        }
    })
}

/// A script value as a RESP value (see the module's notes).
pub fn from_js(v: &JsValue, ctx: &mut Context) -> JsResult<Value> {
    if v.is_null_or_undefined() {
        return Ok(Value::Bulk(None));
    }
    if let Some(s) = v.as_string() {
        return Ok(Value::Simple(Bytes::from(s.to_std_string_escaped())));
    }
    if let Some(n) = v.as_number() {
        return Ok(Value::Integer(n as i64));
    }
    if let Some(d) = pipy_js::api::data::data_of(v) {
        return Ok(Value::Bulk(Some(d.to_bytes())));
    }
    if let Some(o) = v.as_object() {
        if o.is_array() {
            let a = JsArray::from_object(o.clone())?;
            let mut items = Vec::new();
            for i in 0..a.length(ctx)? {
                items.push(from_js(&a.get(i, ctx)?, ctx)?);
            }
            return Ok(Value::Array(Some(items)));
        }
        if o.is::<boa_engine::builtins::error::Error>() {
            let m = o.get(js_string!("message"), ctx)?.to_string(ctx)?;
            return Ok(Value::Error(Bytes::from(m.to_std_string_escaped())));
        }
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    Ok(Value::Simple(Bytes::from(s)))
}

impl Filter for Decode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) => {
                let decoder = &mut self.decoder;
                payload_codec::decode(
                    "decodeRESP",
                    &d,
                    &mut self.steps,
                    |c, steps| decoder.feed(c, steps),
                    to_js,
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

/// Template of `encodeRESP`.
pub struct EncodeTemplate;

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        "encodeRESP"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Encode(PayloadEncoder::new()))
    }
}

struct Encode(PayloadEncoder);

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.0.process("encodeRESP", evt, out, |payload, ctx| {
            let mut buf = Vec::new();
            encode(&from_js(payload, ctx)?, &mut buf);
            Ok(buf)
        });
    }
}
