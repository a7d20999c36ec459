//! How many sidecars run which version, in each Codebase's status.
//!
//! Sidecars report to whichever replica their connection lands on, and each replica
//! knows only the reports it received. So every replica publishes the instances it
//! heard from (uuid, codebase, version, time of the report) in a ConfigMap of its own
//! (`<lease>-instances-<pod>`, in the operator's namespace, owned by the replica's Pod
//! when it runs in one, refreshed every [`PERIOD`]), and the leader (see
//! [`crate::leader`]) merges them **per instance**: a worker that reported to both
//! replicas counts once, with its latest report, and an instance whose latest report
//! is older than [`INSTANCE_TTL_MS`] is gone. It writes `status.instances` and the
//! `Ready` condition only when they change: at most one status write per Codebase per
//! period. The leader also deletes the ConfigMaps of replicas that stopped refreshing
//! theirs for [`COLLECT_AFTER_SECONDS`]; a replica that stops cleanly deletes its own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use pipy_repo::{InstanceReport, RepoState};
use tokio::sync::watch;

use crate::crd::{condition, reason, Codebase, Instances};

/// How often instances are published and summarised.
pub const PERIOD: Duration = Duration::from_secs(5);
/// An instance whose latest report (to any replica) is older than this is gone:
/// workers report every 5 s.
pub const INSTANCE_TTL_MS: u64 = 20_000;
/// The leader deletes a replica's ConfigMap not refreshed for this long.
pub const COLLECT_AFTER_SECONDS: i64 = 120;
/// The field manager of the summary's status writes.
pub const MANAGER: &str = "pipy-operator-summary";
/// The label of the per-replica ConfigMaps; its value is the Lease's name.
pub const LABEL: &str = "pipy.dev/instances-of";
/// The key of a per-replica ConfigMap that holds its instances.
const INSTANCES_KEY: &str = "instances.json";

/// Per repo path (`/<ns>/<name>`): instance counts by version.
pub type Counts = BTreeMap<String, BTreeMap<String, i32>>;

/// Instances by uuid: `(repo path, version, report time in ms since the epoch)`.
pub type Reports = BTreeMap<String, (String, String, u64)>;

/// Where the summary lives.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The operator's namespace.
    pub namespace: String,
    /// The leader election's Lease.
    pub lease: String,
    /// This replica's name.
    pub identity: String,
    /// This replica's Pod UID (`POD_UID`), to own its ConfigMap; `None` outside a Pod.
    pub pod_uid: Option<String>,
}

/// Merges per-replica reports: for each instance, its latest report; instances whose
/// latest report is older than [`INSTANCE_TTL_MS`] at `now_ms` are left out.
pub fn merge(all: &[Reports], now_ms: u64) -> Reports {
    let mut out = Reports::new();
    for reports in all {
        for (uuid, report) in reports {
            match out.get(uuid) {
                Some(seen) if seen.2 >= report.2 => {}
                _ => {
                    out.insert(uuid.clone(), report.clone());
                }
            }
        }
    }
    out.retain(|_, r| now_ms.saturating_sub(r.2) <= INSTANCE_TTL_MS);
    out
}

/// Counts merged instances per codebase path and version.
pub fn count(reports: &Reports) -> Counts {
    let mut out = Counts::new();
    for (path, version, _) in reports.values() {
        *out.entry(path.clone())
            .or_default()
            .entry(version.clone())
            .or_default() += 1;
    }
    out
}

/// The `instances` of a codebase serving `published` and its `Ready` condition.
pub fn summarise(
    versions: Option<&BTreeMap<String, i32>>,
    published: Option<&str>,
    generation: i64,
) -> (Instances, Condition) {
    let by_version = versions.cloned().unwrap_or_default();
    let total: i32 = by_version.values().sum();
    let ready = published
        .and_then(|v| by_version.get(v))
        .copied()
        .unwrap_or(0);
    let (ok, why, message) = if total == 0 {
        (
            false,
            reason::NO_INSTANCES,
            "no sidecar reports this codebase".to_string(),
        )
    } else if ready == total {
        (
            true,
            reason::UP_TO_DATE,
            format!("{ready} of {total} sidecars run the published version"),
        )
    } else {
        (
            false,
            reason::ROLLING_OUT,
            format!("{ready} of {total} sidecars run the published version"),
        )
    };
    let condition = Condition {
        type_: condition::READY.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: why.into(),
        message,
        observed_generation: Some(generation),
        last_transition_time: Time(Timestamp::now()),
    };
    (
        Instances {
            total,
            ready,
            by_version,
        },
        condition,
    )
}

/// The longest version a report may name (a content hash is 12 characters); longer
/// ones are not versions this operator published and count as unknown (`""`).
pub const MAX_VERSION_LEN: usize = 64;
/// The most instances one replica publishes (the most recent reports): a ConfigMap
/// holds 1 MiB, and sidecars choose their uuids.
pub const MAX_INSTANCES: usize = 5000;

fn local_reports(state: &RepoState) -> Reports {
    let mut reports: Vec<InstanceReport> = state.instance_reports();
    if reports.len() > MAX_INSTANCES {
        reports.sort_by_key(|r| std::cmp::Reverse(r.reported_ms));
        reports.truncate(MAX_INSTANCES);
    }
    reports
        .into_iter()
        .map(|r| {
            let version = if r.version.len() > MAX_VERSION_LEN {
                String::new()
            } else {
                r.version
            };
            let uuid: String = r.uuid.chars().take(MAX_VERSION_LEN).collect();
            (uuid, (r.codebase, version, r.reported_ms))
        })
        .collect()
}

/// Publishes this replica's instances every [`PERIOD`] and, while `leading` says so,
/// merges everyone's into Codebase status; until `stop` completes, when this
/// replica's ConfigMap is deleted.
pub async fn run(
    client: Client,
    state: Arc<RepoState>,
    settings: Settings,
    leading: watch::Receiver<bool>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &settings.namespace);
    let mut last_written: BTreeMap<String, (Instances, String)> = BTreeMap::new();
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = publish_reports(&config_maps, &settings, &local_reports(&state)).await {
            tracing::warn!("publishing instances: {e}");
        }
        if *leading.borrow() {
            if let Err(e) =
                write_statuses(&client, &config_maps, &settings, &mut last_written).await
            {
                tracing::warn!("summarising instances: {e}");
            }
        } else {
            last_written.clear();
        }
    }
    let name = config_map_name(&settings);
    if let Err(e) = config_maps.delete(&name, &DeleteParams::default()).await {
        tracing::debug!("deleting {name}: {e}");
    }
}

/// The name of a replica's ConfigMap.
pub fn config_map_name(settings: &Settings) -> String {
    format!("{}-instances-{}", settings.lease, settings.identity)
}

async fn publish_reports(
    api: &Api<ConfigMap>,
    settings: &Settings,
    reports: &Reports,
) -> Result<(), kube::Error> {
    let name = config_map_name(settings);
    let mut metadata = serde_json::json!({ "name": name, "labels": { LABEL: settings.lease } });
    if let Some(uid) = &settings.pod_uid {
        // Garbage-collected with the replica's Pod.
        metadata["ownerReferences"] = serde_json::to_value(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: settings.identity.clone(),
            uid: uid.clone(),
            ..OwnerReference::default()
        }])
        .unwrap_or_default();
    }
    let cm = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {
            INSTANCES_KEY: serde_json::to_string(reports).unwrap_or_default(),
            "updated": Timestamp::now().as_second().to_string(),
        },
    });
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(cm),
    )
    .await
    .map(|_| ())
}

/// The reports of every replica's ConfigMap among `list`, and the names of the
/// ConfigMaps not refreshed for [`COLLECT_AFTER_SECONDS`] at `now` (seconds).
pub fn replica_reports(list: &[ConfigMap], now: i64) -> (Vec<Reports>, Vec<String>) {
    let mut reports = Vec::new();
    let mut stale = Vec::new();
    for cm in list {
        let Some(data) = cm.data.as_ref() else {
            continue;
        };
        let updated: Option<i64> = data.get("updated").and_then(|u| u.parse().ok());
        if updated.is_none_or(|u| now - u > COLLECT_AFTER_SECONDS) {
            stale.extend(cm.metadata.name.clone());
            continue;
        }
        if let Some(r) = data
            .get(INSTANCES_KEY)
            .and_then(|j| serde_json::from_str(j).ok())
        {
            reports.push(r);
        }
    }
    (reports, stale)
}

pub(crate) async fn write_statuses(
    client: &Client,
    config_maps: &Api<ConfigMap>,
    settings: &Settings,
    last_written: &mut BTreeMap<String, (Instances, String)>,
) -> Result<(), kube::Error> {
    let listed = config_maps
        .list(&ListParams::default().labels(&format!("{LABEL}={}", settings.lease)))
        .await?;
    let now = Timestamp::now();
    let (reports, stale) = replica_reports(&listed.items, now.as_second());
    for name in stale {
        tracing::info!("deleting {name}: its replica stopped refreshing it");
        let _ = config_maps.delete(&name, &DeleteParams::default()).await;
    }
    let now_ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
    let totals = count(&merge(&reports, now_ms));
    let codebases: Api<Codebase> = Api::all(client.clone());
    let mut seen = std::collections::BTreeSet::new();
    for cb in codebases.list(&ListParams::default()).await?.items {
        let Some(ns) = cb.namespace() else { continue };
        seen.insert(format!("{ns}/{}", cb.name_any()));
        let path = crate::repo_path(&ns, &cb.name_any());
        let published = cb.status.as_ref().and_then(|s| s.version.as_deref());
        let generation = cb.metadata.generation.unwrap_or(0);
        if cb.metadata.deletion_timestamp.is_some() {
            // Its Ready condition says why the deletion waits; leave it alone.
            continue;
        }
        let (instances, mut ready) = summarise(totals.get(&path), published, generation);
        let previous = cb
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == condition::READY));
        if let Some(previous) = previous.filter(|p| p.status == ready.status) {
            ready.last_transition_time = previous.last_transition_time.clone();
        }
        let key = format!("{ns}/{}", cb.name_any());
        let fingerprint = (
            instances.clone(),
            format!("{}{}", ready.status, ready.message),
        );
        if last_written.get(&key) == Some(&fingerprint) {
            continue;
        }
        let status = serde_json::json!({
            "apiVersion": "pipy.dev/v1alpha1",
            "kind": "Codebase",
            "status": { "instances": instances, "conditions": [ready] },
        });
        let api: Api<Codebase> = Api::namespaced(client.clone(), &ns);
        // One Codebase that cannot be written (deleted meanwhile) does not hold up the
        // others.
        match api
            .patch_status(
                &cb.name_any(),
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(status),
            )
            .await
        {
            Ok(_) => {
                last_written.insert(key, fingerprint);
            }
            Err(e) => tracing::warn!("instances of {key}: {e}"),
        }
    }
    last_written.retain(|key, _| seen.contains(key));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports(entries: &[(&str, &str, &str, u64)]) -> Reports {
        entries
            .iter()
            .map(|(uuid, path, version, at)| {
                (
                    uuid.to_string(),
                    (path.to_string(), version.to_string(), *at),
                )
            })
            .collect()
    }

    #[test]
    fn an_instance_that_reported_to_two_replicas_counts_once_with_its_latest_report() {
        let now = 1_000_000;
        let a = reports(&[
            ("w1", "/demo/hello", "v1", now - 9_000),
            ("w2", "/demo/hello", "v2", now - 1_000),
            ("gone", "/demo/hello", "v1", now - 30_000),
        ]);
        let b = reports(&[
            ("w1", "/demo/hello", "v2", now - 2_000),
            ("w3", "/demo/edge", "e1", now - 3_000),
        ]);
        let merged = merge(&[a, b], now);
        assert_eq!(merged.len(), 3, "{merged:?}");
        assert_eq!(merged["w1"].1, "v2");
        let counts = count(&merged);
        let (instances, ready) = summarise(counts.get("/demo/hello"), Some("v2"), 4);
        assert_eq!((instances.total, instances.ready), (2, 2));
        assert_eq!(ready.status, "True");
        let (instances, ready) = summarise(counts.get("/demo/hello"), Some("v3"), 5);
        assert_eq!((instances.total, instances.ready), (2, 0));
        assert_eq!(ready.reason, reason::ROLLING_OUT);
        let (instances, ready) = summarise(None, Some("ccc"), 1);
        assert_eq!(
            (instances.total, ready.reason.as_str()),
            (0, reason::NO_INSTANCES)
        );
    }

    #[test]
    fn stale_config_maps_are_collected() {
        let cm = |name: &str, updated: Option<i64>| {
            let mut data = BTreeMap::from([(
                INSTANCES_KEY.to_string(),
                r#"{"u":["/a/b","v",5]}"#.to_string(),
            )]);
            if let Some(u) = updated {
                data.insert("updated".to_string(), u.to_string());
            }
            let mut cm = ConfigMap {
                data: Some(data),
                ..ConfigMap::default()
            };
            cm.metadata.name = Some(name.into());
            cm
        };
        let (fresh, stale) = replica_reports(
            &[cm("a", Some(1000)), cm("b", Some(800)), cm("c", None)],
            1010,
        );
        assert_eq!(fresh, vec![reports(&[("u", "/a/b", "v", 5)])]);
        assert_eq!(stale, vec!["b".to_string(), "c".to_string()]);
    }
}
