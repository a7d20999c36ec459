//! A process-level smoke test of the real `pipy-operator` binary against a fake
//! Kubernetes API server ([`fake_api`]), in one test, step by step: start-up (the CRD
//! by server-side apply, the webhook Secret, the `caBundle`s), readiness and metrics,
//! a Codebase reconciled and published (finalizer, snapshot ConfigMap, Event, status),
//! the repo serving it to a real `pipy` worker, both admission webhooks over HTTPS
//! (explicit and namespace-default injection; inline, base and ConfigMap validation),
//! the read-only repo API, a spec change republished (a new Event, the worker
//! reloading), the leader's instance summary, a derived Codebase, deletion held by a
//! derivative, and a clean exit on SIGTERM.
//!
//! Needs both binaries built: `cargo build -p pipy -p pipy-operator`. Set
//! `SHOW_OPERATOR_LOG=1` (with `--nocapture`) to see the operator's log and every
//! request it made; a failed wait shows the log and the requests the fake does not
//! know.

mod fake_api;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fake_api::FakeApi;
use k8s_openapi::ByteString;
use pipy_e2e::*;
use serde_json::{json, Value};

const CODEBASES: &str = "pipy.dev/v1alpha1/codebases";
const CONFIG_MAPS: &str = "v1/configmaps";
const SECRETS: &str = "v1/secrets";
const CRDS: &str = "apiextensions.k8s.io/v1/customresourcedefinitions";
const MUTATING: &str = "admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";
const VALIDATING: &str = "admissionregistration.k8s.io/v1/validatingwebhookconfigurations";

/// The longest any single wait of this test takes.
const WAIT: Duration = Duration::from_secs(20);

fn kubeconfig(api_port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://127.0.0.1:{api_port}
    insecure-skip-tls-verify: true
users:
- name: tester
  user:
    token: fake-token
contexts:
- name: fake
  context:
    cluster: fake
    user: tester
    namespace: default
current-context: fake
"
    )
}

/// A webhook configuration as the chart installs it (no `caBundle` yet).
fn webhook_configuration(kind: &str, name: &str, path: &str) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [{
            "name": format!("{name}.pipy.dev"),
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {
                "service": {"name": "pipy-webhook", "namespace": "pipy-system", "path": path}
            },
        }],
    })
}

/// Bytes of a base64 field of an API object (`data` of a Secret, `caBundle`).
fn base64_field(value: &Value) -> Option<Vec<u8>> {
    serde_json::from_value::<ByteString>(value.clone())
        .ok()
        .map(|b| b.0)
}

/// The condition `type_` of a Codebase status.
fn condition<'a>(cb: &'a Value, type_: &str) -> Option<&'a Value> {
    cb["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// The JSON body of a raw HTTP/1.1 response (no chunking: the webhook sends a length).
fn json_body(raw: &str) -> Value {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{raw}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"))
}

/// An AdmissionReview of the CREATE of a Pod in `namespace` with `annotations`.
fn pod_review(uid: &str, namespace: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "app",
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "app", "namespace": namespace, "annotations": annotations},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
        },
    })
}

/// An AdmissionReview of the CREATE of Codebase `demo/checked` with `spec`.
fn codebase_review(uid: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "pipy.dev", "version": "v1alpha1", "kind": "Codebase"},
            "resource": {"group": "pipy.dev", "version": "v1alpha1", "resource": "codebases"},
            "name": "checked",
            "namespace": "demo",
            "operation": "CREATE",
            "userInfo": {},
            "object": {
                "apiVersion": "pipy.dev/v1alpha1",
                "kind": "Codebase",
                "metadata": {"name": "checked", "namespace": "demo"},
                "spec": spec,
            },
        },
    })
}

/// The repo URL (the first arg) of the sidecar an allowed pod review adds, if it adds
/// one.
fn sidecar_url(answer: &Value) -> Option<String> {
    let response = &answer["response"];
    if response["allowed"] != true || response["patchType"] != "JSONPatch" {
        return None;
    }
    // kube serialises the patch bytes as a list of numbers, which the API server's
    // JSON decoder takes for `[]byte` as well as the usual base64 string.
    let bytes = match &response["patch"] {
        Value::Array(bytes) => bytes
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()?,
        other => base64_field(other)?,
    };
    let patch: Value = serde_json::from_slice(&bytes).ok()?;
    let sidecar = patch
        .as_array()?
        .iter()
        .find(|op| op["op"] == "add" && op["path"] == "/spec/containers/-")?;
    (sidecar["value"]["name"] == "pipy-sidecar")
        .then(|| sidecar["value"]["args"][0].as_str().map(str::to_string))
        .flatten()
}

/// A bounded wait that shows the operator's log and the fake's gaps when it fails.
fn wait(operator: &Pipy, api: &FakeApi, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n--- operator log ---\n{}\n--- unhandled by the \
             fake API ---\n{:#?}",
            operator.stdout_text() + &operator.stderr_text(),
            api.unhandled()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn operator_publishes_codebases_and_serves_webhooks_against_a_fake_api_server() {
    let api = FakeApi::start();
    // What the chart installs before the operator starts.
    api.put(
        "v1/namespaces",
        "",
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "shop", "annotations": {"pipy.dev/codebase": "demo/hello"}},
        }),
    );
    for ns in ["pipy-system", "demo"] {
        api.put(
            "v1/namespaces",
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    api.put(
        MUTATING,
        "",
        webhook_configuration(
            "MutatingWebhookConfiguration",
            "pipy-sidecar-injector",
            "/mutate-pod",
        ),
    );
    api.put(
        VALIDATING,
        "",
        webhook_configuration(
            "ValidatingWebhookConfiguration",
            "pipy-codebase-validator",
            "/validate-codebase",
        ),
    );

    let dir = temp_dir();
    let config = dir.join("kubeconfig");
    std::fs::write(&config, kubeconfig(api.port)).unwrap();
    let (repo, hook, metrics) = (free_port(), free_port(), free_port());
    let args = [
        "--namespace=pipy-system".to_string(),
        "--pod-name=op-1".to_string(),
        format!("--repo-addr=127.0.0.1:{repo}"),
        format!("--webhook-addr=127.0.0.1:{hook}"),
        format!("--metrics-addr=127.0.0.1:{metrics}"),
        format!("--repo-url=http://127.0.0.1:{repo}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let config = config.to_string_lossy().into_owned();
    let mut operator = Pipy::spawn_program(
        &pipy_operator_binary(),
        &args,
        &[
            ("KUBECONFIG", config.as_str()),
            ("RUST_LOG", "info"),
            ("POD_NAME", "op-1"),
        ],
        &[repo, hook, metrics],
    );
    // 1. Start-up: the CRD by server-side apply, the webhook Secret, the caBundles.
    wait(&operator, &api, "the CRD", || {
        api.get(CRDS, "", "codebases.pipy.dev").is_some()
    });
    let apply = api
        .requests()
        .into_iter()
        .find(|r| {
            r.path
                .ends_with("/customresourcedefinitions/codebases.pipy.dev")
        })
        .unwrap();
    assert_eq!(apply.method, "PATCH");
    assert_eq!(apply.content_type, "application/apply-patch+yaml");
    assert!(
        apply.query.contains("fieldManager=pipy-operator"),
        "{apply:?}"
    );
    assert!(apply.query.contains("force=true"), "{apply:?}");
    assert_eq!(apply.body["spec"]["group"], "pipy.dev");
    let secret = api
        .get(SECRETS, "pipy-system", "pipy-webhook-tls")
        .expect("the webhook Secret");
    for key in ["ca.crt", "tls.crt", "tls.key"] {
        let pem = base64_field(&secret["data"][key]).unwrap_or_default();
        assert!(
            String::from_utf8_lossy(&pem).contains("-----BEGIN"),
            "{key}: {secret}"
        );
    }
    let not_after: i64 = secret["metadata"]["annotations"]["pipy.dev/not-after"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("the not-after annotation");
    assert!(not_after > 1_700_000_000, "{not_after}");
    let ca = base64_field(&secret["data"]["ca.crt"]).unwrap();
    wait(&operator, &api, "the caBundles", || {
        [
            (MUTATING, "pipy-sidecar-injector"),
            (VALIDATING, "pipy-codebase-validator"),
        ]
        .iter()
        .all(|(gvr, name)| {
            api.get(gvr, "", name).is_some_and(|c| {
                base64_field(&c["webhooks"][0]["clientConfig"]["caBundle"]).as_ref() == Some(&ca)
            })
        })
    });

    // 2. Readiness and metrics.
    wait(&operator, &api, "/readyz", || {
        get(metrics, "/readyz").status == 200
    });
    let m = get(metrics, "/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.text().contains("pipy_operator_reconciles_total"),
        "{}",
        m.text()
    );

    // 3. A Codebase is reconciled: finalizer, snapshot, Event, status.
    let app = free_port();
    let main_js = format!("pipy().listen({app}).serveHTTP(new Message('hello from the operator'))");
    api.put(
        CODEBASES,
        "demo",
        json!({
            "apiVersion": "pipy.dev/v1alpha1",
            "kind": "Codebase",
            "metadata": {"name": "hello", "namespace": "demo"},
            "spec": {"files": {"/main.js": main_js}},
        }),
    );
    wait(&operator, &api, "the finalizer", || {
        api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
            cb["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| f.contains(&json!("pipy.dev/derivatives")))
        })
    });
    wait(&operator, &api, "the published status", || {
        api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
            cb["status"]["version"].is_string()
                && condition(&cb, "Valid").is_some_and(|c| c["status"] == "True")
                && condition(&cb, "Published").is_some_and(|c| c["status"] == "True")
        })
    });
    let cb = api.get(CODEBASES, "demo", "hello").unwrap();
    let version = cb["status"]["version"].as_str().unwrap().to_string();
    let status_patch = api
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/codebases/hello/status"))
        .expect("a status write");
    assert_eq!(status_patch.method, "PATCH");
    assert_eq!(status_patch.content_type, "application/apply-patch+yaml");
    assert!(
        status_patch.query.contains("fieldManager=pipy-operator"),
        "{status_patch:?}"
    );
    let snapshot = format!("hello-{version}");
    let cm = api
        .get(CONFIG_MAPS, "demo", &snapshot)
        .unwrap_or_else(|| panic!("{snapshot}: {:?}", api.list(CONFIG_MAPS, "demo")));
    assert_eq!(cm["metadata"]["labels"]["pipy.dev/version"], version);
    assert_eq!(cm["metadata"]["ownerReferences"][0]["name"], "hello");
    assert!(api.requests().iter().any(|r| {
        r.method == "POST"
            && r.path == "/api/v1/namespaces/demo/configmaps"
            && r.body["metadata"]["name"] == snapshot
    }));
    wait(&operator, &api, "the Published event", || {
        api.requests().iter().any(|r| {
            r.method == "POST"
                && r.path == "/apis/events.k8s.io/v1/namespaces/demo/events"
                && r.body["reason"] == "Published"
                && r.body["regarding"]["name"] == "hello"
        })
    });

    // 4. The repo serves the published version to a real worker.
    wait(&operator, &api, "the manifest", || {
        let m = get(repo, "/repo/demo/hello/");
        m.status == 200 && m.header("etag") == Some(version.as_str())
    });
    assert_eq!(get(repo, "/repo/demo/hello/").text(), "/main.js");
    let url = format!("http://127.0.0.1:{repo}/repo/demo/hello/");
    let _worker = Pipy::spawn(&[&url], &[app]);
    wait(&operator, &api, "the worker's answer", || {
        text_on(app) == "hello from the operator"
    });

    // 5. The webhooks over HTTPS, trusting the CA of the Secret, by the Service's name.
    let ca_file = dir.join("ca.crt");
    std::fs::write(&ca_file, &ca).unwrap();
    let tls = client_config(&ca_file, None);
    let addr = SocketAddr::from(([127, 0, 0, 1], hook));
    let post = |path: &str, review: &Value| {
        https_post_to(
            addr,
            "pipy-webhook.pipy-system.svc",
            tls.clone(),
            path,
            "application/json",
            review.to_string().as_bytes(),
        )
        .unwrap_or_else(|| panic!("no HTTPS answer on {path}"))
    };
    let answer = json_body(&post(
        "/mutate-pod?timeout=10s",
        &pod_review("pod-1", "demo", json!({"pipy.dev/codebase": "hello"})),
    ));
    assert_eq!(answer["response"]["uid"], "pod-1");
    assert_eq!(sidecar_url(&answer).as_ref(), Some(&url), "{answer}");
    // A pod without the annotation, in a namespace whose annotation names the codebase
    // (the operator learns Namespaces from its watch).
    wait(
        &operator,
        &api,
        "injection by the namespace default",
        || {
            let answer = json_body(&post(
                "/mutate-pod",
                &pod_review("pod-2", "shop", json!({})),
            ));
            sidecar_url(&answer).as_ref() == Some(&url)
        },
    );
    // Codebases: a broken main.js inline, from a base, and from a ConfigMap.
    let broken = "pipy().listen(8080).serveHTTP((";
    api.put(
        CONFIG_MAPS,
        "demo",
        json!({"metadata": {"name": "scripts"}, "data": {"main.js": broken}}),
    );
    for (uid, spec) in [
        ("cb-1", json!({"files": {"/main.js": broken}})),
        (
            "cb-2",
            json!({"base": "hello", "files": {"/main.js": broken}}),
        ),
        ("cb-3", json!({"configMaps": [{"name": "scripts"}]})),
    ] {
        let answer = json_body(&post("/validate-codebase", &codebase_review(uid, spec)));
        let response = &answer["response"];
        assert_eq!(response["uid"], uid);
        assert_eq!(response["allowed"], false, "{answer}");
        assert!(
            response["status"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("/main.js:")),
            "{answer}"
        );
    }
    let answer = json_body(&post(
        "/validate-codebase",
        &codebase_review(
            "cb-4",
            json!({"base": "hello", "files": {"/extra.js": "1"}}),
        ),
    ));
    assert_eq!(answer["response"]["allowed"], true, "{answer}");

    // 6. The repo is a read model: writes through its API are refused.
    let r = request(repo, "POST", "/api/v1/repo/x", "");
    assert_eq!(r.status, 403, "{}", r.text());

    // 7. A spec change publishes a new version, which the worker picks up.
    let again = format!("pipy().listen({app}).serveHTTP(new Message('hello again'))");
    let mut cb = api.get(CODEBASES, "demo", "hello").unwrap();
    cb["spec"]["files"]["/main.js"] = json!(again);
    api.put(CODEBASES, "demo", cb);
    wait(&operator, &api, "the second version", || {
        api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
            cb["status"]["version"]
                .as_str()
                .is_some_and(|v| v != version)
                && cb["status"]["observedGeneration"] == 2
        })
    });
    let cb = api.get(CODEBASES, "demo", "hello").unwrap();
    let second = cb["status"]["version"].as_str().unwrap().to_string();
    let history: Vec<&str> = cb["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["version"].as_str())
        .collect();
    assert_eq!(history, [second.as_str(), version.as_str()], "{cb}");
    assert!(api
        .get(CONFIG_MAPS, "demo", &format!("hello-{second}"))
        .is_some());
    // An Event names the new version (not a repeat of the first one's note).
    wait(
        &operator,
        &api,
        "the Published event of the second version",
        || {
            api.requests().iter().any(|r| {
                r.path
                    .starts_with("/apis/events.k8s.io/v1/namespaces/demo/events")
                    && r.body["reason"] == "Published"
                    && r.body["note"]
                        .as_str()
                        .is_some_and(|n| n.contains(second.as_str()))
            })
        },
    );
    wait(&operator, &api, "the worker's new answer", || {
        text_on(app) == "hello again"
    });

    // 8. The leader sums up the instances: one worker, on the published version.
    let lease = api
        .get(
            "coordination.k8s.io/v1/leases",
            "pipy-system",
            "pipy-operator-leader",
        )
        .expect("the Lease");
    assert_eq!(lease["spec"]["holderIdentity"], "op-1", "{lease}");
    wait(&operator, &api, "the instance summary", || {
        api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
            cb["status"]["instances"]["total"] == 1
                && cb["status"]["instances"]["ready"] == 1
                && condition(&cb, "Ready").is_some_and(|c| c["status"] == "True")
                && condition(&cb, "Valid").is_some_and(|c| c["status"] == "True")
        })
    });

    // 8b. Staging: a paused Codebase validates its new content but keeps serving the
    // published version; a rollback serves an earlier one from its snapshot; undoing
    // both with the old content brings back the same version (a content hash).
    let first_text = text_on(app);
    assert_eq!(first_text, "hello again");
    let staged = format!("pipy().listen({app}).serveHTTP(new Message('hello staged'))");
    let mut cb = api.get(CODEBASES, "demo", "hello").unwrap();
    let hash_before = cb["status"]["contentHash"].clone();
    cb["spec"]["paused"] = json!(true);
    cb["spec"]["files"]["/main.js"] = json!(staged);
    api.put(CODEBASES, "demo", cb);
    wait(
        &operator,
        &api,
        "the paused codebase to stage its content",
        || {
            api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
                condition(&cb, "Published").is_some_and(|c| c["reason"] == "Paused")
                    && cb["status"]["contentHash"] != hash_before
                    && cb["status"]["version"] == json!(second)
            })
        },
    );
    assert_eq!(
        text_on(app),
        "hello again",
        "a paused codebase is not published"
    );
    let mut cb = api.get(CODEBASES, "demo", "hello").unwrap();
    cb["spec"]["rollbackTo"] = json!(version);
    api.put(CODEBASES, "demo", cb);
    wait(&operator, &api, "the rollback", || {
        api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
            condition(&cb, "Published").is_some_and(|c| c["reason"] == "RolledBack")
                && cb["status"]["version"] == json!(version)
        })
    });
    wait(&operator, &api, "the worker to run the old version", || {
        text_on(app) == "hello from the operator"
    });
    let mut cb = api.get(CODEBASES, "demo", "hello").unwrap();
    let spec = cb["spec"].as_object_mut().unwrap();
    spec.remove("rollbackTo");
    spec.remove("paused");
    spec["files"]["/main.js"] = json!(again);
    api.put(CODEBASES, "demo", cb);
    wait(
        &operator,
        &api,
        "the same content to give the same version",
        || {
            api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
                condition(&cb, "Published").is_some_and(|c| c["reason"] == "Published")
                    && cb["status"]["version"] == json!(second)
            })
        },
    );
    wait(
        &operator,
        &api,
        "the worker back on the second version",
        || text_on(app) == "hello again",
    );

    // 9. A derived Codebase: published with its base's files, and listed by the base.
    api.put(
        CODEBASES,
        "demo",
        json!({
            "apiVersion": "pipy.dev/v1alpha1",
            "kind": "Codebase",
            "metadata": {"name": "child", "namespace": "demo"},
            "spec": {"base": "hello", "files": {"/extra.js": "1"}},
        }),
    );
    wait(&operator, &api, "the derived codebase's manifest", || {
        let m = get(repo, "/repo/demo/child/");
        m.status == 200 && m.text().contains("/main.js") && m.text().contains("/extra.js")
    });
    wait(&operator, &api, "the base to list its derivative", || {
        api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
            cb["status"]["derived"]
                .as_array()
                .is_some_and(|d| d.contains(&json!("demo/child")))
        })
    });

    // 10. Deleting: the base waits for its derivative, then both go, and the repo stops
    // serving them.
    api.delete(CODEBASES, "demo", "hello");
    wait(&operator, &api, "the base to say why it waits", || {
        api.get(CODEBASES, "demo", "hello").is_some_and(|cb| {
            condition(&cb, "Ready").is_some_and(|c| c["reason"] == "HeldByDerivatives")
        })
    });
    assert!(api.get(CODEBASES, "demo", "hello").is_some());
    api.delete(CODEBASES, "demo", "child");
    wait(&operator, &api, "both Codebases to go", || {
        api.get(CODEBASES, "demo", "hello").is_none()
            && api.get(CODEBASES, "demo", "child").is_none()
    });
    wait(&operator, &api, "the repo to forget them", || {
        get(repo, "/repo/demo/hello/").status == 404 && get(repo, "/repo/demo/child/").status == 404
    });

    if std::env::var_os("SHOW_OPERATOR_LOG").is_some() {
        eprintln!("{}{}", operator.stdout_text(), operator.stderr_text());
        for r in api.requests() {
            eprintln!("{} {}?{} [{}]", r.method, r.path, r.query, r.content_type);
        }
    }
    let unhandled = api.unhandled();
    assert!(
        unhandled.is_empty(),
        "requests the fake API does not know: {unhandled:#?}"
    );

    // 11. SIGTERM stops the operator cleanly.
    let code = operator.terminate();
    assert_eq!(
        code,
        Some(0),
        "{}{}",
        operator.stdout_text(),
        operator.stderr_text()
    );
}
