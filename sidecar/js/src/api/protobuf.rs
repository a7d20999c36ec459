//! `protobuf`: Pipy's schemaless Protocol Buffers codec.
//!
//! There is no `.proto` schema here. A [`WireMessage`] is an ordered map from
//! field number to the raw wire records seen for that field, in arrival order.
//! `protobuf.decode(data)` splits bytes into records (refusing the whole input,
//! with `null`, at the first malformed byte), and `protobuf.encode(msg)` writes
//! the records back in ascending field order. `LEN` payloads are kept verbatim
//! as shared byte slices and only parsed when a getter asks for a nested message
//! or a packed array, so decode does no recursion and at most one record per
//! two input bytes; `encode(decode(x))` reproduces `x` byte for byte whenever
//! `x` lists its fields in order with minimal varints.
//!
//! Scripts reach the values through typed accessors on `protobuf.Message`
//! (`getInt32(n)`, `setStringArray(n, [...])`, ...), which take the field
//! number and interpret the record bits the way the named protobuf type would.
//!
//! The 64-bit getters return a JS number when the value's magnitude is at
//! most 2^53 and a `BigInt` otherwise (upstream returns its `Int` objects),
//! and numeric setters accept either a number or a `BigInt`.
//!
//! Where upstream Pipy deviates from the protobuf standard, this follows the
//! standard instead:
//! - `getBytes` returns the payload as a `Data` (or `null`), not a boolean;
//! - array getters also return unpacked repeated scalars (upstream gives `[]`);
//! - packed `float`/`double` elements are fixed 4/8 bytes, not varints;
//! - a negative `int32` is written as a sign-extended 10-byte varint;
//! - `uint32`/`fixed32` array elements read back unsigned, `uint64`/`fixed64`
//!   ones as unsigned 64-bit values;
//! - `setBoolArray` honours boolean elements (upstream counts them as 0);
//! - `null` where a string, `Data`, `Message` or array is required throws a
//!   `TypeError` (upstream dereferences it);
//! - numbers convert to integers like JS `ToInt32`/`BigInt.asUintN` do:
//!   truncated, wrapped modulo 2^32 or 2^64, NaN and infinities giving 0;
//! - a field whose last record is removed (an empty string, bytes or message
//!   array) reads as absent, so `getWireType` gives `""`.

use crate::api::data::{data_of, new_data};
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsBigInt, JsData, JsError, JsNativeError, JsObject, JsResult, JsValue,
    NativeFunction,
};
use boa_gc::{Finalize, Trace};
use bytes::Bytes;
use pipy_core::Data;
use std::collections::BTreeMap;

/// One wire record: the raw bits of a scalar, or the bytes of a `LEN` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Wire type 0: a varint, as 64 raw bits.
    Varint(u64),
    /// Wire type 5: four little-endian bytes.
    I32(u32),
    /// Wire type 1: eight little-endian bytes.
    I64(u64),
    /// Wire type 2: a length-delimited payload, kept unparsed.
    Len(Bytes),
}

impl Record {
    /// The wire type number written in the tag.
    pub fn wire_type(&self) -> u8 {
        match self {
            Record::Varint(_) => 0,
            Record::I64(_) => 1,
            Record::Len(_) => 2,
            Record::I32(_) => 5,
        }
    }

    /// The wire type's name as `getWireType` reports it.
    pub fn wire_name(&self) -> &'static str {
        match self {
            Record::Varint(_) => "VARINT",
            Record::I64(_) => "I64",
            Record::Len(_) => "LEN",
            Record::I32(_) => "I32",
        }
    }

    /// The scalar bits of the record (0 for a `LEN` record).
    pub fn bits(&self) -> u64 {
        match self {
            Record::Varint(v) | Record::I64(v) => *v,
            Record::I32(v) => u64::from(*v),
            Record::Len(_) => 0,
        }
    }

    /// The payload of a `LEN` record.
    pub fn payload(&self) -> Option<&Bytes> {
        match self {
            Record::Len(b) => Some(b),
            _ => None,
        }
    }
}

/// A cursor over bytes being parsed; every read fails (with `None`) rather
/// than running past the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// A varint of at most 10 bytes; bits beyond the 64th are dropped.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            let shift = 7 * i;
            // At shift 63 only the lowest bit of the group still fits.
            value |= u64::from(b & 0x7f).wrapping_shl(shift);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// The next `n` bytes, as a range into the buffer.
    fn take(&mut self, n: usize) -> Option<std::ops::Range<usize>> {
        let end = self.pos.checked_add(n)?;
        if end > self.buf.len() {
            return None;
        }
        let range = self.pos..end;
        self.pos = end;
        Some(range)
    }

    fn fixed32(&mut self) -> Option<u32> {
        let r = self.take(4)?;
        Some(u32::from_le_bytes(self.buf.get(r)?.try_into().ok()?))
    }

    fn fixed64(&mut self) -> Option<u64> {
        let r = self.take(8)?;
        Some(u64::from_le_bytes(self.buf.get(r)?.try_into().ok()?))
    }

    /// A varint length followed by that many bytes. The length is checked
    /// against what remains before anything is taken, so a huge length costs
    /// nothing.
    fn len_delimited(&mut self) -> Option<std::ops::Range<usize>> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.take(n)
    }
}

/// Appends `v` as a minimal varint.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The byte count of `v` as a minimal varint.
fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// The tag of a field: the number's 32 bits, shifted past the wire type.
fn tag(field: i32, wire: u8) -> u64 {
    (u64::from(field as u32) << 3) | u64::from(wire)
}

/// A protobuf message without a schema: field number to records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WireMessage {
    fields: BTreeMap<i32, Vec<Record>>,
}

impl WireMessage {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `bytes` as a sequence of records; `None` on any malformed
    /// record, an unsupported wire type (groups, 6, 7), or a field that shows
    /// up with two different scalar wire types (upstream also refuses a
    /// scalar mixed with `LEN`, which the protobuf specification allows for
    /// packed and unpacked repeated fields). `LEN` payloads share `bytes`.
    pub fn decode(bytes: &Bytes) -> Option<Self> {
        let mut msg = WireMessage::new();
        let mut r = Reader::new(bytes);
        while !r.at_end() {
            let tag = r.varint()?;
            // Field numbers are not range-checked; they keep their low 32 bits.
            let field = (tag >> 3) as u32 as i32;
            let record = match tag & 7 {
                0 => Record::Varint(r.varint()?),
                1 => Record::I64(r.fixed64()?),
                2 => Record::Len(bytes.slice(r.len_delimited()?)),
                5 => Record::I32(r.fixed32()?),
                _ => return None,
            };
            let list = msg.fields.entry(field).or_default();
            // Packed (LEN) and unpacked records of one repeated scalar may
            // mix (merged messages have both, and parsers must take them);
            // two different scalar wire types may not.
            let clash = |a: &Record, b: &Record| {
                let (x, y) = (a.wire_type(), b.wire_type());
                x != y && !matches!(a, Record::Len(_)) && !matches!(b, Record::Len(_))
            };
            if list.first().is_some_and(|first| clash(first, &record)) {
                return None;
            }
            list.push(record);
        }
        Some(msg)
    }

    /// The wire bytes: fields in ascending order, each field's records in
    /// stored order, tags and varints minimal, payloads verbatim.
    pub fn encode(&self) -> Vec<u8> {
        let mut size = 0;
        for (&field, records) in &self.fields {
            for rec in records {
                size += varint_len(tag(field, rec.wire_type()));
                size += match rec {
                    Record::Varint(v) => varint_len(*v),
                    Record::I32(_) => 4,
                    Record::I64(_) => 8,
                    Record::Len(b) => varint_len(b.len() as u64) + b.len(),
                };
            }
        }
        let mut out = Vec::with_capacity(size);
        for (&field, records) in &self.fields {
            for rec in records {
                put_varint(&mut out, tag(field, rec.wire_type()));
                match rec {
                    Record::Varint(v) => put_varint(&mut out, *v),
                    Record::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
                    Record::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
                    Record::Len(b) => {
                        put_varint(&mut out, b.len() as u64);
                        out.extend_from_slice(b);
                    }
                }
            }
        }
        out
    }

    /// Every record of `field`, in order.
    pub fn records(&self, field: i32) -> &[Record] {
        self.fields.get(&field).map_or(&[], Vec::as_slice)
    }

    /// The last record of `field`, which scalar getters read.
    pub fn last(&self, field: i32) -> Option<&Record> {
        self.records(field).last()
    }

    /// Replaces every record of `field`; no records removes the field.
    pub fn set(&mut self, field: i32, records: Vec<Record>) {
        if records.is_empty() {
            self.fields.remove(&field);
        } else {
            self.fields.insert(field, records);
        }
    }
}

/// The protobuf scalar types the accessors are named after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Double,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
}

/// How a kind sits on the wire: as a varint, or as 4 or 8 fixed bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Varint,
    Fixed4,
    Fixed8,
}

const KINDS: [Kind; 13] = [
    Kind::Float,
    Kind::Double,
    Kind::Int32,
    Kind::Int64,
    Kind::Uint32,
    Kind::Uint64,
    Kind::Sint32,
    Kind::Sint64,
    Kind::Fixed32,
    Kind::Fixed64,
    Kind::Sfixed32,
    Kind::Sfixed64,
    Kind::Bool,
];

/// 2^53: the largest magnitude a JS number holds with every integer exact.
const MAX_SAFE: i128 = 1 << 53;

/// A 64-bit integer for scripts: a number when exact, a `BigInt` otherwise.
fn int64_value(v: i128) -> JsValue {
    if v.abs() <= MAX_SAFE {
        JsValue::from(v as f64)
    } else {
        JsValue::from(JsBigInt::from(v))
    }
}

fn zigzag_decode32(n: u32) -> i32 {
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

fn zigzag_decode64(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn zigzag_encode32(n: i32) -> u32 {
    (n.wrapping_shl(1) ^ (n >> 31)) as u32
}

fn zigzag_encode64(n: i64) -> u64 {
    (n.wrapping_shl(1) ^ (n >> 63)) as u64
}

/// A numeric argument: its wrapped 64-bit integer bits and its float value.
#[derive(Clone, Copy, Debug, Default)]
struct Num {
    bits: u64,
    float: f64,
}

/// A double as an integer modulo 2^64 after truncation, as JS `ToInt32` does
/// modulo 2^32; NaN and infinities give 0.
fn wrap_f64(f: f64) -> u64 {
    if !f.is_finite() {
        return 0;
    }
    // The remainder is exact and below 2^64 in magnitude, so it fits an i128.
    let r = f.trunc() % 18_446_744_073_709_551_616.0;
    (r as i128) as u64
}

impl Num {
    fn from_f64(f: f64) -> Self {
        Num {
            bits: wrap_f64(f),
            float: f,
        }
    }

    /// A number or `BigInt` value; `None` for any other type.
    fn of(v: &JsValue, ctx: &mut Context) -> JsResult<Option<Num>> {
        if let Some(f) = v.as_number() {
            return Ok(Some(Num::from_f64(f)));
        }
        if let Some(b) = v.as_bigint() {
            return Ok(Some(Num {
                bits: v.to_big_uint64(ctx)?,
                float: b.to_f64(),
            }));
        }
        Ok(None)
    }

    fn truthy(self) -> bool {
        self.float != 0.0 && !self.float.is_nan()
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Float => "Float",
            Kind::Double => "Double",
            Kind::Int32 => "Int32",
            Kind::Int64 => "Int64",
            Kind::Uint32 => "Uint32",
            Kind::Uint64 => "Uint64",
            Kind::Sint32 => "Sint32",
            Kind::Sint64 => "Sint64",
            Kind::Fixed32 => "Fixed32",
            Kind::Fixed64 => "Fixed64",
            Kind::Sfixed32 => "Sfixed32",
            Kind::Sfixed64 => "Sfixed64",
            Kind::Bool => "Bool",
        }
    }

    /// Whether upstream has a single-value getter for the kind (the fixed
    /// kinds have only setters and array getters).
    fn has_scalar_getter(self) -> bool {
        !matches!(
            self,
            Kind::Fixed32 | Kind::Fixed64 | Kind::Sfixed32 | Kind::Sfixed64
        )
    }

    fn width(self) -> Width {
        match self {
            Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => Width::Fixed4,
            Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => Width::Fixed8,
            _ => Width::Varint,
        }
    }

    /// The script value of a record's bits read as this kind.
    fn value(self, bits: u64) -> JsValue {
        match self {
            Kind::Float => JsValue::from(f64::from(f32::from_bits(bits as u32))),
            Kind::Double => JsValue::from(f64::from_bits(bits)),
            Kind::Int32 | Kind::Sfixed32 => JsValue::from(bits as u32 as i32),
            Kind::Uint32 | Kind::Fixed32 => JsValue::from(bits as u32),
            Kind::Sint32 => JsValue::from(zigzag_decode32(bits as u32)),
            Kind::Int64 | Kind::Sfixed64 => int64_value(i128::from(bits as i64)),
            Kind::Uint64 | Kind::Fixed64 => int64_value(i128::from(bits)),
            Kind::Sint64 => int64_value(i128::from(zigzag_decode64(bits))),
            Kind::Bool => JsValue::from(bits != 0),
        }
    }

    /// The bits stored for a value of this kind.
    fn bits(self, n: Num) -> u64 {
        match self {
            Kind::Float => u64::from((n.float as f32).to_bits()),
            Kind::Double => n.float.to_bits(),
            // Standard int32: sign-extended to 64 bits.
            Kind::Int32 => n.bits as u32 as i32 as i64 as u64,
            Kind::Int64 | Kind::Uint64 | Kind::Fixed64 | Kind::Sfixed64 => n.bits,
            Kind::Uint32 | Kind::Fixed32 | Kind::Sfixed32 => u64::from(n.bits as u32),
            Kind::Sint32 => u64::from(zigzag_encode32(n.bits as u32 as i32)),
            Kind::Sint64 => zigzag_encode64(n.bits as i64),
            Kind::Bool => u64::from(n.truthy()),
        }
    }

    /// The record holding `bits` for an unpacked value of this kind.
    fn record(self, bits: u64) -> Record {
        match self.width() {
            Width::Varint => Record::Varint(bits),
            Width::Fixed4 => Record::I32(bits as u32),
            Width::Fixed8 => Record::I64(bits),
        }
    }

    /// Appends `bits` as one packed element.
    fn put(self, out: &mut Vec<u8>, bits: u64) {
        match self.width() {
            Width::Varint => put_varint(out, bits),
            Width::Fixed4 => out.extend_from_slice(&(bits as u32).to_le_bytes()),
            Width::Fixed8 => out.extend_from_slice(&bits.to_le_bytes()),
        }
    }

    /// Reads one packed element.
    fn read(self, r: &mut Reader<'_>) -> Option<u64> {
        match self.width() {
            Width::Varint => r.varint(),
            Width::Fixed4 => r.fixed32().map(u64::from),
            Width::Fixed8 => r.fixed64(),
        }
    }
}

/// The Rust side of a script's `protobuf.Message`.
#[derive(Trace, Finalize, JsData, Default)]
pub struct ProtobufMessage {
    /// The records.
    #[unsafe_ignore_trace]
    pub message: WireMessage,
}

/// Wraps a message in a new script `protobuf.Message`.
pub fn new_message(message: WireMessage, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(ProtobufMessage::from_data(ProtobufMessage { message }, ctx)?.into())
}

/// The encoded bytes of a script `protobuf.Message`, if the value is one.
pub fn encoded_message_of(v: &JsValue) -> Option<Vec<u8>> {
    v.as_object()?
        .downcast_ref::<ProtobufMessage>()
        .map(|m| m.message.encode())
}

fn type_error(msg: impl Into<String>) -> JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

fn this_message(this: &JsValue) -> JsResult<JsObject> {
    match this.as_object() {
        Some(o) if o.is::<ProtobufMessage>() => Ok(o.clone()),
        _ => Err(type_error("not a protobuf.Message")),
    }
}

/// Reads the message behind `this`.
fn read<R>(this: &JsValue, f: impl FnOnce(&WireMessage) -> R) -> JsResult<R> {
    let obj = this_message(this)?;
    let m = obj
        .downcast_ref::<ProtobufMessage>()
        .ok_or_else(|| type_error("not a protobuf.Message"))?;
    Ok(f(&m.message))
}

/// Replaces the records of `field` in the message behind `this`; gives `this`.
fn store(this: &JsValue, field: i32, records: Vec<Record>) -> JsResult<JsValue> {
    let obj = this_message(this)?;
    let mut m = obj
        .downcast_mut::<ProtobufMessage>()
        .ok_or_else(|| type_error("not a protobuf.Message"))?;
    m.message.set(field, records);
    Ok(this.clone())
}

/// Argument `i`, or the usual error when fewer than `need` were passed.
fn arg(args: &[JsValue], i: usize, need: usize) -> JsResult<&JsValue> {
    args.get(i)
        .ok_or_else(|| type_error(format!("requires {need} or more arguments")))
}

/// The field number (argument #1): a number or `BigInt`, wrapped to 32 bits.
fn field_arg(args: &[JsValue], need: usize, ctx: &mut Context) -> JsResult<i32> {
    match Num::of(arg(args, 0, need)?, ctx)? {
        Some(n) => Ok(n.bits as u32 as i32),
        None => Err(type_error("argument #1 expects a number")),
    }
}

/// The array in argument #2.
fn array_arg(args: &[JsValue]) -> JsResult<JsArray> {
    let v = arg(args, 1, 2)?;
    match v.as_object() {
        Some(o) if o.is_array() => JsArray::from_object(o.clone()),
        _ => Err(type_error("argument #2 expects an array")),
    }
}

/// The elements of an array, in order.
fn elements(arr: &JsArray, ctx: &mut Context) -> JsResult<Vec<JsValue>> {
    let n = arr.length(ctx)?;
    let mut out = Vec::new();
    for i in 0..n {
        out.push(arr.get(i, ctx)?);
    }
    Ok(out)
}

fn array_of(values: Vec<JsValue>, ctx: &mut Context) -> JsValue {
    JsArray::from_iter(values, ctx).into()
}

fn utf8(bytes: &[u8]) -> JsValue {
    js_string!(String::from_utf8_lossy(bytes).into_owned()).into()
}

fn get_scalar(
    kind: Kind,
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    let bits = read(this, |m| m.last(field).map_or(0, Record::bits))?;
    Ok(kind.value(bits))
}

fn get_array(kind: Kind, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    let values = read(this, |m| {
        let mut values = Vec::new();
        for rec in m.records(field) {
            match rec {
                Record::Len(b) => {
                    let mut r = Reader::new(b);
                    while !r.at_end() {
                        values.push(kind.value(kind.read(&mut r)?));
                    }
                }
                // An unpacked repeated value.
                other => values.push(kind.value(other.bits())),
            }
        }
        Some(values)
    })?;
    Ok(match values {
        Some(v) => array_of(v, ctx),
        None => JsValue::null(),
    })
}

fn set_scalar(
    kind: Kind,
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let field = field_arg(args, 2, ctx)?;
    let v = arg(args, 1, 2)?;
    let n = if kind == Kind::Bool {
        match v.as_boolean() {
            Some(b) => Num::from_f64(f64::from(u8::from(b))),
            None => return Err(type_error("argument #2 expects a boolean")),
        }
    } else {
        Num::of(v, ctx)?.ok_or_else(|| type_error("argument #2 expects a number"))?
    };
    store(this, field, vec![kind.record(kind.bits(n))])
}

fn set_array(kind: Kind, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 2, ctx)?;
    let arr = array_arg(args)?;
    let mut out = Vec::new();
    for v in elements(&arr, ctx)? {
        let n = match v.as_boolean() {
            Some(b) if kind == Kind::Bool => Num::from_f64(f64::from(u8::from(b))),
            _ => Num::of(&v, ctx)?.unwrap_or_default(),
        };
        kind.put(&mut out, kind.bits(n));
    }
    store(this, field, vec![Record::Len(Bytes::from(out))])
}

/// `getString(n)`: the last `LEN` record as UTF-8 text, else undefined.
fn get_string(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    read(this, |m| {
        m.last(field)
            .and_then(Record::payload)
            .map_or_else(JsValue::undefined, |b| utf8(b))
    })
}

/// `getBytes(n)`: the last `LEN` record as `Data`, else null.
fn get_bytes(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    match read(this, |m| m.last(field).and_then(Record::payload).cloned())? {
        Some(b) => new_data(Data::from(b), ctx),
        None => Ok(JsValue::null()),
    }
}

/// `getMessage(n)`: the last `LEN` record decoded, else null.
fn get_message(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    let decoded = read(this, |m| {
        m.last(field)
            .and_then(Record::payload)
            .and_then(WireMessage::decode)
    })?;
    match decoded {
        Some(msg) => new_message(msg, ctx),
        None => Ok(JsValue::null()),
    }
}

fn get_string_array(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    let values = read(this, |m| {
        m.records(field)
            .iter()
            .map(|r| {
                r.payload()
                    .map_or_else(|| js_string!("").into(), |b| utf8(b))
            })
            .collect::<Vec<_>>()
    })?;
    Ok(array_of(values, ctx))
}

fn get_bytes_array(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    let payloads = read(this, |m| {
        m.records(field)
            .iter()
            .map(|r| r.payload().cloned().unwrap_or_default())
            .collect::<Vec<_>>()
    })?;
    let mut values = Vec::with_capacity(payloads.len());
    for b in payloads {
        values.push(new_data(Data::from(b), ctx)?);
    }
    Ok(array_of(values, ctx))
}

/// `getMessageArray(n)`: every record decoded; null if any is not a `LEN`
/// record holding a well-formed message.
fn get_message_array(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    let decoded = read(this, |m| {
        m.records(field)
            .iter()
            .map(|r| r.payload().and_then(WireMessage::decode))
            .collect::<Option<Vec<_>>>()
    })?;
    let Some(messages) = decoded else {
        return Ok(JsValue::null());
    };
    let mut values = Vec::with_capacity(messages.len());
    for msg in messages {
        values.push(new_message(msg, ctx)?);
    }
    Ok(array_of(values, ctx))
}

fn set_string(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 2, ctx)?;
    let s = arg(args, 1, 2)?
        .as_string()
        .ok_or_else(|| type_error("argument #2 expects a string"))?;
    let bytes = Bytes::from(s.to_std_string_lossy());
    store(this, field, vec![Record::Len(bytes)])
}

fn set_bytes(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 2, ctx)?;
    let d = data_of(arg(args, 1, 2)?)
        .ok_or_else(|| type_error("argument #2 expects an instance of Data"))?;
    store(this, field, vec![Record::Len(d.to_bytes())])
}

/// `setMessage(n, m)`: stores `m` as encoded now; later changes to `m` are
/// not seen.
fn set_message(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 2, ctx)?;
    let bytes = encoded_message_of(arg(args, 1, 2)?)
        .ok_or_else(|| type_error("argument #2 expects an instance of protobuf.Message"))?;
    store(this, field, vec![Record::Len(Bytes::from(bytes))])
}

fn set_string_array(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 2, ctx)?;
    let arr = array_arg(args)?;
    let mut records = Vec::new();
    for v in elements(&arr, ctx)? {
        let s = v.to_string(ctx)?.to_std_string_lossy();
        records.push(Record::Len(Bytes::from(s)));
    }
    store(this, field, records)
}

fn set_bytes_array(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 2, ctx)?;
    let arr = array_arg(args)?;
    let records = elements(&arr, ctx)?
        .iter()
        .map(|v| Record::Len(data_of(v).map(|d| d.to_bytes()).unwrap_or_default()))
        .collect();
    store(this, field, records)
}

fn set_message_array(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 2, ctx)?;
    let arr = array_arg(args)?;
    let records = elements(&arr, ctx)?
        .iter()
        .map(|v| Record::Len(encoded_message_of(v).map(Bytes::from).unwrap_or_default()))
        .collect();
    store(this, field, records)
}

fn get_wire_type(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let field = field_arg(args, 1, ctx)?;
    let name = read(this, |m| m.last(field).map_or("", Record::wire_name))?;
    Ok(js_string!(name).into())
}

impl Class for ProtobufMessage {
    const NAME: &'static str = "Message";
    const LENGTH: usize = 0;

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Ok(ProtobufMessage::default())
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        for kind in KINDS {
            let name = kind.name();
            if kind.has_scalar_getter() {
                class.method(
                    js_string!(format!("get{name}")),
                    1,
                    NativeFunction::from_copy_closure(move |t, a, c| get_scalar(kind, t, a, c)),
                );
            }
            class.method(
                js_string!(format!("get{name}Array")),
                1,
                NativeFunction::from_copy_closure(move |t, a, c| get_array(kind, t, a, c)),
            );
            class.method(
                js_string!(format!("set{name}")),
                2,
                NativeFunction::from_copy_closure(move |t, a, c| set_scalar(kind, t, a, c)),
            );
            class.method(
                js_string!(format!("set{name}Array")),
                2,
                NativeFunction::from_copy_closure(move |t, a, c| set_array(kind, t, a, c)),
            );
        }
        type Method = fn(&JsValue, &[JsValue], &mut Context) -> JsResult<JsValue>;
        let others: [(&str, usize, Method); 13] = [
            ("getWireType", 1, get_wire_type),
            ("getString", 1, get_string),
            ("getBytes", 1, get_bytes),
            ("getMessage", 1, get_message),
            ("getStringArray", 1, get_string_array),
            ("getBytesArray", 1, get_bytes_array),
            ("getMessageArray", 1, get_message_array),
            ("setString", 2, set_string),
            ("setBytes", 2, set_bytes),
            ("setMessage", 2, set_message),
            ("setStringArray", 2, set_string_array),
            ("setBytesArray", 2, set_bytes_array),
            ("setMessageArray", 2, set_message_array),
        ];
        for (name, length, f) in others {
            class.method(js_string!(name), length, NativeFunction::from_fn_ptr(f));
        }
        Ok(())
    }
}

/// `protobuf.decode(data)`: a `Message`, or null for null or malformed bytes.
fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = arg(args, 0, 1)?;
    if v.is_null() {
        return Ok(JsValue::null());
    }
    let data = data_of(v).ok_or_else(|| type_error("argument #1 expects an instance of Data"))?;
    match WireMessage::decode(&data.to_bytes()) {
        Some(msg) => new_message(msg, ctx),
        None => Ok(JsValue::null()),
    }
}

/// `protobuf.encode(message)`: the message's bytes as `Data`; null for null.
fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = arg(args, 0, 1)?;
    if v.is_null() {
        return Ok(JsValue::null());
    }
    let bytes = encoded_message_of(v)
        .ok_or_else(|| type_error("argument #1 expects an instance of protobuf.Message"))?;
    new_data(Data::from(bytes), ctx)
}

/// Installs the global `protobuf` with `decode`, `encode` and `Message`.
///
/// The class is registered with the realm directly rather than as a global,
/// which would replace the `Message` event class.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let mut builder = ClassBuilder::new::<ProtobufMessage>(ctx);
    ProtobufMessage::init(&mut builder)?;
    let class = builder.build();
    let ctor = class.constructor();
    ctx.realm().register_class::<ProtobufMessage>(class);
    let protobuf = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .property(js_string!("Message"), ctor, Attribute::all())
        .build();
    ctx.register_global_property(js_string!("protobuf"), protobuf, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run;

    /// Runs a function body on a fresh engine and gives `String(result)`.
    fn js(body: &str) -> String {
        run(&format!("(() => {{ {body} }})()"))
    }

    /// Hex of `protobuf.encode` of the message built by `expr`.
    fn hex_of(expr: &str) -> String {
        js(&format!("return protobuf.encode({expr}).toString('hex')"))
    }

    /// `getter` applied to the message decoded from `hex`.
    fn from_hex(hex: &str, getter: &str) -> String {
        js(&format!(
            "const m = protobuf.decode(new Data('{hex}', 'hex')); return {getter}"
        ))
    }

    fn decoded(hex: &str) -> Option<WireMessage> {
        let bytes = Bytes::from(hex::decode(hex).expect("test hex"));
        WireMessage::decode(&bytes)
    }

    const ADDRESS_BOOK: &str = "
        const phone = (n, t) => new protobuf.Message().setString(1, n).setInt32(2, t);
        const person = (name, id, email, phones) => new protobuf.Message()
            .setString(1, name).setInt32(2, id).setString(3, email)
            .setMessageArray(4, phones);
        const book = new protobuf.Message().setMessageArray(1, [
            person('Pipy', 12345678, 'pipy@flomesh.io',
                [phone('86-21-88888888', 2), phone('86-21-66666666', 1)]),
            person('Pajama Coder', 87654321, 'pajamacoder@flomesh.io',
                [phone('86-21-66668888', 1), phone('86-21-88886666', 2)]),
        ]);
        const data = protobuf.encode(book);
    ";

    #[test]
    fn address_book_round_trip() {
        let layout = js(&format!(
            "{ADDRESS_BOOK}
            const hex = data.toString('hex');
            return [data.size, hex.slice(0, 4), hex.slice(2 * 70, 2 * 72)].join(' ')"
        ));
        assert_eq!(layout, "155 0a44 0a53");
        let read_back = js(&format!(
            "{ADDRESS_BOOK}
            const d = protobuf.decode(data);
            const people = d.getMessageArray(1);
            const out = [d.getWireType(1), people.length];
            for (const p of people) {{
                out.push(p.getString(1), p.getInt32(2), p.getString(3));
                for (const ph of p.getMessageArray(4)) out.push(ph.getString(1), ph.getInt32(2));
            }}
            out.push(protobuf.encode(d).toString('hex') === data.toString('hex'));
            return out.join('|')"
        ));
        assert_eq!(
            read_back,
            "LEN|2|Pipy|12345678|pipy@flomesh.io|86-21-88888888|2|86-21-66666666|1|\
             Pajama Coder|87654321|pajamacoder@flomesh.io|86-21-66668888|1|86-21-88886666|2|true"
        );
    }

    #[test]
    fn decode_keeps_payloads_verbatim() {
        // Nested content out of order and with an overlong varint survives,
        // because only the top level is re-encoded.
        let hex = "0a07100210010880001001";
        let m = decoded(hex).expect("well-formed");
        assert_eq!(hex::encode(m.encode()), hex);
        assert_eq!(
            from_hex(hex, "m.getMessage(1).getInt32Array(2).join(',')"),
            "2,1"
        );
    }

    #[test]
    fn malformed_inputs_give_null() {
        for hex in [
            "08",                       // tag without value
            "0880",                     // truncated value varint
            "80",                       // truncated tag
            "08ffffffffffffffffffff01", // varint of 11 bytes
            "0e00",                     // wire type 6
            "0f00",                     // wire type 7
            "0b0c",                     // group (wire type 3)
            "0c",                       // group end (wire type 4)
            "0a0501",                   // length past the end
            "0affffffffffffffff7f",     // length of 2^63 - 1
            "0affffffffffffffffff01",   // length of 2^64 - 1
            "0d010203",                 // short I32
            "09010203040506",           // short I64
            "08010d00000000",           // VARINT then I32 for one field
            "080180",                   // trailing garbage
        ] {
            assert_eq!(decoded(hex), None, "{hex}");
            assert_eq!(from_hex(hex, "m"), "null", "{hex}");
        }
        assert_eq!(from_hex("", "protobuf.encode(m).size"), "0");
        assert_eq!(from_hex("", "m.getWireType(1)"), "");
        // Unpacked and packed records of one repeated field mix.
        assert_eq!(
            from_hex("08010a020203", "m.getInt32Array(1).join()"),
            "1,2,3"
        );
        // A field number of 0 and a ten-byte varint are accepted.
        assert!(decoded("0001").is_some());
        assert_eq!(
            from_hex("08ffffffffffffffffff01", "m.getUint64(1)"),
            "18446744073709551615"
        );
    }

    #[test]
    fn bad_nested_content_shows_up_in_getters() {
        // Field 1 holds a LEN payload `80` that is neither a message nor a
        // packed varint run.
        assert_eq!(from_hex("0a0180", "m.getMessage(1)"), "null");
        assert_eq!(from_hex("0a0180", "m.getMessageArray(1)"), "null");
        assert_eq!(from_hex("0a0180", "m.getInt32Array(1)"), "null");
        assert_eq!(from_hex("0a03010203", "m.getFixed32Array(1)"), "null");
        assert_eq!(from_hex("0801", "m.getMessage(1)"), "null");
    }

    #[test]
    fn argument_types_are_checked() {
        assert_eq!(js("return protobuf.decode(null)"), "null");
        assert_eq!(js("return protobuf.encode(null)"), "null");
        for call in [
            "protobuf.decode()",
            "protobuf.decode(undefined)",
            "protobuf.decode('0801')",
            "protobuf.encode({})",
            "protobuf.encode(undefined)",
            "new protobuf.Message().getInt32()",
            "new protobuf.Message().getInt32('1')",
            "new protobuf.Message().setInt32(1)",
            "new protobuf.Message().setInt32(1, '2')",
            "new protobuf.Message().setBool(1, 1)",
            "new protobuf.Message().setString(1, null)",
            "new protobuf.Message().setString(1, 5)",
            "new protobuf.Message().setBytes(1, null)",
            "new protobuf.Message().setMessage(1, null)",
            "new protobuf.Message().setMessage(1, {})",
            "new protobuf.Message().setInt32Array(1, null)",
            "new protobuf.Message().setStringArray(1, 'ab')",
            "protobuf.Message.prototype.getInt32.call({}, 1)",
        ] {
            let out = js(&format!("return {call}"));
            assert!(out.starts_with("!TypeError"), "{call}: {out}");
        }
        assert_eq!(
            js("return JSON.stringify(new protobuf.Message(1, 2))"),
            "{}"
        );
        // The event class `Message` is untouched.
        assert_eq!(js("return Message === protobuf.Message"), "false");
        assert_eq!(
            js("return protobuf.decode(new Data()) instanceof protobuf.Message"),
            "true"
        );
    }

    #[test]
    fn getters_of_every_kind() {
        let m = "new protobuf.Message()";
        let get = |set: &str, get: &str| js(&format!("return {m}.{set}.{get}"));
        assert_eq!(get("setFloat(1, 1.5)", "getFloat(1)"), "1.5");
        assert_eq!(get("setDouble(1, -0.1)", "getDouble(1)"), "-0.1");
        assert_eq!(get("setInt32(1, -7)", "getInt32(1)"), "-7");
        assert_eq!(get("setUint32(1, -1)", "getUint32(1)"), "4294967295");
        assert_eq!(get("setSint32(1, -9)", "getSint32(1)"), "-9");
        assert_eq!(get("setInt64(1, -5)", "getInt64(1)"), "-5");
        assert_eq!(
            get("setUint64(1, 2 ** 40)", "getUint64(1)"),
            "1099511627776"
        );
        assert_eq!(get("setSint64(1, -3)", "getSint64(1)"), "-3");
        assert_eq!(get("setBool(1, true)", "getBool(1)"), "true");
        assert_eq!(get("setBool(1, false)", "getBool(1)"), "false");
        assert_eq!(get("setFixed32(1, -1)", "getUint32(1)"), "4294967295");
        assert_eq!(get("setSfixed32(1, -2)", "getInt32(1)"), "-2");
        assert_eq!(get("setFixed64(1, 7)", "getUint64(1)"), "7");
        assert_eq!(get("setSfixed64(1, -8)", "getInt64(1)"), "-8");
        assert_eq!(get("setString(1, 'héllo')", "getString(1)"), "héllo");
        assert_eq!(
            get("setBytes(1, new Data([1, 2]))", "getBytes(1).toArray()"),
            "1,2"
        );
        assert_eq!(
            get(
                "setMessage(1, new protobuf.Message().setInt32(2, 3))",
                "getMessage(1).getInt32(2)"
            ),
            "3"
        );
        // Absent fields and the wrong wire type.
        assert_eq!(get("setInt32(1, 1)", "getInt32(2)"), "0");
        assert_eq!(get("setInt32(1, 1)", "getInt64(2)"), "0");
        assert_eq!(get("setInt32(1, 1)", "getString(1)"), "undefined");
        assert_eq!(get("setInt32(1, 1)", "getBytes(1)"), "null");
        assert_eq!(get("setInt32(1, 1)", "getMessage(2)"), "null");
        assert_eq!(get("setString(1, 'x')", "getInt32(1)"), "0");
        // Setters replace the field and scalar getters read the last record.
        assert_eq!(
            get("setInt32(1, 1).setInt32(1, 2)", "getInt32Array(1)"),
            "2"
        );
        assert_eq!(from_hex("08010802", "m.getInt32(1)"), "2");
        // Wire types.
        for (set, wire) in [
            ("setInt32(1, 1)", "VARINT"),
            ("setFloat(1, 1)", "I32"),
            ("setDouble(1, 1)", "I64"),
            ("setString(1, '')", "LEN"),
            ("setInt32Array(1, [1])", "LEN"),
            ("setStringArray(1, [])", ""),
            ("setInt32(2, 1)", ""),
        ] {
            assert_eq!(get(set, "getWireType(1)"), wire, "{set}");
        }
        // Setting a message is a snapshot.
        assert_eq!(
            js("const a = new protobuf.Message().setInt32(1, 1);
                const b = new protobuf.Message().setMessage(1, a);
                a.setInt32(1, 2);
                return b.getMessage(1).getInt32(1)"),
            "1"
        );
        assert_eq!(
            js("const a = new protobuf.Message().setInt32(1, 1);
                a.setMessage(2, a);
                return protobuf.encode(a).toString('hex')"),
            "080112020801"
        );
    }

    #[test]
    fn string_bytes_and_message_arrays() {
        assert_eq!(
            hex_of("new protobuf.Message().setStringArray(1, ['a', 2, null])"),
            "0a01610a01320a046e756c6c"
        );
        assert_eq!(
            js(
                "const m = new protobuf.Message().setStringArray(1, ['a', 'bc']);
                return JSON.stringify(m.getStringArray(1))"
            ),
            r#"["a","bc"]"#
        );
        assert_eq!(
            js("const m = new protobuf.Message()
                    .setBytesArray(1, [new Data([1]), 'x', new Data([2, 3])]);
                return m.getBytesArray(1).map(d => d.toString('hex')).join('|')"),
            "01||0203"
        );
        assert_eq!(
            js("const m = new protobuf.Message().setMessageArray(1, [
                    new protobuf.Message().setInt32(1, 5), {}]);
                return m.getMessageArray(1).map(x => x.getInt32(1)).join('|')"),
            "5|0"
        );
        assert_eq!(
            from_hex("0801", "JSON.stringify(m.getStringArray(1))"),
            r#"[""]"#
        );
        assert_eq!(from_hex("0801", "m.getBytesArray(1)[0].size"), "0");
        assert_eq!(from_hex("0801", "m.getMessageArray(1)"), "null");
        assert_eq!(hex_of("new protobuf.Message().setBytesArray(1, [])"), "");
    }

    #[test]
    fn packed_arrays() {
        assert_eq!(
            hex_of("new protobuf.Message().setInt32Array(4, [3, 270, 86942])"),
            "2206038e029ea705"
        );
        assert_eq!(
            hex_of("new protobuf.Message().setInt32Array(1, [])"),
            "0a00"
        );
        // Floats and doubles pack as fixed 4 and 8 bytes.
        assert_eq!(
            hex_of("new protobuf.Message().setFloatArray(1, [1.5, -2])"),
            "0a080000c03f000000c0"
        );
        assert_eq!(
            hex_of("new protobuf.Message().setDoubleArray(1, [1.5])"),
            "0a08000000000000f83f"
        );
        assert_eq!(
            hex_of("new protobuf.Message().setFixed32Array(1, [1, -1])"),
            "0a0801000000ffffffff"
        );
        assert_eq!(
            hex_of("new protobuf.Message().setBoolArray(1, [true, 0, 2, 'x', false])"),
            "0a050100010000"
        );
        assert_eq!(
            hex_of("new protobuf.Message().setSint32Array(1, [0, -1, 1, -2])"),
            "0a0400010203"
        );
        for (kind, values) in [
            ("Float", "[1.5,-2,0.25]"),
            ("Double", "[1.5,-0.1,1e+300]"),
            ("Int32", "[0,-1,2147483647,-2147483648]"),
            ("Int64", "[0,-1,9007199254740992,-9007199254740992]"),
            ("Uint32", "[0,4294967295,7]"),
            ("Uint64", "[0,9007199254740992]"),
            ("Sint32", "[0,-1,1,-2147483648]"),
            ("Sint64", "[0,-1,1,-9007199254740992]"),
            ("Fixed32", "[0,4294967295]"),
            ("Fixed64", "[0,1,9007199254740992]"),
            ("Sfixed32", "[-1,1]"),
            ("Sfixed64", "[-1,1]"),
            ("Bool", "[true,false,true]"),
        ] {
            let out = js(&format!(
                "const m = new protobuf.Message().set{kind}Array(3, {values});
                 const d = protobuf.decode(protobuf.encode(m));
                 return JSON.stringify(d.get{kind}Array(3))"
            ));
            assert_eq!(out, values, "{kind}");
        }
        // Unpacked repeated scalars are read by array getters too.
        assert_eq!(
            from_hex("080108020803", "m.getInt32Array(1).join()"),
            "1,2,3"
        );
        assert_eq!(
            from_hex("0d0000c03f0d000000c0", "m.getFloatArray(1).join()"),
            "1.5,-2"
        );
        assert_eq!(from_hex("0801", "m.getBoolArray(1).join()"), "true");
        assert_eq!(from_hex("", "m.getInt32Array(1).length"), "0");
    }

    #[test]
    fn negative_int32_is_a_ten_byte_varint() {
        assert_eq!(
            hex_of("new protobuf.Message().setInt32(1, -1)"),
            "08ffffffffffffffffff01"
        );
        assert_eq!(
            hex_of("new protobuf.Message().setInt32Array(1, [-2])"),
            "0a0afeffffffffffffffff01"
        );
        assert_eq!(
            from_hex(
                "08ffffffffffffffffff01",
                "m.getInt32(1) + ',' + m.getInt64(1)"
            ),
            "-1,-1"
        );
        // The non-standard 5-byte form still reads back as -1.
        assert_eq!(from_hex("08ffffffff0f", "m.getInt32(1)"), "-1");
    }

    #[test]
    fn sint_zigzag() {
        for (v, hex) in [("0", "0800"), ("-1", "0801"), ("1", "0802"), ("-2", "0803")] {
            assert_eq!(
                hex_of(&format!("new protobuf.Message().setSint32(1, {v})")),
                hex
            );
            assert_eq!(
                hex_of(&format!("new protobuf.Message().setSint64(1, {v})")),
                hex
            );
            assert_eq!(from_hex(hex, "m.getSint32(1)"), v);
            assert_eq!(from_hex(hex, "m.getSint64(1)"), v);
        }
        assert_eq!(
            hex_of("new protobuf.Message().setSint32(1, 2147483647)"),
            "08feffffff0f"
        );
        assert_eq!(
            hex_of("new protobuf.Message().setSint32(1, -2147483648)"),
            "08ffffffff0f"
        );
        assert_eq!(from_hex("08ffffffff0f", "m.getSint32(1)"), "-2147483648");
        assert_eq!(
            from_hex("08ffffffffffffffffff01", "m.getSint64(1)"),
            "-9223372036854775808"
        );
    }

    #[test]
    fn float_and_double() {
        assert_eq!(
            hex_of("new protobuf.Message().setFloat(1, 1.5)"),
            "0d0000c03f"
        );
        assert_eq!(
            hex_of("new protobuf.Message().setDouble(2, 1.5)"),
            "11000000000000f83f"
        );
        assert_eq!(from_hex("0d0000c03f", "m.getFloat(1)"), "1.5");
        assert_eq!(from_hex("11000000000000f83f", "m.getDouble(2)"), "1.5");
        // Float rounds to single precision; out-of-range values become infinite.
        assert_eq!(
            js("return new protobuf.Message().setFloat(1, 0.1).getFloat(1) === Math.fround(0.1)"),
            "true"
        );
        assert_eq!(
            js("return new protobuf.Message().setFloat(1, 1e300).getFloat(1)"),
            "Infinity"
        );
        assert_eq!(
            js("return new protobuf.Message().setDouble(1, NaN).getDouble(1)"),
            "NaN"
        );
    }

    #[test]
    fn sixty_four_bit_values_and_conversions() {
        let get = |set: &str, get: &str| js(&format!("return new protobuf.Message().{set}.{get}"));
        assert_eq!(
            get("setUint64(1, 2n ** 64n - 1n)", "getUint64(1)"),
            "18446744073709551615"
        );
        assert_eq!(get("setUint64(1, 2n ** 64n - 1n)", "getInt64(1)"), "-1");
        assert_eq!(
            get("setInt64(1, -(2n ** 63n))", "getInt64(1)"),
            "-9223372036854775808"
        );
        assert_eq!(
            get("setInt64(1, 2n ** 53n + 1n)", "getInt64(1)"),
            "9007199254740993"
        );
        let type_of = |v: &str| {
            js(&format!(
                "return typeof new protobuf.Message().setInt64(1, {v}).getInt64(1)"
            ))
        };
        assert_eq!(type_of("2n ** 53n + 1n"), "bigint");
        assert_eq!(type_of("-(2n ** 53n) - 1n"), "bigint");
        assert_eq!(type_of("2n ** 53n"), "number");
        assert_eq!(type_of("-(2 ** 53)"), "number");
        // Numbers wrap like ToInt32; NaN and infinities give 0; fractions truncate.
        assert_eq!(get("setInt32(1, 2 ** 32 + 5)", "getInt32(1)"), "5");
        assert_eq!(get("setInt32(1, 2 ** 31)", "getInt32(1)"), "-2147483648");
        assert_eq!(get("setInt32(1, NaN)", "getInt32(1)"), "0");
        assert_eq!(get("setInt64(1, Infinity)", "getInt64(1)"), "0");
        assert_eq!(get("setInt64(1, -1e300)", "getInt64(1)"), "0");
        assert_eq!(get("setInt32(1, -3.9)", "getInt32(1)"), "-3");
        assert_eq!(get("setUint64(1, 2 ** 64 + 4096)", "getUint64(1)"), "4096");
        assert_eq!(get("setUint32(1, 5n)", "getUint32(1)"), "5");
        assert_eq!(get("setBool(2 ** 32 + 1, true)", "getBool(1)"), "true");
        assert_eq!(get("setInt32(1n, 4)", "getInt32(1)"), "4");
    }

    #[test]
    fn encode_writes_fields_in_ascending_order() {
        assert_eq!(
            hex_of("new protobuf.Message().setInt32(3, 3).setInt32(1, 1).setInt32(2, 2)"),
            "080110021803"
        );
        // Out-of-order input comes back sorted, stable within a field; overlong
        // varints are shortened.
        assert_eq!(
            from_hex(
                "1803100108041005088000",
                "protobuf.encode(m).toString('hex')"
            ),
            "08040800100110051803"
        );
        let m = decoded("1803100108041005").expect("well-formed");
        assert_eq!(hex::encode(m.encode()), "0804100110051803");
        let m = decoded("088000").expect("well-formed");
        assert_eq!(hex::encode(m.encode()), "0800");
        // Large and negative field numbers.
        let m = decoded("f8ffffff7f01").expect("well-formed");
        assert_eq!(m.records(-1), &[Record::Varint(1)]);
        assert_eq!(hex::encode(m.encode()), "f8ffffff7f01");
        let m = decoded("f8ffffff0f01").expect("well-formed");
        assert_eq!(m.records((1 << 29) - 1), &[Record::Varint(1)]);
    }

    #[test]
    fn varint_helpers() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            assert_eq!(Reader::new(&out).varint(), Some(v));
        }
        // Bits beyond the 64th are dropped.
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(r.varint(), Some(u64::MAX));
        assert_eq!(wrap_f64(-1.0), u64::MAX);
        assert_eq!(wrap_f64(-3.0), u64::MAX - 2);
        assert_eq!(wrap_f64(f64::NAN), 0);
        assert_eq!(wrap_f64(1e20), (1e20 as u128 % (1u128 << 64)) as u64);
    }
}
