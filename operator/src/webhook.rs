//! The admission webhook's HTTPS server: a thin hyper 1 + tokio-rustls front of the pure
//! admission functions.
//!
//! | route                     | what                                                     |
//! |---------------------------|----------------------------------------------------------|
//! | `POST /mutate-pod`        | [`inject::mutate`] on an `AdmissionReview` of a Pod       |
//! | `POST /validate-codebase` | [`validate::validate_codebase`] on a Codebase's files    |
//! | `GET /healthz`            | `200 ok`                                                 |
//!
//! Requests are `admission.k8s.io/v1` `AdmissionReview` JSON as the API server sends
//! them (of the query string, `?timeout=10s` bounds the dry run; see
//! [`dry_run_budget`]); answers are
//! `AdmissionReview`s with the `response` set. A body that is not such JSON gets `400`
//! with a plain-text message; nothing a client sends makes the server panic.
//!
//! The TLS configuration comes through a [`watch::Receiver`]: each new connection uses
//! the latest [`ServerConfig`], so the certificate bootstrap can rotate the certificate
//! without a restart. Cluster state enters through two trait objects so that tests can
//! fake it: [`NamespaceDefaults`] (the Namespace's default codebase, in production a
//! reflector [`Store`]) and [`CodebaseResolver`] (the effective files of a Codebase with a
//! `base` or ConfigMaps).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;
use kube::runtime::reflector::{ObjectRef, Store};
use rustls::ServerConfig;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::crd::{Codebase, DEFAULT_MAIN};
use crate::inject::{self, InjectorConfig, CODEBASE_ANNOTATION};
use crate::validate;

/// Largest request body accepted: an AdmissionReview carries the object and the old
/// object, each up to the API server's ~3 MiB limit.
pub const MAX_BODY: usize = 8 << 20;
/// How long a client gets to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the webhooks need to know of a namespace.
pub trait NamespaceDefaults: Send + Sync {
    /// The namespace's default codebase, its [`CODEBASE_ANNOTATION`]; `None` when
    /// absent or unknown.
    fn default_codebase(&self, namespace: &str) -> Option<String>;
    /// Whether the namespace is being deleted (everything in it goes).
    fn is_terminating(&self, _namespace: &str) -> bool {
        false
    }
}

/// The production lookup: a reflector cache of Namespaces.
impl NamespaceDefaults for Store<Namespace> {
    fn default_codebase(&self, namespace: &str) -> Option<String> {
        let ns = self.get(&ObjectRef::new(namespace))?;
        ns.metadata
            .annotations
            .as_ref()?
            .get(CODEBASE_ANNOTATION)
            .cloned()
    }

    fn is_terminating(&self, namespace: &str) -> bool {
        self.get(&ObjectRef::new(namespace)).is_some_and(|ns| {
            ns.metadata.deletion_timestamp.is_some()
                || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
        })
    }
}

/// A fixed map from namespace to default codebase (tests, or no lookup at all when
/// empty).
impl NamespaceDefaults for BTreeMap<String, String> {
    fn default_codebase(&self, namespace: &str) -> Option<String> {
        self.get(namespace).cloned()
    }
}

/// The effective files of a Codebase whose content needs cluster state: a `base` chain
/// or `configMaps`.
pub trait CodebaseResolver: Send + Sync {
    /// The files the codebase publishes (inherited, overridden and erased along its base
    /// chain, read from its ConfigMaps) and its entry module; `Ok(None)` when they cannot
    /// be resolved yet (a base or ConfigMap applied in the same `kubectl apply` may come
    /// later: the Codebase is admitted with a warning and the controller reports it);
    /// `Err` with a message that denies the Codebase (an inconsistent spec).
    fn resolve(&self, codebase: &Codebase) -> Result<Option<ResolvedFiles>, String>;

    /// The codebases that build on `codebase` (directly or not) and are not being
    /// deleted, as `(namespace, name)`.
    fn derivatives(&self, _codebase: &Codebase) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// A codebase's files and its entry module.
pub type ResolvedFiles = (BTreeMap<String, Vec<u8>>, String);

/// The production resolver: Codebases from a reflector cache, ConfigMaps read from the
/// API server (the webhook's routes run on the blocking pool, so this may wait).
pub struct ClusterResolver {
    /// Every Codebase.
    pub codebases: Store<Codebase>,
    /// For the ConfigMaps.
    pub client: kube::Client,
    /// The runtime that runs the API calls.
    pub runtime: tokio::runtime::Handle,
}

impl CodebaseResolver for ClusterResolver {
    fn resolve(&self, codebase: &Codebase) -> Result<Option<ResolvedFiles>, String> {
        use crate::resolve::{self, Error};
        let all: Vec<Codebase> = self
            .codebases
            .state()
            .iter()
            .map(|c| (**c).clone())
            .collect();
        let mut config_maps = resolve::ConfigMaps::new();
        for (ns, name) in resolve::config_maps_needed(&all, codebase) {
            let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
                kube::Api::namespaced(self.client.clone(), &ns);
            match self.runtime.block_on(api.get_opt(&name)) {
                Ok(Some(cm)) => {
                    config_maps.insert((ns, name), cm);
                }
                Ok(None) => {}
                Err(_) => return Ok(None),
            }
        }
        match resolve::resolve(&all, codebase, &config_maps) {
            Ok(resolved) => Ok(Some((resolved.files, resolved.main))),
            Err(
                Error::BaseNotFound { .. }
                | Error::ConfigMapNotFound { .. }
                | Error::ConfigMapKeyNotFound { .. },
            ) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn derivatives(&self, codebase: &Codebase) -> Vec<(String, String)> {
        let live: Vec<Codebase> = self
            .codebases
            .state()
            .iter()
            .filter(|c| c.metadata.deletion_timestamp.is_none())
            .map(|c| (**c).clone())
            .collect();
        crate::resolve::derivatives(&live, codebase)
    }
}

/// What the routes need: the injector's configuration and the cluster lookups.
pub struct Webhook {
    /// How sidecars are built.
    pub injector: InjectorConfig,
    /// Namespace default codebases.
    pub namespaces: Arc<dyn NamespaceDefaults>,
    /// Resolution of bases and ConfigMaps; without it a Codebase that has either is
    /// admitted with a warning and left to the controller, which validates what it
    /// resolves.
    pub resolver: Option<Arc<dyn CodebaseResolver>>,
}

/// A reply of [`Webhook::route`]: status, content type, body.
pub type Reply = (StatusCode, &'static str, Vec<u8>);

impl Webhook {
    /// Answers one request given its method, path (with its query) and body. Pure apart
    /// from the lookups; the HTTP server is a shell around it.
    pub fn route(&self, method: &Method, path: &str, body: &[u8]) -> Reply {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        match (method, path) {
            (&Method::POST, "/mutate-pod") => self.mutate_pod(body),
            (&Method::POST, "/validate-codebase") => {
                self.validate_codebase(body, dry_run_budget(query))
            }
            (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
            (_, "/mutate-pod" | "/validate-codebase" | "/healthz") => {
                text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    fn mutate_pod(&self, body: &[u8]) -> Reply {
        let req = match request::<Pod>(body) {
            Ok(req) => req,
            Err(reply) => return reply,
        };
        let namespace = req
            .namespace
            .clone()
            .or_else(|| req.object.as_ref()?.metadata.namespace.clone());
        let default = namespace.and_then(|ns| self.namespaces.default_codebase(&ns));
        let response = inject::mutate(&req, default.as_deref(), &self.injector);
        if !response.allowed {
            tracing::info!(uid = %req.uid, name = %req.name, reason = %response.result.message, "pod denied");
        }
        review(response)
    }

    fn validate_codebase(&self, body: &[u8], budget: Duration) -> Reply {
        let req = match request::<Codebase>(body) {
            Ok(req) => req,
            Err(reply) => return reply,
        };
        let response = AdmissionResponse::from(&req);
        if let (Operation::Delete, Some(old)) = (&req.operation, &req.old_object) {
            return review(self.may_delete(old, response));
        }
        let codebase = match (&req.operation, &req.object) {
            (Operation::Create | Operation::Update, Some(codebase)) => codebase,
            _ => return review(response),
        };
        if req.operation == Operation::Update {
            // Going away: finalizers must come off whatever the content.
            if codebase.metadata.deletion_timestamp.is_some() {
                return review(response);
            }
            // Metadata only (labels, annotations, finalizers): the content was judged
            // when it was written.
            let same_spec = req.old_object.as_ref().is_some_and(|old| {
                serde_json::to_value(&old.spec).ok() == serde_json::to_value(&codebase.spec).ok()
            });
            if same_spec {
                return review(response);
            }
        }
        let spec = &codebase.spec;
        let needs_cluster = spec.base.is_some() || !spec.config_maps.is_empty();
        let (files, main) = match (needs_cluster, &self.resolver) {
            (false, _) => (
                spec.files
                    .iter()
                    .map(|(path, text)| (path.clone(), text.clone().into_bytes()))
                    .collect(),
                spec.main
                    .clone()
                    .unwrap_or_else(|| DEFAULT_MAIN.to_string()),
            ),
            (true, Some(resolver)) => match resolver.resolve(codebase) {
                Ok(Some(resolved)) => resolved,
                Ok(None) => {
                    let mut response = response;
                    response.warnings = Some(vec![
                        "its base or ConfigMaps are not there yet; the controller validates \
                         the codebase once they are"
                            .to_string(),
                    ]);
                    return review(response);
                }
                Err(message) => return review(response.deny(message)),
            },
            (true, None) => {
                let mut response = response;
                response.warnings = Some(vec![
                    "files from a base or ConfigMaps are validated by the controller, not at \
                     admission"
                        .to_string(),
                ]);
                return review(response);
            }
        };
        match validate::validate_codebase_within(&files, &main, budget) {
            Ok(()) => review(response),
            Err(error) => review(response.deny(error.to_string())),
        }
    }
}

/// The most a webhook call may take: the API server's `timeoutSeconds` ceiling.
pub const MAX_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// What the dry run leaves of the API server's timeout for everything else (the
/// request's way in and the answer's way back).
pub const DRY_RUN_MARGIN: Duration = Duration::from_secs(1);

/// How long the dry run of a validation may take: the API server's `?timeout=` (the
/// webhook configuration's `timeoutSeconds`, as a Go duration such as `10s`) less
/// [`DRY_RUN_MARGIN`], at least 500 ms; without one, the longest timeout the API
/// server allows less the margin.
pub fn dry_run_budget(query: &str) -> Duration {
    let timeout = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("timeout="))
        .and_then(parse_go_duration)
        .unwrap_or(MAX_WEBHOOK_TIMEOUT)
        .min(MAX_WEBHOOK_TIMEOUT);
    timeout
        .saturating_sub(DRY_RUN_MARGIN)
        .max(Duration::from_millis(500))
}

/// A Go duration of whole units (`10s`, `1m30s`, `500ms`), `None` when not one.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let (number, tail) = rest.split_at(digits);
        let n: u64 = number.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let part = match unit {
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "s" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            "us" | "µs" => Duration::from_micros(n),
            "ns" => Duration::from_nanos(n),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = next;
    }
    Some(total)
}

impl Webhook {
    /// A base is not deleted while codebases build on it (they would lose the files
    /// they inherit), unless its namespace is being deleted (that must never hang) or
    /// those derivatives live in namespaces being deleted.
    fn may_delete(&self, codebase: &Codebase, response: AdmissionResponse) -> AdmissionResponse {
        use kube::ResourceExt as _;
        let Some(resolver) = &self.resolver else {
            return response;
        };
        let namespace = codebase.namespace().unwrap_or_default();
        if self.namespaces.is_terminating(&namespace) {
            return response;
        }
        let held_by: Vec<String> = resolver
            .derivatives(codebase)
            .into_iter()
            .filter(|(ns, _)| !self.namespaces.is_terminating(ns))
            .map(|(ns, name)| format!("{ns}/{name}"))
            .collect();
        if held_by.is_empty() {
            return response;
        }
        response.deny(format!(
            "codebases derive from {namespace}/{}: {}; delete them or change their base first",
            codebase.name_any(),
            held_by.join(", ")
        ))
    }
}

/// The request of an AdmissionReview body, or the `400` reply for a bad body.
#[allow(clippy::result_large_err)]
fn request<K>(body: &[u8]) -> Result<AdmissionRequest<K>, Reply>
where
    K: kube::Resource + DeserializeOwned,
{
    let review: AdmissionReview<K> = serde_json::from_slice(body).map_err(|e| {
        text(
            StatusCode::BAD_REQUEST,
            &format!("invalid AdmissionReview: {e}\n"),
        )
    })?;
    review.try_into().map_err(|_| {
        text(
            StatusCode::BAD_REQUEST,
            "invalid AdmissionReview: no request\n",
        )
    })
}

fn review(response: AdmissionResponse) -> Reply {
    let review: AdmissionReview<DynamicObject> = response.into_review();
    match serde_json::to_vec(&review) {
        Ok(body) => (StatusCode::OK, "application/json", body),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode the AdmissionReview: {e}\n"),
        ),
    }
}

fn text(status: StatusCode, message: &str) -> Reply {
    (
        status,
        "text/plain; charset=utf-8",
        message.as_bytes().to_vec(),
    )
}

/// Serves the webhook over HTTPS on `listener` until `shutdown` completes; each
/// connection uses the [`ServerConfig`] current in `tls` when it is accepted.
///
/// The server speaks HTTP/1.1 only: give `tls` configurations that advertise no ALPN
/// protocol or `http/1.1` (the API server then uses HTTP/1.1). Errors of one connection
/// (a failed handshake, a reset) are logged and do not stop the server. Connections in
/// flight when `shutdown` completes are left to finish.
pub async fn serve(
    listener: TcpListener,
    tls: watch::Receiver<Arc<ServerConfig>>,
    webhook: Arc<Webhook>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "webhook accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = TlsAcceptor::from(tls.borrow().clone());
        let webhook = webhook.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "webhook TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "webhook TLS handshake timed out");
                        return;
                    }
                };
            let service = service_fn(move |req| {
                let webhook = webhook.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(webhook.clone(), req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "webhook connection ended with an error");
            }
        });
    }
}

/// Reads the body (at most [`MAX_BODY`]) and answers through [`Webhook::route`].
/// The route runs on the blocking pool: validating a Codebase runs its scripts in a dry
/// run, which may take a while and must not stall the connections of this thread.
async fn handle(webhook: Arc<Webhook>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let (status, content_type, body) = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => {
            let (method, path) = (
                parts.method.clone(),
                parts
                    .uri
                    .path_and_query()
                    .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
            );
            let body = body.to_bytes();
            tokio::task::spawn_blocking(move || webhook.route(&method, &path, &body))
                .await
                .unwrap_or_else(|e| {
                    text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &format!("the webhook failed: {e}\n"),
                    )
                })
        }
        Err(e) => text(
            StatusCode::BAD_REQUEST,
            &format!("cannot read the request body: {e}\n"),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> Webhook {
        Webhook {
            injector: InjectorConfig::default(),
            namespaces: Arc::new(BTreeMap::new()),
            resolver: None,
        }
    }

    #[test]
    fn routes() {
        let hook = hook();
        assert_eq!(hook.route(&Method::GET, "/healthz", b"").0, StatusCode::OK);
        assert_eq!(
            hook.route(&Method::GET, "/mutate-pod", b"").0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(hook.route(&Method::GET, "/x", b"").0, StatusCode::NOT_FOUND);
        for path in ["/mutate-pod?timeout=10s", "/validate-codebase"] {
            for body in [&b""[..], b"{", b"[]", b"{\"request\":1}", b"\xff"] {
                let (status, _, text) = hook.route(&Method::POST, path, body);
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body:?}");
                assert!(text.starts_with(b"invalid AdmissionReview"));
            }
        }
    }

    #[test]
    fn dry_run_budgets_stay_below_the_api_servers_timeout() {
        assert_eq!(dry_run_budget("timeout=10s"), Duration::from_secs(9));
        assert_eq!(dry_run_budget("x=1&timeout=3s"), Duration::from_secs(2));
        assert_eq!(dry_run_budget("timeout=1s"), Duration::from_millis(500));
        assert_eq!(dry_run_budget("timeout=1m30s"), Duration::from_secs(29));
        assert_eq!(
            dry_run_budget("timeout=2500ms"),
            Duration::from_millis(1500)
        );
        assert_eq!(dry_run_budget(""), Duration::from_secs(29));
        assert_eq!(dry_run_budget("timeout=soon"), Duration::from_secs(29));
    }

    /// An UPDATE that leaves `spec` alone (a finalizer removed) or touches an object
    /// being deleted is allowed, even when the content no longer loads; one that
    /// changes `spec` to content that does not load is refused.
    #[test]
    fn updates_without_a_new_spec_and_of_objects_being_deleted_are_allowed() {
        let broken = serde_json::json!({"files": {"/main.js": "broken("}});
        let fine = serde_json::json!({"files": {"/main.js": "pipy()"}});
        let codebase = |spec: &serde_json::Value, deleting: bool| {
            let mut metadata = serde_json::json!({"name": "shop", "namespace": "apps"});
            if deleting {
                metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z".into();
            }
            serde_json::json!({
                "apiVersion": "pipy.dev/v1alpha1", "kind": "Codebase",
                "metadata": metadata, "spec": spec,
            })
        };
        let review = |old: serde_json::Value, new: serde_json::Value| {
            let body = serde_json::json!({
                "kind": "AdmissionReview",
                "apiVersion": "admission.k8s.io/v1",
                "request": {
                    "uid": "u2",
                    "kind": {"group": "pipy.dev", "version": "v1alpha1", "kind": "Codebase"},
                    "resource": {"group": "pipy.dev", "version": "v1alpha1", "resource": "codebases"},
                    "name": "shop", "namespace": "apps", "operation": "UPDATE",
                    "userInfo": {}, "object": new, "oldObject": old,
                }
            });
            let (_, _, text) = hook().route(
                &Method::POST,
                "/validate-codebase?timeout=10s",
                &serde_json::to_vec(&body).unwrap_or_default(),
            );
            let review: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
            review["response"]["allowed"] == true
        };
        assert!(review(codebase(&broken, false), codebase(&broken, false)));
        assert!(review(codebase(&broken, false), codebase(&broken, true)));
        assert!(review(codebase(&fine, false), codebase(&broken, true)));
        assert!(!review(codebase(&fine, false), codebase(&broken, false)));
        assert!(review(codebase(&broken, false), codebase(&fine, false)));
    }

    #[test]
    fn delete_of_a_codebase_is_allowed() {
        let body = serde_json::json!({
            "kind": "AdmissionReview",
            "apiVersion": "admission.k8s.io/v1",
            "request": {
                "uid": "u1",
                "kind": {"group": "pipy.dev", "version": "v1alpha1", "kind": "Codebase"},
                "resource": {"group": "pipy.dev", "version": "v1alpha1", "resource": "codebases"},
                "name": "shop",
                "namespace": "apps",
                "operation": "DELETE",
                "userInfo": {},
                "object": null,
                "oldObject": {
                    "apiVersion": "pipy.dev/v1alpha1",
                    "kind": "Codebase",
                    "metadata": {"name": "shop", "namespace": "apps"},
                    "spec": {"files": {"/main.js": "broken("}}
                }
            }
        });
        let (status, _, text) = hook().route(
            &Method::POST,
            "/validate-codebase",
            &serde_json::to_vec(&body).unwrap_or_default(),
        );
        assert_eq!(status, StatusCode::OK);
        let review: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
        assert_eq!(review["response"]["allowed"], true, "{review}");
        assert_eq!(review["response"]["uid"], "u1");
    }
}
