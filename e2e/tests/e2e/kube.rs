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

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pipy_e2e::*;
use serde_json::{json, Value};

const NS: &str = "pipy-system";
/// The longest a single wait of this test takes.
const WAIT: Duration = Duration::from_secs(40);

/// Polls `f` every 200 ms until it gives `Some`, for at most `limit`.
fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

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
        kubeconfig: &PathBuf,
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
    let bundle = eventually("the caBundle", WAIT, || {
        ca_bundle("mutatingwebhookconfiguration", "pipy-sidecar-injector")
    });
    eventually("the validating caBundle", WAIT, || {
        ca_bundle("validatingwebhookconfiguration", "pipy-codebase-validator")
            .filter(|b| *b == bundle)
    });

    steps::examples_publish(&cluster);
    steps::script_errors_are_refused(&cluster);
    let sidecar = steps::injected_sidecar_runs(&cluster, &operator_a);
    steps::repo_tokens(&cluster, &operator_a);
    steps::derivatives_pause_rollback_and_sharing(&cluster);
    steps::config_maps_finalizers_and_size(&cluster);
    steps::ca_bundle_is_kept(&cluster, &bundle);

    if std::env::var_os("SHOW_OPERATOR_LOG").is_some() {
        eprintln!("--- operator A\n{}", operator_a.log());
    }
    assert!(
        !operator_a.log().contains("forbidden"),
        "the chart's RBAC refused the operator something:\n{}",
        operator_a.log()
    );
    drop(sidecar);
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
    pub(super) fn injected_sidecar_runs(cluster: &Cluster, operator: &Operator) -> Pipy {
        cluster.kubectl(&[
            "label",
            "namespace",
            "demo",
            "pod-security.kubernetes.io/enforce=restricted",
            "--overwrite",
        ]);
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "app", "namespace": "demo",
                         "annotations": {"pipy.dev/codebase": "hello"}},
            "spec": {
                "securityContext": {"runAsNonRoot": true,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "app", "image": "app:1",
                    "securityContext": {"allowPrivilegeEscalation": false,
                                        "capabilities": {"drop": ["ALL"]}},
                }],
            },
        });
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
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ports = fixed_ports();
        let sidecar = Pipy::spawn(&args, &[8000]);
        let (status, body) = repo_get(8000, "/pipy", None);
        assert_eq!((status, body.as_str()), (200, "hello from pipy\n"));

        // Its reports reach the Codebase's status.
        cluster.wait_codebase("demo", "hello", "one ready instance", |cb| {
            cb["status"]["instances"]["total"] == 1 && is(cb, "Ready", "True")
        });
        sidecar
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
        // Every instance's logs and metrics are an admin's.
        assert_eq!(
            repo_get(operator.repo, "/api/v1/metrics", Some(&demo)).0,
            403
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
        cluster.kubectl(&[
            "patch", "codebase", "hello", "-n", "demo", "--type=merge", "-p",
            r#"{"spec":{"paused":true,"files":{"/main.js":"pipy().listen(8000).serveHTTP(new Message('paused'))"}}}"#,
        ]);
        let hello = cluster.wait_codebase("demo", "hello", "paused", |cb| {
            condition(cb, "Published").is_some_and(|c| c["reason"] == "Paused")
        });
        assert_eq!(version(&hello), first);
        cluster.kubectl(&[
            "patch",
            "codebase",
            "hello",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"spec":{"paused":false}}"#,
        ]);
        let hello = cluster.wait_codebase("demo", "hello", "republished", |cb| {
            is(cb, "Published", "True") && version(cb) != first
        });
        let second = version(&hello);
        // Rolled back to the first version, which the history kept.
        let rollback = format!(r#"{{"spec":{{"rollbackTo":"{first}"}}}}"#);
        cluster.kubectl(&[
            "patch",
            "codebase",
            "hello",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            &rollback,
        ]);
        cluster.wait_codebase("demo", "hello", "rolled back", |cb| {
            version(cb) == first
                && condition(cb, "Published").is_some_and(|c| c["reason"] == "RolledBack")
        });
        cluster.kubectl(&[
            "patch",
            "codebase",
            "hello",
            "-n",
            "demo",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/rollbackTo"}]"#,
        ]);
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
        cluster.kubectl(&[
            "patch",
            "codebase",
            "fromcm",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ]);
        cluster.kubectl(&["delete", "codebase", "fromcm", "-n", "demo", "--wait=false"]);
        cluster.kubectl(&[
            "patch",
            "codebase",
            "fromcm",
            "-n",
            "demo",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ]);
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
}
