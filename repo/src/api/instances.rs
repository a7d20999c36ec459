//! Worker instances known from status reports (spec §5.3, §7.4). Memory only.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// Instances whose last report is at least this old are dropped.
pub(super) const EXPIRE_AFTER_MS: u64 = 60_000;

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
    ip: String,
    timestamp: u64,
    status: Value,
}

/// Instances by uuid. Indexes start at 1 and are never reused.
#[derive(Debug, Default)]
pub(super) struct Registry {
    by_uuid: HashMap<String, Instance>,
    last_index: u64,
}

impl Registry {
    /// Records a status report of `report` (any JSON) for codebase `cb` from `ip` at
    /// `now`, (re)attaching the instance to `cb`.
    pub(super) fn report(&mut self, cb: &str, ip: String, now: u64, report: &Value) {
        let uuid = report.get("uuid").and_then(Value::as_str).unwrap_or("");
        let status = normalize(report);
        match self.by_uuid.get_mut(uuid) {
            Some(i) => {
                i.codebase = cb.to_owned();
                i.ip = ip;
                i.timestamp = now;
                i.status = status;
            }
            None => {
                self.last_index += 1;
                let i = Instance {
                    index: self.last_index,
                    codebase: cb.to_owned(),
                    ip,
                    timestamp: now,
                    status,
                };
                self.by_uuid.insert(uuid.to_owned(), i);
            }
        }
    }

    /// Drops instances whose last report is `EXPIRE_AFTER_MS` old at `now`, except the
    /// one with uuid `""` and those for which `linked` holds (a live admin link).
    pub(super) fn expire(&mut self, now: u64, linked: impl Fn(&str) -> bool) {
        self.by_uuid.retain(|uuid, i| {
            uuid.is_empty() || now.saturating_sub(i.timestamp) < EXPIRE_AFTER_MS || linked(uuid)
        });
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
            entry.insert("ip".into(), Value::from(i.ip.as_str()));
            entry.insert("timestamp".into(), Value::from(i.timestamp));
            entry.insert("status".into(), i.status.clone());
            out.insert(i.index.to_string(), Value::Object(entry));
        }
        Value::Object(out)
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

    fn report(uuid: &str) -> Value {
        serde_json::json!({ "uuid": uuid, "metrics": {}, "version": "3", "timestamp": 5 })
    }

    #[test]
    fn linked_instances_do_not_expire() {
        let mut r = Registry::default();
        r.report("/cb", "1.2.3.4".into(), 0, &report("linked"));
        r.report("/cb", "1.2.3.4".into(), 0, &report("silent"));
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
        r.report("/a", "127.0.0.1".into(), 1_000, &report("u1"));
        r.report("/a", "127.0.0.1".into(), 1_000, &serde_json::json!({}));
        r.report("/b", "127.0.0.1".into(), 2_000, &report("u2"));
        assert_eq!(r.of_codebase("/a").as_object().unwrap().len(), 2);
        r.report("/b", "127.0.0.1".into(), 3_000, &report("u1"));
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
        r.report("/a", "::1".into(), 10_000_000, &report("u4"));
        assert!(r.of_codebase("/a").get("4").is_some());
    }
}
