//! The repo the operator serves is a read model of the Codebase resources: every
//! replica rebuilds it from its watch cache (the published version of each Codebase
//! and that version's snapshot), so replicas keep no state of their own and scale out.
//!
//! Writes through the repo's REST API are refused (`403`, see [`READ_ONLY`]): the
//! Kubernetes API is the only source of truth, and a write that the next rebuild would
//! silently undo is worse than a clear refusal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use pipy_repo::{Repo, RepoState, SqliteStore};
use tokio::sync::Notify;

use crate::crd::Codebase;

/// What the repo answers to writes through its REST API.
pub const READ_ONLY: &str = "Codebases are Kubernetes resources here: change them with \
kubectl (kubectl apply -f codebase.yaml), not through the repo API";

/// Where a new repo codebase keeps its template main module.
const TEMPLATE_PATH: &str = "/main.js";

/// One Codebase as the repo serves it: the content of its published version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedCodebase {
    /// The repo path, `/<namespace>/<name>`.
    pub path: String,
    /// The published version (the short content hash): the manifest's etag.
    pub version: String,
    /// The entry module.
    pub main: String,
    /// Every file of the version (base files already merged in).
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Builds the repo that serves `codebases`. Each is a standalone codebase holding its
/// effective files (bases are resolved by the operator before), published as its
/// version, so its manifest etag is the version and identical content gives identical
/// etags across replicas and rebuilds.
pub fn build_repo(codebases: &[PublishedCodebase]) -> pipy_repo::Result<Repo<SqliteStore>> {
    let mut repo = Repo::new(SqliteStore::in_memory()?);
    for cb in codebases {
        repo.create(&cb.path, None, None)?;
        for (file, content) in &cb.files {
            repo.write_file(&cb.path, file, content)?;
        }
        if !cb.files.contains_key(TEMPLATE_PATH) {
            // A new repo codebase starts with a template main.js; this one has none.
            repo.erase_file(&cb.path, TEMPLATE_PATH)?;
        }
        repo.patch(&cb.path, Some(&cb.main), Some(&cb.version))?;
    }
    Ok(repo)
}

/// The published content of every Codebase: `status.version` and the snapshot
/// ConfigMap of that version. A Codebase whose snapshot is missing (not published yet,
/// or too large to keep) is left out.
pub fn published(codebases: &[Codebase], snapshots: &[ConfigMap]) -> Vec<PublishedCodebase> {
    let mut out = Vec::new();
    for cb in codebases {
        let (Some(ns), Some(version)) = (
            cb.namespace(),
            cb.status.as_ref().and_then(|s| s.version.clone()),
        ) else {
            continue;
        };
        let name = cb.name_any();
        let wanted = crate::crd::snapshot_name(&name, &version);
        let snapshot = snapshots.iter().find(|cm| {
            cm.metadata.namespace.as_deref() == Some(ns.as_str())
                && cm.metadata.name.as_deref() == Some(wanted.as_str())
        });
        let Some((main, files)) = snapshot.and_then(crate::resolve::Snapshot::from_config_map)
        else {
            continue;
        };
        out.push(PublishedCodebase {
            path: crate::repo_path(&ns, &name),
            version,
            main,
            files,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// How long a worker is held on a version this replica does not know: long enough
/// for a replica that lags another by a few watch events to catch up, short enough
/// that a Codebase deleted and created again (whose new history lacks the version the
/// workers ran) reaches them soon.
pub const HOLD_LIMIT: Duration = Duration::from_secs(30);
/// The most `(codebase, version)` pairs held at once.
pub const MAX_HELD: usize = 4096;

/// The versions each Codebase has published, as this replica's watch has seen them
/// (its `status.version` and `status.history`): a worker that runs a version not among
/// them got it from a replica further ahead, and this one must not move it back (the
/// repo Service keeps a worker on one replica, but not across a failover).
#[derive(Debug, Default)]
pub struct KnownVersions {
    /// By repo path.
    versions: std::sync::Mutex<BTreeMap<String, Vec<String>>>,
    /// When each `(path, version)` was first held.
    held: std::sync::Mutex<BTreeMap<(String, String), std::time::Instant>>,
}

impl KnownVersions {
    /// Replaces what is known with the versions of `codebases`.
    pub fn update(&self, codebases: &[Codebase]) {
        let mut map = BTreeMap::new();
        for cb in codebases {
            let (Some(ns), Some(status)) = (cb.namespace(), cb.status.as_ref()) else {
                continue;
            };
            let mut versions: Vec<String> = status.version.iter().cloned().collect();
            versions.extend(status.history.iter().map(|h| h.version.clone()));
            map.insert(crate::repo_path(&ns, &cb.name_any()), versions);
        }
        *self.versions.lock().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// The decision of [`HoldBack::hold`] at `now`.
    pub fn hold_at(&self, codebase: &str, running: &str, now: std::time::Instant) -> bool {
        let known = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let Some(versions) = known.get(codebase) else {
            return false;
        };
        if versions.iter().any(|v| v == running) {
            return false;
        }
        drop(known);
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(|_, since| now.saturating_duration_since(*since) < HOLD_LIMIT * 4);
        let key = (codebase.to_string(), running.to_string());
        if !held.contains_key(&key) && held.len() >= MAX_HELD {
            // Versions are what sidecars report: a flood of made-up ones is not held.
            return false;
        }
        let since = *held.entry(key).or_insert(now);
        now.saturating_duration_since(since) < HOLD_LIMIT
    }
}

impl pipy_repo::HoldBack for KnownVersions {
    fn hold(&self, codebase: &str, _serving: &str, running: &str) -> bool {
        self.hold_at(codebase, running, std::time::Instant::now())
    }
}

/// Runs a reflector (a watch with backoff into a cache) on its own task and returns
/// its cache; every applied object pokes `changed`, when given.
pub fn spawn_reflector<K>(
    api: Api<K>,
    config: watcher::Config,
    changed: Option<Arc<Notify>>,
) -> reflector::Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let writer = reflector::store::Writer::<K>::default();
    let reader = writer.as_reader();
    tokio::spawn(
        reflector(writer, watcher(api, config).default_backoff())
            .applied_objects()
            .for_each(move |_| {
                if let Some(changed) = &changed {
                    changed.notify_one();
                }
                std::future::ready(())
            }),
    );
    reader
}

/// Keeps `state`'s repo equal to the published Codebases: watches the snapshot
/// ConfigMaps and, with the Codebases of the caller's cache (whose changes poke the
/// same [`Notify`]), rebuilds the read model after each burst of changes.
/// `synced` is called once the first rebuild is done.
pub async fn follow(
    client: Client,
    state: Arc<RepoState>,
    known: Arc<KnownVersions>,
    codebases: (reflector::Store<Codebase>, Arc<Notify>),
    synced: impl FnOnce(),
) {
    let (cb_reader, poke) = codebases;
    let selector = watcher::Config::default().labels(crate::crd::LABEL_VERSION);
    let cm_reader = spawn_reflector(Api::<ConfigMap>::all(client), selector, Some(poke.clone()));
    let _ = futures_util::future::join(cb_reader.wait_until_ready(), cm_reader.wait_until_ready())
        .await;
    let mut synced = Some(synced);
    loop {
        let cbs: Vec<Codebase> = cb_reader.state().iter().map(|c| (**c).clone()).collect();
        let cms: Vec<ConfigMap> = cm_reader.state().iter().map(|c| (**c).clone()).collect();
        known.update(&cbs);
        match build_repo(&published(&cbs, &cms)) {
            Ok(repo) => match state.replace_repo(repo) {
                Ok(changed) if !changed.is_empty() => {
                    tracing::info!("repo rebuilt; new versions of {}", changed.join(", "))
                }
                Ok(_) => {}
                Err(e) => tracing::error!("repo rebuild: {e}"),
            },
            Err(e) => tracing::error!("repo rebuild: {e}"),
        }
        if let Some(f) = synced.take() {
            f();
        }
        // Wait for a change, then let the burst settle.
        poke.notified().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_on_a_version_this_replica_never_saw_are_held_for_a_while() {
        let mut cb = crate::crd::test_codebase("demo", "hello", None, &[]);
        cb.status = Some(crate::crd::CodebaseStatus {
            version: Some("v1".into()),
            history: vec![crate::crd::PublishedVersion {
                version: "v0".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let known = KnownVersions::default();
        known.update(&[cb]);
        let now = std::time::Instant::now();
        // Known versions (the served one, or a rollback's) move workers as usual.
        assert!(!known.hold_at("/demo/hello", "v0", now));
        // A version from a replica further ahead is kept, for a while.
        assert!(known.hold_at("/demo/hello", "v2", now));
        assert!(known.hold_at("/demo/hello", "v2", now + HOLD_LIMIT / 2));
        assert!(!known.hold_at("/demo/hello", "v2", now + HOLD_LIMIT));
        // A codebase this replica does not know is not held.
        assert!(!known.hold_at("/demo/other", "v2", now));
    }

    fn published(path: &str, version: &str, files: &[(&str, &str)]) -> PublishedCodebase {
        PublishedCodebase {
            path: path.into(),
            version: version.into(),
            main: files[0].0.into(),
            files: files
                .iter()
                .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn the_repo_serves_each_published_version_as_is() {
        let repo = build_repo(&[
            published(
                "/demo/hello",
                "0a1b2c3d4e5f",
                &[("/main.js", "m"), ("/lib/u.js", "u")],
            ),
            published("/demo/edge", "ffffffffffff", &[("/proxy.js", "p")]),
        ])
        .unwrap();
        let manifest = repo.manifest("/demo/hello").unwrap().unwrap();
        assert_eq!(manifest.etag, "0a1b2c3d4e5f");
        assert_eq!(
            String::from_utf8_lossy(&manifest.content),
            "/main.js\n/lib/u.js"
        );
        let edge = repo.manifest("/demo/edge").unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&edge.content), "/proxy.js");
        assert!(repo.published("/demo/edge", "/main.js").unwrap().is_none());
        let file = repo.published("/demo/hello", "/lib/u.js").unwrap().unwrap();
        assert_eq!(
            (file.content, file.etag),
            (b"u".to_vec(), "0a1b2c3d4e5f".into())
        );
    }
}
