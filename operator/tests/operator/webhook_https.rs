//! The webhook server over real HTTPS: a rcgen certificate, a server on 127.0.0.1 and
//! AdmissionReview requests as the API server sends them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use pipy_e2e::{client_config, https_get, https_post, TestCerts};
use pipy_operator::inject::InjectorConfig;
use pipy_operator::webhook::{self, Webhook};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

use crate::inject_golden::pod_review;

fn server_config(certs: &TestCerts) -> Arc<rustls::ServerConfig> {
    let chain = CertificateDer::pem_file_iter(certs.path("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(certs.path("server-key.pem")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Splits a raw HTTP/1.1 response into status code and body.
fn split(raw: &str) -> (u16, &str) {
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, body)
}

/// POSTs `body` to `path` and returns the status and the parsed AdmissionReview
/// response (or the text for a non-JSON body).
fn post(addr: SocketAddr, ca: &TestCerts, path: &str, body: &Value) -> (u16, Value) {
    let raw = https_post(
        addr,
        client_config(&ca.path("ca.pem"), None),
        path,
        "application/json",
        &serde_json::to_vec(body).unwrap(),
    )
    .expect("an HTTPS answer");
    let (status, body) = split(&raw);
    let value = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
    (status, value)
}

fn codebase_review(uid: &str, files: Value) -> Value {
    json!({
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": uid,
            "kind": {"group": "pipy.dev", "version": "v1alpha1", "kind": "Codebase"},
            "resource": {"group": "pipy.dev", "version": "v1alpha1", "resource": "codebases"},
            "requestKind": {"group": "pipy.dev", "version": "v1alpha1", "kind": "Codebase"},
            "requestResource": {"group": "pipy.dev", "version": "v1alpha1", "resource": "codebases"},
            "name": "shop",
            "namespace": "apps",
            "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": {
                "apiVersion": "pipy.dev/v1alpha1",
                "kind": "Codebase",
                "metadata": {"name": "shop", "namespace": "apps", "uid": "1f0c3c56-2f6e-4f57-9c2d-7d3b1e0a9b10"},
                "spec": {"files": files}
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
        }
    })
}

/// The patch bytes of a response as the wire carries them (kube writes a byte array).
fn wire_patch(response: &Value) -> Vec<Value> {
    let bytes: Vec<u8> = match &response["patch"] {
        Value::Array(items) => items.iter().map(|b| b.as_u64().unwrap() as u8).collect(),
        other => panic!("unexpected patch encoding: {other}"),
    };
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn admission_over_https() {
    let certs = TestCerts::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (tls_tx, tls_rx) = tokio::sync::watch::channel(server_config(&certs));
    let defaults: BTreeMap<String, String> = [("apps".to_string(), "shop".to_string())].into();
    let hook = Arc::new(Webhook {
        injector: InjectorConfig::default(),
        namespaces: Arc::new(defaults),
        resolver: None,
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(webhook::serve(listener, tls_rx, hook, async {
        let _ = stop_rx.await;
    }));

    // Health.
    let raw = https_get(addr, client_config(&certs.path("ca.pem"), None), "/healthz")
        .expect("an HTTPS answer");
    assert_eq!(split(&raw), (200, "ok\n"));

    // A pod with no annotation: the namespace's default codebase, a patch.
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "web-", "namespace": "apps", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "example/web:1.0"}]}
    });
    let (status, review) = post(
        addr,
        &certs,
        "/mutate-pod?timeout=10s",
        &pod_review(&pod, "apps", "CREATE"),
    );
    assert_eq!(status, 200, "{review}");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    let response = &review["response"];
    assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    let patch = wire_patch(response);
    assert_eq!(patch.len(), 3, "{patch:?}");
    assert_eq!(patch[2]["path"], "/spec/volumes");
    assert_eq!(patch[0]["path"], "/metadata/annotations");
    assert_eq!(patch[0]["value"]["pipy.dev/injected"], "apps/shop");
    assert_eq!(patch[1]["path"], "/spec/containers/-");
    assert_eq!(
        patch[1]["value"]["args"][0],
        "http://pipy-repo.pipy-system.svc:6060/repo/apps/shop/"
    );

    // A good Codebase is allowed.
    let good = codebase_review(
        "c0ffee00-0000-4000-8000-000000000001",
        json!({"/main.js": "pipy().listen(8080).serveHTTP(new Message('hi'))\n"}),
    );
    let (status, review) = post(addr, &certs, "/validate-codebase", &good);
    assert_eq!(status, 200, "{review}");
    assert_eq!(
        review["response"]["uid"],
        "c0ffee00-0000-4000-8000-000000000001"
    );
    assert_eq!(review["response"]["allowed"], true, "{review}");

    // A broken one is denied with file:line:column: message.
    let broken = codebase_review(
        "c0ffee00-0000-4000-8000-000000000002",
        json!({"/main.js": "pipy()\n  .listen(8080)\n  .serveHTTP(new Message('hi')\n"}),
    );
    let (status, review) = post(addr, &certs, "/validate-codebase", &broken);
    assert_eq!(status, 200, "{review}");
    assert_eq!(review["response"]["allowed"], false, "{review}");
    let message = review["response"]["status"]["message"].as_str().unwrap();
    assert!(message.starts_with("/main.js:"), "{message}");
    let position: Vec<&str> = message.splitn(4, ':').collect();
    assert!(
        position.len() == 4
            && position[1].parse::<u32>().is_ok()
            && position[2].parse::<u32>().is_ok(),
        "not file:line:column: message: {message}"
    );

    // Bad JSON and a review without a request: 400 with a message, and the server lives.
    let raw = https_post(
        addr,
        client_config(&certs.path("ca.pem"), None),
        "/mutate-pod",
        "application/json",
        b"{not json",
    )
    .unwrap();
    let (status, body) = split(&raw);
    assert_eq!(status, 400);
    assert!(body.starts_with("invalid AdmissionReview:"), "{body}");
    let (status, _) = post(
        addr,
        &certs,
        "/validate-codebase",
        &json!({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}),
    );
    assert_eq!(status, 400);
    let (status, _) = post(addr, &certs, "/nowhere", &json!({}));
    assert_eq!(status, 404);

    // A new certificate applies to new connections.
    let other = TestCerts::new();
    tls_tx.send(server_config(&other)).unwrap();
    assert!(https_get(addr, client_config(&certs.path("ca.pem"), None), "/healthz").is_none());
    let raw = https_get(addr, client_config(&other.path("ca.pem"), None), "/healthz").unwrap();
    assert_eq!(split(&raw).0, 200);

    let _ = stop_tx.send(());
    runtime.block_on(server).unwrap();
}
