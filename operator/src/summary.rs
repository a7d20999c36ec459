//! How many sidecars run which version, in each Codebase's status.
//!
//! Sidecars report to whichever replica their connection lands on, and each replica
//! knows only its own reports. So every replica publishes its counts in a ConfigMap of
//! its own (`<lease>-instances-<pod>`, in the operator's namespace, refreshed every
//! [`PERIOD`]), and the leader (see [`crate::leader`]) adds up the fresh ones and
//! writes `status.instances` and the `Ready` condition, only when they change: at most
//! one status write per Codebase per period.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use pipy_repo::RepoState;

use crate::crd::{condition, reason, Codebase, Instances};

/// How often counts are published and summarised.
pub const PERIOD: Duration = Duration::from_secs(10);
/// Counts older than this (a replica that went away) are ignored.
pub const STALE_AFTER_SECONDS: i64 = 45;
/// The field manager of the summary's status writes.
pub const MANAGER: &str = "pipy-operator-summary";
/// The label of the per-replica count ConfigMaps; its value is the Lease's name.
pub const LABEL: &str = "pipy.dev/instances-of";

/// Per repo path (`/<ns>/<name>`): instance counts by version.
pub type Counts = BTreeMap<String, BTreeMap<String, i32>>;

/// Where the summary lives.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The operator's namespace.
    pub namespace: String,
    /// The leader election's Lease.
    pub lease: String,
    /// This replica's name.
    pub identity: String,
}

/// Adds up per-replica counts.
pub fn add(all: &[Counts]) -> Counts {
    let mut out = Counts::new();
    for counts in all {
        for (path, versions) in counts {
            let entry = out.entry(path.clone()).or_default();
            for (version, n) in versions {
                *entry.entry(version.clone()).or_default() += n;
            }
        }
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

fn local_counts(state: &RepoState) -> Counts {
    state
        .instance_versions()
        .into_iter()
        .map(|(path, versions)| {
            let versions = versions
                .into_iter()
                .map(|(v, n)| (v, i32::try_from(n).unwrap_or(i32::MAX)))
                .collect();
            (path, versions)
        })
        .collect()
}

/// Publishes this replica's counts and, while leading, summarises everyone's into
/// Codebase status, every [`PERIOD`], until the process ends.
pub async fn run(client: Client, state: Arc<RepoState>, settings: Settings) {
    let elector = crate::leader::Elector::new(
        client.clone(),
        &settings.namespace,
        &settings.lease,
        &settings.identity,
    );
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &settings.namespace);
    let mut last_written: BTreeMap<String, (Instances, String)> = BTreeMap::new();
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tick.tick().await;
        if let Err(e) = publish_counts(&config_maps, &settings, &local_counts(&state)).await {
            tracing::warn!("publishing instance counts: {e}");
        }
        match elector.try_lead().await {
            Ok(true) => {
                if let Err(e) =
                    write_statuses(&client, &config_maps, &settings, &mut last_written).await
                {
                    tracing::warn!("summarising instances: {e}");
                }
            }
            Ok(false) => last_written.clear(),
            Err(e) => tracing::warn!("leader election: {e}"),
        }
    }
}

async fn publish_counts(
    api: &Api<ConfigMap>,
    settings: &Settings,
    counts: &Counts,
) -> Result<(), kube::Error> {
    let name = format!("{}-instances-{}", settings.lease, settings.identity);
    let cm = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name, "labels": { LABEL: settings.lease } },
        "data": {
            "counts.json": serde_json::to_string(counts).unwrap_or_default(),
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

/// The fresh per-replica counts among `list`.
pub fn fresh_counts(list: &[ConfigMap], now: i64) -> Vec<Counts> {
    list.iter()
        .filter_map(|cm| {
            let data = cm.data.as_ref()?;
            let updated: i64 = data.get("updated")?.parse().ok()?;
            if now - updated > STALE_AFTER_SECONDS {
                return None;
            }
            serde_json::from_str(data.get("counts.json")?).ok()
        })
        .collect()
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
    let totals = add(&fresh_counts(&listed.items, Timestamp::now().as_second()));
    let codebases: Api<Codebase> = Api::all(client.clone());
    for cb in codebases.list(&ListParams::default()).await?.items {
        let Some(ns) = cb.namespace() else { continue };
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
        api.patch_status(
            &cb.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(status),
        )
        .await?;
        last_written.insert(key, fingerprint);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(entries: &[(&str, &str, i32)]) -> Counts {
        let mut out = Counts::new();
        for (path, version, n) in entries {
            out.entry(path.to_string())
                .or_default()
                .insert(version.to_string(), *n);
        }
        out
    }

    #[test]
    fn replicas_add_up_and_ready_means_every_sidecar_on_the_published_version() {
        let total = add(&[
            counts(&[("/demo/hello", "aaa", 2), ("/demo/hello", "bbb", 1)]),
            counts(&[("/demo/hello", "aaa", 3), ("/demo/edge", "ccc", 1)]),
        ]);
        let (instances, ready) = summarise(total.get("/demo/hello"), Some("aaa"), 4);
        assert_eq!((instances.total, instances.ready), (6, 5));
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", reason::ROLLING_OUT)
        );
        let (instances, ready) = summarise(total.get("/demo/edge"), Some("ccc"), 1);
        assert_eq!((instances.total, ready.status.as_str()), (1, "True"));
        let (instances, ready) = summarise(None, Some("ccc"), 1);
        assert_eq!(
            (instances.total, ready.reason.as_str()),
            (0, reason::NO_INSTANCES)
        );
    }

    #[test]
    fn stale_counts_are_ignored() {
        let cm = |updated: i64| ConfigMap {
            data: Some(BTreeMap::from([
                ("counts.json".to_string(), r#"{"/a/b":{"v":1}}"#.to_string()),
                ("updated".to_string(), updated.to_string()),
            ])),
            ..ConfigMap::default()
        };
        let fresh = fresh_counts(&[cm(1000), cm(900), ConfigMap::default()], 1010);
        assert_eq!(fresh, vec![counts(&[("/a/b", "v", 1)])]);
    }
}
