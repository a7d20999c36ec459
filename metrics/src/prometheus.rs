//! The Prometheus text exposition format (version 0.0.4).
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
//! - label values are escaped (`\\`, `\"`, `\n`).

use crate::model::{Entry, MetricData, Node};
use std::fmt::Write as _;

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
    let mut out = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        for entry in &src.data.entries {
            if seen.contains(&entry.name.as_str()) {
                continue;
            }
            seen.push(&entry.name);
            let _ = writeln!(
                out,
                "# TYPE {} {}",
                sanitize(&entry.name, true),
                type_name(entry)
            );
            for later in &sources[i..] {
                if let Some(e) = later.data.get(&entry.name).filter(|e| e.kind == entry.kind) {
                    family(&mut out, e, &later.labels);
                }
            }
        }
    }
    out
}

fn type_name(e: &Entry) -> &'static str {
    if e.buckets().is_some() {
        "histogram"
    } else if e.kind == "Gauge" {
        "gauge"
    } else {
        "counter"
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

fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
fn number(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

struct Family<'a> {
    name: String,
    label_names: Vec<String>,
    extra: &'a [(String, String)],
    buckets: Option<Vec<&'a str>>,
}

fn family(out: &mut String, e: &Entry, extra: &[(String, String)]) {
    let f = Family {
        name: sanitize(&e.name, true),
        label_names: e
            .label_names()
            .into_iter()
            .map(|l| sanitize(l, false))
            .collect(),
        extra,
        buckets: e.buckets(),
    };
    let mut path = Vec::new();
    series(out, &f, &e.root, &mut path);
}

fn series<'n>(out: &mut String, f: &Family<'_>, node: &'n Node, path: &mut Vec<&'n str>) {
    if node.subs.is_empty() {
        let complete = path.len() >= f.label_names.len();
        if complete || node.values.iter().any(|v| *v != 0.0) {
            sample_lines(out, f, node, path);
        }
        return;
    }
    for s in &node.subs {
        path.push(&s.key);
        series(out, f, s, path);
        path.pop();
    }
}

fn labels(out: &mut String, f: &Family<'_>, path: &[&str], le: Option<&str>) {
    let mut pairs: Vec<(&str, &str)> = f
        .extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.extend(
        f.label_names
            .iter()
            .map(String::as_str)
            .zip(path.iter().copied()),
    );
    if let Some(le) = le {
        pairs.push(("le", le));
    }
    if pairs.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape(v, out);
        out.push('"');
    }
    out.push('}');
}

fn line(out: &mut String, f: &Family<'_>, suffix: &str, path: &[&str], le: Option<&str>, v: f64) {
    out.push_str(&f.name);
    out.push_str(suffix);
    labels(out, f, path, le);
    out.push(' ');
    number(v, out);
    out.push('\n');
}

fn sample_lines(out: &mut String, f: &Family<'_>, node: &Node, path: &[&str]) {
    let Some(buckets) = &f.buckets else {
        line(
            out,
            f,
            "",
            path,
            None,
            node.values.first().copied().unwrap_or(0.0),
        );
        return;
    };
    let n = buckets.len();
    let count = node.values.get(n).copied().unwrap_or(0.0);
    let sum = node.values.get(n + 1).copied().unwrap_or(0.0);
    let mut cumulative = 0.0;
    let mut has_inf = false;
    for (i, b) in buckets.iter().enumerate() {
        cumulative += node.values.get(i).copied().unwrap_or(0.0);
        let le = match *b {
            "Inf" | "+Inf" | "Infinity" => {
                has_inf = true;
                "+Inf"
            }
            other => other,
        };
        line(out, f, "_bucket", path, Some(le), cumulative);
    }
    if !has_inf {
        // Samples above the last bound are in the count only.
        line(out, f, "_bucket", path, Some("+Inf"), count);
    }
    line(out, f, "_sum", path, None, sum);
    line(out, f, "_count", path, None, count);
}
