//! The Helm chart (`charts/pipy`) and the Kubernetes examples, checked without a cluster.
//!
//! * `helm lint --strict` is clean for the default values and every value set in
//!   `charts/pipy/ci/*-values.yaml`;
//! * `helm template` of each renders exactly `e2e/golden/chart/<set>.yaml` (regenerate
//!   with `UPDATE_GOLDEN=1 cargo test -p pipy-e2e chart` and review the diff), and keeps
//!   the contract with `pipy-operator` (flags, names, ports, RBAC) that a regenerated
//!   golden file could hide;
//! * the chart's CRD is a byte-for-byte copy of the generated `crds/codebase.yaml`;
//! * `examples/namespace.yaml`, `codebase.yaml` and `app.yaml` agree with each other and
//!   with the chart.
//!
//! helm is `.tools/bin/helm` (`scripts/install-k8s-tools.sh`) or the one on PATH. Without
//! it the helm tests print that they were skipped, and fail when `CI` is set.

use serde::Deserialize;
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const RELEASE: &str = "pipy";
const NAMESPACE: &str = "pipy-system";
/// Pinned so that the output does not depend on helm's default capabilities.
const KUBE_VERSION: &str = "1.33.0";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

fn chart() -> PathBuf {
    root().join("charts/pipy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// helm, or `None` after saying that `test` was skipped. Fails in CI instead.
fn helm(test: &str) -> Option<PathBuf> {
    let local = root().join(".tools/bin/helm");
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("helm"))
                .find(|p| p.is_file())
        })
    };
    let found = if local.is_file() {
        Some(local)
    } else {
        on_path()
    };
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "helm is neither at .tools/bin/helm nor on PATH, and CI is set: \
             run scripts/install-k8s-tools.sh"
        );
        eprintln!(
            "SKIPPED {test}: helm is neither at .tools/bin/helm nor on PATH \
             (scripts/install-k8s-tools.sh installs it)"
        );
    }
    found
}

/// The value sets: `default` (no file) and each `charts/pipy/ci/<name>-values.yaml`.
fn value_sets() -> Vec<(String, Option<PathBuf>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(chart().join("ci"))
        .expect("charts/pipy/ci")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with("-values.yaml"))
        .collect();
    files.sort();
    let mut sets = vec![("default".to_string(), None)];
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy();
        sets.push((name.trim_end_matches("-values.yaml").to_string(), Some(f)));
    }
    sets
}

fn run_helm(helm: &Path, args: &[&str], values: Option<&Path>) -> String {
    let mut cmd = Command::new(helm);
    cmd.current_dir(root()).args(args);
    if let Some(v) = values {
        cmd.arg("-f").arg(v);
    }
    let out = cmd.output().expect("run helm");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "helm {args:?} {values:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn template(helm: &Path, values: Option<&Path>) -> String {
    let args = [
        "template",
        RELEASE,
        "charts/pipy",
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
    ];
    run_helm(helm, &args, values)
}

/// Every non-empty YAML document of `text`.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Compares `actual` with the golden file `name`, or writes it with `UPDATE_GOLDEN=1`.
/// Returns a description of the difference.
fn golden(name: &str, actual: &str) -> Option<String> {
    let path = root().join("e2e/golden/chart").join(format!("{name}.yaml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    let Ok(expected) = std::fs::read_to_string(&path) else {
        return Some(format!("{} is missing", path.display()));
    };
    if expected == actual {
        return None;
    }
    let (mut e, mut a) = (expected.lines(), actual.lines());
    let mut line = 1;
    loop {
        match (e.next(), a.next()) {
            (x, y) if x == y && x.is_some() => line += 1,
            (x, y) => {
                return Some(format!(
                    "{}:{line}: expected {x:?}, rendered {y:?}",
                    path.display()
                ))
            }
        }
    }
}

#[test]
fn chart_lints_clean_for_every_value_set() {
    let Some(helm) = helm("chart_lints_clean_for_every_value_set") else {
        return;
    };
    for (name, values) in value_sets() {
        let args = [
            "lint",
            "--strict",
            "charts/pipy",
            "--kube-version",
            KUBE_VERSION,
        ];
        let out = run_helm(&helm, &args, values.as_deref());
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "helm lint ({name}):\n{out}"
        );
    }
}

#[test]
fn chart_renders_the_golden_files() {
    let Some(helm) = helm("chart_renders_the_golden_files") else {
        return;
    };
    let mut failures = Vec::new();
    for (name, values) in value_sets() {
        let out = template(&helm, values.as_deref());
        assert!(documents(&out).len() >= 10, "{name}: too few objects");
        failures.extend(golden(&name, &out));
    }
    assert!(
        failures.is_empty(),
        "helm template differs from e2e/golden/chart/ (if intended: \
         UPDATE_GOLDEN=1 cargo test -p pipy-e2e chart, then review the diff):\n{}",
        failures.join("\n")
    );
}

#[test]
fn chart_keeps_the_operator_contract() {
    let Some(helm) = helm("chart_keeps_the_operator_contract") else {
        return;
    };
    let docs = documents(&template(&helm, None));
    let deploy = find(&docs, "Deployment", "pipy-operator");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pod = &deploy["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "ghcr.io/pipy-rs/pipy-operator:0.1.0");
    assert_eq!(
        strings(&container["args"]),
        [
            "--namespace=$(POD_NAMESPACE)",
            "--repo-addr=0.0.0.0:6060",
            "--webhook-addr=0.0.0.0:9443",
            "--metrics-addr=0.0.0.0:8080",
            "--webhook-service=pipy-webhook",
            "--webhook-secret=pipy-webhook-tls",
            "--mutating-webhook=pipy-sidecar-injector",
            "--validating-webhook=pipy-codebase-validator",
            "--shutdown-delay=5",
            "--repo-url=http://pipy-repo.pipy-system.svc:6060",
            "--leader-lease=pipy-operator-leader",
            "--sidecar-image=ghcr.io/pipy-rs/pipy:0.1.0",
            "--sidecar-image-pull-policy=IfNotPresent",
            "--sidecar-log-level=info",
            "--sidecar-cpu-request=10m",
            "--sidecar-memory-request=32Mi",
            // `limits.cpu: ""`: said explicitly, so the operator sets no CPU limit.
            "--sidecar-cpu-limit=",
            "--sidecar-memory-limit=256Mi",
        ]
    );
    assert_eq!(pod["terminationGracePeriodSeconds"], 25);
    assert_eq!(
        container["env"][2]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.uid"
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    find(&docs, "PodDisruptionBudget", "pipy-operator");

    let repo = find(&docs, "Service", "pipy-repo");
    assert_eq!(repo["spec"]["ports"][0]["port"], 6060);
    let webhook = find(&docs, "Service", "pipy-webhook");
    assert_eq!(webhook["spec"]["ports"][0]["port"], 443);
    assert_eq!(webhook["spec"]["ports"][0]["targetPort"], "webhook");

    let mutating = &find(
        &docs,
        "MutatingWebhookConfiguration",
        "pipy-sidecar-injector",
    )["webhooks"][0];
    assert_eq!(mutating["clientConfig"]["service"]["path"], "/mutate-pod");
    assert_eq!(mutating["failurePolicy"], "Ignore");
    assert_eq!(mutating["sideEffects"], "None");
    let selector = &mutating["namespaceSelector"];
    assert_eq!(selector["matchLabels"]["pipy-injection"], "enabled");
    let excluded = &selector["matchExpressions"][0];
    assert_eq!(excluded["key"], "kubernetes.io/metadata.name");
    assert_eq!(strings(&excluded["values"]), ["kube-system", NAMESPACE]);
    let validating = &find(
        &docs,
        "ValidatingWebhookConfiguration",
        "pipy-codebase-validator",
    )["webhooks"][0];
    assert_eq!(
        validating["clientConfig"]["service"]["path"],
        "/validate-codebase"
    );
    assert_eq!(strings(&validating["rules"][0]["resources"]), ["codebases"]);
    assert!(mutating["clientConfig"].get("caBundle").is_none());

    let rules = find(&docs, "ClusterRole", "pipy-operator")["rules"]
        .as_sequence()
        .unwrap();
    let crd_rule = rules
        .iter()
        .find(|r| strings(&r["resources"]) == ["customresourcedefinitions"])
        .expect("a rule for the CRD");
    assert_eq!(strings(&crd_rule["resourceNames"]), ["codebases.pipy.dev"]);
    for rule in rules {
        assert!(!strings(&rule["verbs"]).contains(&"*"), "{rule:?}");
        assert!(
            !strings(&rule["resources"]).contains(&"secrets"),
            "{rule:?}"
        );
    }
}

#[test]
fn chart_value_sets_change_what_they_say() {
    let Some(helm) = helm("chart_value_sets_change_what_they_say") else {
        return;
    };
    let render = |set: &str| {
        let file = chart().join(format!("ci/{set}-values.yaml"));
        documents(&template(&helm, Some(&file)))
    };
    let args = |docs: &[Value]| -> Vec<String> {
        let d = find(docs, "Deployment", "pipy-operator");
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        strings(&c["args"]).into_iter().map(String::from).collect()
    };

    let docs = render("cert-manager");
    assert!(args(&docs).contains(&"--cert-manager".to_string()));
    let mount = &find(&docs, "Deployment", "pipy-operator")["spec"]["template"]["spec"]
        ["containers"][0]["volumeMounts"][1];
    assert_eq!(mount["mountPath"], "/etc/pipy/webhook-tls");
    let cert = find(&docs, "Certificate", "pipy-webhook-tls");
    assert_eq!(cert["spec"]["secretName"], "pipy-webhook-tls");
    let injector = find(
        &docs,
        "MutatingWebhookConfiguration",
        "pipy-sidecar-injector",
    );
    assert_eq!(
        injector["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "pipy-system/pipy-webhook-tls"
    );
    assert_eq!(injector["webhooks"][0]["failurePolicy"], "Fail");

    let docs = render("native-sidecar");
    let a = args(&docs);
    for flag in [
        "--native-sidecar",
        "--sidecar-cpu-limit=1",
        "--sidecar-memory-limit=512Mi",
    ] {
        assert!(a.contains(&flag.to_string()), "{flag} in {a:?}");
    }

    // Native sidecars need Kubernetes 1.29: an older cluster gets a clear refusal.
    let file = chart().join("ci/native-sidecar-values.yaml");
    let out = Command::new(&helm)
        .current_dir(root())
        .args(["template", RELEASE, "charts/pipy", "--namespace", NAMESPACE])
        .args(["--kube-version", "1.28.5", "-f"])
        .arg(&file)
        .output()
        .expect("run helm");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("sidecar.nativeSidecar needs Kubernetes 1.29") && stderr.contains("1.28.5"),
        "{stderr}"
    );

    // webhook.url: the API server calls that URL, and the operator is told its host.
    let out = Command::new(&helm)
        .current_dir(root())
        .args(["template", RELEASE, "charts/pipy", "--namespace", NAMESPACE])
        .args(["--kube-version", KUBE_VERSION])
        .args(["--set", "webhook.url=https://10.1.2.3:9443/"])
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8_lossy(&out.stdout));
    let validating = find(
        &docs,
        "ValidatingWebhookConfiguration",
        "pipy-codebase-validator",
    );
    let client = &validating["webhooks"][0]["clientConfig"];
    assert_eq!(client["url"], "https://10.1.2.3:9443/validate-codebase");
    assert!(client.get("service").is_none());
    assert!(args(&docs).contains(&"--webhook-url=https://10.1.2.3:9443/".to_string()));

    let docs = render("single-replica");
    let d = find(&docs, "Deployment", "pipy-operator");
    assert_eq!(d["spec"]["replicas"], 1);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "registry.example.com/pipy-operator:dev");
    assert!(docs.iter().all(|d| d["kind"] != "PodDisruptionBudget"));
    assert!(args(&docs).contains(&"--sidecar-image=registry.example.com/pipy:dev".to_string()));

    // No value set puts a Secret into the chart.
    for (name, values) in value_sets() {
        let docs = documents(&template(&helm, values.as_deref()));
        assert!(docs.iter().all(|d| d["kind"] != "Secret"), "{name}");
    }
}

#[test]
fn chart_crd_is_a_copy_of_the_generated_crd() {
    let generated = root().join("crds/codebase.yaml");
    assert!(
        generated.is_file(),
        "crds/codebase.yaml does not exist yet: generate it with the operator's crdgen, \
         then `make chart-crds`"
    );
    assert!(
        read(&generated) == read(&chart().join("crds/codebase.yaml")),
        "charts/pipy/crds/codebase.yaml differs from crds/codebase.yaml: `make chart-crds`"
    );
}

#[test]
fn chart_examples_reference_each_other() {
    let load = |f: &str| documents(&read(&root().join("examples").join(f)));
    let values: Value = serde_yaml::from_str(&read(&chart().join("values.yaml"))).unwrap();
    let label = &values["webhook"]["namespaceLabel"];

    let ns = &load("namespace.yaml")[0];
    assert_eq!(ns["kind"], "Namespace");
    let namespace = ns["metadata"]["name"].as_str().expect("a namespace name");
    let key = label["key"].as_str().unwrap();
    assert_eq!(
        ns["metadata"]["labels"][key], label["value"],
        "injection label"
    );
    assert!(
        namespace != NAMESPACE
            && !strings(&values["webhook"]["excludeNamespaces"]).contains(&namespace)
    );

    let cb = &load("codebase.yaml")[0];
    assert_eq!(cb["apiVersion"], "pipy.dev/v1alpha1");
    assert_eq!(cb["kind"], "Codebase");
    assert_eq!(cb["metadata"]["namespace"], namespace);
    let codebase = cb["metadata"]["name"].as_str().unwrap();
    let main = cb["spec"]["main"].as_str().unwrap_or("/main.js");
    let script = cb["spec"]["files"][main]
        .as_str()
        .expect("the main file inline");
    let listen: u64 = script
        .split(".listen(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|port| port.trim().parse().ok())
        .expect("main.js listens on a literal port");
    check_spec_against_crd(&cb["spec"]);

    let app = load("app.yaml");
    let deploy = app
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let service = app
        .iter()
        .find(|d| d["kind"] == "Service")
        .expect("a Service");
    let template = &deploy["spec"]["template"];
    assert_eq!(deploy["metadata"]["namespace"], namespace);
    assert_eq!(service["metadata"]["namespace"], namespace);
    assert_eq!(
        template["metadata"]["annotations"]["pipy.dev/codebase"],
        codebase
    );
    for (k, v) in service["spec"]["selector"]
        .as_mapping()
        .expect("a selector")
    {
        assert_eq!(
            &template["metadata"]["labels"][k], v,
            "Service selects the pods"
        );
    }
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"], listen,
        "the Service sends traffic to the sidecar's port"
    );
}

/// Each key of the example's spec is a property of the CRD's spec schema (when the CRD
/// has one: the chart's placeholder does not).
fn check_spec_against_crd(spec: &Value) {
    let generated = root().join("crds/codebase.yaml");
    let path = if generated.is_file() {
        generated
    } else {
        chart().join("crds/codebase.yaml")
    };
    let crd = &documents(&read(&path))[0];
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    let properties = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    let Some(properties) = properties.as_mapping() else {
        return;
    };
    for key in spec.as_mapping().unwrap().keys() {
        assert!(
            properties.contains_key(key),
            "spec.{key:?} is not in the CRD"
        );
    }
}
