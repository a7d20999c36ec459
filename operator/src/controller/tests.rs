//! The controller against a mocked API server (controller-rs style): each scenario
//! drives a reconcile (or the leader's summary) while a script plays the API server,
//! asserting every request's method, path, query and body in order and answering with
//! JSON; at the end no further request may come.

use std::future::Future;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::reflector::store::Writer;
use serde_json::{json, Value};
use tokio::time::timeout;
use tower_test::mock::SendResponse;

use super::*;
use crate::summary;

const NS: &str = "demo";
/// A bound on every scenario (the dry run of PipyJS included).
const TIMEOUT: Duration = Duration::from_secs(60);

const GOOD: &str = "pipy()\n.listen(18080)\n.serveHTTP(new Message('hello'))\n";
const GOOD_TOO: &str = "pipy()\n.listen(18080)\n.serveHTTP(new Message('hello again'))\n";
/// A syntax error on line 3.
const BAD: &str = "pipy()\n.listen(8080)\n.serveHTTP(new Message('hi')\n";

const CODEBASES: &str = "/apis/pipy.dev/v1alpha1/namespaces/demo/codebases";
const CONFIG_MAPS: &str = "/api/v1/namespaces/demo/configmaps";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/demo/events";

#[test]
fn retries_back_off_up_to_five_minutes() {
    assert_eq!(backoff(1), Duration::from_secs(1));
    assert_eq!(backoff(2), Duration::from_secs(2));
    assert_eq!(backoff(5), Duration::from_secs(16));
    assert_eq!(backoff(30), Duration::from_secs(300));
}

// ---------------------------------------------------------------------------------
// Fixtures

fn codebase(name: &str, base: Option<&str>, files: &[(&str, &str)]) -> Codebase {
    let mut cb = crate::crd::test_codebase(NS, name, base, files);
    cb.metadata.uid = Some(format!("uid-{name}"));
    cb.metadata.generation = Some(1);
    cb.metadata.resource_version = Some("1".into());
    cb
}

fn deleting(mut cb: Codebase) -> Codebase {
    cb.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    cb
}

/// `cb` as the controller left it after publishing `version`.
fn published(mut cb: Codebase, version: &str) -> Codebase {
    let at = Time(Timestamp::from_second(1_700_000_000).expect("a time"));
    let ok = |type_: &str, reason: &str| Condition {
        type_: type_.into(),
        status: "True".into(),
        reason: reason.into(),
        message: String::new(),
        observed_generation: Some(1),
        last_transition_time: at.clone(),
    };
    cb.status = Some(CodebaseStatus {
        observed_generation: Some(1),
        version: Some(version.into()),
        conditions: vec![
            ok(condition::VALID, reason::LOADED),
            ok(condition::PUBLISHED, reason::PUBLISHED),
        ],
        history: vec![PublishedVersion {
            version: version.into(),
            published_at: Some(at.clone()),
            config_map: Some(crate::crd::snapshot_name(&cb.name_any(), version)),
        }],
        ..CodebaseStatus::default()
    });
    cb
}

/// What `cb` resolves to among `all` (no ConfigMaps).
fn resolved(all: &[Codebase], cb: &Codebase) -> resolve::Resolved {
    resolve::resolve(all, cb, &BTreeMap::new()).expect("resolves")
}

fn store_of(all: &[Codebase]) -> Store<Codebase> {
    let mut writer = Writer::<Codebase>::new(());
    for cb in all {
        writer.apply_watcher_event(&watcher::Event::Apply(cb.clone()));
    }
    writer.as_reader()
}

/// A client on a mocked API server.
fn mock() -> (Client, ApiServer) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), ApiServer(handle))
}

/// A reconcile context over the Codebases `all`, on a mocked API server.
fn context(all: &[Codebase]) -> (Arc<Context>, ApiServer) {
    let (client, server) = mock();
    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: None,
    };
    let ctx = Context::new(
        client,
        store_of(all),
        reporter,
        Arc::new(Metrics::default()),
    );
    (Arc::new(ctx), server)
}

// ---------------------------------------------------------------------------------
// The mocked API server

struct ApiServer(tower_test::mock::Handle<Request<Body>, Response<Body>>);

/// One request the client made, and the means to answer it.
struct Call {
    query: BTreeMap<String, String>,
    content_type: String,
    body: Value,
    send: SendResponse<Response<Body>>,
}

impl ApiServer {
    /// The next request, which must be `method path`.
    async fn expect(&mut self, method: &str, path: &str) -> Call {
        let (request, send) = self
            .0
            .next_request()
            .await
            .unwrap_or_else(|| panic!("expected {method} {path}, but the client is gone"));
        assert_eq!(
            (request.method().as_str(), request.uri().path()),
            (method, path),
            "unexpected request {}",
            request.uri()
        );
        let query =
            url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .expect("a request body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON request body")
        };
        Call {
            query,
            content_type,
            body,
            send,
        }
    }

    /// After the work is done (and its client dropped), no request is left.
    async fn done(mut self) {
        match timeout(Duration::from_secs(5), self.0.next_request()).await {
            Ok(None) => {}
            Ok(Some((request, _))) => {
                panic!("unexpected request {} {}", request.method(), request.uri())
            }
            Err(_) => panic!("the client is still alive after the work is done"),
        }
    }
}

impl Call {
    fn respond(self, body: &Value) {
        self.respond_with(StatusCode::OK, body);
    }

    fn respond_with(self, status: StatusCode, body: &Value) {
        let bytes = serde_json::to_vec(body).expect("JSON");
        let response = Response::builder()
            .status(status)
            .body(Body::from(bytes))
            .expect("a response");
        self.send.send_response(response);
    }

    fn not_found(self) {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "reason": "NotFound", "code": 404,
            "message": "not found",
        });
        self.respond_with(StatusCode::NOT_FOUND, &status);
    }

    /// A server-side apply by `manager`.
    fn assert_apply(&self, manager: &str) {
        assert_eq!(self.content_type, "application/apply-patch+yaml");
        assert_eq!(
            self.query,
            query(&[("fieldManager", manager), ("force", "true")])
        );
    }

    /// A JSON patch with default parameters.
    fn assert_json_patch(&self) {
        assert_eq!(self.content_type, "application/json-patch+json");
        assert_eq!(self.query, query(&[]));
    }
}

fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs `work` while `script` plays the API server; then checks that no request is
/// left. Both are bounded by [`TIMEOUT`]; a failed assertion of the script is the
/// test's failure.
async fn drive<T, W, S>(work: W, server: ApiServer, script: impl FnOnce(ApiServer) -> S) -> T
where
    W: Future<Output = T>,
    S: Future<Output = ApiServer> + Send + 'static,
{
    let script = tokio::spawn(script(server));
    let result = timeout(TIMEOUT, work).await;
    let server = match timeout(TIMEOUT, script).await {
        Ok(Ok(server)) => server,
        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Ok(Err(e)) => panic!("the API server script failed: {e}"),
        Err(_) => panic!("the API server script timed out"),
    };
    let result = result.expect("the work timed out");
    server.done().await;
    result
}

/// One reconcile of `cb` among `all`, against `script`.
async fn reconcile_with<S>(
    all: &[Codebase],
    cb: &Codebase,
    script: impl FnOnce(ApiServer) -> S,
) -> Result<Action, Error>
where
    S: Future<Output = ApiServer> + Send + 'static,
{
    let (ctx, server) = context(all);
    drive(reconcile(Arc::new(cb.clone()), ctx), server, script).await
}

/// The condition `type_` of a status patch body.
fn condition_of<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {status}"))
}

/// A status patch body applied to `cb`, as the API server would answer it.
fn with_status(cb: &Codebase, body: &Value) -> Value {
    let mut out = serde_json::to_value(cb).expect("JSON");
    out["status"] = body["status"].clone();
    out
}

/// Answers a create with what was sent.
fn echo(call: Call) {
    let body = call.body.clone();
    call.respond(&body);
}

// ---------------------------------------------------------------------------------
// 1. A new valid Codebase

#[tokio::test]
async fn a_new_codebase_publishes_its_content_hash_without_a_finalizer() {
    let fresh = codebase("hello", None, &[("/main.js", GOOD)]);
    let version = resolved(std::slice::from_ref(&fresh), &fresh).version;
    let hash = resolved(std::slice::from_ref(&fresh), &fresh).content_hash;
    let finalized = fresh.clone();

    // One reconcile: snapshot ConfigMap, Event, status (no finalizer first).
    let all = vec![finalized.clone()];
    let cb = finalized.clone();
    let (v, h) = (version.clone(), hash.clone());
    let action = reconcile_with(&all, &finalized, |mut server| async move {
        let call = server.expect("POST", CONFIG_MAPS).await;
        let snapshot = format!("hello-{v}");
        assert_eq!(call.query, query(&[]));
        let meta = &call.body["metadata"];
        assert_eq!(meta["name"], snapshot.as_str());
        assert_eq!(meta["namespace"], NS);
        assert_eq!(
            meta["ownerReferences"],
            json!([{
                "apiVersion": "pipy.dev/v1alpha1", "kind": "Codebase", "name": "hello",
                "uid": "uid-hello", "controller": true,
            }])
        );
        assert_eq!(
            meta["labels"],
            json!({ LABEL_CODEBASE: "hello", LABEL_VERSION: v.as_str() })
        );
        let cm: ConfigMap = serde_json::from_value(call.body.clone()).expect("a ConfigMap");
        let (main, files) = resolve::Snapshot::from_config_map(&cm).expect("a snapshot");
        assert_eq!(main, "/main.js");
        assert_eq!(
            files.get("/main.js").map(Vec::as_slice),
            Some(GOOD.as_bytes())
        );
        echo(call);

        let call = server.expect("POST", EVENTS).await;
        assert_eq!(call.body["type"], "Normal");
        assert_eq!(call.body["reason"], "Published");
        assert_eq!(call.body["action"], "Reconcile");
        assert_eq!(call.body["reportingController"], MANAGER);
        assert_eq!(call.body["regarding"]["kind"], "Codebase");
        assert_eq!(call.body["regarding"]["name"], "hello");
        let note = call.body["note"].as_str().expect("a note");
        assert!(note.contains(&v) && note.contains("/demo/hello"), "{note}");
        echo(call);

        let call = server
            .expect("PATCH", &format!("{CODEBASES}/hello/status"))
            .await;
        call.assert_apply(MANAGER);
        assert_eq!(call.body["apiVersion"], "pipy.dev/v1alpha1");
        assert_eq!(call.body["kind"], "Codebase");
        let status = &call.body["status"];
        assert_eq!(status["version"], v.as_str());
        assert_eq!(status["contentHash"], h.as_str());
        assert_eq!(status["main"], "/main.js");
        assert_eq!(status["observedGeneration"], 1);
        let valid = condition_of(status, condition::VALID);
        assert_eq!(
            (&valid["status"], &valid["reason"]),
            (&json!("True"), &json!(reason::LOADED))
        );
        assert_eq!(valid["observedGeneration"], 1);
        let published = condition_of(status, condition::PUBLISHED);
        assert_eq!(
            (&published["status"], &published["reason"]),
            (&json!("True"), &json!(reason::PUBLISHED))
        );
        assert_eq!(status["history"].as_array().map(Vec::len), Some(1));
        assert_eq!(status["history"][0]["version"], v.as_str());
        assert_eq!(status["history"][0]["configMap"], snapshot.as_str());
        assert!(status["history"][0]["publishedAt"].is_string());
        assert!(
            status.get("instances").is_none(),
            "instances belong to the summary"
        );
        assert!(status.get("derived").is_none());
        let answer = with_status(&cb, &call.body);
        call.respond(&answer);
        server
    })
    .await
    .expect("reconciled");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
}

// ---------------------------------------------------------------------------------
// 2. Identical content again

#[tokio::test]
async fn identical_content_publishes_nothing_new() {
    let plain = codebase("hello", None, &[("/main.js", GOOD)]);
    let version = resolved(std::slice::from_ref(&plain), &plain).version;
    let cb = published(plain, &version);
    let old = cb.status.clone().expect("a status");
    let all = vec![cb.clone()];
    let answer_to = cb.clone();
    let action = reconcile_with(&all, &cb, |mut server| async move {
        // No ConfigMap, no "Published" event: straight to the status.
        let call = server
            .expect("PATCH", &format!("{CODEBASES}/hello/status"))
            .await;
        call.assert_apply(MANAGER);
        let status: CodebaseStatus =
            serde_json::from_value(call.body["status"].clone()).expect("a status");
        assert_eq!(status.version, old.version);
        assert_eq!(status.history, old.history);
        // Unchanged conditions keep their transition times.
        let times = |s: &CodebaseStatus| {
            s.conditions
                .iter()
                .map(|c| {
                    (
                        c.type_.clone(),
                        c.status.clone(),
                        c.last_transition_time.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(times(&status), times(&old));
        let answer = with_status(&answer_to, &call.body);
        call.respond(&answer);
        server
    })
    .await
    .expect("reconciled");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
}

// ---------------------------------------------------------------------------------
// 3. An invalid script

#[tokio::test]
async fn an_invalid_script_keeps_the_published_version_and_warns() {
    let good = codebase("hello", None, &[("/main.js", GOOD)]);
    let version = resolved(std::slice::from_ref(&good), &good).version;
    let mut cb = published(good, &version);
    cb.spec.files.insert("/main.js".into(), BAD.into());
    cb.metadata.generation = Some(2);
    let bad_hash = resolved(std::slice::from_ref(&cb), &cb).content_hash;
    let old = cb.status.clone().expect("a status");
    let all = vec![cb.clone()];
    let answer_to = cb.clone();
    let action = reconcile_with(&all, &cb, |mut server| async move {
        let call = server.expect("POST", EVENTS).await;
        assert_eq!(call.body["type"], "Warning");
        assert_eq!(call.body["reason"], "Invalid");
        let note = call.body["note"].as_str().expect("a note").to_owned();
        assert_position(&note);
        echo(call);

        // No snapshot ConfigMap: the status comes next.
        let call = server
            .expect("PATCH", &format!("{CODEBASES}/hello/status"))
            .await;
        call.assert_apply(MANAGER);
        let status = &call.body["status"];
        let valid = condition_of(status, condition::VALID);
        assert_eq!(
            (&valid["status"], &valid["reason"]),
            (&json!("False"), &json!(reason::SCRIPT_ERROR))
        );
        assert_eq!(valid["message"], note.as_str());
        assert_eq!(valid["observedGeneration"], 2);
        let published = condition_of(status, condition::PUBLISHED);
        assert_eq!(
            (&published["status"], &published["reason"]),
            (&json!("False"), &json!(reason::INVALID))
        );
        assert_eq!(status["version"], version.as_str());
        assert_eq!(status["observedGeneration"], 2);
        // The hash of what the spec says, which differs from the served version.
        assert_eq!(status["contentHash"], bad_hash.as_str());
        assert!(!bad_hash.starts_with(&version));
        let history: Vec<PublishedVersion> =
            serde_json::from_value(status["history"].clone()).expect("a history");
        assert_eq!(history, old.history);
        let answer = with_status(&answer_to, &call.body);
        call.respond(&answer);
        server
    })
    .await
    .expect("reconciled");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
}

/// `/main.js:LINE:COL: ...`, on line 3.
fn assert_position(message: &str) {
    let rest = message
        .strip_prefix("/main.js:")
        .unwrap_or_else(|| panic!("no file in {message}"));
    let mut parts = rest.splitn(3, ':');
    let line: u32 = parts.next().and_then(|l| l.parse().ok()).expect("a line");
    let column: Option<u32> = parts.next().and_then(|c| c.parse().ok());
    assert_eq!(line, 3, "{message}");
    assert!(column.is_some(), "no column in {message}");
}

// ---------------------------------------------------------------------------------
// 4. A base's change re-publishes its derivatives

#[tokio::test]
async fn a_change_of_the_base_requeues_and_republishes_the_derivative() {
    let base = codebase("base", None, &[("/main.js", GOOD)]);
    let edge = codebase("edge", Some("base"), &[("/extra.txt", "x")]);
    let before = vec![base.clone(), edge.clone()];
    let old_version = resolved(&before, &edge).version;
    let edge = published(edge, &old_version);

    let mut changed = base.clone();
    changed
        .spec
        .files
        .insert("/main.js".into(), GOOD_TOO.into());
    changed.metadata.generation = Some(2);
    let after = vec![changed.clone(), edge.clone()];
    let new_version = resolved(&after, &edge).version;
    assert_ne!(new_version, old_version, "the derivative's content changed");
    assert_eq!(
        resolved(&after, &edge)
            .files
            .get("/main.js")
            .map(Vec::as_slice),
        Some(GOOD_TOO.as_bytes())
    );

    // The mapper of the controller's second watch: the base names its derivative.
    let store = store_of(&after);
    assert_eq!(
        derivatives_of(&store, &changed),
        vec![ObjectRef::<Codebase>::new("edge").within(NS)]
    );
    assert!(derivatives_of(&store, &edge).is_empty());

    let answer_to = edge.clone();
    let (old_v, new_v) = (old_version.clone(), new_version.clone());
    let action = reconcile_with(&after, &edge, |mut server| async move {
        let call = server.expect("POST", CONFIG_MAPS).await;
        assert_eq!(call.body["metadata"]["name"], format!("edge-{new_v}"));
        assert_eq!(call.body["metadata"]["ownerReferences"][0]["name"], "edge");
        echo(call);

        let call = server.expect("POST", EVENTS).await;
        assert_eq!(call.body["reason"], "Published");
        assert_eq!(call.body["regarding"]["name"], "edge");
        echo(call);

        let call = server
            .expect("PATCH", &format!("{CODEBASES}/edge/status"))
            .await;
        call.assert_apply(MANAGER);
        let status = &call.body["status"];
        assert_eq!(status["version"], new_v.as_str());
        let versions: Vec<&str> = status["history"]
            .as_array()
            .expect("a history")
            .iter()
            .filter_map(|h| h["version"].as_str())
            .collect();
        assert_eq!(versions, [new_v.as_str(), old_v.as_str()]);
        let answer = with_status(&answer_to, &call.body);
        call.respond(&answer);
        server
    })
    .await
    .expect("reconciled");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));

    // The base lists its derivative in its own status.
    let answer_to = changed.clone();
    reconcile_with(&after, &changed, |mut server| async move {
        let call = server.expect("POST", CONFIG_MAPS).await;
        echo(call);
        let call = server.expect("POST", EVENTS).await;
        echo(call);
        let call = server
            .expect("PATCH", &format!("{CODEBASES}/base/status"))
            .await;
        assert_eq!(call.body["status"]["derived"], json!(["demo/edge"]));
        let answer = with_status(&answer_to, &call.body);
        call.respond(&answer);
        server
    })
    .await
    .expect("reconciled");
}

// ---------------------------------------------------------------------------------
// 5. Deletion

#[tokio::test]
async fn a_codebase_being_deleted_is_left_alone() {
    let base = deleting(codebase("base", None, &[("/main.js", GOOD)]));
    let edge = codebase("edge", Some("base"), &[]);
    let all = vec![base.clone(), edge];
    // No request at all: no status, no Event, no finalizer.
    let action = reconcile_with(&all, &base, |server| async move { server })
        .await
        .expect("reconciled");
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn the_finalizer_of_older_operators_is_removed() {
    let mut base = deleting(codebase("base", None, &[("/main.js", GOOD)]));
    base.metadata.finalizers = Some(vec!["example.com/other".into(), FINALIZER.into()]);
    let all = vec![base.clone()];
    let mut answer = serde_json::to_value(&base).expect("JSON");
    answer["metadata"]["finalizers"] = json!(["example.com/other"]);
    let action = reconcile_with(&all, &base, |mut server| async move {
        let call = server.expect("PATCH", &format!("{CODEBASES}/base")).await;
        call.assert_json_patch();
        assert_eq!(
            call.body,
            json!([
                { "op": "test", "path": "/metadata/finalizers/1", "value": FINALIZER },
                { "op": "remove", "path": "/metadata/finalizers/1" },
            ])
        );
        call.respond(&answer);
        server
    })
    .await
    .expect("reconciled");
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn a_success_resets_the_backoff_of_that_codebase_only() {
    let (ctx, server) = context(&[]);
    let failing = Arc::new(codebase("failing", None, &[]));
    let flaky = Arc::new(codebase("flaky", None, &[]));
    let error = || Error::NoNamespace;
    let policy = |cb: &Arc<Codebase>| error_policy(cb.clone(), &error(), ctx.clone());
    assert_eq!(policy(&failing), Action::requeue(Duration::from_secs(1)));
    assert_eq!(policy(&failing), Action::requeue(Duration::from_secs(2)));
    assert_eq!(policy(&flaky), Action::requeue(Duration::from_secs(1)));
    // A reconcile of `flaky` that succeeds without a request (deleted, no finalizer).
    let gone = deleting(codebase("flaky", None, &[]));
    let action = timeout(TIMEOUT, reconcile(Arc::new(gone), ctx.clone()))
        .await
        .expect("reconcile timed out")
        .expect("reconciled");
    assert_eq!(action, Action::await_change());
    assert_eq!(policy(&flaky), Action::requeue(Duration::from_secs(1)));
    assert_eq!(policy(&failing), Action::requeue(Duration::from_secs(4)));
    drop(ctx);
    server.done().await;
}

// ---------------------------------------------------------------------------------
// 6. The leader's summary

#[tokio::test]
async fn the_leader_writes_instance_summaries_once_per_change() {
    let (client, server) = mock();
    let settings = summary::Settings {
        namespace: "pipy-system".into(),
        lease: "pipy-operator".into(),
        identity: "pod-a".into(),
        pod_uid: None,
    };
    let plain = codebase("hello", None, &[("/main.js", GOOD)]);
    let version = resolved(std::slice::from_ref(&plain), &plain).version;
    let cb = published(plain, &version);

    let now_ms = Timestamp::now().as_millisecond();
    let reports = json!({
        "w1": ["/demo/hello", version.as_str(), now_ms - 1000],
        "w2": ["/demo/hello", version.as_str(), now_ms - 2000],
        "w3": ["/demo/hello", "0ld0ld0ld0ld", now_ms - 3000],
    });
    let config_maps = json!({
        "apiVersion": "v1", "kind": "ConfigMapList", "metadata": { "resourceVersion": "7" },
        "items": [{
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": "pipy-operator-instances-pod-a", "namespace": "pipy-system" },
            "data": {
                "instances.json": reports.to_string(),
                "updated": Timestamp::now().as_second().to_string(),
            },
        }],
    });
    let codebases = json!({
        "apiVersion": "pipy.dev/v1alpha1", "kind": "CodebaseList",
        "metadata": { "resourceVersion": "8" },
        "items": [serde_json::to_value(&cb).expect("JSON")],
    });
    let work = {
        let settings = settings.clone();
        async move {
            let elector = crate::leader::Elector::new(
                client.clone(),
                &settings.namespace,
                &settings.lease,
                &settings.identity,
            );
            let leads = elector.try_lead().await.expect("a lease round");
            let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &settings.namespace);
            let mut last_written = BTreeMap::new();
            for _ in 0..2 {
                summary::write_statuses(&client, &config_maps, &settings, &mut last_written)
                    .await
                    .expect("summarised");
            }
            leads
        }
    };
    let v = version.clone();
    let leads = drive(work, server, |mut server| async move {
        let lease = "/apis/coordination.k8s.io/v1/namespaces/pipy-system/leases";
        server
            .expect("GET", &format!("{lease}/pipy-operator"))
            .await
            .not_found();
        let call = server.expect("POST", lease).await;
        assert_eq!(call.body["metadata"]["name"], "pipy-operator");
        assert_eq!(call.body["spec"]["holderIdentity"], "pod-a");
        assert_eq!(call.body["spec"]["leaseDurationSeconds"], 15);
        echo(call);

        for round in 0..2 {
            let call = server
                .expect("GET", "/api/v1/namespaces/pipy-system/configmaps")
                .await;
            assert_eq!(
                call.query.get("labelSelector").map(String::as_str),
                Some("pipy.dev/instances-of=pipy-operator")
            );
            call.respond(&config_maps);
            let call = server
                .expect("GET", "/apis/pipy.dev/v1alpha1/codebases")
                .await;
            call.respond(&codebases);
            if round == 1 {
                // Nothing changed: no second write.
                break;
            }
            let call = server
                .expect("PATCH", &format!("{CODEBASES}/hello/status"))
                .await;
            call.assert_apply(summary::MANAGER);
            let status = &call.body["status"];
            assert_eq!(
                status["instances"],
                json!({ "total": 3, "ready": 2, "byVersion": { v.as_str(): 2, "0ld0ld0ld0ld": 1 } })
            );
            let ready = condition_of(status, condition::READY);
            assert_eq!(
                (&ready["status"], &ready["reason"]),
                (&json!("False"), &json!(reason::ROLLING_OUT))
            );
            assert_eq!(
                ready["message"],
                "2 of 3 sidecars run the published version"
            );
            assert_eq!(status["conditions"].as_array().map(Vec::len), Some(1));
            let answer = with_status(&cb, &call.body);
            call.respond(&answer);
        }
        server
    })
    .await;
    assert!(leads, "the first replica creates the Lease and leads");
}
