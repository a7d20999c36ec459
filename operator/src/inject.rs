//! Sidecar injection: the pure [`mutate`] function behind the mutating admission webhook
//! for pods.
//!
//! A pod created in a namespace the webhook's `namespaceSelector` matches (label
//! `pipy-injection=enabled`, set up by the chart) gets a `pipy` sidecar that runs the
//! codebase named by the pod's [`CODEBASE_ANNOTATION`], or else by the same annotation on
//! its Namespace. The response carries a minimal JSON patch:
//!
//! * `add /metadata/annotations/pipy.dev~1injected` (or the whole `annotations` map
//!   when the pod has none) with the codebase as `<ns>/<name>`;
//! * `add /spec/volumes/-` (or the whole `volumes` list) with [`TOKEN_VOLUME`], a
//!   projected ServiceAccount token that the sidecar shows the repo
//!   (`--repo-token-file`);
//! * `add /spec/containers/-` with the sidecar, or, when
//!   [`InjectorConfig::native_sidecar`] is set, `add /spec/initContainers/0` (or the
//!   whole `initContainers` list) with the sidecar as a native sidecar
//!   (`restartPolicy: Always` and a startup probe), so it starts before the other init
//!   containers and the app.
//!
//! The pod is admitted unchanged (no patch) when the request is not a `CREATE`, the
//! namespace is `kube-system` or the operator's own (defence in depth: the chart's
//! selector already leaves them out), the pod opts out ([`INJECT_ANNOTATION`] `"false"`
//! or label [`INJECTION_LABEL`] `disabled`), the sidecar is already there (injection is
//! idempotent), the pod uses `hostNetwork` (with a warning), or no codebase is named
//! (with a warning).
//!
//! **Bad annotation values deny the pod.** A malformed codebase reference, resource
//! quantity or log level, or a request above its limit, is a mistake in something the
//! user wrote on purpose; quietly falling back to defaults would run a sidecar that is
//! not the one asked for and hide the mistake. The denial message names the annotation
//! and the value, and shows up in `kubectl apply` for a bare pod or in the ReplicaSet's
//! events for a Deployment.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, Pod, Probe, ProjectedVolumeSource, ResourceRequirements, SeccompProfile,
    SecurityContext, ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use serde::{Deserialize, Serialize};

/// Pod or Namespace annotation naming the codebase the sidecar runs: `<name>` (in the
/// pod's namespace) or `<ns>/<name>`.
pub const CODEBASE_ANNOTATION: &str = "pipy.dev/codebase";
/// Pod annotation that opts a pod out of injection when set to `"false"`.
pub const INJECT_ANNOTATION: &str = "pipy.dev/inject";
/// Label that selects namespaces for injection (`enabled`, in the chart's
/// `namespaceSelector`) and opts a pod out (`disabled`, on the pod).
pub const INJECTION_LABEL: &str = "pipy-injection";
/// Value of [`INJECTION_LABEL`] on a pod that opts out.
pub const INJECTION_DISABLED: &str = "disabled";
/// Pod annotation overriding the sidecar's CPU request.
pub const CPU_REQUEST_ANNOTATION: &str = "pipy.dev/sidecar-cpu-request";
/// Pod annotation overriding the sidecar's memory request.
pub const MEMORY_REQUEST_ANNOTATION: &str = "pipy.dev/sidecar-memory-request";
/// Pod annotation overriding the sidecar's CPU limit.
pub const CPU_LIMIT_ANNOTATION: &str = "pipy.dev/sidecar-cpu-limit";
/// Pod annotation overriding the sidecar's memory limit.
pub const MEMORY_LIMIT_ANNOTATION: &str = "pipy.dev/sidecar-memory-limit";
/// Pod annotation overriding the sidecar's `--log-level`.
pub const LOG_LEVEL_ANNOTATION: &str = "pipy.dev/log-level";
/// Annotation the patch sets on an injected pod: the codebase as `<ns>/<name>`.
pub const INJECTED_ANNOTATION: &str = "pipy.dev/injected";
/// The sidecar container's name; a pod with a container or init container of this name
/// is never injected again.
pub const SIDECAR_NAME: &str = "pipy-sidecar";
/// The sidecar's admin port (`/readyz`, `/metrics`, `/status`).
pub const ADMIN_PORT: i32 = 15060;
/// The volume of the sidecar's repo token: a projected ServiceAccount token for the
/// audience [`crate::auth::AUDIENCE`], which the operator's repo asks for.
pub const TOKEN_VOLUME: &str = "pipy-repo-token";
/// Where the sidecar finds the token volume.
pub const TOKEN_DIR: &str = "/var/run/secrets/pipy.dev/repo";
/// How long a projected token lives before the kubelet rotates it.
pub const TOKEN_SECONDS: i64 = 3600;
/// The log levels `pipy --log-level` accepts.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
/// Namespaces never injected, whatever the webhook configuration sends.
pub const EXCLUDED_NAMESPACES: [&str; 1] = ["kube-system"];

/// How sidecars are built: the chart's values, read once at start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InjectorConfig {
    /// The sidecar image.
    pub image: String,
    /// The sidecar's `imagePullPolicy`; the cluster's default when `None`.
    pub image_pull_policy: Option<String>,
    /// The repo's base URL, such as `http://pipy-repo.pipy-system.svc:6060`; a sidecar
    /// runs `<repo_url>/repo/<ns>/<name>/`.
    pub repo_url: String,
    /// Default requests and limits of the sidecar, overridden per pod by annotations.
    pub resources: ResourceRequirements,
    /// Default `--log-level`, overridden per pod by [`LOG_LEVEL_ANNOTATION`].
    pub log_level: String,
    /// Inject a native sidecar (an init container with `restartPolicy: Always`,
    /// Kubernetes 1.29+) rather than an ordinary container.
    pub native_sidecar: bool,
    /// The operator's namespace, never injected.
    pub operator_namespace: String,
    /// The sidecar's user and group id (it always runs as non-root): the image's own
    /// user, distroless `nonroot`, by default.
    pub run_as_user: i64,
}

impl Default for InjectorConfig {
    fn default() -> Self {
        let quantities = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect(),
            )
        };
        InjectorConfig {
            image: "pipy:latest".into(),
            image_pull_policy: Some("IfNotPresent".into()),
            repo_url: "http://pipy-repo.pipy-system.svc:6060".into(),
            resources: ResourceRequirements {
                requests: quantities(&[("cpu", "100m"), ("memory", "64Mi")]),
                limits: quantities(&[("cpu", "1"), ("memory", "256Mi")]),
                ..Default::default()
            },
            log_level: "info".into(),
            native_sidecar: false,
            operator_namespace: "pipy-system".into(),
            run_as_user: 65532,
        }
    }
}

/// What [`mutate`] decided, before it is put into an [`AdmissionResponse`].
enum Decision {
    /// Admit unchanged, with an optional warning.
    Skip(Option<String>),
    /// Admit with this patch.
    Inject(Patch),
}

/// Decides whether and how to inject the sidecar into the pod of an admission request.
///
/// `namespace_default_codebase` is the [`CODEBASE_ANNOTATION`] of the pod's Namespace,
/// used when the pod has none. The response allows the pod unchanged, allows it with a
/// JSON patch that adds the sidecar, or denies it when an annotation value is invalid
/// (see the module documentation). It never panics on any input.
pub fn mutate(
    req: &AdmissionRequest<Pod>,
    namespace_default_codebase: Option<&str>,
    config: &InjectorConfig,
) -> AdmissionResponse {
    let response = AdmissionResponse::from(req);
    match decide(req, namespace_default_codebase, config) {
        Ok(Decision::Skip(None)) => response,
        Ok(Decision::Skip(Some(warning))) => {
            let mut response = response;
            response.warnings = Some(vec![warning]);
            response
        }
        Ok(Decision::Inject(patch)) => match response.clone().with_patch(patch) {
            Ok(patched) => patched,
            Err(e) => response.deny(format!("pipy sidecar injection failed: {e}")),
        },
        Err(message) => response.deny(message),
    }
}

fn decide(
    req: &AdmissionRequest<Pod>,
    namespace_default_codebase: Option<&str>,
    config: &InjectorConfig,
) -> Result<Decision, String> {
    if !matches!(req.operation, Operation::Create) {
        return Ok(Decision::Skip(None));
    }
    let Some(pod) = &req.object else {
        return Ok(Decision::Skip(None));
    };
    let Some(namespace) = req
        .namespace
        .as_deref()
        .or(pod.metadata.namespace.as_deref())
        .filter(|ns| !ns.is_empty())
    else {
        return Ok(Decision::Skip(Some(
            "pipy sidecar not injected: the pod has no namespace".into(),
        )));
    };
    if EXCLUDED_NAMESPACES.contains(&namespace) || namespace == config.operator_namespace {
        return Ok(Decision::Skip(None));
    }
    let annotations = pod.metadata.annotations.as_ref();
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    let label = |key: &str| {
        pod.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .map(String::as_str)
    };
    if annotation(INJECT_ANNOTATION) == Some("false")
        || label(INJECTION_LABEL) == Some(INJECTION_DISABLED)
    {
        return Ok(Decision::Skip(None));
    }
    let spec = pod.spec.as_ref();
    let has_sidecar = spec.is_some_and(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .any(|c| c.name == SIDECAR_NAME)
    });
    if has_sidecar {
        return Ok(Decision::Skip(None));
    }
    if spec.and_then(|s| s.host_network) == Some(true) {
        return Ok(Decision::Skip(Some(
            "pipy sidecar not injected: hostNetwork pods are skipped".into(),
        )));
    }
    let (reference, source) = match annotation(CODEBASE_ANNOTATION) {
        Some(r) => (r, "pod"),
        None => match namespace_default_codebase {
            Some(r) => (r, "namespace"),
            None => {
                return Ok(Decision::Skip(Some(format!(
                    "pipy sidecar not injected: no codebase; set annotation {CODEBASE_ANNOTATION} \
                     on the pod or namespace"
                ))));
            }
        },
    };
    let (cb_namespace, cb_name) = parse_codebase_ref(reference, namespace).ok_or_else(|| {
        format!(
            "invalid {source} annotation {CODEBASE_ANNOTATION}={reference:?}: expected \
             <name> or <namespace>/<name> (lowercase DNS names)"
        )
    })?;
    let log_level = match annotation(LOG_LEVEL_ANNOTATION) {
        Some(level) if LOG_LEVELS.contains(&level) => level,
        Some(level) => {
            return Err(format!(
                "invalid annotation {LOG_LEVEL_ANNOTATION}={level:?}: expected one of {}",
                LOG_LEVELS.join(", ")
            ));
        }
        None => config.log_level.as_str(),
    };
    let resources = resources(config, &annotation)?;
    let sidecar = sidecar(config, &cb_namespace, &cb_name, log_level, resources);
    let sidecar = serde_json::to_value(sidecar).map_err(|e| e.to_string())?;

    let mut ops = Vec::new();
    let injected = serde_json::Value::String(format!("{cb_namespace}/{cb_name}"));
    if annotations.is_some() {
        ops.push(add(
            &["metadata", "annotations", INJECTED_ANNOTATION],
            injected,
        ));
    } else {
        ops.push(add(
            &["metadata", "annotations"],
            serde_json::json!({ INJECTED_ANNOTATION: injected }),
        ));
    }
    let has_init = spec.is_some_and(|s| s.init_containers.is_some());
    match (config.native_sidecar, has_init) {
        (true, true) => ops.push(add(&["spec", "initContainers", "0"], sidecar)),
        (true, false) => ops.push(add(
            &["spec", "initContainers"],
            serde_json::Value::Array(vec![sidecar]),
        )),
        (false, _) => ops.push(add(&["spec", "containers", "-"], sidecar)),
    }
    let volume = serde_json::to_value(token_volume()).map_err(|e| e.to_string())?;
    if spec.is_some_and(|s| s.volumes.is_some()) {
        ops.push(add(&["spec", "volumes", "-"], volume));
    } else {
        ops.push(add(
            &["spec", "volumes"],
            serde_json::Value::Array(vec![volume]),
        ));
    }
    Ok(Decision::Inject(Patch(ops)))
}

/// One `add` operation; the tokens are escaped (`/` in an annotation key becomes `~1`).
fn add(tokens: &[&str], value: serde_json::Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: PointerBuf::from_tokens(tokens.iter().copied()),
        value,
    })
}

/// Splits `<name>` or `<ns>/<name>` into namespace and name, `None` when malformed.
pub fn parse_codebase_ref(reference: &str, pod_namespace: &str) -> Option<(String, String)> {
    let (namespace, name) = match reference.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => (pod_namespace, reference),
    };
    (is_dns_label(namespace) && is_dns_subdomain(name))
        .then(|| (namespace.to_string(), name.to_string()))
}

/// RFC 1123 label: what a namespace name must be.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: what a Codebase name must be.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The sidecar's resources: the configured defaults with the pod's annotations applied.
fn resources<'a>(
    config: &InjectorConfig,
    annotation: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<ResourceRequirements, String> {
    let mut requests = config.resources.requests.clone().unwrap_or_default();
    let mut limits = config.resources.limits.clone().unwrap_or_default();
    for (key, is_limit, resource) in [
        (CPU_REQUEST_ANNOTATION, false, "cpu"),
        (MEMORY_REQUEST_ANNOTATION, false, "memory"),
        (CPU_LIMIT_ANNOTATION, true, "cpu"),
        (MEMORY_LIMIT_ANNOTATION, true, "memory"),
    ] {
        let map = if is_limit { &mut limits } else { &mut requests };
        if let Some(value) = annotation(key) {
            if parse_quantity(value).is_none() {
                return Err(format!(
                    "invalid annotation {key}={value:?}: expected a Kubernetes quantity such \
                     as 100m, 0.5, 64Mi or 1G"
                ));
            }
            map.insert(resource.to_string(), Quantity(value.to_string()));
        }
    }
    for resource in ["cpu", "memory"] {
        let request = requests.get(resource).and_then(|q| parse_quantity(&q.0));
        let limit = limits.get(resource).and_then(|q| parse_quantity(&q.0));
        if let (Some(request), Some(limit)) = (request, limit) {
            if request > limit {
                return Err(format!(
                    "pipy sidecar {resource} request {} is above its limit {}: set \
                     pipy.dev/sidecar-{resource}-request and pipy.dev/sidecar-{resource}-limit",
                    requests[resource].0, limits[resource].0
                ));
            }
        }
    }
    Ok(ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..Default::default()
    })
}

/// The value of a Kubernetes resource quantity (`100m`, `1.5`, `64Mi`, `1e3`), `None`
/// when `s` is not one or is negative.
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e => {
            let exponent = e.strip_prefix(['e', 'E'])?;
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            10f64.powi(exponent.parse().ok()?)
        }
    };
    Some(value * scale)
}

/// The projected volume of the sidecar's repo token.
fn token_volume() -> Volume {
    Volume {
        name: TOKEN_VOLUME.into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    audience: Some(crate::auth::AUDIENCE.into()),
                    expiration_seconds: Some(TOKEN_SECONDS),
                    path: "token".into(),
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The sidecar container for codebase `<namespace>/<name>`.
fn sidecar(
    config: &InjectorConfig,
    namespace: &str,
    name: &str,
    log_level: &str,
    resources: ResourceRequirements,
) -> Container {
    let field = |env: &str, path: &str| EnvVar {
        name: env.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let readyz = |period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/readyz".into()),
            port: IntOrString::Int(ADMIN_PORT),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Default::default()
    };
    let repo = config.repo_url.trim_end_matches('/');
    Container {
        name: SIDECAR_NAME.into(),
        image: Some(config.image.clone()),
        image_pull_policy: config.image_pull_policy.clone(),
        args: Some(vec![
            format!("{repo}/repo/{namespace}/{name}/"),
            format!("--admin-port=0.0.0.0:{ADMIN_PORT}"),
            "--instance-name=$(POD_NAMESPACE)/$(POD_NAME)".into(),
            format!("--log-level={log_level}"),
            format!("--repo-token-file={TOKEN_DIR}/token"),
        ]),
        volume_mounts: Some(vec![VolumeMount {
            name: TOKEN_VOLUME.into(),
            mount_path: TOKEN_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        }]),
        env: Some(vec![
            field("POD_NAME", "metadata.name"),
            field("POD_NAMESPACE", "metadata.namespace"),
            field("POD_IP", "status.podIP"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("pipy-admin".into()),
            container_port: ADMIN_PORT,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        readiness_probe: Some(readyz(2, 3)),
        // A native sidecar holds the app back until its first codebase load; give the
        // repo five minutes before the kubelet restarts it.
        startup_probe: config.native_sidecar.then(|| readyz(1, 300)),
        restart_policy: config.native_sidecar.then(|| "Always".into()),
        resources: Some(resources),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(config.run_as_user),
            run_as_group: Some(config.run_as_user),
            // What PodSecurity `restricted` asks of every container.
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for (s, v) in [
            ("100m", 0.1),
            ("1", 1.0),
            ("0.5", 0.5),
            (".5", 0.5),
            ("64Mi", 64.0 * 1024.0 * 1024.0),
            ("1G", 1e9),
            ("1e3", 1e3),
            ("2E-1", 0.2),
            ("+3k", 3e3),
        ] {
            assert_eq!(parse_quantity(s), Some(v), "{s}");
        }
        for s in [
            "", "m", "-1", "1.2.3", "1x", "1mi", "1e", "1e+", "Mi", "1 Mi", ".",
        ] {
            assert_eq!(parse_quantity(s), None, "{s:?}");
        }
    }

    #[test]
    fn codebase_refs() {
        let r = |s| parse_codebase_ref(s, "apps");
        assert_eq!(r("shop"), Some(("apps".into(), "shop".into())));
        assert_eq!(r("edge/gw.v2"), Some(("edge".into(), "gw.v2".into())));
        for bad in ["", "/x", "x/", "a/b/c", "Shop", "a b", "-x", "ns./x"] {
            assert_eq!(r(bad), None, "{bad:?}");
        }
    }
}
