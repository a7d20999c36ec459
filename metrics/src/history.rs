//! Recent history of metrics: the last [`SAMPLES`] values of every series, one
//! sample per [`MetricHistory::step`] (the repo steps every 5 s), as served by
//! `/api/v1/metrics` (spec §6.2).

use crate::model::{json_number, MetricData, Node};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Samples kept per series: five minutes at one sample every 5 s.
pub const SAMPLES: usize = 60;

/// Items by name in the order they first appeared (the workers' order).
#[derive(Debug)]
struct Ordered<T> {
    items: Vec<(String, T)>,
    index: HashMap<String, usize>,
}

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T> Ordered<T> {
    fn get(&self, key: &str) -> Option<&T> {
        self.index.get(key).map(|&i| &self.items[i].1)
    }

    fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> T) -> &mut T {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                self.items.push((key.to_owned(), make()));
                self.index.insert(key.to_owned(), self.items.len() - 1);
                self.items.len() - 1
            }
        };
        &mut self.items[i].1
    }
}

#[derive(Debug)]
struct HistEntry {
    kind: String,
    shape: String,
    dims: usize,
    root: HistNode,
}

#[derive(Debug)]
struct HistNode {
    /// `dims` values per sample, in a ring of `SAMPLES` samples.
    values: Vec<f64>,
    subs: Ordered<HistNode>,
}

impl HistNode {
    fn new(dims: usize) -> Self {
        HistNode {
            values: vec![0.0; dims * SAMPLES],
            subs: Ordered::default(),
        }
    }

    /// Clears one sample everywhere, so that series missing from a step read 0.
    fn clear(&mut self, slot: usize, dims: usize) {
        self.values[slot * dims..(slot + 1) * dims].fill(0.0);
        for (_, s) in &mut self.subs.items {
            s.clear(slot, dims);
        }
    }

    fn write(&mut self, slot: usize, dims: usize, src: &Node) {
        for (d, v) in src.values.iter().take(dims).enumerate() {
            self.values[slot * dims + d] = *v;
        }
        for s in &src.subs {
            self.subs
                .get_or_insert_with(&s.key, || HistNode::new(dims))
                .write(slot, dims, s);
        }
    }
}

/// The history of a set of metrics.
#[derive(Debug, Default)]
pub struct MetricHistory {
    entries: Ordered<HistEntry>,
    /// Samples taken so far.
    steps: u64,
}

impl MetricHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one sample of every series in `data`.
    pub fn step(&mut self, data: &MetricData) {
        let slot = (self.steps % SAMPLES as u64) as usize;
        self.steps += 1;
        for (_, e) in &mut self.entries.items {
            e.root.clear(slot, e.dims);
        }
        for e in &data.entries {
            let dims = e.dimensions();
            let h = self.entries.get_or_insert_with(&e.name, || HistEntry {
                kind: e.kind.clone(),
                shape: e.shape.clone(),
                dims,
                root: HistNode::new(dims),
            });
            if h.kind != e.kind || h.shape != e.shape {
                // A metric redefined under the same name starts a new history.
                *h = HistEntry {
                    kind: e.kind.clone(),
                    shape: e.shape.clone(),
                    dims,
                    root: HistNode::new(dims),
                };
            }
            h.root.write(slot, dims, &e.root);
        }
    }

    /// Every metric without its sub-series:
    /// `[{"k":name,"t":type,"l":labels,"v":[samples…]},…]`.
    pub fn list(&self) -> Value {
        self.entries
            .items
            .iter()
            .map(|(name, e)| self.entry_json(name, e, false))
            .collect()
    }

    /// The metric called `name` with all its sub-series (`"s"`), as a list of
    /// zero or one element.
    pub fn one(&self, name: &str) -> Value {
        self.entries
            .get(name)
            .map(|e| self.entry_json(name, e, true))
            .into_iter()
            .collect()
    }

    fn entry_json(&self, name: &str, e: &HistEntry, recursive: bool) -> Value {
        let mut o = Map::new();
        o.insert("k".into(), Value::from(name));
        o.insert("t".into(), Value::from(e.kind.as_str()));
        o.insert("l".into(), Value::from(e.shape.as_str()));
        self.node_body(&mut o, &e.root, e.dims, recursive);
        Value::Object(o)
    }

    fn node_body(&self, o: &mut Map<String, Value>, n: &HistNode, dims: usize, recursive: bool) {
        let count = self.steps.min(SAMPLES as u64);
        let series = |d: usize| -> Value {
            (self.steps - count..self.steps)
                .map(|i| json_number(n.values[(i % SAMPLES as u64) as usize * dims + d]))
                .collect()
        };
        let v = if dims == 1 {
            series(0)
        } else {
            (0..dims).map(series).collect()
        };
        o.insert("v".into(), v);
        if recursive && !n.subs.items.is_empty() {
            let subs = n
                .subs
                .items
                .iter()
                .map(|(k, s)| {
                    let mut so = Map::new();
                    so.insert("k".into(), Value::from(k.as_str()));
                    self.node_body(&mut so, s, dims, true);
                    Value::Object(so)
                })
                .collect();
            o.insert("s".into(), subs);
        }
    }
}
