//! Golden tests of `inject::mutate`: one folder per pod shape under
//! `tests/golden/inject/`, holding
//!
//! * `input.yaml`: `pod` (the Pod as the API server sends it), `namespace` (of the
//!   request), and optionally `operation` (default `CREATE`), `namespaceDefault` (the
//!   Namespace's `pipy.dev/codebase`) and `config` (overrides merged onto
//!   `InjectorConfig::default()`);
//! * `response.json`: what the response says (allowed, message, warnings, patch);
//! * `patched.yaml`: the pod with the patch applied, when there is a patch.
//!
//! Each patched pod must deserialize into a k8s-openapi `Pod`, and admitting it again
//! must not patch it (injection is idempotent).

use json_patch::Patch;
use k8s_openapi::api::core::v1::Pod;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use pipy_operator::inject::{self, InjectorConfig};
use serde_json::{json, Value};

use crate::golden;

/// An AdmissionReview for `pod`, shaped as the API server sends it.
pub(crate) fn pod_review(pod: &Value, namespace: &str, operation: &str) -> Value {
    let name = pod.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    json!({
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {
                "username": "system:serviceaccount:kube-system:replicaset-controller",
                "uid": "2d6bd6a1-5bd8-4a8f-a6b0-1b0e5a4b0c11",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]
            },
            "object": pod,
            "oldObject": if operation == "UPDATE" { pod.clone() } else { Value::Null },
            "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
        }
    })
}

/// The patch of a response, decoded.
pub(crate) fn patch_of(response: &AdmissionResponse) -> Option<Patch> {
    let bytes = response.patch.as_ref()?;
    Some(serde_json::from_slice(bytes).expect("the patch is a JSON patch"))
}

struct Case {
    pod: Value,
    namespace: String,
    operation: String,
    namespace_default: Option<String>,
    config: InjectorConfig,
}

fn load(dir: &std::path::Path) -> Case {
    let text = std::fs::read_to_string(dir.join("input.yaml")).unwrap();
    let input: Value = serde_yaml::from_str(&text).unwrap();
    let mut config = serde_json::to_value(InjectorConfig::default()).unwrap();
    if let Some(overrides) = input.get("config") {
        json_patch::merge(&mut config, overrides);
    }
    Case {
        pod: input["pod"].clone(),
        namespace: input["namespace"].as_str().unwrap().to_string(),
        operation: input
            .get("operation")
            .and_then(Value::as_str)
            .unwrap_or("CREATE")
            .to_string(),
        namespace_default: input
            .get("namespaceDefault")
            .and_then(Value::as_str)
            .map(str::to_string),
        config: serde_json::from_value(config).unwrap(),
    }
}

fn admit(case: &Case, pod: &Value) -> AdmissionResponse {
    let review: AdmissionReview<Pod> =
        serde_json::from_value(pod_review(pod, &case.namespace, &case.operation)).unwrap();
    let request: AdmissionRequest<Pod> = review.try_into().unwrap();
    inject::mutate(&request, case.namespace_default.as_deref(), &case.config)
}

fn summary(response: &AdmissionResponse, patch: Option<&Patch>) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("allowed".into(), json!(response.allowed));
    if !response.result.message.is_empty() {
        out.insert("message".into(), json!(response.result.message));
    }
    if let Some(warnings) = &response.warnings {
        out.insert("warnings".into(), json!(warnings));
    }
    if let Some(patch) = patch {
        out.insert("patch".into(), serde_json::to_value(patch).unwrap());
    }
    Value::Object(out)
}

/// Runs one case; the golden differences it finds.
fn run(dir: &std::path::Path) -> Vec<String> {
    let case = load(dir);
    let response = admit(&case, &case.pod);
    let patch = patch_of(&response);
    if patch.is_some() {
        let wire = serde_json::to_value(&response).unwrap();
        assert_eq!(wire["patchType"], "JSONPatch", "{dir:?}");
        assert!(response.allowed, "{dir:?}: a patch on a denied pod");
    }
    let mut errors = Vec::new();
    let summary = serde_json::to_string_pretty(&summary(&response, patch.as_ref())).unwrap() + "\n";
    if let Err(e) = golden::check(&dir.join("response.json"), Some(&summary)) {
        errors.push(e);
    }
    let patched = patch.map(|patch| {
        let mut pod = case.pod.clone();
        json_patch::patch(&mut pod, &patch)
            .unwrap_or_else(|e| panic!("{dir:?}: the patch does not apply: {e}"));
        let typed: Pod = serde_json::from_value(pod.clone())
            .unwrap_or_else(|e| panic!("{dir:?}: the patched pod is not a Pod: {e}"));
        check_sidecar(dir, &typed, &case.config);
        let again = admit(&case, &pod);
        assert!(
            again.allowed && again.patch.is_none(),
            "{dir:?}: a second admission patched the pod again"
        );
        serde_yaml::to_string(&pod).unwrap()
    });
    if let Err(e) = golden::check(&dir.join("patched.yaml"), patched.as_deref()) {
        errors.push(e);
    }
    errors
}

/// What every sidecar must be, whatever the golden files say.
fn check_sidecar(dir: &std::path::Path, pod: &Pod, config: &InjectorConfig) {
    let spec = pod.spec.as_ref().unwrap();
    let all: Vec<_> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter(|c| c.name == inject::SIDECAR_NAME)
        .collect();
    assert_eq!(all.len(), 1, "{dir:?}: one sidecar");
    let sidecar = all[0];
    let native = spec
        .init_containers
        .iter()
        .flatten()
        .any(|c| c.name == inject::SIDECAR_NAME);
    assert_eq!(
        native, config.native_sidecar,
        "{dir:?}: where the sidecar is"
    );
    if native {
        assert_eq!(sidecar.restart_policy.as_deref(), Some("Always"));
        assert!(sidecar.startup_probe.is_some(), "{dir:?}: a startup probe");
    }
    let security = sidecar.security_context.as_ref().unwrap();
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let drop = security
        .capabilities
        .as_ref()
        .unwrap()
        .drop
        .as_ref()
        .unwrap();
    assert_eq!(drop, &["ALL".to_string()]);
    let readiness = sidecar.readiness_probe.as_ref().unwrap();
    let get = readiness.http_get.as_ref().unwrap();
    assert_eq!(get.path.as_deref(), Some("/readyz"));
    let args = sidecar.args.as_ref().unwrap();
    assert!(args.contains(&"--admin-port=0.0.0.0:15060".to_string()));
    assert!(args.contains(&"--instance-name=$(POD_NAMESPACE)/$(POD_NAME)".to_string()));
    let env: Vec<_> = sidecar
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(env, ["POD_NAME", "POD_NAMESPACE", "POD_IP"]);
    let annotations = pod.metadata.annotations.as_ref().unwrap();
    assert!(annotations.contains_key(inject::INJECTED_ANNOTATION));
}

#[test]
fn golden_pods() {
    let root = golden::dir("inject");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.yaml").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "expected the golden cases in {root:?}");
    let errors: Vec<String> = dirs.iter().flat_map(|d| run(d)).collect();
    assert!(
        errors.is_empty(),
        "{}\n\n{} golden file(s) differ; if the change is intended, rerun with UPDATE_GOLDEN=1 and review the diff",
        errors.join("\n\n"),
        errors.len()
    );
}
