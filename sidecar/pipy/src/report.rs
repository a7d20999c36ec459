//! The status report a worker posts to its repo every 5 s (spec §7.2): who it
//! is, which version it runs, the pipeline graph of each module it runs
//! ([`pipy_runtime::graph`]), and its metrics, full or incremental depending
//! on the repo's last answer.

use crate::repo_client::ClientOptions;
use hyper::StatusCode;
use pipy_metrics::wire::ReportEncoder;
use serde_json::{json, Map, Value};

/// Builds the reports of one worker process.
pub(crate) struct Reporter {
    uuid: String,
    name: String,
    since: u64,
    /// `None` with `--no-metrics`.
    metrics: Option<ReportEncoder>,
}

impl Reporter {
    /// A reporter for a process started at `since` (ms since the epoch).
    pub(crate) fn new(opts: &ClientOptions, since: u64) -> Self {
        Reporter {
            uuid: opts.uuid.clone(),
            name: opts.name.clone(),
            since,
            metrics: (!opts.no_metrics).then(ReportEncoder::new),
        }
    }

    /// The JSON body of a report at `now` (ms): `ip` is the worker's address on
    /// the previous report's connection, `version` the etag it last reloaded to.
    pub(crate) fn body(&mut self, now: u64, ip: &str, version: &str, logs: &[&str]) -> Vec<u8> {
        let mut report = Map::new();
        report.insert("timestamp".into(), json!(now));
        report.insert("since".into(), json!(self.since));
        report.insert("uuid".into(), json!(self.uuid));
        report.insert("name".into(), json!(self.name));
        report.insert("ip".into(), json!(ip));
        report.insert("version".into(), json!(version));
        report.insert(
            "modules".into(),
            Value::Object(pipy_runtime::graph::module_graphs()),
        );
        if let Some(enc) = &mut self.metrics {
            let data = pipy_runtime::stats::snapshot();
            report.insert("metrics".into(), enc.encode(data, now));
        }
        report.insert("logs".into(), json!(logs));
        // Serialising a map of plain values cannot fail.
        serde_json::to_vec(&Value::Object(report)).unwrap_or_default()
    }

    /// Records the repo's answer to the last report (`None`: no answer). Only
    /// `206` lets the next metrics be incremental.
    pub(crate) fn answered(&mut self, status: Option<StatusCode>) {
        if let Some(enc) = &mut self.metrics {
            enc.answered(status == Some(StatusCode::PARTIAL_CONTENT));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics_of(body: &[u8]) -> Value {
        let v: Value = serde_json::from_slice(body).unwrap();
        v["metrics"].clone()
    }

    #[test]
    fn metrics_turn_incremental_after_a_206_only() {
        let opts = ClientOptions {
            uuid: "u".into(),
            ..Default::default()
        };
        let mut r = Reporter::new(&opts, 1);
        let first = r.body(100, "", "", &["pipy_log"]);
        let text = String::from_utf8_lossy(&first).into_owned();
        assert!(
            text.starts_with(r#"{"timestamp":100,"since":1,"uuid":"u","name":"","ip":"","version":"","modules":{},"metrics":{"version":0,"roots":["#),
            "{text}"
        );
        assert!(text.ends_with(r#"]},"logs":["pipy_log"]}"#), "{text}");
        r.answered(Some(StatusCode::PARTIAL_CONTENT));
        let second = metrics_of(&r.body(200, "", "", &[]));
        assert_eq!(
            (second["version"].clone(), second["last"].clone()),
            (json!(200), json!(0))
        );
        r.answered(Some(StatusCode::CREATED));
        assert!(metrics_of(&r.body(300, "", "", &[])).get("last").is_none());
        r.answered(None);
        assert!(metrics_of(&r.body(400, "", "", &[])).get("last").is_none());
    }

    #[test]
    fn no_metrics_leaves_them_out() {
        let opts = ClientOptions {
            no_metrics: true,
            ..Default::default()
        };
        let body = Reporter::new(&opts, 1).body(5, "", "", &[]);
        assert!(metrics_of(&body).is_null());
    }
}
