//! pipy-metrics: the metric data model shared by workers and the repo.
//!
//! - [`live`]: the process-wide registry a worker updates (built-in metrics and
//!   the PipyJS `stats` API). Each thread writes its own slot of every series
//!   with relaxed atomics; a [`live::Registry::snapshot`] sums the slots, as
//!   upstream sums the per-thread metric sets.
//! - [`MetricData`]: a snapshot, a list of metric trees. Each tree nests one
//!   level per label: the root is the metric, its sub-series are the values of
//!   the first label, theirs the values of the second, and so on.
//! - [`wire`]: the JSON of a status report's `metrics` (spec §7.2), full and
//!   incremental, and decoding both onto a previous state.
//! - [`history`]: 60 samples per series, one every 5 s (`/api/v1/metrics`).
//! - [`prometheus`]: the Prometheus text exposition format.
//!
//! Histograms are encoded as upstream does: the type is
//! `Histogram[b1,b2,…]` and a value is `[n1,n2,…,count,sum]`, where `ni` is the
//! number of samples in bucket `i` alone (not cumulative).

pub mod history;
pub mod live;
mod model;
pub mod prometheus;
pub mod wire;

pub use model::{Entry, MetricData, Node};

#[cfg(test)]
mod tests;
