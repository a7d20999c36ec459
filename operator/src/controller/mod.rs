//! The Codebase controller (kube-runtime's `Controller`, in the controller-rs shape):
//! `reconcile` runs [`apply`] on a Codebase that is not being deleted; `error_policy`
//! counts the failure and retries with a growing delay.
//!
//! Apply: resolve the spec's content along its base chain, validate it in a dry run,
//! and publish it (a snapshot ConfigMap owned by the Codebase keeps the content of each
//! published version; `status.version` names the served one), or keep the published
//! version when the content is invalid, paused, or rolled back. Status is written with
//! server-side apply. Changes of a base requeue its derivatives (their content hash
//! changes with it), so publishing a base re-publishes them.
//!
//! No finalizer: the validating webhook refuses to delete a base that still has
//! derivatives, and the finalizer older operators set is removed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};

use crate::crd::{condition, reason, Codebase, CodebaseStatus, PublishedVersion, FINALIZER};
use crate::crd::{HISTORY_LIMIT, LABEL_CODEBASE, LABEL_VERSION};
use crate::metrics::Metrics;
use crate::resolve;

/// The field manager of the controller's server-side applies.
pub const MANAGER: &str = "pipy-operator";

/// Everything that can fail in a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused a request.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A Codebase without a namespace (the kind is namespaced, so never in practice).
    #[error("a Codebase without a namespace")]
    NoNamespace,
}

impl Error {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::NoNamespace => "invalid",
        }
    }
}

/// What reconciles share.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Every Codebase, from the controller's watch cache.
    pub codebases: Store<Codebase>,
    /// Who reports the events about Codebases.
    pub reporter: Reporter,
    /// One event recorder per Codebase and reason, with the note it last published.
    /// kube's `Recorder` folds events that differ only in their note into one series
    /// that keeps the first note (a second `Published` would still name the first
    /// version), so a new note gets a new recorder, hence a new Event; a repeated note
    /// still counts up the series of its Event.
    recorders: Mutex<BTreeMap<(String, String), (String, Recorder)>>,
    /// Reconcile counters.
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per object, for the backoff of `error_policy`.
    failures: Mutex<BTreeMap<String, u32>>,
    /// Codebases to reconcile again: the derivatives of a base that just published.
    requeue: Option<tokio::sync::mpsc::UnboundedSender<ObjectRef<Codebase>>>,
}

impl Context {
    /// The context of reconciles that read Codebases from `codebases` and publish
    /// events as `reporter`.
    pub fn new(
        client: Client,
        codebases: Store<Codebase>,
        reporter: Reporter,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            codebases,
            reporter,
            recorders: Mutex::new(BTreeMap::new()),
            metrics,
            failures: Mutex::new(BTreeMap::new()),
            requeue: None,
        }
    }

    /// Sends the derivatives of a base that published a new version to `requeue`, so
    /// that they resolve against the base's content as this reconcile saw it.
    pub fn with_requeue(
        mut self,
        requeue: tokio::sync::mpsc::UnboundedSender<ObjectRef<Codebase>>,
    ) -> Self {
        self.requeue = Some(requeue);
        self
    }
}

/// The key of an object in `Context::failures`: `namespace/name`.
fn failure_key(cb: &Codebase) -> String {
    format!("{}/{}", cb.namespace().unwrap_or_default(), cb.name_any())
}

/// Runs the controller whenever this replica leads (`leading`, from
/// [`crate::leader::run`]), until `stop` is set: the other replicas only serve, so that
/// no two replicas race on a write or publish the same Event. A replica that stops
/// leading stops its controller at once (reconciles in flight finish).
pub async fn run(
    client: Client,
    metrics: Arc<Metrics>,
    mut leading: tokio::sync::watch::Receiver<bool>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            // Stopping wins over leading (both hold while the Lease is being released).
            biased;
            _ = stop.wait_for(|s| *s) => return,
            changed = leading.wait_for(|l| *l) => if changed.is_err() { return },
        }
        if *stop.borrow() {
            return;
        }
        tracing::info!("leading: the Codebase controller runs here");
        let (mut lead, mut halt) = (leading.clone(), stop.clone());
        let lost = async move {
            tokio::select! {
                _ = lead.wait_for(|l| !*l) => {}
                _ = halt.wait_for(|s| *s) => {}
            }
        };
        run_controller(client.clone(), metrics.clone(), lost).await;
        tracing::info!("the Codebase controller stopped");
    }
}

/// Runs one Codebase controller until `until` completes.
async fn run_controller(
    client: Client,
    metrics: Arc<Metrics>,
    until: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<Codebase> = Api::all(client.clone());
    let controller = Controller::new(api.clone(), watcher::Config::default());
    let store = controller.store();
    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let (requeue, requeued) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Arc::new(
        Context::new(client, store.clone(), reporter, metrics.clone()).with_requeue(requeue),
    );
    let requeued = futures_util::stream::unfold(requeued, |mut rx| async move {
        rx.recv().await.map(|r| (r, rx))
    });
    let mapper_store = store.clone();
    let config_map_store = store.clone();
    // Source ConfigMaps: an edit republishes the codebases that read it at once. Only
    // their metadata is watched (no cache of every ConfigMap's data).
    let config_maps = watcher(
        Api::<kube::core::PartialObjectMeta<ConfigMap>>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    controller
        // A change of a base requeues every codebase that derives from it, from the
        // watch (any change) and, once the base published, from its reconcile: the
        // second watch may run ahead of the store the reconciles read.
        // Its bases are requeued too: their `status.derived` lists it (or no longer).
        .watches(api, watcher::Config::default(), move |changed: Codebase| {
            let mut keys = derivatives_of(&mapper_store, &changed);
            keys.extend(bases_of(&mapper_store, &changed));
            keys
        })
        .watches_stream(config_maps, move |cm| {
            readers_of(
                &config_map_store,
                &cm.namespace().unwrap_or_default(),
                &cm.name_any(),
            )
        })
        .reconcile_on(requeued)
        .graceful_shutdown_on(until)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("reconcile: {e}");
            }
        })
        .await;
}

/// The codebases that read ConfigMap `namespace/name` (theirs or a base's), as
/// controller keys.
fn readers_of(store: &Store<Codebase>, namespace: &str, name: &str) -> Vec<ObjectRef<Codebase>> {
    let all: Vec<Codebase> = store.state().iter().map(|c| (**c).clone()).collect();
    let wanted = (namespace.to_string(), name.to_string());
    all.iter()
        .filter(|cb| resolve::config_maps_needed(&all, cb).contains(&wanted))
        .filter_map(|cb| Some(ObjectRef::new(&cb.name_any()).within(&cb.namespace()?)))
        .collect()
}

/// The codebases (transitively) derived from `base`, as controller keys.
fn derivatives_of(store: &Store<Codebase>, base: &Codebase) -> Vec<ObjectRef<Codebase>> {
    let all: Vec<Codebase> = store.state().iter().map(|c| (**c).clone()).collect();
    resolve::derivatives(&all, base)
        .into_iter()
        .map(|(ns, name)| ObjectRef::new(&name).within(&ns))
        .collect()
}

/// The codebases `cb` derives from (its base chain as far as the store has it), as
/// controller keys.
fn bases_of(store: &Store<Codebase>, cb: &Codebase) -> Vec<ObjectRef<Codebase>> {
    let all: Vec<Codebase> = store.state().iter().map(|c| (**c).clone()).collect();
    let mut out: Vec<ObjectRef<Codebase>> = Vec::new();
    let mut next = resolve::base_of(cb).ok().flatten();
    while let Some((ns, name)) = next {
        let key = ObjectRef::new(&name).within(&ns);
        if out.contains(&key) {
            break; // a cycle
        }
        out.push(key);
        next = all
            .iter()
            .find(|c| c.namespace().as_deref() == Some(ns.as_str()) && c.name_any() == name)
            .and_then(|c| resolve::base_of(c).ok().flatten());
    }
    out
}

/// Forgets the recorders and backoffs of Codebases that are gone (without finalizers a
/// deletion may never be reconciled), once the maps outgrow the store.
fn prune(ctx: &Context) {
    let live = ctx.codebases.state().len();
    let limit = live * 4 + 64;
    let present = |key: &str| {
        key.split_once('/').is_some_and(|(ns, name)| {
            ctx.codebases
                .get(&ObjectRef::new(name).within(ns))
                .is_some()
        })
    };
    let mut recorders = ctx.recorders.lock().unwrap_or_else(|e| e.into_inner());
    if recorders.len() > limit {
        recorders.retain(|(object, _), _| present(object));
    }
    drop(recorders);
    let mut failures = ctx.failures.lock().unwrap_or_else(|e| e.into_inner());
    if failures.len() > limit {
        failures.retain(|object, _| present(object));
    }
}

async fn reconcile(cb: Arc<Codebase>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile();
    prune(&ctx);
    let ns = cb.namespace().ok_or(Error::NoNamespace)?;
    let key = failure_key(&cb);
    let api: Api<Codebase> = Api::namespaced(ctx.client.clone(), &ns);
    // Older operators put a finalizer on every Codebase: take it off (a base with
    // derivatives is now protected by the validating webhook).
    if let Some(at) = cb.finalizers().iter().position(|f| f.as_str() == FINALIZER) {
        let pointer = format!("/metadata/finalizers/{at}");
        let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
            { "op": "test", "path": pointer, "value": FINALIZER },
            { "op": "remove", "path": pointer },
        ]))
        .map_err(|e| Error::Kube(kube::Error::SerdeError(e)))?;
        api.patch::<Codebase>(&cb.name_any(), &PatchParams::default(), &Patch::Json(patch))
            .await?;
    }
    let result = if cb.metadata.deletion_timestamp.is_some() {
        ctx.recorders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(object, _), _| *object != key);
        Ok(Action::await_change())
    } else {
        apply(cb, ctx.clone()).await
    };
    // A success resets this object's backoff (not the others').
    if result.is_ok() {
        if let Ok(mut f) = ctx.failures.lock() {
            f.remove(&key);
        }
    }
    result
}

/// Requeues a failed object after 1 s, 2 s, 4 s … up to 5 minutes.
fn error_policy(cb: Arc<Codebase>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(error.kind());
    tracing::warn!(codebase = %cb.name_any(), "reconcile failed: {error}");
    let key = failure_key(&cb);
    let attempts = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(key).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    Action::requeue(backoff(attempts))
}

/// The delay before retry number `attempts` (1-based).
pub fn backoff(attempts: u32) -> Duration {
    let secs = 1u64 << attempts.saturating_sub(1).min(9);
    Duration::from_secs(secs.min(300))
}

fn condition(type_: &str, ok: bool, reason: &str, message: String, generation: i64) -> Condition {
    Condition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        observed_generation: Some(generation),
        last_transition_time: Time(Timestamp::now()),
    }
}

/// Keeps `lastTransitionTime` of conditions whose status did not change.
fn merge_conditions(old: &[Condition], new: Vec<Condition>) -> Vec<Condition> {
    new.into_iter()
        .map(|mut c| {
            if let Some(prev) = old.iter().find(|p| p.type_ == c.type_) {
                if prev.status == c.status {
                    c.last_transition_time = prev.last_transition_time.clone();
                }
            }
            c
        })
        .collect()
}

/// What apply decided about publishing.
struct Outcome {
    version: Option<String>,
    history: Vec<PublishedVersion>,
    published: Condition,
}

async fn apply(cb: Arc<Codebase>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = cb.namespace().ok_or(Error::NoNamespace)?;
    let name = cb.name_any();
    let generation = cb.metadata.generation.unwrap_or(0);
    let old = cb.status.clone().unwrap_or_default();
    let all: Vec<Codebase> = ctx
        .codebases
        .state()
        .iter()
        .map(|c| (**c).clone())
        .collect();
    let config_maps = fetch_config_maps(&ctx.client, &all, &cb).await?;
    let resolved = resolve::resolve(&all, &cb, &config_maps);
    // `contentHash` and `main` describe what the spec resolves to, valid or not (so an
    // invalid spec shows a hash that differs from the served version).
    let spec_content = resolved
        .as_ref()
        .ok()
        .map(|c| (c.content_hash.clone(), c.main.clone()));

    // Valid: resolves, and loads in the dry run.
    let (valid, content) = match resolved {
        Err(e) => (
            condition(
                condition::VALID,
                false,
                e.reason(),
                e.to_string(),
                generation,
            ),
            None,
        ),
        Ok(content) => {
            let (files, main) = (content.files.clone(), content.main.clone());
            let checked = tokio::task::spawn_blocking(move || {
                crate::validate::validate_codebase(&files, &main)
            })
            .await;
            match checked {
                Ok(Ok(())) => (
                    condition(
                        condition::VALID,
                        true,
                        reason::LOADED,
                        String::new(),
                        generation,
                    ),
                    Some(content),
                ),
                Ok(Err(e)) => (
                    condition(
                        condition::VALID,
                        false,
                        reason::SCRIPT_ERROR,
                        e.to_string(),
                        generation,
                    ),
                    None,
                ),
                Err(e) => (
                    condition(
                        condition::VALID,
                        false,
                        reason::SCRIPT_ERROR,
                        format!("validation crashed: {e}"),
                        generation,
                    ),
                    None,
                ),
            }
        }
    };
    if valid.status == "False" && old_condition_differs(&old, &valid) {
        event(&ctx, &cb, EventType::Warning, "Invalid", &valid.message).await;
    }

    let outcome = publish(&ctx, &cb, &all, &old, content.as_ref(), generation).await?;
    let derived: Vec<String> = resolve::derivatives(&all, &cb)
        .into_iter()
        .map(|(ns, name)| format!("{ns}/{name}"))
        .collect();
    if outcome.version != old.version {
        if let Some(v) = &outcome.version {
            let note = format!("version {v} is served at {}", crate::repo_path(&ns, &name));
            event(&ctx, &cb, EventType::Normal, "Published", &note).await;
        }
        if let Some(requeue) = &ctx.requeue {
            for derivative in derivatives_of(&ctx.codebases, &cb) {
                let _ = requeue.send(derivative);
            }
        }
    }
    // Bases whose `status.derived` does not list this codebase yet reconcile again (the
    // watch's requeue of the bases may have run ahead of the store they read).
    if let Some(requeue) = &ctx.requeue {
        let me = format!("{ns}/{name}");
        for base in bases_of(&ctx.codebases, &cb) {
            let listed = ctx
                .codebases
                .get(&base)
                .is_some_and(|b| b.status.as_ref().is_some_and(|s| s.derived.contains(&me)));
            if !listed {
                let _ = requeue.send(base);
            }
        }
    }
    let conditions = merge_conditions(&old.conditions, vec![valid, outcome.published]);
    let status = serde_json::json!({
        "apiVersion": "pipy.dev/v1alpha1",
        "kind": "Codebase",
        "status": CodebaseStatus {
            observed_generation: Some(generation),
            version: outcome.version,
            content_hash: spec_content.as_ref().map(|c| c.0.clone()).or(old.content_hash),
            main: spec_content.map(|c| c.1).or(old.main),
            conditions,
            derived,
            history: outcome.history,
            // `instances` (and `Ready`) belong to the leader's summary.
            instances: None,
        },
    });
    let api: Api<Codebase> = Api::namespaced(ctx.client.clone(), &ns);
    match api
        .patch_status(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(status),
        )
        .await
    {
        Ok(_) => Ok(Action::requeue(Duration::from_secs(300))),
        // Deleted while this reconcile ran: nothing left to report on.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

fn old_condition_differs(old: &CodebaseStatus, new: &Condition) -> bool {
    !old.conditions
        .iter()
        .any(|c| c.type_ == new.type_ && c.status == new.status && c.message == new.message)
}

async fn event(ctx: &Context, cb: &Codebase, type_: EventType, reason: &str, note: &str) {
    let note: String = note.chars().take(1000).collect();
    let recorder = {
        let mut recorders = ctx.recorders.lock().unwrap_or_else(|e| e.into_inner());
        let key = (failure_key(cb), reason.to_string());
        match recorders.get(&key) {
            Some((last, recorder)) if *last == note => recorder.clone(),
            _ => {
                let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
                recorders.insert(key, (note.clone(), recorder.clone()));
                recorder
            }
        }
    };
    let ev = KubeEvent {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, &cb.object_ref(&())).await {
        tracing::warn!("event for {}: {e}", cb.name_any());
    }
}

/// The ConfigMaps the codebase and its bases read, by `(namespace, name)`.
async fn fetch_config_maps(
    client: &Client,
    all: &[Codebase],
    cb: &Codebase,
) -> Result<BTreeMap<(String, String), ConfigMap>, Error> {
    let mut out = BTreeMap::new();
    for (ns, name) in resolve::config_maps_needed(all, cb) {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        if let Some(cm) = api.get_opt(&name).await? {
            out.insert((ns, name), cm);
        }
    }
    Ok(out)
}

/// Decides what the repo serves and records a newly published version.
async fn publish(
    ctx: &Context,
    cb: &Codebase,
    all: &[Codebase],
    old: &CodebaseStatus,
    content: Option<&resolve::Resolved>,
    generation: i64,
) -> Result<Outcome, Error> {
    let ns = cb.namespace().ok_or(Error::NoNamespace)?;
    let mut history = old.history.clone();
    let keep = |published: Condition, history| Outcome {
        version: old.version.clone(),
        history,
        published,
    };
    if let Some(target) = &cb.spec.rollback_to {
        let kept = history
            .iter()
            .any(|h| &h.version == target && h.config_map.is_some());
        return Ok(if kept {
            Outcome {
                version: Some(target.clone()),
                history,
                published: condition(
                    condition::PUBLISHED,
                    true,
                    reason::ROLLED_BACK,
                    format!("rolled back to {target}"),
                    generation,
                ),
            }
        } else {
            keep(
                condition(
                    condition::PUBLISHED,
                    false,
                    reason::UNKNOWN_VERSION,
                    format!("{target} is not a version kept in status.history"),
                    generation,
                ),
                history,
            )
        });
    }
    if let Some(holder) = resolve::paused_by(all, cb) {
        return Ok(keep(
            condition(
                condition::PUBLISHED,
                false,
                reason::PAUSED,
                format!("paused by {holder}; serving the published version"),
                generation,
            ),
            history,
        ));
    }
    let Some(content) = content else {
        return Ok(keep(
            condition(
                condition::PUBLISHED,
                false,
                reason::INVALID,
                "the content is not valid; serving the published version".into(),
                generation,
            ),
            history,
        ));
    };
    let version = content.version.clone();
    let size: usize = content.files.values().map(Vec::len).sum();
    if size > resolve::Snapshot::MAX_BYTES {
        // The repo serves a version from its snapshot ConfigMap: content that does not
        // fit would be "published" and never served.
        return Ok(keep(
            condition(
                condition::PUBLISHED,
                false,
                reason::TOO_LARGE,
                format!(
                    "the content is {size} bytes, more than the {} a published version \
                     can hold (one ConfigMap); serving the published version",
                    resolve::Snapshot::MAX_BYTES
                ),
                generation,
            ),
            history,
        ));
    }
    if old.version.as_deref() != Some(version.as_str()) {
        let kept = save_snapshot(ctx, cb, &ns, content).await?;
        history.retain(|h| h.version != version);
        history.insert(
            0,
            PublishedVersion {
                version: version.clone(),
                published_at: Some(Time(Timestamp::now())),
                config_map: kept,
            },
        );
        for dropped in history.split_off(HISTORY_LIMIT.min(history.len())) {
            if let Some(name) = dropped.config_map {
                let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
                let _ = api.delete(&name, &DeleteParams::default()).await;
            }
        }
    }
    Ok(Outcome {
        version: Some(version),
        history,
        published: condition(
            condition::PUBLISHED,
            true,
            reason::PUBLISHED,
            String::new(),
            generation,
        ),
    })
}

/// Writes the snapshot ConfigMap of a version (owned by the Codebase). `None` when the
/// content is too large for a ConfigMap (never: [`publish`] refuses such content).
async fn save_snapshot(
    ctx: &Context,
    cb: &Codebase,
    ns: &str,
    content: &resolve::Resolved,
) -> Result<Option<String>, Error> {
    let Some(mut cm) = resolve::Snapshot::to_config_map(content) else {
        return Ok(None);
    };
    let name = crate::crd::snapshot_name(&cb.name_any(), &content.version);
    cm.metadata.name = Some(name.clone());
    cm.metadata.namespace = Some(ns.to_string());
    cm.metadata.owner_references = cb.controller_owner_ref(&()).map(|o| vec![o]);
    cm.metadata.labels = Some(BTreeMap::from([
        (LABEL_CODEBASE.to_string(), cb.name_any()),
        (LABEL_VERSION.to_string(), content.version.clone()),
    ]));
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
    match api.create(&PostParams::default(), &cm).await {
        Ok(_) => Ok(Some(name)),
        // The same version again (a rollback and forward): its content is the same.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Some(name)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests;
