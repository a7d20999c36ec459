//! The Kubernetes half against a real control plane ([`ControlPlane`]: etcd,
//! kube-apiserver and kube-controller-manager built from the Kubernetes modules), in
//! one test, step by step, as a cluster operator would go:
//!
//! `helm install` of the chart with `webhook.url` pointing the API server at the
//! `pipy-operator` this test runs on the host, with the Deployment's own arguments and
//! a token of the chart's ServiceAccount (so the chart's RBAC is what it gets); the
//! example Codebase applied with kubectl, its status, printer columns and Events as
//! the API server stores them; script errors refused with `file:line`; a pod injected
//! in a namespace that enforces PodSecurity `restricted`, its sidecar then run as a
//! local process from the injected spec, serving and reporting; derivatives, pauses,
//! rollbacks, ConfigMap sources, cross-namespace bases, the repo's token checks; two
//! replicas with one leader; a drain on SIGTERM; namespace deletion and `helm
//! uninstall` leaving nothing stuck.
//!
//! `SHOW_OPERATOR_LOG=1` (with `--nocapture`) prints the operators' logs at the end.

use std::path::Path;
use std::time::{Duration, Instant};

use pipy_e2e::*;
use serde_json::{json, Value};

const NS: &str = "pipy-system";
/// The longest a single wait of this test takes.
const WAIT: Duration = Duration::from_secs(40);

/// The test's view of the cluster.
struct Cluster {
    plane: ControlPlane,
}

impl Cluster {
    /// `kubectl args` as the admin, which must succeed.
    fn kubectl(&self, args: &[&str]) -> String {
        let out = self.plane.kubectl(args);
        assert!(out.ok, "kubectl {}: {}", args.join(" "), out.stderr);
        out.stdout
    }

    /// `kubectl get args -o json`, `None` when it fails (not found).
    fn get(&self, args: &[&str]) -> Option<Value> {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        let out = self.plane.kubectl(&all);
        out.ok
            .then(|| serde_json::from_str(&out.stdout).unwrap_or(Value::Null))
    }

    /// Applies `object` (JSON or YAML) as the admin; the output, or the error.
    fn apply(&self, object: &str) -> Result<String, String> {
        let out = self.plane.kubectl_stdin(&["apply", "-f", "-"], object);
        if out.ok {
            Ok(out.stdout)
        } else {
            Err(out.stderr)
        }
    }

    /// `kubectl patch codebase` with a `merge` or `json` patch, which must succeed.
    fn patch_codebase(&self, ns: &str, name: &str, kind: &str, patch: impl AsRef<str>) {
        let kind = format!("--type={kind}");
        self.kubectl(&[
            "patch",
            "codebase",
            name,
            "-n",
            ns,
            &kind,
            "-p",
            patch.as_ref(),
        ]);
    }

    /// A Codebase as the API server has it.
    fn codebase(&self, ns: &str, name: &str) -> Value {
        self.get(&["codebase", name, "-n", ns])
            .unwrap_or_else(|| panic!("codebase {ns}/{name} is missing"))
    }

    /// Waits until Codebase `ns/name` satisfies `ok`, and returns it.
    fn wait_codebase(
        &self,
        ns: &str,
        name: &str,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let cb = self.get(&["codebase", name, "-n", ns]);
            if let Some(cb) = cb.filter(|cb| ok(cb)) {
                return cb;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {ns}/{name}: {what}\n{:#}",
                    self.get(&["codebase", name, "-n", ns]).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A token of ServiceAccount `ns/sa`, for `audience` (the API server's when `None`).
    fn token(&self, ns: &str, sa: &str, audience: Option<&str>) -> String {
        let mut args = vec!["create", "token", sa, "-n", ns, "--duration=2h"];
        if let Some(audience) = audience {
            args.extend_from_slice(&["--audience", audience]);
        }
        self.kubectl(&args).trim().to_string()
    }

    /// A pending Pod standing for a process this test runs on the host; its UID.
    fn stand_in_pod(&self, ns: &str, name: &str) -> String {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "main", "image": "stand-in"}]},
        });
        self.apply(&pod.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let pod = self.get(&["pod", name, "-n", ns]).unwrap_or_default();
        pod["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A pod in `demo` that runs codebase `hello` and meets PodSecurity `restricted`.
fn restricted_pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "demo",
                     "annotations": {"pipy.dev/codebase": "hello"}},
        "spec": {
            "securityContext": {"runAsNonRoot": true,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "app", "image": "app:1",
                "securityContext": {"allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"]}}}],
        },
    })
}

/// The condition `type_` of a Codebase.
fn condition<'a>(cb: &'a Value, type_: &str) -> Option<&'a Value> {
    cb["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn is(cb: &Value, type_: &str, status: &str) -> bool {
    condition(cb, type_).is_some_and(|c| c["status"] == status)
}

fn version(cb: &Value) -> String {
    cb["status"]["version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A Codebase manifest.
fn codebase(ns: &str, name: &str, spec: Value) -> String {
    json!({
        "apiVersion": "pipy.dev/v1alpha1", "kind": "Codebase",
        "metadata": {"name": name, "namespace": ns}, "spec": spec,
    })
    .to_string()
}

/// One `pipy-operator` replica run on the host with the chart's arguments.
struct Operator {
    process: Pipy,
    name: String,
    repo: u16,
    webhook: u16,
    metrics: u16,
}

/// Ports of one replica.
struct Ports {
    repo: u16,
    webhook: u16,
    metrics: u16,
}

impl Operator {
    /// Starts replica `name` with the arguments of the chart's Deployment (addresses
    /// moved to loopback `ports`), the environment the Deployment gives it, and
    /// `kubeconfig` (its ServiceAccount's token).
    fn start(
        cluster: &Cluster,
        name: &str,
        uid: &str,
        kubeconfig: &Path,
        ports: Ports,
    ) -> Operator {
        let deployment = cluster
            .get(&["deployment", "pipy-operator", "-n", NS])
            .expect("the chart's Deployment");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let args: Vec<String> = container["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .map(|arg| match arg.split_once('=') {
                Some(("--namespace", _)) => format!("--namespace={NS}"),
                Some(("--repo-addr", _)) => format!("--repo-addr=127.0.0.1:{}", ports.repo),
                Some(("--webhook-addr", _)) => {
                    format!("--webhook-addr=127.0.0.1:{}", ports.webhook)
                }
                Some(("--metrics-addr", _)) => {
                    format!("--metrics-addr=127.0.0.1:{}", ports.metrics)
                }
                _ => arg.to_string(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let kubeconfig = kubeconfig.to_string_lossy().into_owned();
        let process = Pipy::spawn_program(
            &pipy_operator_binary(),
            &args,
            &[
                ("KUBECONFIG", &kubeconfig),
                ("POD_NAMESPACE", NS),
                ("POD_NAME", name),
                ("POD_UID", uid),
                ("RUST_LOG", "info,pipy_operator=debug"),
            ],
            &[ports.repo, ports.webhook, ports.metrics],
        );
        Operator {
            process,
            name: name.to_string(),
            repo: ports.repo,
            webhook: ports.webhook,
            metrics: ports.metrics,
        }
    }

    fn readyz(&self) -> u16 {
        get(self.metrics, "/readyz").status
    }

    fn log(&self) -> String {
        self.process.stderr_text() + &self.process.stdout_text()
    }
}

/// GET on the repo with an optional bearer token: status and body.
fn repo_get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let mut conn = Conn::open(port);
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    conn.send(format!("GET {path} HTTP/1.1\r\nhost: repo\r\n{auth}\r\n").as_bytes());
    let res = conn.read(false);
    (res.status, res.text())
}

#[test]
fn operator_chart_and_sidecars_on_a_real_api_server() {
    // The example codebase listens on 8000.
    let _ports = fixed_ports();
    let started = Instant::now();
    let step = |name: &str| eprintln!("kube step {name} at {:?}", started.elapsed());
    let plane = ControlPlane::start();
    let cluster = Cluster { plane };
    let ports_a = Ports {
        repo: free_port(),
        webhook: free_port(),
        metrics: free_port(),
    };
    let webhook_url = format!("https://127.0.0.1:{}", ports_a.webhook);

    // helm install: every object is created; pods stay Pending (no kubelet).
    let url_value = format!("webhook.url={webhook_url}");
    let install = cluster.plane.helm(&[
        "install",
        "pipy",
        "charts/pipy",
        "-n",
        NS,
        "--create-namespace",
        "--set",
        &url_value,
        "--set",
        "webhook.failurePolicy=Fail",
        "--set",
        "webhook.timeoutSeconds=5",
        "--set",
        "operator.shutdownDelaySeconds=3",
    ]);
    assert!(
        install.ok,
        "helm install: {}{}",
        install.stdout, install.stderr
    );
    for object in [
        "deployment/pipy-operator",
        "service/pipy-repo",
        "service/pipy-webhook",
        "serviceaccount/pipy-operator",
        "role/pipy-operator",
        "poddisruptionbudget/pipy-operator",
    ] {
        cluster.kubectl(&["get", object, "-n", NS]);
    }
    let mutating = cluster
        .get(&["mutatingwebhookconfiguration", "pipy-sidecar-injector"])
        .expect("the mutating webhook configuration");
    assert_eq!(
        mutating["webhooks"][0]["clientConfig"]["url"],
        format!("{webhook_url}/mutate-pod")
    );
    assert_eq!(
        cluster
            .get(&["service", "pipy-repo", "-n", NS])
            .unwrap_or_default()["spec"]["sessionAffinity"],
        "ClientIP"
    );

    // The operator applies its own CRD (with the chart's RBAC): taken away here, it
    // creates it, and waits until the API server serves it before it watches.
    cluster.kubectl(&["delete", "crd", "codebases.pipy.dev", "--wait=true"]);

    // The operator, as the chart's ServiceAccount: the chart's RBAC is all it has.
    let token = cluster.token(NS, "pipy-operator", None);
    let kubeconfig = cluster.plane.kubeconfig_with_token("operator", &token, NS);
    let uid_a = cluster.stand_in_pod(NS, "pipy-operator-a");
    let operator_a = Operator::start(&cluster, "pipy-operator-a", &uid_a, &kubeconfig, ports_a);
    eventually("operator A ready", WAIT, || {
        (operator_a.readyz() == 200).then_some(())
    });
    let ca_bundle = |kind: &str, name: &str| {
        cluster.get(&[kind, name]).unwrap_or_default()["webhooks"][0]["clientConfig"]["caBundle"]
            .as_str()
            .map(str::to_string)
    };
    assert!(cluster.get(&["crd", "codebases.pipy.dev"]).is_some());
    let bundle = eventually("the caBundle", WAIT, || {
        ca_bundle("mutatingwebhookconfiguration", "pipy-sidecar-injector")
    });
    eventually("the validating caBundle", WAIT, || {
        ca_bundle("validatingwebhookconfiguration", "pipy-codebase-validator")
            .filter(|b| *b == bundle)
    });

    step("examples_publish");
    steps::examples_publish(&cluster);
    step("script_errors_are_refused");
    steps::script_errors_are_refused(&cluster);
    step("injected_sidecar_runs");
    let (sidecar, sidecar_args) = steps::injected_sidecar_runs(&cluster, &operator_a);
    step("repo_tokens");
    steps::repo_tokens(&cluster, &operator_a);
    // Its record ages out (20 s) while the next steps run.
    drop(sidecar);
    step("derivatives_pause_rollback_and_sharing");
    steps::derivatives_pause_rollback_and_sharing(&cluster);
    // Shared with `other` now: a sidecar there may run it (refused before, above).
    let other = cluster.token("other", "default", Some("pipy-repo"));
    eventually("the shared codebase readable from other", WAIT, || {
        (repo_get(operator_a.repo, "/repo/demo/hello/", Some(&other)).0 == 200).then_some(())
    });
    step("config_maps_finalizers_and_size");
    steps::config_maps_finalizers_and_size(&cluster);
    step("ca_bundle_is_kept");
    steps::ca_bundle_is_kept(&cluster, &bundle);

    // A second replica: one leader, one Event per publish, one count per instance.
    let uid_b = cluster.stand_in_pod(NS, "pipy-operator-b");
    let ports_b = Ports {
        repo: free_port(),
        webhook: free_port(),
        metrics: free_port(),
    };
    let operator_b = Operator::start(&cluster, "pipy-operator-b", &uid_b, &kubeconfig, ports_b);
    eventually("operator B ready", WAIT, || {
        (operator_b.readyz() == 200).then_some(())
    });
    step("one_leader_and_merged_counts");
    steps::one_leader_and_merged_counts(&cluster, &operator_a, &operator_b, &sidecar_args);
    let logs = [operator_a.log(), operator_b.log()];
    // SIGTERM: A drains, B takes over, C takes A's webhook port.
    step("drain_and_take_over");
    let operator_c = steps::drain_and_take_over(&cluster, operator_a, &operator_b, &kubeconfig);
    step("owned_instance_config_maps_are_collected");
    steps::owned_instance_config_maps_are_collected(&cluster, operator_b);
    step("native_sidecars");
    let mut operator_c = steps::native_sidecars(&cluster, operator_c, &kubeconfig);
    let logs = [&logs[0], &logs[1], &operator_c.log()];
    step("failing_watches_back_off");
    steps::failing_watches_back_off(&cluster);
    step("deletions_leave_nothing_stuck");
    steps::deletions_leave_nothing_stuck(&cluster);
    eprintln!("kube steps done at {:?}", started.elapsed());
    // As the kubelet would when helm uninstall deleted the Deployment.
    assert_eq!(operator_c.process.terminate(), Some(0));

    if std::env::var_os("SHOW_OPERATOR_LOG").is_some() {
        for log in logs {
            eprintln!("--- operator\n{log}");
        }
    }
    for log in logs {
        assert!(
            !log.contains("forbidden"),
            "the chart's RBAC refused the operator something:\n{log}"
        );
    }
}

mod steps {
    use super::*;

    /// The examples, applied as a user would: the Codebase is published, its status,
    /// printer columns and Events are what the API server stores.
    pub(super) fn examples_publish(cluster: &Cluster) {
        cluster.kubectl(&[
            "apply",
            "-f",
            "examples/namespace.yaml",
            "-f",
            "examples/codebase.yaml",
        ]);
        let cb = cluster.wait_codebase("demo", "hello", "published", |cb| {
            is(cb, "Published", "True") && is(cb, "Valid", "True")
        });
        let version = version(&cb);
        assert_eq!(version.len(), 12, "{cb:#}");
        assert!(
            cb["metadata"]["finalizers"].is_null(),
            "no finalizer: {cb:#}"
        );
        let table = cluster.kubectl(&["get", "cb", "-n", "demo"]);
        let header: Vec<&str> = table
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(
            header,
            [
                "NAME",
                "BASE",
                "VERSION",
                "PUBLISHED",
                "INSTANCES",
                "READY",
                "AGE"
            ],
            "{table}"
        );
        assert!(table.contains(&version), "{table}");
        // The CRD's category.
        assert!(cluster
            .kubectl(&["get", "pipy", "-n", "demo"])
            .contains("hello"));
        let events = eventually("the Published event", WAIT, || {
            let list = cluster.get(&["events", "-n", "demo"])?;
            let found: Vec<Value> = list["items"]
                .as_array()?
                .iter()
                .filter(|e| e["reason"] == "Published" && e["involvedObject"]["name"] == "hello")
                .cloned()
                .collect();
            (!found.is_empty()).then_some(found)
        });
        let note = events[0]["message"].as_str().or(events[0]["note"].as_str());
        assert!(
            note.unwrap_or_default().contains(&version),
            "{:#}",
            events[0]
        );
    }

    /// A script that does not load is refused at admission, with file and line.
    pub(super) fn script_errors_are_refused(cluster: &Cluster) {
        let broken = codebase(
            "demo",
            "broken",
            json!({"files": {"/main.js": "pipy()\n  .listen(8000\n  .serveHTTP(\n"}}),
        );
        let error = cluster
            .apply(&broken)
            .expect_err("a broken script is refused");
        assert!(error.contains("denied the request"), "{error}");
        assert!(error.contains("/main.js:"), "{error}");
        assert!(cluster.get(&["codebase", "broken", "-n", "demo"]).is_none());
    }

    /// A pod in a namespace labelled for injection, which enforces PodSecurity
    /// `restricted`, comes back with the sidecar; the sidecar, run from the injected
    /// spec, fetches its codebase, serves and reports.
    pub(super) fn injected_sidecar_runs(
        cluster: &Cluster,
        operator: &Operator,
    ) -> (Pipy, Vec<String>) {
        cluster.kubectl(&[
            "label",
            "namespace",
            "demo",
            "pod-security.kubernetes.io/enforce=restricted",
            "--overwrite",
        ]);
        let pod = restricted_pod("app");
        cluster
            .apply(&pod.to_string())
            .unwrap_or_else(|e| panic!("the injected pod is refused: {e}"));
        let pod = cluster.get(&["pod", "app", "-n", "demo"]).expect("the pod");
        assert_eq!(
            pod["metadata"]["annotations"]["pipy.dev/injected"],
            "demo/hello"
        );
        let containers = pod["spec"]["containers"].as_array().expect("containers");
        let sidecar = containers
            .iter()
            .find(|c| c["name"] == "pipy-sidecar")
            .unwrap_or_else(|| panic!("no sidecar: {pod:#}"));
        assert_eq!(
            sidecar["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(sidecar["securityContext"]["runAsUser"], 65532);
        // The chart's `limits.cpu: ""` is no limit at all.
        assert!(
            sidecar["resources"]["limits"]["cpu"].is_null(),
            "{sidecar:#}"
        );
        assert_eq!(sidecar["resources"]["limits"]["memory"], "256Mi");
        let volume = pod["spec"]["volumes"]
            .as_array()
            .and_then(|v| v.iter().find(|v| v["name"] == "pipy-repo-token").cloned())
            .unwrap_or_else(|| panic!("no token volume: {pod:#}"));
        assert_eq!(
            volume["projected"]["sources"][0]["serviceAccountToken"]["audience"],
            "pipy-repo"
        );

        // The injected container as a local process: the repo Service resolves to the
        // operator's local port, the token file is one for the pod's ServiceAccount.
        let dir = temp_dir();
        let token_file = dir.join("token");
        std::fs::write(
            &token_file,
            cluster.token("demo", "default", Some("pipy-repo")),
        )
        .unwrap();
        let admin_port = free_port();
        let repo_url = "http://pipy-repo.pipy-system.svc:6060";
        let args: Vec<String> = sidecar["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .map(|arg| {
                let arg = arg
                    .replace(repo_url, &format!("http://127.0.0.1:{}", operator.repo))
                    .replace("$(POD_NAMESPACE)", "demo")
                    .replace("$(POD_NAME)", "app");
                match arg.split_once('=') {
                    Some(("--admin-port", _)) => format!("--admin-port=127.0.0.1:{admin_port}"),
                    Some(("--repo-token-file", _)) => {
                        format!("--repo-token-file={}", token_file.display())
                    }
                    _ => arg,
                }
            })
            .collect();
        assert!(args[0].starts_with("http://127.0.0.1:"), "{args:?}");
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let sidecar = Pipy::spawn(&argv, &[8000]);
        let (status, body) = repo_get(8000, "/pipy", None);
        assert_eq!((status, body.as_str()), (200, "hello from pipy\n"));

        // Its reports reach the Codebase's status.
        cluster.wait_codebase("demo", "hello", "one ready instance", |cb| {
            cb["status"]["instances"]["total"] == 1 && is(cb, "Ready", "True")
        });
        conditions_have_one_writer_each(cluster);
        (sidecar, args)
    }

    /// `status.conditions` is a map keyed by `type` with metav1.Condition's schema:
    /// the controller owns `Valid` and `Published`, the summary `Ready` (server-side
    /// apply keeps them apart), and the API server refuses a condition that breaks the
    /// schema.
    fn conditions_have_one_writer_each(cluster: &Cluster) {
        let cb = cluster
            .get(&["codebase", "hello", "-n", "demo", "--show-managed-fields"])
            .expect("hello");
        let owned = |manager: &str| -> String {
            cb["metadata"]["managedFields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["manager"] == manager && f["subresource"] == "status")
                .map(|f| f["fieldsV1"].to_string())
                .collect()
        };
        let controller = owned("pipy-operator");
        let summary = owned("pipy-operator-summary");
        for (fields, mine, theirs) in [
            (
                &controller,
                ["Valid", "Published"].as_slice(),
                ["Ready"].as_slice(),
            ),
            (
                &summary,
                ["Ready"].as_slice(),
                ["Valid", "Published"].as_slice(),
            ),
        ] {
            for t in mine {
                let key = format!(r#"k:{{\"type\":\"{t}\"}}"#);
                assert!(fields.contains(&key), "{key} not in {fields}");
            }
            for t in theirs {
                let key = format!(r#"k:{{\"type\":\"{t}\"}}"#);
                assert!(!fields.contains(&key), "{key} in {fields}");
            }
        }
        let bad = cluster.plane.kubectl(&[
            "patch", "codebase", "hello", "-n", "demo", "--subresource=status", "--type=merge",
            "-p", r#"{"status":{"conditions":[{"type":"Valid","status":"Maybe","reason":"x y","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#,
        ]);
        assert!(!bad.ok, "an invalid condition is stored");
        assert!(
            bad.stderr.contains("Unsupported value: \"Maybe\""),
            "{}",
            bad.stderr
        );
    }

    /// The repo serves a sidecar its own namespace's codebases only, and nothing
    /// without a token made for it.
    pub(super) fn repo_tokens(cluster: &Cluster, operator: &Operator) {
        let path = "/repo/demo/hello/";
        assert_eq!(repo_get(operator.repo, path, None).0, 401);
        let demo = cluster.token("demo", "default", Some("pipy-repo"));
        assert_eq!(repo_get(operator.repo, path, Some(&demo)).0, 200);
        let api_token = cluster.token("demo", "default", None);
        assert_eq!(repo_get(operator.repo, path, Some(&api_token)).0, 401);
        cluster.kubectl(&["create", "namespace", "other"]);
        let sa = eventually("other's default ServiceAccount", WAIT, || {
            cluster.get(&["serviceaccount", "default", "-n", "other"])
        });
        assert_eq!(sa["metadata"]["name"], "default");
        let other = cluster.token("other", "default", Some("pipy-repo"));
        let (status, body) = repo_get(operator.repo, path, Some(&other));
        assert_eq!(status, 403, "{body}");
        assert!(
            body.contains("system:serviceaccount:other:default"),
            "{body}"
        );
        // Every instance's logs and metrics are an admin's: someone who may read
        // Codebases everywhere (RBAC, checked with a SubjectAccessReview).
        assert_eq!(
            repo_get(operator.repo, "/api/v1/metrics", Some(&demo)).0,
            403
        );
        cluster.kubectl(&["create", "serviceaccount", "viewer", "-n", NS]);
        cluster.kubectl(&[
            "create",
            "clusterrole",
            "codebase-viewer",
            "--verb=get,list",
            "--resource=codebases.pipy.dev",
        ]);
        cluster.kubectl(&[
            "create",
            "clusterrolebinding",
            "codebase-viewer",
            "--clusterrole=codebase-viewer",
            &format!("--serviceaccount={NS}:viewer"),
        ]);
        let viewer = cluster.token(NS, "viewer", Some("pipy-repo"));
        let (status, body) = repo_get(operator.repo, "/api/v1/repo", Some(&viewer));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("/demo/hello"), "{body}");
        assert_eq!(repo_get(operator.repo, path, Some(&viewer)).0, 200);
        // The repo is a read model of the Codebases: writes point at kubectl.
        let mut conn = Conn::open(operator.repo);
        conn.send(
            format!(
                "POST /api/v1/repo/demo/x HTTP/1.1\r\nhost: repo\r\nauthorization: Bearer {viewer}\r\ncontent-length: 0\r\n\r\n"
            )
            .as_bytes(),
        );
        let res = conn.read(false);
        assert_eq!(res.status, 403);
        assert!(res.text().contains("kubectl"), "{}", res.text());
        // The console, read-only here.
        let (status, page) = repo_get(operator.repo, "/", Some(&viewer));
        assert_eq!(status, 200);
        assert!(page.contains("Pipy Repo"), "{page}");
        let (status, console) = repo_get(operator.repo, "/api/v1/console", Some(&viewer));
        assert_eq!(status, 200);
        assert!(console.contains(r#""readOnly":true"#), "{console}");
        browse_read_only_console(operator.repo, &viewer);

        // The operator's own metrics and probes.
        let metrics = get(operator.metrics, "/metrics").text();
        assert!(metrics.contains("reconciles"), "{metrics}");
        assert_eq!(get(operator.metrics, "/healthz").status, 200);
    }

    /// The console in headless Chromium against the operator's repo: a token
    /// asked for, codebases shown, nothing that writes offered
    /// (gui/tests/operator-console.mjs). Needs the console's test packages,
    /// which `make test` installs; without them it says so and skips.
    fn browse_read_only_console(repo: u16, token: &str) {
        let gui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gui");
        if !gui.join("node_modules/playwright-core").exists() {
            eprintln!("skipped the operator console in a browser: run `make gui` first");
            return;
        }
        let out = std::process::Command::new("node")
            .args(["--test", "tests/operator-console.mjs"])
            .current_dir(&gui)
            .env("PIPY_CONSOLE_URL", format!("http://127.0.0.1:{repo}"))
            .env("PIPY_CONSOLE_TOKEN", token)
            .env("PIPY_CONSOLE_CODEBASE", "/demo/hello")
            .output()
            .expect("running node");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A derived codebase, a base that cannot be deleted under it, a pause, a
    /// rollback, and a base shared with another namespace only on its say-so.
    pub(super) fn derivatives_pause_rollback_and_sharing(cluster: &Cluster) {
        let first = version(&cluster.codebase("demo", "hello"));
        cluster
            .apply(&codebase(
                "demo",
                "edge",
                json!({"base": "hello", "files": {"/extra.txt": "x"}}),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let edge = cluster.wait_codebase("demo", "edge", "published", |cb| {
            is(cb, "Published", "True")
        });
        assert_ne!(version(&edge), first);
        cluster.wait_codebase("demo", "hello", "edge listed", |cb| {
            cb["status"]["derived"] == json!(["demo/edge"])
        });
        let refused = cluster
            .plane
            .kubectl(&["delete", "codebase", "hello", "-n", "demo"]);
        assert!(!refused.ok, "a base with a derivative is not deleted");
        assert!(refused.stderr.contains("demo/edge"), "{}", refused.stderr);

        // Paused: the new content is validated, the published version stays, and the
        // derivative is held back too.
        cluster.patch_codebase("demo", "hello", "merge", r#"{"spec":{"paused":true,"files":{"/main.js":"pipy().listen(8000).serveHTTP(new Message('paused'))"}}}"#);
        let hello = cluster.wait_codebase("demo", "hello", "paused", |cb| {
            condition(cb, "Published").is_some_and(|c| c["reason"] == "Paused")
        });
        assert_eq!(version(&hello), first);
        cluster.patch_codebase("demo", "hello", "merge", r#"{"spec":{"paused":false}}"#);
        let hello = cluster.wait_codebase("demo", "hello", "republished", |cb| {
            is(cb, "Published", "True") && version(cb) != first
        });
        let second = version(&hello);
        // Rolled back to the first version, which the history kept.
        let rollback = format!(r#"{{"spec":{{"rollbackTo":"{first}"}}}}"#);
        cluster.patch_codebase("demo", "hello", "merge", rollback);
        cluster.wait_codebase("demo", "hello", "rolled back", |cb| {
            version(cb) == first
                && condition(cb, "Published").is_some_and(|c| c["reason"] == "RolledBack")
        });
        cluster.patch_codebase(
            "demo",
            "hello",
            "json",
            r#"[{"op":"remove","path":"/spec/rollbackTo"}]"#,
        );
        cluster.wait_codebase("demo", "hello", "forward again", |cb| version(cb) == second);

        // Another namespace may build on hello only once hello shares itself with it.
        let borrowed = codebase("other", "borrowed", json!({"base": "demo/hello"}));
        let error = cluster
            .apply(&borrowed)
            .expect_err("an unshared base is refused");
        assert!(error.contains("pipy.dev/shared-with"), "{error}");
        cluster.kubectl(&[
            "annotate",
            "codebase",
            "hello",
            "-n",
            "demo",
            "pipy.dev/shared-with=other",
        ]);
        cluster.apply(&borrowed).unwrap_or_else(|e| panic!("{e}"));
        cluster.wait_codebase("other", "borrowed", "published", |cb| {
            is(cb, "Published", "True") && is(cb, "Valid", "True")
        });
    }

    /// Files from a ConfigMap republish as soon as it changes; metadata updates and
    /// finalizer removals go through whatever the content became; content too large
    /// for a ConfigMap is refused with a reason; a dry run that takes too long is
    /// refused before the API server gives up on the webhook.
    pub(super) fn config_maps_finalizers_and_size(cluster: &Cluster) {
        let config_map = |script: &str| {
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "lib", "namespace": "demo"},
                "data": {"main.js": script},
            })
            .to_string()
        };
        cluster
            .apply(&config_map(
                "pipy().listen(8100).serveHTTP(new Message('one'))",
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        cluster
            .apply(&codebase(
                "demo",
                "fromcm",
                json!({"configMaps": [{"name": "lib"}]}),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let before = version(&cluster.wait_codebase("demo", "fromcm", "published", |cb| {
            is(cb, "Published", "True")
        }));
        cluster
            .apply(&config_map(
                "pipy().listen(8100).serveHTTP(new Message('two'))",
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        cluster.wait_codebase("demo", "fromcm", "republished", |cb| {
            is(cb, "Published", "True") && version(cb) != before
        });
        assert!(started.elapsed() < Duration::from_secs(20));

        // The ConfigMap breaks the script: the codebase becomes invalid, yet a label,
        // and the removal of a finalizer of an object being deleted, go through.
        cluster
            .apply(&config_map("pipy().listen(8100).serveHTTP("))
            .unwrap_or_else(|e| panic!("{e}"));
        cluster.wait_codebase("demo", "fromcm", "invalid", |cb| is(cb, "Valid", "False"));
        cluster.kubectl(&["label", "codebase", "fromcm", "-n", "demo", "tier=edge"]);
        cluster.patch_codebase(
            "demo",
            "fromcm",
            "merge",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        );
        cluster.kubectl(&["delete", "codebase", "fromcm", "-n", "demo", "--wait=false"]);
        cluster.patch_codebase(
            "demo",
            "fromcm",
            "json",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        );
        eventually("fromcm gone", WAIT, || {
            cluster
                .get(&["codebase", "fromcm", "-n", "demo"])
                .is_none()
                .then_some(())
        });

        // Too large for a ConfigMap: not published, and the status says why.
        let filler = format!("// {}\n", "x".repeat(600 * 1024));
        for name in ["big1", "big2"] {
            let cm = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "demo"},
                "data": {format!("{name}.js"): filler.clone()},
            });
            // Server-side: a client-side apply would copy it into an annotation.
            let out = cluster
                .plane
                .kubectl_stdin(&["apply", "--server-side", "-f", "-"], &cm.to_string());
            assert!(out.ok, "{}", out.stderr);
        }
        cluster
            .apply(&codebase(
                "demo",
                "big",
                json!({
                    "configMaps": [{"name": "big1"}, {"name": "big2"}],
                    "files": {"/main.js": "pipy().listen(8101)"},
                }),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let big = cluster.wait_codebase("demo", "big", "too large", |cb| {
            condition(cb, "Published").is_some_and(|c| c["reason"] == "TooLarge")
        });
        assert!(big["status"]["version"].is_null(), "{big:#}");

        // A script that takes longer than the webhook's budget (timeoutSeconds 5, less a
        // second): the operator's own refusal, not the API server's time out.
        let slow = codebase(
            "demo",
            "slow",
            json!({"files": {"/main.js":
                "((n) => { for (let i = 0; i < 1000000; i++) n += i; return pipy() })(0)"}}),
        );
        let started = Instant::now();
        let error = cluster.apply(&slow).expect_err("a slow dry run is refused");
        assert!(error.contains("longer than 4s"), "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    /// The caBundle is written again at once when someone changes it.
    pub(super) fn ca_bundle_is_kept(cluster: &Cluster, bundle: &str) {
        cluster.kubectl(&[
            "patch",
            "validatingwebhookconfiguration",
            "pipy-codebase-validator",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/webhooks/0/clientConfig/caBundle","value":"Zm9v"}]"#,
        ]);
        let started = Instant::now();
        eventually(
            "the caBundle written again",
            Duration::from_secs(10),
            || {
                let config =
                    cluster.get(&["validatingwebhookconfiguration", "pipy-codebase-validator"])?;
                (config["webhooks"][0]["clientConfig"]["caBundle"] == bundle).then_some(())
            },
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// Two replicas: the Lease has one holder, a publish gives one Event (from the
    /// leader), and a sidecar that reported to both replicas counts once.
    pub(super) fn one_leader_and_merged_counts(
        cluster: &Cluster,
        a: &Operator,
        b: &Operator,
        sidecar_args: &[String],
    ) {
        let lease = cluster
            .get(&["lease", "pipy-operator-leader", "-n", NS])
            .expect("the Lease");
        assert_eq!(lease["spec"]["holderIdentity"], a.name, "{lease:#}");
        for name in [&a.name, &b.name] {
            let cm = eventually("the replica's instance ConfigMap", WAIT, || {
                cluster.get(&[
                    "configmap",
                    &format!("pipy-operator-leader-instances-{name}"),
                    "-n",
                    NS,
                ])
            });
            assert_eq!(cm["metadata"]["ownerReferences"][0]["name"], name.as_str());
        }

        // One publish with both replicas up: one Published Event, from the leader.
        cluster.patch_codebase("demo", "hello", "merge", r#"{"spec":{"files":{"/main.js":"pipy().listen(8000).serveHTTP(new Message('two replicas'))"}}}"#);
        let new = version(
            &cluster.wait_codebase("demo", "hello", "the new version", |cb| {
                is(cb, "Published", "True")
                    && cb["status"]["observedGeneration"] == cb["metadata"]["generation"]
            }),
        );
        std::thread::sleep(Duration::from_secs(3));
        let events = cluster.get(&["events", "-n", "demo"]).unwrap_or_default();
        let published: Vec<&Value> = events["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|e| {
                        e["reason"] == "Published"
                            && e["message"].as_str().is_some_and(|m| m.contains(&new))
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(published.len(), 1, "{published:#?}");
        assert_eq!(
            published[0]["reportingInstance"], a.name,
            "{:#}",
            published[0]
        );

        // The same instance (one uuid) reports to A, then to B: it counts once.
        let run = |repo: u16| {
            let mut args: Vec<String> = sidecar_args.to_vec();
            args[0] = args[0].replacen(
                &format!("127.0.0.1:{}", a.repo),
                &format!("127.0.0.1:{repo}"),
                1,
            );
            args.push("--instance-uuid=4f1c1a3e-0000-4000-8000-000000000001".into());
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            Pipy::spawn(&argv, &[8000])
        };
        let first = run(a.repo);
        cluster.wait_codebase("demo", "hello", "one instance on A", |cb| {
            cb["status"]["instances"]["byVersion"] == json!({ &new: 1 }) && is(cb, "Ready", "True")
        });
        drop(first);
        let _second = run(b.repo);
        let b_map = format!("pipy-operator-leader-instances-{}", b.name);
        eventually("B hears from the instance", WAIT, || {
            let cm = cluster.get(&["configmap", &b_map, "-n", NS])?;
            cm["data"]["instances.json"]
                .as_str()
                .filter(|j| j.contains("4f1c1a3e"))
                .map(|_| ())
        });
        // A keeps its last report for a minute; over two summaries, never two.
        let until = Instant::now() + Duration::from_secs(12);
        while Instant::now() < until {
            let cb = cluster.codebase("demo", "hello");
            assert_eq!(cb["status"]["instances"]["total"], 1, "{:#}", cb["status"]);
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// SIGTERM to the leader: it fails readiness at once, keeps answering the webhook
    /// while it drains, gives the Lease up (B leads within seconds) and deletes its
    /// instance ConfigMap. A new replica C then takes A's webhook port.
    pub(super) fn drain_and_take_over(
        cluster: &Cluster,
        mut a: Operator,
        b: &Operator,
        kubeconfig: &Path,
    ) -> Operator {
        let ports = Ports {
            repo: a.repo,
            webhook: a.webhook,
            metrics: a.metrics,
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &a.process.child.id().to_string()])
            .status();
        eventually("A not ready", Duration::from_secs(3), || {
            (a.readyz() == 503).then_some(())
        });
        // Still injecting while endpoints catch up.
        let pod = restricted_pod("during-drain");
        cluster
            .apply(&pod.to_string())
            .unwrap_or_else(|e| panic!("pod creation failed during the drain: {e}"));
        let code = a.process.terminate();
        assert_eq!(code, Some(0), "{}", a.log());
        if std::env::var_os("SHOW_OPERATOR_LOG").is_some() {
            eprintln!("--- operator A\n{}", a.log());
        }
        let started = Instant::now();
        eventually("B leads", Duration::from_secs(10), || {
            let lease = cluster.get(&["lease", "pipy-operator-leader", "-n", NS])?;
            (lease["spec"]["holderIdentity"] == b.name).then_some(())
        });
        assert!(started.elapsed() < Duration::from_secs(8));
        let a_map = format!("pipy-operator-leader-instances-{}", a.name);
        assert!(cluster.get(&["configmap", &a_map, "-n", NS]).is_none());
        // B now runs the controller.
        cluster
            .apply(&codebase(
                "demo",
                "after-a",
                json!({"files": {"/main.js": "pipy()"}}),
            ))
            .expect_err("no webhook answers on A's port now");
        let uid_c = cluster.stand_in_pod(NS, "pipy-operator-c");
        let c = Operator::start(cluster, "pipy-operator-c", &uid_c, kubeconfig, ports);
        eventually("C ready", WAIT, || (c.readyz() == 200).then_some(()));
        cluster
            .apply(&codebase(
                "demo",
                "after-a",
                json!({"files": {"/main.js": "pipy()"}}),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let cb = cluster.wait_codebase("demo", "after-a", "published by B", |cb| {
            is(cb, "Published", "True")
        });
        assert!(!version(&cb).is_empty());
        c
    }

    /// A replica that dies without cleaning up leaves its instance ConfigMap; it goes
    /// with the replica's Pod (an owner reference, collected by the garbage collector).
    pub(super) fn owned_instance_config_maps_are_collected(cluster: &Cluster, b: Operator) {
        let b_map = format!("pipy-operator-leader-instances-{}", b.name);
        let name = b.name.clone();
        drop(b); // SIGKILL: no cleanup
        assert!(cluster.get(&["configmap", &b_map, "-n", NS]).is_some());
        cluster.kubectl(&["delete", "pod", &name, "-n", NS, "--wait=false"]);
        eventually("B's ConfigMap collected", WAIT, || {
            cluster
                .get(&["configmap", &b_map, "-n", NS])
                .is_none()
                .then_some(())
        });
    }

    /// `helm upgrade` to native sidecars: the upgraded operator injects the sidecar as
    /// an init container that keeps running; the caBundle survives the upgrade.
    pub(super) fn native_sidecars(
        cluster: &Cluster,
        mut c: Operator,
        kubeconfig: &Path,
    ) -> Operator {
        let upgrade = cluster.plane.helm(&[
            "upgrade",
            "pipy",
            "charts/pipy",
            "-n",
            NS,
            "--reuse-values",
            "--set",
            "sidecar.nativeSidecar=true",
        ]);
        assert!(upgrade.ok, "{}{}", upgrade.stdout, upgrade.stderr);
        let ports = Ports {
            repo: c.repo,
            webhook: c.webhook,
            metrics: c.metrics,
        };
        assert_eq!(c.process.terminate(), Some(0));
        let uid = cluster.stand_in_pod(NS, "pipy-operator-c");
        let c = Operator::start(cluster, "pipy-operator-c", &uid, kubeconfig, ports);
        eventually("C ready again", WAIT, || (c.readyz() == 200).then_some(()));
        eventually("the caBundle after the upgrade", WAIT, || {
            let config = cluster.get(&["mutatingwebhookconfiguration", "pipy-sidecar-injector"])?;
            config["webhooks"][0]["clientConfig"]["caBundle"]
                .as_str()
                .map(|_| ())
        });
        let pod = restricted_pod("native");
        cluster
            .apply(&pod.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let pod = cluster
            .get(&["pod", "native", "-n", "demo"])
            .expect("the pod");
        let init = &pod["spec"]["initContainers"][0];
        assert_eq!(init["name"], "pipy-sidecar", "{pod:#}");
        assert_eq!(init["restartPolicy"], "Always");
        assert!(init["startupProbe"].is_object());
        assert_eq!(pod["spec"]["containers"].as_array().map(Vec::len), Some(1));
        c
    }

    /// A watch that keeps failing retries with a growing delay, not in a loop: a
    /// replica whose ServiceAccount may not list Namespaces (the chart's RBAC without
    /// that rule) sends the API server a handful of refused LISTs in six seconds.
    pub(super) fn failing_watches_back_off(cluster: &Cluster) {
        let mut role = cluster
            .get(&["clusterrole", "pipy-operator"])
            .expect("the chart's ClusterRole");
        let rules: Vec<Value> = role["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .filter(|r| !r["resources"].to_string().contains("namespaces"))
            .cloned()
            .collect();
        role["rules"] = Value::Array(rules);
        role["metadata"] = json!({"name": "pipy-operator-narrow"});
        cluster
            .apply(&role.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        cluster.kubectl(&["create", "serviceaccount", "narrow", "-n", NS]);
        cluster.kubectl(&[
            "create",
            "clusterrolebinding",
            "pipy-operator-narrow",
            "--clusterrole=pipy-operator-narrow",
            &format!("--serviceaccount={NS}:narrow"),
        ]);
        cluster.kubectl(&[
            "create",
            "rolebinding",
            "pipy-operator-narrow",
            "-n",
            NS,
            "--role=pipy-operator",
            &format!("--serviceaccount={NS}:narrow"),
        ]);
        // Refused LISTs of Namespaces by the narrow ServiceAccount, from the audit log.
        let refused = || -> usize {
            cluster
                .plane
                .audit_log()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|e| {
                    e["user"]["username"] == format!("system:serviceaccount:{NS}:narrow")
                        && e["verb"] == "list"
                        && e["responseStatus"]["code"] == 403
                })
                .count()
        };
        let before = refused();
        let token = cluster.token(NS, "narrow", None);
        let kubeconfig = cluster.plane.kubeconfig_with_token("narrow", &token, NS);
        let ports = Ports {
            repo: free_port(),
            webhook: free_port(),
            metrics: free_port(),
        };
        let d = Operator::start(cluster, "pipy-operator-d", "", &kubeconfig, ports);
        std::thread::sleep(Duration::from_secs(6));
        let count = refused() - before;
        drop(d);
        eprintln!("refused Namespace LISTs in 6 s: {count}");
        assert!(count >= 1, "the narrow replica never asked");
        assert!(count <= 12, "{count} refused LISTs in 6 s: no backoff");
    }

    /// Deleting namespaces (with bases and derivatives, across namespaces) and
    /// uninstalling the chart leave nothing in Terminating.
    pub(super) fn deletions_leave_nothing_stuck(cluster: &Cluster) {
        cluster.kubectl(&["create", "namespace", "gone"]);
        cluster
            .apply(&codebase(
                "gone",
                "base",
                json!({"files": {"/main.js": "pipy()"}}),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        cluster
            .apply(&codebase("gone", "derived", json!({"base": "base"})))
            .unwrap_or_else(|e| panic!("{e}"));
        cluster.wait_codebase("gone", "derived", "published", |cb| {
            is(cb, "Published", "True")
        });
        // demo/hello still has other/borrowed deriving from it: the namespace goes anyway.
        for ns in ["gone", "demo"] {
            cluster.kubectl(&["delete", "namespace", ns, "--wait=false"]);
        }
        for ns in ["gone", "demo"] {
            eventually(
                &format!("namespace {ns} deleted"),
                Duration::from_secs(90),
                || cluster.get(&["namespace", ns]).is_none().then_some(()),
            );
        }
        let uninstall =
            cluster
                .plane
                .helm(&["uninstall", "pipy", "-n", NS, "--wait", "--timeout", "60s"]);
        assert!(uninstall.ok, "{}{}", uninstall.stdout, uninstall.stderr);
        assert!(cluster
            .get(&["validatingwebhookconfiguration", "pipy-codebase-validator"])
            .is_none());
        // Without the operator, what is left deletes at once.
        cluster.kubectl(&["delete", "codebase", "--all", "-A", "--timeout=30s"]);
        let left = cluster.get(&["codebase", "-A"]).unwrap_or_default();
        assert_eq!(left["items"].as_array().map(Vec::len), Some(0), "{left:#}");
        cluster.kubectl(&["delete", "namespace", "other", "--timeout=60s"]);
    }
}
