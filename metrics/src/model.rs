//! Snapshots of metrics: one tree per metric, one level per label.

/// Prefix of a histogram's type; the buckets' upper bounds follow, then `]`.
pub(crate) const HISTOGRAM_PREFIX: &str = "Histogram[";

/// Largest number of values per series accepted from outside (a histogram's
/// buckets plus count and sum); keeps a hostile report from allocating much.
pub(crate) const MAX_DIMENSIONS: usize = 1024;

/// A snapshot of every metric, in registration order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricData {
    /// One entry per metric.
    pub entries: Vec<Entry>,
}

/// One metric: its identity and its tree of series.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Metric name, e.g. `pipy_inbound_count`.
    pub name: String,
    /// `Counter`, `Gauge` or `Histogram[b1,b2,…]` (upstream's `t`).
    pub kind: String,
    /// Label names joined by `/` (upstream's `l`), empty without labels.
    pub shape: String,
    /// The series without labels; its `key` is unused.
    pub root: Node,
}

/// One series: the value of one label at its level, and the next level below.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Node {
    /// The label value (empty at the root).
    pub key: String,
    /// One value, or a histogram's bucket counts followed by count and sum.
    pub values: Vec<f64>,
    /// Series of the next label, in the order they appeared.
    pub subs: Vec<Node>,
}

impl Node {
    /// A series with `dimensions` zero values.
    pub fn new(key: impl Into<String>, dimensions: usize) -> Self {
        Node {
            key: key.into(),
            values: vec![0.0; dimensions],
            subs: Vec::new(),
        }
    }

    /// The sub-series whose label value is `key`.
    pub fn sub(&self, key: &str) -> Option<&Node> {
        self.subs.iter().find(|s| s.key == key)
    }
}

impl Entry {
    /// An empty metric of `kind` with labels `shape`.
    pub fn new(name: impl Into<String>, kind: impl Into<String>, shape: impl Into<String>) -> Self {
        let kind = kind.into();
        let dims = dimensions_of(&kind);
        Entry {
            name: name.into(),
            kind,
            shape: shape.into(),
            root: Node::new("", dims),
        }
    }

    /// Values per series: 1, or a histogram's buckets plus count and sum.
    pub fn dimensions(&self) -> usize {
        dimensions_of(&self.kind)
    }

    /// The label names.
    pub fn label_names(&self) -> Vec<&str> {
        if self.shape.is_empty() {
            Vec::new()
        } else {
            self.shape.split('/').collect()
        }
    }

    /// A histogram's bucket bounds as written in its type (`"Inf"` unquoted).
    pub fn buckets(&self) -> Option<Vec<&str>> {
        let list = self.kind.strip_prefix(HISTOGRAM_PREFIX)?;
        let list = list.strip_suffix(']').unwrap_or(list);
        Some(list.split(',').map(|b| b.trim_matches('"')).collect())
    }
}

impl MetricData {
    /// The metric called `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// Values per series of a metric of type `kind`.
pub(crate) fn dimensions_of(kind: &str) -> usize {
    if kind.starts_with(HISTOGRAM_PREFIX) {
        kind.bytes().filter(|&c| c == b',').count() + 1 + 2
    } else {
        1
    }
}

/// A number as upstream prints it (like JavaScript): integers without a
/// fraction. Infinite and NaN values are not JSON; they become 0.
pub(crate) fn json_number(v: f64) -> serde_json::Value {
    if !v.is_finite() {
        return serde_json::Value::from(0);
    }
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Value::from(v)
    }
}
