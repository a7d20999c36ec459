//! Worker instances known from status reports (spec §5.3, §7.4). Memory only.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use pipy_metrics::history::MetricHistory;
use pipy_metrics::{wire, MetricData};
use serde_json::{Map, Value};

/// Instances whose last report is at least this old are dropped.
pub(super) const EXPIRE_AFTER_MS: u64 = 60_000;

/// Seconds on a steady clock (since the first call in this process): the `time`
/// of `/api/v1/metrics` (spec §6.2).
pub(super) fn steady_secs() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs()
}

/// Milliseconds since the epoch.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug)]
struct Instance {
    index: u64,
    codebase: String,
    ip: IpAddr,
    timestamp: u64,
    /// The last report as it came (valid JSON): reports arrive every 5 s from every
    /// worker while the info documents that show them are rare, so it is reduced to
    /// the shown keys only when read.
    report: Bytes,
    /// The report's `name`.
    name: String,
    /// The latest metrics and their version (the base of the next incremental
    /// report).
    metrics: Option<(MetricData, u64)>,
    /// Samples of `metrics`, one per tick.
    history: MetricHistory,
}

/// One worker instance as its last status report describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceReport {
    /// The instance's uuid (`""` for workers that send none).
    pub uuid: String,
    /// The codebase path it reports to.
    pub codebase: String,
    /// The version it runs (`""` before its first reload).
    pub version: String,
    /// When the report arrived, in milliseconds since the epoch.
    pub reported_ms: u64,
}

/// Instances by uuid. Indexes start at 1 and are never reused.
#[derive(Debug, Default)]
pub(super) struct Registry {
    by_uuid: HashMap<String, Instance>,
    last_index: u64,
    /// [`steady_secs`] at the last history tick.
    tick_time: u64,
}

impl Registry {
    /// Records a status report of `report` (any JSON) for codebase `cb` from `ip` at
    /// `now`, (re)attaching the instance to `cb`. Returns whether the report carried
    /// metrics that decoded: full ones, or incremental ones on top of the version
    /// held here (the repo then answers `206`).
    ///
    /// `None` when `body` is not JSON (`400 Invalid JSON`); then nothing changes.
    pub(super) fn report(&mut self, cb: &str, ip: IpAddr, now: u64, body: &Bytes) -> Option<bool> {
        let head = ReportHead::parse(body)?;
        let i = match self.by_uuid.get_mut(head.uuid.as_ref()) {
            Some(i) => i,
            None => {
                self.last_index += 1;
                let i = Instance {
                    index: self.last_index,
                    codebase: String::new(),
                    ip,
                    timestamp: 0,
                    report: Bytes::new(),
                    name: String::new(),
                    metrics: None,
                    history: MetricHistory::new(),
                };
                self.by_uuid.entry(head.uuid.into_owned()).or_insert(i)
            }
        };
        if i.codebase != cb {
            i.codebase = cb.to_owned();
        }
        i.ip = ip;
        i.timestamp = now;
        // A copy, not a slice: a slice would pin the connection's whole read buffer.
        i.report = Bytes::copy_from_slice(body);
        if i.name != head.name {
            i.name = head.name.into_owned();
        }
        let Some(metrics) = head.metrics else {
            return Some(false);
        };
        let Ok(metrics) = serde_json::from_str::<Value>(metrics.get()) else {
            return Some(false);
        };
        let prev = i.metrics.as_ref().map(|(d, v)| (d, *v));
        Some(match wire::decode(&metrics, prev) {
            Ok(d) => {
                i.metrics = Some((d.data, d.version));
                true
            }
            // The worker sends a full report after anything but 206; the last
            // metrics known stay on show until then.
            Err(_) => false,
        })
    }

    /// Takes one history sample of every instance's metrics (every 5 s).
    pub(super) fn tick(&mut self) {
        self.tick_time = steady_secs();
        for i in self.by_uuid.values_mut() {
            if let Some((data, _)) = &i.metrics {
                i.history.step(data);
            }
        }
    }

    /// [`steady_secs`] at the last tick.
    pub(super) fn tick_time(&self) -> u64 {
        self.tick_time
    }

    /// The metric history of instance `uuid`, if it is known.
    pub(super) fn history(&self, uuid: &str) -> Option<&MetricHistory> {
        self.by_uuid.get(uuid).map(|i| &i.history)
    }

    /// Every instance's name (or, without one, its index) and latest metrics, by
    /// ascending index.
    pub(super) fn latest_metrics(&self) -> Vec<(String, &MetricData)> {
        let mut list: Vec<&Instance> = self.by_uuid.values().collect();
        list.sort_by_key(|i| i.index);
        list.into_iter()
            .filter_map(|i| {
                let (data, _) = i.metrics.as_ref()?;
                let label = if i.name.is_empty() {
                    i.index.to_string()
                } else {
                    i.name.clone()
                };
                Some((label, data))
            })
            .collect()
    }

    /// Drops instances whose last report is `EXPIRE_AFTER_MS` old at `now`, except the
    /// one with uuid `""` and those for which `linked` holds (a live admin link).
    pub(super) fn expire(&mut self, now: u64, linked: impl Fn(&str) -> bool) {
        self.by_uuid.retain(|uuid, i| {
            uuid.is_empty() || now.saturating_sub(i.timestamp) < EXPIRE_AFTER_MS || linked(uuid)
        });
    }

    /// Per codebase: instance counts by the version they report.
    pub(super) fn versions(&self) -> HashMap<String, HashMap<String, usize>> {
        let mut out: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for i in self.by_uuid.values() {
            let version = ReportHead::version_of(&i.report);
            *out.entry(i.codebase.clone())
                .or_default()
                .entry(version)
                .or_default() += 1;
        }
        out
    }

    /// Every instance as its last report describes it.
    pub(super) fn reports(&self) -> Vec<InstanceReport> {
        self.by_uuid
            .iter()
            .map(|(uuid, i)| InstanceReport {
                uuid: uuid.clone(),
                codebase: i.codebase.clone(),
                version: ReportHead::version_of(&i.report),
                reported_ms: i.timestamp,
            })
            .collect()
    }

    /// The version that the latest report for `cb` from `ip` says runs there, `None`
    /// without one (or when it runs none yet).
    pub(super) fn version_at(&self, cb: &str, ip: IpAddr) -> Option<String> {
        self.by_uuid
            .values()
            .filter(|i| i.codebase == cb && i.ip == ip)
            .max_by_key(|i| i.timestamp)
            .map(|i| ReportHead::version_of(&i.report))
            .filter(|v| !v.is_empty())
    }

    /// Uuids of the instances attached to any of `codebases`.
    pub(super) fn uuids_of(&self, codebases: &[String]) -> Vec<String> {
        self.by_uuid
            .iter()
            .filter(|(_, i)| codebases.contains(&i.codebase))
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// The `instances` object of codebase `cb`'s info document, by ascending index.
    pub(super) fn of_codebase(&self, cb: &str) -> Value {
        let mut list: Vec<&Instance> = self.by_uuid.values().filter(|i| i.codebase == cb).collect();
        list.sort_by_key(|i| i.index);
        let mut out = Map::new();
        for i in list {
            let mut entry = Map::new();
            entry.insert("ip".into(), Value::from(i.ip.to_string()));
            entry.insert("timestamp".into(), Value::from(i.timestamp));
            let report = serde_json::from_slice(&i.report).unwrap_or(Value::Null);
            entry.insert("status".into(), normalize(&report));
            out.insert(i.index.to_string(), Value::Object(entry));
        }
        Value::Object(out)
    }
}

/// What a report's handling needs from it, borrowed from the body where possible.
#[derive(Deserialize)]
struct ReportHead<'a> {
    #[serde(borrow, default)]
    uuid: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    metrics: Option<&'a RawValue>,
}

impl<'a> ReportHead<'a> {
    /// The `version` of a stored report, `""` when it has none.
    fn version_of(report: &[u8]) -> String {
        #[derive(Deserialize)]
        struct Version<'a> {
            #[serde(borrow, default)]
            version: Cow<'a, str>,
        }
        serde_json::from_slice::<Version<'_>>(report)
            .map(|v| v.version.into_owned())
            .unwrap_or_default()
    }

    /// The head of a report; `None` if `body` is not JSON at all. JSON of another
    /// shape (not an object, a uuid that is not a string) counts as a report with
    /// empty fields, as upstream reads it.
    fn parse(body: &'a [u8]) -> Option<Self> {
        if let Ok(head) = serde_json::from_slice::<ReportHead<'a>>(body) {
            return Some(head);
        }
        let value: Value = serde_json::from_slice(body).ok()?;
        let text = |k: &str| {
            Cow::Owned(
                value
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            )
        };
        Some(ReportHead {
            uuid: text("uuid"),
            name: text("name"),
            metrics: None,
        })
    }
}

/// A report reduced to the keys `timestamp, since, uuid, name, ip, version, modules, logs`
/// in that order (spec §4.2); missing or mistyped keys become `0`, `""`, `{}` or `[]`.
fn normalize(report: &Value) -> Value {
    let num = |k: &str| {
        let n = match report.get(k) {
            Some(Value::Number(n)) => n.as_u64().unwrap_or_else(|| {
                // Negative numbers clamp to 0; fractions truncate.
                n.as_f64().map_or(0, |f| f.max(0.0) as u64)
            }),
            _ => 0,
        };
        Value::from(n)
    };
    let string = |k: &str| Value::from(report.get(k).and_then(Value::as_str).unwrap_or(""));
    let mut modules = Map::new();
    if let Some(Value::Object(m)) = report.get("modules") {
        for (name, module) in m {
            let mut entry = Map::new();
            if let Some(graph) = module.get("graph") {
                entry.insert("graph".into(), graph.clone());
            }
            modules.insert(name.clone(), Value::Object(entry));
        }
    }
    let logs: Vec<Value> = match report.get("logs") {
        Some(Value::Array(a)) => a.iter().filter(|v| v.is_string()).cloned().collect(),
        _ => Vec::new(),
    };
    let mut out = Map::new();
    out.insert("timestamp".into(), num("timestamp"));
    out.insert("since".into(), num("since"));
    out.insert("uuid".into(), string("uuid"));
    out.insert("name".into(), string("name"));
    out.insert("ip".into(), string("ip"));
    out.insert("version".into(), string("version"));
    out.insert("modules".into(), Value::Object(modules));
    out.insert("logs".into(), Value::Array(logs));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn body(v: &Value) -> Bytes {
        Bytes::from(serde_json::to_vec(v).unwrap())
    }

    fn report(uuid: &str) -> Value {
        serde_json::json!({ "uuid": uuid, "metrics": {}, "version": "3", "timestamp": 5 })
    }

    #[test]
    fn report_heads() {
        let h = ReportHead::parse(br#"{"uuid":"w","x":[1,{"y":null}]}"#).unwrap();
        assert_eq!((h.uuid.as_ref(), h.name.as_ref()), ("w", ""));
        let h = ReportHead::parse(br#"{"uuid":7,"name":"n"}"#).unwrap();
        assert_eq!((h.uuid.as_ref(), h.name.as_ref()), ("", "n"));
        assert!(ReportHead::parse(b"[1]").is_some());
        assert!(ReportHead::parse(b"{bad").is_none());
    }

    #[test]
    fn metrics_follow_their_instance() {
        let mut r = Registry::default();
        let full = serde_json::json!({"uuid": "m", "name": "edge", "metrics": {"version": 0,
            "roots": [{"k": "c", "t": "Counter", "l": "", "v": 1}]}});
        assert_eq!(
            r.report("/cb", ip("127.0.0.1"), 0, &body(&full)),
            Some(true)
        );
        let inc =
            serde_json::json!({"uuid": "m", "metrics": {"version": 7, "last": 0, "roots": [5]}});
        assert_eq!(r.report("/cb", ip("127.0.0.1"), 0, &body(&inc)), Some(true));
        // Same base again: it is no longer the version held.
        assert_eq!(
            r.report("/cb", ip("127.0.0.1"), 0, &body(&inc)),
            Some(false)
        );
        let latest = r.latest_metrics();
        assert_eq!(latest.len(), 1);
        assert_eq!(
            latest[0].0, "1",
            "named by index: the last report had no name"
        );
        assert_eq!(latest[0].1.entries[0].root.values, vec![5.0]);
        r.tick();
        assert_eq!(
            r.history("m").unwrap().one("c")[0]["v"],
            serde_json::json!([5])
        );
        r.expire(EXPIRE_AFTER_MS, |_| false);
        assert!(r.latest_metrics().is_empty() && r.history("m").is_none());
    }

    #[test]
    fn linked_instances_do_not_expire() {
        let mut r = Registry::default();
        r.report("/cb", ip("1.2.3.4"), 0, &body(&report("linked")));
        r.report("/cb", ip("1.2.3.4"), 0, &body(&report("silent")));
        r.expire(120_000, |u| u == "linked");
        let shown = r.of_codebase("/cb").to_string();
        assert!(
            shown.contains("linked") && !shown.contains("silent"),
            "{shown}"
        );
    }

    #[test]
    fn indexes_reattach_and_expire() {
        let mut r = Registry::default();
        r.report("/a", ip("127.0.0.1"), 1_000, &body(&report("u1")));
        r.report("/a", ip("127.0.0.1"), 1_000, &body(&serde_json::json!({})));
        r.report("/b", ip("127.0.0.1"), 2_000, &body(&report("u2")));
        assert_eq!(r.of_codebase("/a").as_object().unwrap().len(), 2);
        r.report("/b", ip("127.0.0.1"), 3_000, &body(&report("u1")));
        let a = r.of_codebase("/a");
        assert_eq!(a.as_object().unwrap().keys().collect::<Vec<_>>(), ["2"]);
        let b = serde_json::to_string(&r.of_codebase("/b")).unwrap();
        assert_eq!(
            b,
            r#"{"1":{"ip":"127.0.0.1","timestamp":3000,"status":{"timestamp":5,"since":0,"uuid":"u1","name":"","ip":"","version":"3","modules":{},"logs":[]}},"3":{"ip":"127.0.0.1","timestamp":2000,"status":{"timestamp":5,"since":0,"uuid":"u2","name":"","ip":"","version":"3","modules":{},"logs":[]}}}"#
        );
        r.expire(62_000, |_| false);
        assert_eq!(
            r.of_codebase("/b")
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["1"]
        );
        r.expire(63_000, |_| false);
        assert!(r.of_codebase("/b").as_object().unwrap().is_empty());
        // The uuid "" never expires; a new uuid gets a fresh index.
        r.expire(10_000_000, |_| false);
        assert_eq!(
            r.of_codebase("/a")
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["2"]
        );
        r.report("/a", ip("::1"), 10_000_000, &body(&report("u4")));
        assert!(r.of_codebase("/a").get("4").is_some());
    }
}
