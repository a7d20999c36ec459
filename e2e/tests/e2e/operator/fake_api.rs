//! A fake Kubernetes API server, just enough for `pipy-operator`: plain HTTP/1 on
//! 127.0.0.1 (hyper 1 on its own tokio runtime), an in-memory object store keyed by
//! (group/version/resource, namespace, name) with resourceVersions, LIST and WATCH
//! (`?watch=true`, a held connection streaming `{"type","object"}` lines), POST, PUT,
//! DELETE, and PATCH as server-side apply (`application/apply-patch+yaml`, whose body
//! is JSON here; `status.conditions` merge by `type`), JSON patch and merge patch.
//! `/status` writes change only `status`, other writes leave it alone (the status
//! subresource of Codebases). A write that changes nothing keeps the resourceVersion
//! and sends no watch event, as the real API server does.
//!
//! Anything else gets `404` with a `Status` object and is remembered in
//! [`FakeApi::unhandled`] (and logged to stderr), so gaps are visible.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// `group/version/resource` (`v1/secrets` for the core group).
type Gvr = String;
/// Where an object lives: resource, namespace (`""` when cluster-scoped), name.
type Key = (Gvr, String, String);

/// The resources the operator uses: resource path → kind.
const KINDS: [(&str, &str); 9] = [
    (
        "apiextensions.k8s.io/v1/customresourcedefinitions",
        "CustomResourceDefinition",
    ),
    ("v1/secrets", "Secret"),
    ("v1/configmaps", "ConfigMap"),
    ("v1/namespaces", "Namespace"),
    (
        "admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
    ),
    ("coordination.k8s.io/v1/leases", "Lease"),
    ("pipy.dev/v1alpha1/codebases", "Codebase"),
    ("events.k8s.io/v1/events", "Event"),
];

fn kind_of(gvr: &str) -> Option<&'static str> {
    KINDS.iter().find(|(g, _)| *g == gvr).map(|(_, k)| *k)
}

/// `group/version` of a resource path, as an object's `apiVersion`.
fn api_version(gvr: &str) -> &str {
    gvr.rsplit_once('/').map_or(gvr, |(gv, _)| gv)
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub(super) struct Recorded {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) query: String,
    pub(super) content_type: String,
    pub(super) body: Value,
}

struct Watcher {
    gvr: Gvr,
    namespace: Option<String>,
    selector: Option<String>,
    tx: mpsc::UnboundedSender<Bytes>,
}

#[derive(Default)]
struct State {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    /// Every change: (resourceVersion, key, event type, object).
    log: Vec<(u64, Key, &'static str, Value)>,
    watchers: Vec<Watcher>,
    requests: Vec<Recorded>,
    unhandled: Vec<String>,
}

/// The fake API server; it stops when dropped.
pub(super) struct FakeApi {
    pub(super) port: u16,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

impl FakeApi {
    /// Serves on a free port of 127.0.0.1.
    pub(super) fn start() -> FakeApi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeApi {
            port,
            state,
            _runtime: runtime,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Creates (or replaces) an object, as `kubectl apply` would; returns it.
    pub(super) fn put(&self, gvr: &str, namespace: &str, object: Value) -> Value {
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let key = (gvr.to_string(), namespace.to_string(), name);
        let mut state = self.state();
        let old = state.objects.get(&key).cloned();
        let object = prepare(&key, old.as_ref(), object);
        state.commit(&key, Some(object)).unwrap()
    }

    /// Deletes an object as the API server does (finalizers hold it).
    pub(super) fn delete(&self, gvr: &str, namespace: &str, name: &str) {
        let key = (gvr.to_string(), namespace.to_string(), name.to_string());
        self.state().delete(&key);
    }

    /// The stored object, if any.
    pub(super) fn get(&self, gvr: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (gvr.to_string(), namespace.to_string(), name.to_string());
        self.state().objects.get(&key).cloned()
    }

    /// The stored objects of a resource in a namespace.
    pub(super) fn list(&self, gvr: &str, namespace: &str) -> Vec<Value> {
        self.state()
            .objects
            .iter()
            .filter(|((g, ns, _), _)| g == gvr && ns == namespace)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The requests so far.
    pub(super) fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The requests that got `404` because the fake does not know them.
    pub(super) fn unhandled(&self) -> Vec<String> {
        self.state().unhandled.clone()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fills in what the API server sets on a new or replaced object.
fn prepare(key: &Key, old: Option<&Value>, mut object: Value) -> Value {
    let (gvr, ns, name) = key;
    object["apiVersion"] = json!(api_version(gvr));
    object["kind"] = json!(kind_of(gvr).unwrap_or("Unknown"));
    let meta = &mut object["metadata"];
    meta["name"] = json!(name);
    if !ns.is_empty() {
        meta["namespace"] = json!(ns);
    }
    let (uid, created, generation) = match old {
        Some(old) => (
            old["metadata"]["uid"].clone(),
            old["metadata"]["creationTimestamp"].clone(),
            old["metadata"]["generation"].as_i64().unwrap_or(1),
        ),
        None => (
            json!(format!("uid-{ns}-{name}")),
            json!("2026-01-01T00:00:00Z"),
            0,
        ),
    };
    meta["uid"] = uid;
    meta["creationTimestamp"] = created;
    if gvr.ends_with("/codebases") {
        let changed = old.is_none_or(|o| o["spec"] != object["spec"]);
        object["metadata"]["generation"] = json!(generation + i64::from(changed));
    }
    object
}

impl State {
    /// Deletes an object, or only marks it (`deletionTimestamp`) while it has
    /// finalizers.
    fn delete(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.get(key).cloned()?;
        let held = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if !held {
            return self.commit(key, None);
        }
        if object["metadata"]["deletionTimestamp"].is_null() {
            object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
        }
        self.commit(key, Some(object))
    }

    /// Stores `object` (or deletes the key with `None`), bumping the resourceVersion
    /// and telling the watchers, unless nothing changed. Returns the stored object.
    fn commit(&mut self, key: &Key, object: Option<Value>) -> Option<Value> {
        let old = self.objects.get(key).cloned();
        let (kind, object) = match (object, old) {
            (None, None) => return None,
            (None, Some(old)) => {
                self.objects.remove(key);
                ("DELETED", old)
            }
            (Some(mut new), old) => {
                if let Some(old) = &old {
                    new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
                    if &new == old {
                        return Some(new);
                    }
                }
                self.rv += 1;
                new["metadata"]["resourceVersion"] = json!(self.rv.to_string());
                self.objects.insert(key.clone(), new.clone());
                (if old.is_some() { "MODIFIED" } else { "ADDED" }, new)
            }
        };
        if kind == "DELETED" {
            self.rv += 1;
        }
        self.log.push((self.rv, key.clone(), kind, object.clone()));
        let line = event_line(kind, &object);
        self.watchers.retain(|w| {
            if !w.matches(key, &object) {
                return !w.tx.is_closed();
            }
            w.tx.send(line.clone()).is_ok()
        });
        Some(object)
    }
}

impl Watcher {
    fn matches(&self, key: &Key, object: &Value) -> bool {
        key.0 == self.gvr
            && self.namespace.as_ref().is_none_or(|ns| *ns == key.1)
            && selected(self.selector.as_deref(), object)
    }
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap();
    line.push(b'\n');
    Bytes::from(line)
}

/// Whether `object`'s labels match a label selector (`k`, `!k`, `k=v`, `k==v`, `k!=v`).
fn selected(selector: Option<&str>, object: &Value) -> bool {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return true;
    };
    let labels = &object["metadata"]["labels"];
    selector.split(',').all(|term| {
        let term = term.trim();
        if let Some((k, v)) = term.split_once("!=") {
            labels[k.trim()].as_str() != Some(v.trim())
        } else if let Some((k, v)) = term.split_once('=') {
            labels[k.trim()].as_str() == Some(v.trim_start_matches('=').trim())
        } else if let Some(k) = term.strip_prefix('!') {
            labels.get(k).is_none()
        } else {
            labels.get(term).is_some()
        }
    })
}

fn query_params(query: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A request's target: resource, namespace, name, subresource.
struct Target {
    gvr: Gvr,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (gv, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => (version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (resource, name, sub) = match rest {
        [resource] => (resource, None, None),
        [resource, name] => (resource, Some(name.to_string()), None),
        [resource, name, sub] => (resource, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    Some(Target {
        gvr: format!("{gv}/{resource}"),
        namespace,
        name,
        sub,
    })
}

type Body = BoxBody<Bytes, Infallible>;

fn reply(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn status(code: StatusCode, reason: &str, message: String) -> Response<Body> {
    reply(
        code,
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code.as_u16(),
        }),
    )
}

/// A streaming body fed by a channel: the open watch.
struct ChannelBody(mpsc::UnboundedReceiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let content_type = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let parsed: Result<Value, _> = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&body)
    };
    let mut state = lock(&state);
    state.requests.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        body: parsed.as_ref().cloned().unwrap_or(Value::Null),
    });
    let target = parse_path(&path).filter(|t| kind_of(&t.gvr).is_some());
    let Some(target) = target else {
        let what = format!("{method} {path}?{query}");
        eprintln!("fake-api: unhandled {what}");
        state.unhandled.push(what.clone());
        return status(StatusCode::NOT_FOUND, "NotFound", format!("fake: {what}"));
    };
    let body = match parsed {
        Ok(body) => body,
        Err(e) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("not JSON: {e}"),
            )
        }
    };
    let params = query_params(&query);
    let ns = target.namespace.clone().unwrap_or_default();
    let Some(name) = target.name.clone() else {
        return match method.as_str() {
            "GET" if params.get("watch").is_some_and(|w| w == "true") => {
                watch(&mut state, &target, &params)
            }
            "GET" => list(&state, &target, &params),
            "POST" => {
                let name = match body["metadata"]["name"].as_str() {
                    Some(name) => name.to_string(),
                    None => format!(
                        "{}{}",
                        body["metadata"]["generateName"].as_str().unwrap_or("x-"),
                        state.rv + 1
                    ),
                };
                let key = (target.gvr.clone(), ns, name.clone());
                if state.objects.contains_key(&key) {
                    return status(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        format!("{name} already exists"),
                    );
                }
                let object = prepare(&key, None, body);
                let stored = state.commit(&key, Some(object)).unwrap();
                reply(StatusCode::CREATED, &stored)
            }
            _ => unhandled(&mut state, &method, &path, &query),
        };
    };
    let key = (target.gvr.clone(), ns, name.clone());
    let old = state.objects.get(&key).cloned();
    let not_found = || {
        status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", target.gvr),
        )
    };
    let status_only = match target.sub.as_deref() {
        None => false,
        Some("status") => true,
        Some(_) => return unhandled(&mut state, &method, &path, &query),
    };
    // The object as the write leaves it, before `prepare`.
    let written = match method.as_str() {
        "GET" => return old.map_or_else(not_found, |o| reply(StatusCode::OK, &o)),
        "DELETE" => {
            return match state.delete(&key) {
                Some(o) => reply(StatusCode::OK, &o),
                None => not_found(),
            }
        }
        "PUT" => {
            let Some(old) = &old else {
                return not_found();
            };
            let wanted = &body["metadata"]["resourceVersion"];
            if !wanted.is_null() && *wanted != old["metadata"]["resourceVersion"] {
                return status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    "the object has been modified".into(),
                );
            }
            body
        }
        "PATCH" => {
            let mut doc = old.clone().unwrap_or_else(|| json!({"metadata": {}}));
            if content_type.starts_with("application/apply-patch") {
                merge(&mut doc, &body, true);
            } else if content_type.starts_with("application/json-patch+json") {
                if old.is_none() {
                    return not_found();
                }
                if let Err(e) = json_patch(&mut doc, &body) {
                    return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", e);
                }
            } else if content_type.starts_with("application/merge-patch+json") {
                if old.is_none() {
                    return not_found();
                }
                merge(&mut doc, &body, false);
            } else {
                return unhandled(&mut state, &method, &path, &query);
            }
            doc
        }
        _ => return unhandled(&mut state, &method, &path, &query),
    };
    let mut written = written;
    if target.gvr.ends_with("/codebases") {
        // The status subresource: `/status` changes only status, the rest never does.
        let kept = if status_only {
            let mut kept = old.clone().unwrap_or(Value::Null);
            kept["status"] = written["status"].take();
            kept
        } else {
            let mut kept = written;
            match old.as_ref().map(|o| &o["status"]) {
                Some(s) if !s.is_null() => kept["status"] = s.clone(),
                _ => {
                    if let Some(m) = kept.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            kept
        };
        if kept.is_null() {
            return not_found();
        }
        written = kept;
    }
    let created = old.is_none();
    let object = prepare(&key, old.as_ref(), written);
    let gone = object["metadata"]["deletionTimestamp"].is_string()
        && object["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
    if gone {
        // The last finalizer of a deleted object went: now it goes.
        let stored = state.commit(&key, Some(object));
        state.commit(&key, None);
        return reply(StatusCode::OK, &stored.unwrap_or_default());
    }
    let stored = state.commit(&key, Some(object)).unwrap();
    reply(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &stored,
    )
}

fn unhandled(state: &mut State, method: &str, path: &str, query: &str) -> Response<Body> {
    let what = format!("{method} {path}?{query}");
    eprintln!("fake-api: unhandled {what}");
    state.unhandled.push(what.clone());
    status(StatusCode::NOT_FOUND, "NotFound", format!("fake: {what}"))
}

fn list(state: &State, target: &Target, params: &BTreeMap<String, String>) -> Response<Body> {
    let selector = params.get("labelSelector").map(String::as_str);
    let items: Vec<Value> = state
        .objects
        .iter()
        .filter(|((gvr, ns, _), object)| {
            *gvr == target.gvr
                && target.namespace.as_ref().is_none_or(|n| n == ns)
                && selected(selector, object)
        })
        .map(|(_, object)| object.clone())
        .collect();
    reply(
        StatusCode::OK,
        &json!({
            "apiVersion": api_version(&target.gvr),
            "kind": format!("{}List", kind_of(&target.gvr).unwrap_or("Unknown")),
            "metadata": {"resourceVersion": state.rv.to_string()},
            "items": items,
        }),
    )
}

fn watch(state: &mut State, target: &Target, params: &BTreeMap<String, String>) -> Response<Body> {
    let (tx, rx) = mpsc::unbounded_channel();
    let watcher = Watcher {
        gvr: target.gvr.clone(),
        namespace: target.namespace.clone(),
        selector: params.get("labelSelector").cloned(),
        tx,
    };
    let since: u64 = params
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if since == 0 {
        // "Any version": the current objects as ADDED events.
        for (key, object) in &state.objects {
            if watcher.matches(key, object) {
                let _ = watcher.tx.send(event_line("ADDED", object));
            }
        }
    } else {
        for (rv, key, kind, object) in &state.log {
            if *rv > since && watcher.matches(key, object) {
                let _ = watcher.tx.send(event_line(kind, object));
            }
        }
    }
    state.watchers.push(watcher);
    let mut response = Response::new(ChannelBody(rx).boxed());
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Merges `patch` into `target`: a JSON merge patch (RFC 7386), or, with `apply`,
/// server-side apply's flavour of it, where `conditions` lists merge by `type`.
fn merge(target: &mut Value, patch: &Value, apply: bool) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let map = target.as_object_mut().unwrap();
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else if apply && k == "conditions" && v.is_array() {
            let mut merged = map
                .get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for c in v.as_array().unwrap() {
                match merged.iter_mut().find(|m| m["type"] == c["type"]) {
                    Some(m) => *m = c.clone(),
                    None => merged.push(c.clone()),
                }
            }
            map.insert(k.clone(), Value::Array(merged));
        } else {
            merge(map.entry(k.clone()).or_insert(Value::Null), v, apply);
        }
    }
}

/// Applies a JSON patch (RFC 6902: add, remove, replace, test); `test` of a missing
/// path compares with `null`, as the API server's implementation does.
fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops.as_array().ok_or("a JSON patch is a list")?;
    for op in ops {
        let path = op["path"].as_str().ok_or("an op without a path")?;
        let kind = op["op"].as_str().unwrap_or("");
        if kind == "test" {
            let current = doc.pointer(path).cloned().unwrap_or(Value::Null);
            if current != op["value"] {
                return Err(format!("test of {path} failed"));
            }
            continue;
        }
        let (parent, last) = path.rsplit_once('/').ok_or("a bad path")?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let container = doc
            .pointer_mut(parent)
            .ok_or_else(|| format!("{parent} does not exist"))?;
        match (kind, container) {
            ("add" | "replace", Value::Object(m)) => {
                m.insert(last, op["value"].clone());
            }
            ("remove", Value::Object(m)) => {
                m.remove(&last).ok_or_else(|| format!("no {path}"))?;
            }
            ("add", Value::Array(a)) if last == "-" => a.push(op["value"].clone()),
            (kind, Value::Array(a)) => {
                let i: usize = last.parse().map_err(|_| format!("bad index in {path}"))?;
                match kind {
                    "add" if i <= a.len() => a.insert(i, op["value"].clone()),
                    "replace" if i < a.len() => a[i] = op["value"].clone(),
                    "remove" if i < a.len() => {
                        a.remove(i);
                    }
                    _ => return Err(format!("cannot {kind} {path}")),
                }
            }
            _ => return Err(format!("cannot {kind} {path}")),
        }
    }
    Ok(())
}
