//! The process-wide registry of live metrics.
//!
//! A metric is a tree of series, one level per label. Every series keeps one
//! [`Slot`] per thread that writes it: worker threads never share a cache line
//! on the hot path, and a gauge `set()` on several threads adds up, as upstream
//! sums the metric sets of its worker threads. A [`Handle`] is a series plus
//! the calling thread's slot; updates are relaxed atomics, an integer increment
//! is a single `fetch_add`.

use crate::model::{Entry, MetricData, Node, HISTOGRAM_PREFIX};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// What a metric measures.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Only goes up (or back to zero).
    Counter,
    /// Goes up and down, or is set.
    Gauge,
    /// Counts samples per bucket; the bounds are the buckets' upper limits.
    Histogram(Vec<f64>),
}

impl Kind {
    /// The type as upstream writes it: `Counter`, `Gauge`, `Histogram[1,2,"Inf"]`.
    pub fn type_name(&self) -> String {
        match self {
            Kind::Counter => "Counter".into(),
            Kind::Gauge => "Gauge".into(),
            Kind::Histogram(bounds) => {
                let list: Vec<String> = bounds
                    .iter()
                    .map(|b| match *b {
                        b if b.is_nan() => "\"NaN\"".into(),
                        b if b == f64::INFINITY => "\"Inf\"".into(),
                        b if b == f64::NEG_INFINITY => "\"-Inf\"".into(),
                        b if b.fract() == 0.0 && b.abs() < 1e15 => format!("{}", b as i64),
                        b => format!("{b}"),
                    })
                    .collect();
                format!("{HISTOGRAM_PREFIX}{}]", list.join(","))
            }
        }
    }

    fn dimensions(&self) -> usize {
        match self {
            Kind::Histogram(b) => b.len() + 2,
            _ => 1,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere leaves plain numbers behind: still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A small number naming the current thread, for its slots.
fn thread_tag() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TAG: u64 = NEXT.fetch_add(1, Relaxed);
    }
    TAG.with(|t| *t)
}

fn add_f64(cell: &AtomicU64, n: f64) {
    let _ = cell.fetch_update(Relaxed, Relaxed, |bits| {
        Some((f64::from_bits(bits) + n).to_bits())
    });
}

/// One thread's part of a series.
#[derive(Debug)]
pub struct Slot {
    thread: u64,
    touched: AtomicBool,
    /// Integer part of a counter or gauge: the hot path adds here.
    whole: AtomicI64,
    /// The rest, as `f64` bits (fractional additions and `set`).
    frac: AtomicU64,
    /// A histogram's per-bucket counts, then its count; sum in `frac`.
    buckets: Box<[AtomicU64]>,
}

impl Slot {
    fn new(thread: u64, dims: usize) -> Self {
        let n = dims.saturating_sub(1);
        Slot {
            thread,
            touched: AtomicBool::new(false),
            whole: AtomicI64::new(0),
            frac: AtomicU64::new(0f64.to_bits()),
            buckets: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn touch(&self) {
        if !self.touched.load(Relaxed) {
            self.touched.store(true, Relaxed);
        }
    }

    fn value(&self) -> f64 {
        self.whole.load(Relaxed) as f64 + f64::from_bits(self.frac.load(Relaxed))
    }
}

/// One series: a node of a metric's tree.
#[derive(Debug)]
pub struct Series {
    key: String,
    depth: usize,
    metric: Arc<Def>,
    slots: Mutex<Vec<Arc<Slot>>>,
    subs: Mutex<Subs>,
}

#[derive(Debug, Default)]
struct Subs {
    list: Vec<Arc<Series>>,
    index: HashMap<String, usize>,
}

/// What defines a metric.
#[derive(Debug)]
struct Def {
    name: String,
    kind: Kind,
    labels: Vec<String>,
}

impl Series {
    fn new(key: String, depth: usize, metric: Arc<Def>) -> Arc<Self> {
        Arc::new(Series {
            key,
            depth,
            metric,
            slots: Mutex::new(Vec::new()),
            subs: Mutex::new(Subs::default()),
        })
    }

    /// The calling thread's slot, created on first use.
    fn slot(&self) -> Arc<Slot> {
        let me = thread_tag();
        let mut slots = lock(&self.slots);
        if let Some(s) = slots.iter().find(|s| s.thread == me) {
            return s.clone();
        }
        let s = Arc::new(Slot::new(me, self.metric.kind.dimensions()));
        slots.push(s.clone());
        s
    }

    fn sub(self: &Arc<Self>, key: &str) -> Arc<Series> {
        let mut subs = lock(&self.subs);
        if let Some(&i) = subs.index.get(key) {
            return subs.list[i].clone();
        }
        let s = Series::new(key.to_owned(), self.depth + 1, self.metric.clone());
        let i = subs.list.len();
        subs.list.push(s.clone());
        subs.index.insert(key.to_owned(), i);
        s
    }

    fn clear(&self) {
        let subs = std::mem::take(&mut *lock(&self.subs));
        drop(subs);
        for s in lock(&self.slots).iter() {
            s.touched.store(false, Relaxed);
            s.whole.store(0, Relaxed);
            s.frac.store(0f64.to_bits(), Relaxed);
            for b in s.buckets.iter() {
                b.store(0, Relaxed);
            }
        }
    }

    /// The sum over threads; a series that was never written itself shows the
    /// sum of its sub-series.
    fn snapshot(&self) -> Node {
        let dims = self.metric.kind.dimensions();
        let mut node = Node::new(self.key.clone(), dims);
        let mut touched = false;
        for s in lock(&self.slots).iter() {
            touched |= s.touched.load(Relaxed);
            if dims == 1 {
                node.values[0] += s.value();
            } else {
                for (v, b) in node.values.iter_mut().zip(s.buckets.iter()) {
                    *v += b.load(Relaxed) as f64;
                }
                node.values[dims - 1] += f64::from_bits(s.frac.load(Relaxed));
            }
        }
        let subs: Vec<Arc<Series>> = lock(&self.subs).list.clone();
        node.subs = subs.iter().map(|s| s.snapshot()).collect();
        if !touched {
            sum_subs(&mut node);
        }
        node
    }
}

fn sum_subs(node: &mut Node) {
    if node.subs.is_empty() {
        return;
    }
    node.values.iter_mut().for_each(|v| *v = 0.0);
    for s in &node.subs {
        for (v, x) in node.values.iter_mut().zip(&s.values) {
            *v += x;
        }
    }
}

/// A series and the calling thread's slot in it. Meant to stay on the thread
/// that made it (it still counts correctly elsewhere, in another thread's slot).
#[derive(Clone, Debug)]
pub struct Handle {
    series: Arc<Series>,
    slot: Arc<Slot>,
}

impl Handle {
    fn new(series: Arc<Series>) -> Self {
        let slot = series.slot();
        Handle { series, slot }
    }

    /// The series under this one for the next label values, created on first
    /// use; `None` when there are no more labels.
    pub fn with_labels(&self, values: &[&str]) -> Option<Handle> {
        let labels = self.series.metric.labels.len();
        if self.series.depth >= labels {
            return None;
        }
        let mut s = self.series.clone();
        for v in values.iter().take(labels - self.series.depth) {
            s = s.sub(v);
        }
        Some(Handle::new(s))
    }

    /// Adds a whole number: the hot path, one relaxed atomic add.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.slot.whole.fetch_add(n as i64, Relaxed);
        self.slot.touch();
    }

    /// Subtracts a whole number (gauges).
    #[inline]
    pub fn dec_by(&self, n: u64) {
        self.slot.whole.fetch_sub(n as i64, Relaxed);
        self.slot.touch();
    }

    /// Adds any number (negative to decrease a gauge).
    pub fn add(&self, n: f64) {
        if n.fract() == 0.0 && n.abs() < 9e15 {
            self.slot.whole.fetch_add(n as i64, Relaxed);
        } else {
            add_f64(&self.slot.frac, n);
        }
        self.slot.touch();
    }

    /// Sets this thread's part of the value.
    pub fn set(&self, n: f64) {
        self.slot.whole.store(0, Relaxed);
        self.slot.frac.store(n.to_bits(), Relaxed);
        self.slot.touch();
    }

    /// Back to zero (a histogram forgets its samples).
    pub fn zero(&self) {
        self.set(0.0);
        for b in self.slot.buckets.iter() {
            b.store(0, Relaxed);
        }
    }

    /// Records a sample in a histogram (ignored by other kinds).
    pub fn observe(&self, n: f64) {
        let Kind::Histogram(bounds) = &self.series.metric.kind else {
            return;
        };
        if let Some(i) = bounds.iter().position(|b| n <= *b) {
            self.slot.buckets[i].fetch_add(1, Relaxed);
        }
        // The count is the last counter; the sum lives in `frac`.
        if let Some(count) = self.slot.buckets.last() {
            count.fetch_add(1, Relaxed);
        }
        add_f64(&self.slot.frac, n);
        self.slot.touch();
    }

    /// Drops every sub-series and zeroes this one.
    pub fn clear(&self) {
        self.series.clear();
    }

    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.series.metric.name
    }
}

/// Fills a metric's tree when a snapshot is taken: called with an `emit`
/// function taking label values (all of them) and a value to add there.
pub type Collector = Arc<dyn Fn(&mut dyn FnMut(&[&str], f64)) + Send + Sync>;

struct Registered {
    root: Arc<Series>,
    collector: Option<Collector>,
}

/// A set of metrics; [`Registry::global`] is the process's.
#[derive(Default)]
pub struct Registry {
    metrics: Mutex<Vec<Registered>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry (tests; the process uses [`Registry::global`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The process's registry.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// The metric `name`, defined now if needed. The same name, kind and labels
    /// give the same metric (so a reloaded script, or the same script on
    /// another thread, adds to it); a different definition replaces it in
    /// place, as upstream does.
    pub fn metric(&self, name: &str, kind: Kind, labels: &[&str]) -> Handle {
        let mut all = lock(&self.metrics);
        let pos = all.iter().position(|r| r.root.metric.name == name);
        if let Some(i) = pos {
            let d = &all[i].root.metric;
            if d.kind == kind
                && d.labels
                    .iter()
                    .map(String::as_str)
                    .eq(labels.iter().copied())
            {
                return Handle::new(all[i].root.clone());
            }
        }
        let def = Arc::new(Def {
            name: name.to_owned(),
            kind,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        });
        let reg = Registered {
            root: Series::new(String::new(), 0, def),
            collector: None,
        };
        let root = reg.root.clone();
        match pos {
            Some(i) => all[i] = reg,
            None => all.push(reg),
        }
        Handle::new(root)
    }

    /// Makes `name` (defined with [`Registry::metric`]) filled by `collector`
    /// at each snapshot instead of by handles.
    pub fn set_collector(&self, name: &str, collector: Collector) {
        if let Some(r) = lock(&self.metrics)
            .iter_mut()
            .find(|r| r.root.metric.name == name)
        {
            r.collector = Some(collector);
        }
    }

    /// The current values of every metric, summed over threads.
    pub fn snapshot(&self) -> MetricData {
        let metrics: Vec<(Arc<Series>, Option<Collector>)> = lock(&self.metrics)
            .iter()
            .map(|r| (r.root.clone(), r.collector.clone()))
            .collect();
        let entries = metrics
            .into_iter()
            .map(|(root, collector)| {
                let def = &root.metric;
                let mut e = Entry::new(&*def.name, def.kind.type_name(), def.labels.join("/"));
                e.root = match collector {
                    Some(c) => collect(&c, def.kind.dimensions()),
                    None => root.snapshot(),
                };
                e
            })
            .collect();
        MetricData { entries }
    }
}

/// Builds a tree from what a collector emits, with totals at every level.
fn collect(c: &Collector, dims: usize) -> Node {
    let mut root = Node::new("", dims);
    c(&mut |labels: &[&str], v: f64| {
        let mut node = &mut root;
        node.values[0] += v;
        for l in labels {
            let i = match node.subs.iter().position(|s| s.key == *l) {
                Some(i) => i,
                None => {
                    node.subs.push(Node::new(*l, dims));
                    node.subs.len() - 1
                }
            };
            node = &mut node.subs[i];
            node.values[0] += v;
        }
    });
    root
}
