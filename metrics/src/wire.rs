//! The `metrics` object of a status report (spec §7.2).
//!
//! A full report is `{"version":0,"roots":[…]}` where every series is keyed:
//! `{"k":name,"t":type,"l":labels,"v":value,"s":[…]}` at the top and
//! `{"k":label value,"v":value,"s":[…]}` below. After the repo answered `206`,
//! the worker may send an incremental report
//! `{"version":<now ms>,"last":<previous version>,"roots":[…]}` in which a
//! series already sent is reduced to `{"v":…,"s":[…]}`, or to its bare value
//! when it has no sub-series; series are matched by position. New series are
//! appended, keyed. Any other change of structure needs a full report.

use crate::model::{dimensions_of, json_number, Entry, MetricData, Node, MAX_DIMENSIONS};
use serde_json::{Map, Value};
use std::fmt;

/// Why a `metrics` object was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not in the shape of metric data.
    Invalid(&'static str),
    /// An incremental report whose `last` is not the version known here.
    UnknownBase,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Invalid(why) => write!(f, "invalid metric data: {why}"),
            DecodeError::UnknownBase => f.write_str("incremental metrics on an unknown version"),
        }
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

/// A decoded `metrics` object.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The full state after applying the report.
    pub data: MetricData,
    /// The report's `version`, the base of the next incremental report.
    pub version: u64,
    /// Whether it was incremental.
    pub incremental: bool,
}

fn values_json(values: &[f64]) -> Value {
    match values {
        [v] => json_number(*v),
        vs => Value::Array(vs.iter().map(|v| json_number(*v)).collect()),
    }
}

fn keyed_node(n: &Node) -> Value {
    let mut o = Map::new();
    o.insert("k".into(), Value::from(n.key.as_str()));
    o.insert("v".into(), values_json(&n.values));
    if !n.subs.is_empty() {
        o.insert("s".into(), n.subs.iter().map(keyed_node).collect());
    }
    Value::Object(o)
}

fn keyed_entry(e: &Entry) -> Value {
    let mut o = Map::new();
    o.insert("k".into(), Value::from(e.name.as_str()));
    o.insert("t".into(), Value::from(e.kind.as_str()));
    o.insert("l".into(), Value::from(e.shape.as_str()));
    o.insert("v".into(), values_json(&e.root.values));
    if !e.root.subs.is_empty() {
        o.insert("s".into(), e.root.subs.iter().map(keyed_node).collect());
    }
    Value::Object(o)
}

/// `cur` reduced against `prev`; `None` when its sub-series are not those of
/// `prev` (same keys, same order) followed by new ones.
fn reduced_node(prev: &Node, cur: &Node) -> Option<Value> {
    if prev.subs.len() > cur.subs.len()
        || prev.subs.iter().zip(&cur.subs).any(|(p, c)| p.key != c.key)
    {
        return None;
    }
    if cur.subs.is_empty() {
        return Some(values_json(&cur.values));
    }
    let mut subs = Vec::with_capacity(cur.subs.len());
    for (i, c) in cur.subs.iter().enumerate() {
        subs.push(match prev.subs.get(i) {
            Some(p) => reduced_node(p, c)?,
            None => keyed_node(c),
        });
    }
    let mut o = Map::new();
    o.insert("v".into(), values_json(&cur.values));
    o.insert("s".into(), Value::Array(subs));
    Some(Value::Object(o))
}

/// A full report of `data`.
pub fn encode_full(data: &MetricData) -> Value {
    let mut o = Map::new();
    o.insert("version".into(), Value::from(0));
    o.insert(
        "roots".into(),
        data.entries.iter().map(keyed_entry).collect(),
    );
    Value::Object(o)
}

/// An incremental report of `cur` on top of `prev` (sent as version `last`);
/// `None` when the structure changed other than by appending series.
pub fn encode_incremental(
    prev: &MetricData,
    cur: &MetricData,
    version: u64,
    last: u64,
) -> Option<Value> {
    if prev.entries.len() > cur.entries.len() {
        return None;
    }
    let mut roots = Vec::with_capacity(cur.entries.len());
    for (i, c) in cur.entries.iter().enumerate() {
        roots.push(match prev.entries.get(i) {
            Some(p) if p.name == c.name && p.kind == c.kind && p.shape == c.shape => {
                reduced_node(&p.root, &c.root)?
            }
            Some(_) => return None,
            None => keyed_entry(c),
        });
    }
    let mut o = Map::new();
    o.insert("version".into(), Value::from(version));
    o.insert("last".into(), Value::from(last));
    o.insert("roots".into(), Value::Array(roots));
    Some(Value::Object(o))
}

fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

fn decode_values(v: &Value, dims: usize) -> Result<Vec<f64>> {
    let invalid = DecodeError::Invalid("bad value");
    match v {
        Value::Number(n) if dims == 1 => Ok(vec![n.as_f64().ok_or(invalid)?]),
        Value::Array(a) if dims > 1 && a.len() <= dims => {
            let mut out = vec![0.0; dims];
            for (slot, x) in out.iter_mut().zip(a) {
                *slot = x.as_f64().ok_or(DecodeError::Invalid("bad value"))?;
            }
            Ok(out)
        }
        _ => Err(invalid),
    }
}

/// Decodes one series; `prev` is the series at the same position before, the
/// base of a reduced series.
fn decode_node(v: &Value, prev: Option<&Node>, dims: usize) -> Result<Node> {
    let Value::Object(o) = v else {
        let base = prev.ok_or(DecodeError::Invalid("value of an unknown series"))?;
        return Ok(Node {
            key: base.key.clone(),
            values: decode_values(v, dims)?,
            subs: base.subs.clone(),
        });
    };
    // A keyed series is new: its sub-series have no base.
    let (key, base) = match o.get("k") {
        Some(k) => (
            k.as_str()
                .ok_or(DecodeError::Invalid("key is not a string"))?
                .to_owned(),
            None,
        ),
        None => {
            let base = prev.ok_or(DecodeError::Invalid("reduced unknown series"))?;
            (base.key.clone(), Some(base))
        }
    };
    decode_body(o, key, base, dims)
}

fn decode_body(
    o: &Map<String, Value>,
    key: String,
    base: Option<&Node>,
    dims: usize,
) -> Result<Node> {
    let values = match o.get("v") {
        Some(v) => decode_values(v, dims)?,
        None => base.map_or_else(|| vec![0.0; dims], |b| b.values.clone()),
    };
    let subs = match o.get("s") {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| decode_node(s, base.and_then(|b| b.subs.get(i)), dims))
            .collect::<Result<Vec<_>>>()?,
        Some(_) => return Err(DecodeError::Invalid("sub-series are not a list")),
        None => base.map(|b| b.subs.clone()).unwrap_or_default(),
    };
    Ok(Node { key, values, subs })
}

fn decode_entry(v: &Value, prev: Option<&Entry>) -> Result<Entry> {
    if let Value::Object(o) = v {
        if let Some(k) = o.get("k") {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            let name = text(Some(k)).ok_or(DecodeError::Invalid("name is not a string"))?;
            let kind = text(o.get("t")).ok_or(DecodeError::Invalid("no type"))?;
            let shape = text(o.get("l")).unwrap_or_default();
            let dims = dimensions_of(&kind);
            if dims > MAX_DIMENSIONS {
                return Err(DecodeError::Invalid("too many buckets"));
            }
            let root = decode_body(o, String::new(), None, dims)?;
            return Ok(Entry {
                name,
                kind,
                shape,
                root,
            });
        }
    }
    let prev = prev.ok_or(DecodeError::Invalid("reduced unknown metric"))?;
    Ok(Entry {
        name: prev.name.clone(),
        kind: prev.kind.clone(),
        shape: prev.shape.clone(),
        root: decode_node(v, Some(&prev.root), prev.dimensions())?,
    })
}

/// Decodes a `metrics` object. An incremental one applies on top of `prev`,
/// which must be the state of version `last`.
pub fn decode(metrics: &Value, prev: Option<(&MetricData, u64)>) -> Result<Decoded> {
    let o = metrics
        .as_object()
        .ok_or(DecodeError::Invalid("not an object"))?;
    let roots = o
        .get("roots")
        .and_then(Value::as_array)
        .ok_or(DecodeError::Invalid("no roots"))?;
    let version = o.get("version").and_then(as_u64).unwrap_or(0);
    let base = match o.get("last") {
        None => None,
        Some(last) => match (as_u64(last), prev) {
            (Some(l), Some((data, v))) if l == v => Some(data),
            _ => return Err(DecodeError::UnknownBase),
        },
    };
    let entries = roots
        .iter()
        .enumerate()
        .map(|(i, r)| decode_entry(r, base.and_then(|b| b.entries.get(i))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Decoded {
        data: MetricData { entries },
        version,
        incremental: base.is_some(),
    })
}

/// The worker's side of the exchange: what the repo last acknowledged with a
/// `206`, so that the next report can be incremental.
#[derive(Debug, Default)]
pub struct ReportEncoder {
    /// The state the repo holds and its version.
    acked: Option<(MetricData, u64)>,
    /// The state of the report in flight.
    pending: Option<(MetricData, u64)>,
}

impl ReportEncoder {
    /// A fresh encoder: the first report is full.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `metrics` object for `cur` at `now_ms`: incremental when the repo
    /// holds a state it extends, full otherwise.
    pub fn encode(&mut self, cur: MetricData, now_ms: u64) -> Value {
        if let Some((prev, last)) = &self.acked {
            // Versions must move forward even if the clock does not.
            let version = now_ms.max(last + 1);
            if let Some(v) = encode_incremental(prev, &cur, version, *last) {
                self.pending = Some((cur, version));
                return v;
            }
        }
        let v = encode_full(&cur);
        self.pending = Some((cur, 0));
        v
    }

    /// Records the repo's answer to the last report: only a `206` lets the next
    /// one be incremental.
    pub fn answered(&mut self, partial_content: bool) {
        let pending = self.pending.take();
        self.acked = if partial_content { pending } else { None };
    }
}
