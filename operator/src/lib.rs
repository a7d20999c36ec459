//! `pipy-operator`: Pipy on Kubernetes.
//!
//! * [`crd`]: the namespaced `Codebase` kind (`pipy.dev/v1alpha1`, short name `cb`):
//!   files inline or from ConfigMaps, a `main`, an optional `base` codebase whose files
//!   it inherits, overrides or erases, and a status with conditions, versions and how
//!   many sidecars run which version. `crdgen` prints its YAML into `crds/`.
//! * [`resolve`]: pure functions from a set of Codebases to what each publishes: the
//!   effective files along the base chain and a content hash that is the version (the
//!   same content always gives the same version, so re-applying it reloads nothing).
//! * [`validate`]: the dry run: the codebase is loaded by the real PipyJS host, every
//!   module evaluated and every pipeline layout built, without opening a port; failures
//!   come back as `file:line:column: message`.
//! * [`inject`]: the mutating admission webhook for pods, a pure `mutate` function from
//!   an admission request to a response with a minimal JSON patch that adds the `pipy`
//!   sidecar.
//! * [`certs`]: webhook TLS without manual steps: a CA and a serving certificate in a
//!   Secret shared by the replicas, the CA in the webhook configurations' `caBundle`,
//!   renewal before expiry.
//! * [`webhook`]: the HTTPS server in front of the admission functions (pods are
//!   mutated, Codebases validated with [`validate`]).
//!
//! The repo path of Codebase `name` in namespace `ns` is `/<ns>/<name>`; a sidecar runs
//! `pipy http://<repo service>/repo/<ns>/<name>/`.

pub mod certs;
pub mod crd;
pub mod inject;
pub mod resolve;
pub mod validate;
pub mod webhook;

/// The API group of the project's resources.
pub const GROUP: &str = "pipy.dev";

/// The repo path of a Codebase: `/<namespace>/<name>`.
pub fn repo_path(namespace: &str, name: &str) -> String {
    format!("/{namespace}/{name}")
}
