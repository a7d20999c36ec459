//! Metrics as Prometheus text, written by the `prometheus-client` crate in the
//! OpenMetrics text format 1.0.0 (served as [`CONTENT_TYPE`]).
//!
//! Where upstream Pipy differs from the format, this follows the format:
//! - one `# TYPE` line per metric family, with all series of the family (from
//!   every source) right after it, where upstream repeats the family per
//!   instance;
//! - histogram buckets are cumulative and end with `le="+Inf"`, where upstream
//!   prints the per-bucket counts and `le="Inf"`;
//! - only fully labelled series are printed, not the per-level totals that
//!   upstream also prints for some gauges (they would be counted twice by any
//!   `sum()`); a series above the last label level is printed only when it
//!   holds a value of its own (non-zero) and has no sub-series;
//! - label values are escaped (`\\`, `\"`, `\n`);
//! - names that are not valid metric or label names have every other
//!   character replaced by `_` (and a leading `_` if they start with a digit).
//!
//! What OpenMetrics (as `prometheus-client` writes it) changes from the
//! Prometheus 0.0.4 text:
//! - every family starts with a `# HELP` line, empty here (`# HELP name `),
//!   then its `# TYPE` line;
//! - counter samples carry the `_total` suffix (`pipy_inbound_in_total`); a
//!   counter already named `…_total` loses that suffix from its family name so
//!   that its samples are not called `…_total_total`;
//! - a histogram prints `_sum` and `_count` before its buckets, the `le`
//!   label comes first in bucket lines and bounds are written as floats
//!   (`le="1.0"`); bounds that are not numbers, or not above the previous one,
//!   are left out and their samples counted in the next bucket;
//! - integer values are written without a fraction, others in their shortest
//!   form; infinite values as `inf` and `-inf`;
//! - the exposition ends with `# EOF`.

use crate::model::{Entry, MetricData, Node};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    text, CounterValueEncoder, DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue,
    EncodeMetric, GaugeValueEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::fmt;

/// The `content-type` of what [`render`] returns.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Metrics to print and the labels to add to each of their series
/// (for example `instance="3"`).
pub struct Source<'a> {
    /// The metrics.
    pub data: &'a MetricData,
    /// Extra labels, printed first.
    pub labels: Vec<(String, String)>,
}

/// Renders `sources` as one exposition: families in order of first
/// appearance, each with the series of every source that has it with the same
/// type.
pub fn render(sources: &[Source<'_>]) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families::collect(sources)));
    let mut out = String::new();
    // Writing to a `String` cannot fail and every value collected is one the
    // encoder takes: an error would leave a shorter text, which is all there is.
    let encoded = text::encode(&mut out, &registry);
    debug_assert!(encoded.is_ok(), "encoding metrics failed");
    out
}

/// A copy of the sources' series, grouped by family: what the registry's
/// collector prints on each [`render`].
#[derive(Debug, Default)]
struct Families {
    list: Vec<Family>,
}

/// The series of one metric name in every source.
#[derive(Debug)]
struct Family {
    /// The metric name, made valid.
    name: String,
    /// The type of the sources' entry (`Counter`, `Gauge`, `Histogram[…]`):
    /// entries of another type with the same name are left out.
    kind: String,
    metric_type: MetricType,
    series: Vec<Series>,
}

/// One series: its labels (a source's first) and its value.
#[derive(Debug)]
struct Series {
    labels: Vec<(String, String)>,
    value: Value,
}

#[derive(Debug)]
enum Value {
    Counter(Number),
    Gauge(Number),
    Histogram(Histogram),
}

/// A histogram as [`prometheus_client::encoding::MetricEncoder::encode_histogram`]
/// takes it: the number of samples in each bucket alone, which it adds up.
#[derive(Debug)]
struct Histogram {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

/// A sample value, an integer when it is one (so that it prints as one).
#[derive(Clone, Copy, Debug)]
enum Number {
    Int(i64),
    Float(f64),
}

impl Families {
    fn collect(sources: &[Source<'_>]) -> Self {
        let mut families = Families::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        for src in sources {
            let extra: Vec<(String, String)> = src
                .labels
                .iter()
                .map(|(k, v)| (sanitize(k, false), v.clone()))
                .collect();
            for entry in &src.data.entries {
                let name = family_name(entry);
                let i = *index.entry(name.clone()).or_insert_with(|| {
                    families.list.push(Family {
                        name,
                        kind: entry.kind.clone(),
                        metric_type: metric_type(entry),
                        series: Vec::new(),
                    });
                    families.list.len() - 1
                });
                let family = &mut families.list[i];
                if family.kind == entry.kind {
                    add_series(&mut family.series, entry, &extra);
                }
            }
        }
        families
    }
}

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        for family in &self.list {
            let mut metric =
                encoder.encode_descriptor(&family.name, "", None, family.metric_type)?;
            for series in &family.series {
                let mut labelled = metric.encode_family(&series.labels)?;
                match &series.value {
                    Value::Counter(n) => ConstCounter::new(*n).encode(labelled)?,
                    Value::Gauge(n) => ConstGauge::new(*n).encode(labelled)?,
                    Value::Histogram(h) => {
                        labelled.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?
                    }
                }
            }
        }
        Ok(())
    }
}

impl Number {
    /// Integers below 2^53 (exact in an `f64`) become [`Number::Int`].
    fn new(v: f64) -> Self {
        if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
            Number::Int(v as i64)
        } else {
            Number::Float(v)
        }
    }
}

impl EncodeGaugeValue for Number {
    fn encode(&self, encoder: &mut GaugeValueEncoder<'_>) -> fmt::Result {
        match *self {
            Number::Int(i) => EncodeGaugeValue::encode(&i, encoder),
            Number::Float(f) => EncodeGaugeValue::encode(&f, encoder),
        }
    }
}

impl EncodeCounterValue for Number {
    fn encode(&self, encoder: &mut CounterValueEncoder<'_>) -> fmt::Result {
        match *self {
            Number::Int(i) => match u64::try_from(i) {
                Ok(u) => EncodeCounterValue::encode(&u, encoder),
                // A counter below zero, only from a broken report.
                Err(_) => EncodeCounterValue::encode(&(i as f64), encoder),
            },
            Number::Float(f) => EncodeCounterValue::encode(&f, encoder),
        }
    }
}

fn metric_type(e: &Entry) -> MetricType {
    if e.buckets().is_some() {
        MetricType::Histogram
    } else if e.kind == "Gauge" {
        MetricType::Gauge
    } else {
        MetricType::Counter
    }
}

/// The valid family name of `e`, without the `_total` that the encoder adds
/// to a counter's samples.
fn family_name(e: &Entry) -> String {
    let name = sanitize(&e.name, true);
    match name.strip_suffix("_total") {
        Some(base) if !base.is_empty() && metric_type(e) == MetricType::Counter => base.to_owned(),
        _ => name,
    }
}

/// Replaces what a metric or label name may not contain by `_`.
fn sanitize(name: &str, metric: bool) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Type, label names and histogram bounds of one entry, shared by its series.
struct Shape<'a> {
    metric_type: MetricType,
    extra: &'a [(String, String)],
    label_names: Vec<String>,
    bounds: Option<Vec<&'a str>>,
}

/// Appends the series of `e` (with the labels `extra` first) to `out`.
fn add_series(out: &mut Vec<Series>, e: &Entry, extra: &[(String, String)]) {
    let shape = Shape {
        metric_type: metric_type(e),
        extra,
        label_names: e
            .label_names()
            .into_iter()
            .map(|l| sanitize(l, false))
            .collect(),
        bounds: e.buckets(),
    };
    let mut path = Vec::new();
    walk(out, &shape, &e.root, &mut path);
}

fn walk<'n>(out: &mut Vec<Series>, shape: &Shape<'_>, node: &'n Node, path: &mut Vec<&'n str>) {
    if node.subs.is_empty() {
        let complete = path.len() >= shape.label_names.len();
        if complete || node.values.iter().any(|v| *v != 0.0) {
            out.push(series(shape, node, path));
        }
        return;
    }
    for s in &node.subs {
        path.push(&s.key);
        walk(out, shape, s, path);
        path.pop();
    }
}

fn series(shape: &Shape<'_>, node: &Node, path: &[&str]) -> Series {
    let labels = shape
        .extra
        .iter()
        .cloned()
        .chain(
            shape
                .label_names
                .iter()
                .zip(path)
                .map(|(k, v)| (k.clone(), (*v).to_owned())),
        )
        .collect();
    let first = node.values.first().copied().unwrap_or(0.0);
    let value = match (&shape.bounds, shape.metric_type) {
        (Some(bounds), _) => Value::Histogram(histogram(bounds, &node.values)),
        (None, MetricType::Gauge) => Value::Gauge(Number::new(first)),
        (None, _) => Value::Counter(Number::new(first)),
    };
    Series { labels, value }
}

/// A histogram from upstream's values: the count of each bucket alone, then
/// the count and the sum.
fn histogram(bounds: &[&str], values: &[f64]) -> Histogram {
    let at = |i: usize| values.get(i).copied().unwrap_or(0.0);
    let n = bounds.len();
    let count = samples(at(n));
    let mut buckets = Vec::with_capacity(n + 1);
    // Samples up to the current bound, and up to the last bound printed.
    let (mut total, mut printed) = (0u64, 0u64);
    let mut last = f64::NEG_INFINITY;
    for (i, b) in bounds.iter().enumerate() {
        total = total.saturating_add(samples(at(i)));
        if let Some(b) = bound(b).filter(|b| *b > last) {
            buckets.push((b, total - printed));
            (last, printed) = (b, total);
        }
    }
    if last != f64::INFINITY {
        // Samples above the last bound are in the count only.
        buckets.push((f64::INFINITY, count.max(total) - printed));
    }
    Histogram {
        sum: at(n + 1),
        count,
        buckets,
    }
}

/// A number of samples: negative and NaN become 0, too large `u64::MAX`.
fn samples(v: f64) -> u64 {
    // `as` saturates and maps NaN to 0.
    v as u64
}

/// A bucket's upper bound as written in a histogram's type.
fn bound(s: &str) -> Option<f64> {
    match s {
        "Inf" | "+Inf" | "Infinity" => Some(f64::INFINITY),
        _ => s.parse::<f64>().ok().filter(|b| !b.is_nan()),
    }
}
