//! `pipy-operator`: Pipy on Kubernetes.
//!
//! * [`crd`]: the namespaced `Codebase` kind (`pipy.dev/v1alpha1`, short name `cb`):
//!   files inline or from ConfigMaps, a `main`, an optional `base` codebase whose files
//!   it inherits, overrides or erases, and a status with conditions, versions and how
//!   many sidecars run which version. `crdgen` prints its YAML into `crds/`.
//! * [`resolve`]: pure functions from a set of Codebases to what each publishes: the
//!   effective files along the base chain and a content hash that is the version (the
//!   same content always gives the same version, so re-applying it reloads nothing),
//!   the derivatives of a codebase, who pauses it, and the snapshot ConfigMap that keeps
//!   a published version for rollbacks and the repo.
//! * [`validate`]: the dry run ([`pipy_runtime::dry_run()`]): the codebase is loaded by
//!   the real PipyJS host on a fresh thread, every module evaluated and every pipeline
//!   layout built, without opening a port; failures come back as
//!   `file:line:column: message`.
//! * [`inject`]: sidecar injection, a pure `mutate` function from a pod admission
//!   request to a response: unchanged (opted out, excluded namespace, already injected,
//!   hostNetwork, no codebase), a minimal JSON patch that adds the `pipy` sidecar (an
//!   ordinary container or a native sidecar), or a denial naming a bad annotation.
//! * [`auth`]: who may use the repo: ServiceAccount tokens (audience `pipy-repo`)
//!   checked by TokenReview; a sidecar reads and reports only in its own namespace.
//! * [`certs`]: webhook TLS without manual steps: a CA and a serving certificate in a
//!   Secret shared by the replicas, the CA in the webhook configurations' `caBundle`,
//!   renewal before expiry.
//! * [`leader`]: one leader among the replicas (a `coordination.k8s.io` Lease), the
//!   one that runs the controller and writes instance summaries into Codebase status.
//! * [`store`]: the repo the operator serves, rebuilt from the published versions of
//!   the Codebases (a read model: REST writes are refused with a pointer to kubectl).
//! * [`controller`]: the Codebase controller: resolve, validate, publish (a snapshot
//!   ConfigMap per version), status by server-side apply, Events; it watches source
//!   ConfigMaps and runs on the leader only; [`metrics`] counts its reconciles and serves the probes.
//! * [`summary`]: per-replica instance reports, merged per instance by the leader into
//!   `status.instances` and the `Ready` condition.
//! * [`webhook`]: the HTTPS server (hyper + rustls, certificate swapped through a
//!   `watch` channel) in front of the admission functions: `POST /mutate-pod`,
//!   `POST /validate-codebase` (inline files through [`validate`]), `GET /healthz`.
//!
//! The repo path of Codebase `name` in namespace `ns` is `/<ns>/<name>`; a sidecar runs
//! `pipy http://<repo service>/repo/<ns>/<name>/`.

pub mod auth;
pub mod certs;
pub mod controller;
pub mod crd;
pub mod inject;
pub mod leader;
pub mod metrics;
pub mod resolve;
pub mod store;
pub mod summary;
pub mod validate;
pub mod webhook;

/// The API group of the project's resources.
pub const GROUP: &str = "pipy.dev";

/// The repo path of a Codebase: `/<namespace>/<name>`.
pub fn repo_path(namespace: &str, name: &str) -> String {
    format!("/{namespace}/{name}")
}
