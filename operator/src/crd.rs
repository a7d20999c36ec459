//! The `Codebase` custom resource (`pipy.dev/v1alpha1`, short name `cb`).
//!
//! A Codebase is what the repo serves at `/<namespace>/<name>`: a set of files and an
//! entry file (`main`). Its files come from `spec.files` (inline) and `spec.configMaps`
//! (for codebases too large to inline), and, when it names a `spec.base`, from that
//! other Codebase, exactly as a derivative in the repo (spec §3.3 of the repo API):
//!
//! * **inherit**: every file of the base that this codebase does not define itself;
//! * **override**: a file defined here replaces the base's file of the same path;
//!   removing it from the spec makes the base's file visible again;
//! * **erase**: a path listed in `spec.erase` hides the inherited file. The repo can
//!   only erase its own files; a declarative resource has no "own file to drop", so
//!   `erase` is how a derivative leaves out something its base provides. A path both
//!   defined and erased is an error.
//!
//! A derivative sees what its base resolves to (the base's own files over *its* base,
//! minus what it erases), so bases chain to any depth. `main` is inherited too, when a
//! derivative does not set it; a codebase without a base defaults to `/main.js`.
//!
//! # Versions
//!
//! The version of a codebase is a hash of its content: sha256 over the sorted effective
//! files and `main` ([`crate::resolve`]), shown as its first
//! [`VERSION_LEN`](crate::resolve::VERSION_LEN) hex digits. Re-applying identical content
//! gives the identical version, so nothing reloads anywhere; changing a base changes the
//! content (and so the version) of every derivative, which is how publishing a base
//! re-publishes its derivatives.
//!
//! # Staging and rollback
//!
//! * `spec.paused: true` stages: the controller validates the spec's content and writes
//!   `Valid` and `contentHash`, but keeps serving the published version. A pause holds
//!   back the derivatives too (they would otherwise publish on top of the staged
//!   content); `Published` then says which codebase holds it.
//! * `spec.rollbackTo: <version>` serves an earlier published version, one of
//!   `status.history`, instead of the spec's content, for as long as it is set (even when
//!   paused). Derivatives are not rolled back with it: they keep their published
//!   versions until their own content changes.
//!
//! Each publish appends to `status.history` (newest first, at most
//! [`HISTORY_LIMIT`] entries). The content of a version is kept in a ConfigMap owned by
//! the Codebase (an owner reference, so it goes when the Codebase goes), named by
//! [`snapshot_name`] (`<name>-<version>`), labelled [`LABEL_CODEBASE`] and
//! [`LABEL_VERSION`], laid out by [`crate::resolve::Snapshot`]: `data["manifest.json"]`
//! holds `main` and the file paths, `binaryData["f<N>"]` the content of the N-th file
//! (ConfigMap keys cannot hold `/`). When an entry falls off the history its ConfigMap
//! is deleted. Content larger than a ConfigMap can hold (about 1 MiB) is not published:
//! `Published=False` with reason `TooLarge`, and the published version stays.
//!
//! # Sharing across namespaces
//!
//! `spec.base: other-namespace/name` works only when that base opts in with the
//! annotation [`SHARED_WITH_ANNOTATION`] (`*` or a list of namespaces); otherwise the
//! derivative is refused at admission and is `Valid=False` with reason
//! `BaseNotShared`.
//!
//! # Deletion
//!
//! The validating webhook refuses to delete a Codebase that still has derivatives
//! ([`crate::resolve::derivatives`] lists them), so that no derivative is left without
//! the files it builds on; deleting its namespace always goes through. No finalizer
//! is involved, so nothing is left undeletable when the operator is gone.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The condition types of a Codebase.
pub mod condition {
    /// The spec's content resolves (bases, ConfigMaps) and loads in a dry run.
    pub const VALID: &str = "Valid";
    /// The repo serves the version the spec asks for (its content, or `rollbackTo`).
    pub const PUBLISHED: &str = "Published";
    /// Every sidecar of the codebase runs the published version.
    pub const READY: &str = "Ready";
}

/// The reasons of the conditions (CamelCase, as the API conventions ask).
pub mod reason {
    /// `Valid=True`: the content loaded in the dry run.
    pub const LOADED: &str = "Loaded";
    /// `Valid=False`: a module failed to parse or evaluate; the message is
    /// `file:line:column: message`.
    pub const SCRIPT_ERROR: &str = "ScriptError";
    /// `Valid=False`: `spec.base` names no Codebase.
    pub const BASE_NOT_FOUND: &str = "BaseNotFound";
    /// `Valid=False`: the base is in another namespace that does not share it.
    pub const BASE_NOT_SHARED: &str = "BaseNotShared";
    /// `Valid=False`: the base chain comes back to this codebase.
    pub const BASE_CYCLE: &str = "BaseCycle";
    /// `Valid=False`: a ConfigMap (or one of its keys) is missing.
    pub const CONFIG_MAP_NOT_FOUND: &str = "ConfigMapNotFound";
    /// `Valid=False`: the spec itself is inconsistent (a bad path, a file both defined
    /// and erased, a malformed base reference).
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// `Published=True`: the spec's content is served.
    pub const PUBLISHED: &str = "Published";
    /// `Published=True`: an earlier version is served (`spec.rollbackTo`).
    pub const ROLLED_BACK: &str = "RolledBack";
    /// `Published=False`: this codebase or one of its bases is paused.
    pub const PAUSED: &str = "Paused";
    /// `Published=False`: `spec.rollbackTo` is not a version of the history that kept
    /// its content.
    pub const UNKNOWN_VERSION: &str = "UnknownVersion";
    /// `Published=False`: the content is larger than a published version can hold (a
    /// ConfigMap, about 1 MiB); the published version is kept.
    pub const TOO_LARGE: &str = "TooLarge";
    /// `Published=False`: the content is not valid; the published version is kept.
    pub const INVALID: &str = "Invalid";
    /// `Ready=True`: every instance runs the published version.
    pub const UP_TO_DATE: &str = "UpToDate";
    /// `Ready=False`: some instances run another version or are not ready.
    pub const ROLLING_OUT: &str = "RollingOut";
    /// `Ready=False`: no sidecar reports this codebase.
    pub const NO_INSTANCES: &str = "NoInstances";
}

/// The finalizer that older operators put on every Codebase; this one removes it
/// (a base with derivatives is protected by the validating webhook instead, which
/// leaves nothing undeletable once the chart is uninstalled).
pub const FINALIZER: &str = "pipy.dev/derivatives";

/// The annotation by which a Codebase lets Codebases of other namespaces use it as
/// their `base`: `*` (every namespace) or a comma-separated list of namespaces.
/// Without it, a base serves only its own namespace: a Codebase can read another
/// namespace's code only with that namespace's consent.
pub const SHARED_WITH_ANNOTATION: &str = "pipy.dev/shared-with";

/// Whether `base` may be the base of a Codebase in `namespace`.
pub fn shares_with(base: &Codebase, namespace: &str) -> bool {
    use kube::ResourceExt as _;
    if base.namespace().as_deref() == Some(namespace) {
        return true;
    }
    base.annotations()
        .get(SHARED_WITH_ANNOTATION)
        .is_some_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|n| n == "*" || n == namespace)
        })
}

/// The label of a version snapshot ConfigMap that names its Codebase.
pub const LABEL_CODEBASE: &str = "pipy.dev/codebase";

/// The label of a version snapshot ConfigMap that names its version.
pub const LABEL_VERSION: &str = "pipy.dev/version";

/// How many published versions `status.history` keeps.
pub const HISTORY_LIMIT: usize = 10;

/// The entry file of a codebase that neither sets `main` nor has a base.
pub const DEFAULT_MAIN: &str = "/main.js";

/// How to regenerate `crds/codebase.yaml`.
pub const REGENERATE: &str = "cargo run -p pipy-operator --bin crdgen > crds/codebase.yaml";

/// The CustomResourceDefinition of [`Codebase`] as YAML, as `crds/codebase.yaml` holds
/// it (with a header saying where it comes from).
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    use kube::CustomResourceExt as _;
    let body = serde_yaml::to_string(&Codebase::crd())?;
    Ok(format!(
        "# Generated from operator/src/crd.rs, do not edit. Regenerate with:\n#   {REGENERATE}\n{body}"
    ))
}

/// The schema of `status.conditions`: a list of `metav1.Condition` keyed by `type`,
/// with the validations the Kubernetes API gives that type (the enum of `status`,
/// the patterns and lengths of `type` and `reason`).
fn conditions_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "description": "`Valid`, `Published` and `Ready`, with reasons and messages.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "description": "One aspect of the Codebase's state (metav1.Condition).",
            "required": ["lastTransitionTime", "message", "reason", "status", "type"],
            "properties": {
                "lastTransitionTime": {
                    "type": "string", "format": "date-time",
                    "description": "When the status last changed."
                },
                "message": {
                    "type": "string", "maxLength": 32768,
                    "description": "What happened, for humans; may be empty."
                },
                "observedGeneration": {
                    "type": "integer", "format": "int64", "minimum": 0,
                    "description": "The metadata.generation the condition was set for."
                },
                "reason": {
                    "type": "string", "minLength": 1, "maxLength": 1024,
                    "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
                    "description": "Why, as a CamelCase identifier."
                },
                "status": {
                    "type": "string", "enum": ["True", "False", "Unknown"],
                    "description": "True, False or Unknown."
                },
                "type": {
                    "type": "string", "maxLength": 316,
                    "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
                    "description": "Valid, Published or Ready."
                }
            }
        }
    })
}

/// The name of the ConfigMap that keeps the content of `version` of Codebase `name`.
pub fn snapshot_name(name: &str, version: &str) -> String {
    format!("{name}-{version}")
}

/// A PipyJS codebase: files and an entry module, optionally derived from another
/// Codebase. The repo serves it at `/<namespace>/<name>`; a sidecar runs it with
/// `pipy http://<repo>/repo/<namespace>/<name>/`.
// Printer columns repeat `type_` and `priority`, which the lint takes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "pipy.dev",
    version = "v1alpha1",
    kind = "Codebase",
    namespaced,
    shortname = "cb",
    category = "pipy",
    status = "CodebaseStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "A PipyJS codebase: files and an entry module, optionally derived from another Codebase. The repo serves it at /<namespace>/<name>.",
    printcolumn(name = "Base", type_ = "string", json_path = ".spec.base"),
    printcolumn(name = "Version", type_ = "string", json_path = ".status.version"),
    printcolumn(
        name = "Published",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Published")].status"#
    ),
    printcolumn(
        name = "Instances",
        type_ = "integer",
        json_path = ".status.instances.total"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Valid",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Valid")].status"#,
        priority = 1
    ),
    printcolumn(
        name = "Paused",
        type_ = "boolean",
        json_path = ".spec.paused",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct CodebaseSpec {
    /// Files given inline: codebase path (such as `/main.js` or `/lib/util.js`) to
    /// content (text). They override files of the same path from `configMaps` and from
    /// the base.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,

    /// Files taken from ConfigMaps of the same namespace, for codebases too large to
    /// inline. Later entries override earlier ones on the same path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_maps: Vec<ConfigMapFiles>,

    /// The entry module. Default: the base's main, or `/main.js` without a base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,

    /// The Codebase this one derives from: `name` (same namespace) or
    /// `namespace/name`. Its files are inherited unless overridden or erased here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,

    /// Inherited paths to leave out of this codebase (and of its derivatives).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub erase: Vec<String>,

    /// Stage changes: validate them, but keep serving the published version. Holds
    /// back the derivatives too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,

    /// Serve this earlier version (one of `status.history`) instead of the spec's
    /// content, for as long as it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_to: Option<String>,
}

/// Files from one ConfigMap: each key (from `data` or `binaryData`) becomes the file
/// `<dir>/<key>`, or only the listed `items` are taken, each to its own path.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapFiles {
    /// The ConfigMap's name (in the Codebase's namespace).
    pub name: String,

    /// The codebase directory the files land in. Default: `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,

    /// Only these keys, each to a path relative to `dir` (which may have
    /// subdirectories, as ConfigMap keys cannot). Default: every key, as is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,

    /// A missing ConfigMap (or key) is not an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// One key of a ConfigMap and the file it becomes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct KeyToPath {
    /// The ConfigMap key.
    pub key: String,
    /// The file's path, relative to the entry's `dir` (such as `lib/util.js`).
    pub path: String,
}

/// What the controller last did with a Codebase.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodebaseStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The version the repo serves (short content hash), absent until first published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// The full sha256 (hex) of the content the spec resolves to, published or not
    /// (it differs from `version` while paused, rolled back or invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,

    /// The entry module the spec resolves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,

    /// `Valid`, `Published` and `Ready`, with reasons and messages. A map keyed by
    /// `type`: each writer (the controller: `Valid`, `Published`; the summary:
    /// `Ready`) owns its own conditions under server-side apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,

    /// Codebases that derive from this one, directly or not, as `namespace/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<String>,

    /// Published versions, newest first, at most ten.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<PublishedVersion>,

    /// The sidecars that run this codebase and their versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Instances>,
}

/// A version the repo served.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedVersion {
    /// The version (short content hash).
    pub version: String,

    /// When it was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<Time>,

    /// The owned ConfigMap that keeps its content; absent when it could not be kept,
    /// and then the version cannot be rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
}

/// How many sidecars run the codebase, and which versions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Instances {
    /// Sidecars that report this codebase.
    pub total: i32,
    /// Of those, the ones that run the published version and serve.
    pub ready: i32,
    /// Sidecars per version they run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_version: BTreeMap<String, i32>,
}

/// A Codebase in namespace `ns` with an optional base and inline files, for tests.
#[cfg(test)]
pub(crate) fn test_codebase(
    ns: &str,
    name: &str,
    base: Option<&str>,
    files: &[(&str, &str)],
) -> Codebase {
    let mut cb = Codebase::new(
        name,
        CodebaseSpec {
            base: base.map(str::to_owned),
            files: files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
            ..CodebaseSpec::default()
        },
    );
    cb.metadata.namespace = Some(ns.to_owned());
    cb
}

#[cfg(test)]
mod tests;
