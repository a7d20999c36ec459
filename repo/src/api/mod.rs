//! The repo's HTTP service (spec §2, §4, §5, §6.1 to §6.5, §6.7).
//!
//! [`serve`] accepts connections on a bound listener and runs one hyper HTTP/1 connection
//! task per peer; every request goes through `route`, which follows the routing order
//! of spec §2. The handlers live in `manage.rs` (`/api/v1/repo…`), `worker.rs` (`/repo…`)
//! and the instance registry in `instances.rs`, metrics in `metrics.rs`, logs in
//! `logs.rs`, the in-process program in `program.rs`; `reply.rs` builds the three
//! response shapes. WebSocket upgrades skip `route`: `/repo/…` is a worker's admin link
//! (`admin_link.rs`), `/api/v1/log/…` a log watcher (`logs.rs`).

mod admin_link;
mod admin_log;
mod check;
mod console;
mod guard;
mod instances;
mod logs;
mod manage;
mod metrics;
mod program;
mod reply;
mod worker;

pub use check::{EngineCheck, ModuleGraphs, ProgramFile, ScriptCheck};
pub use console::{embedded as embedded_console, ConsoleFiles};
pub use guard::{Guard, HoldBack, Verdict};
pub use logs::{log_time, ProcessLog};
pub use program::{ProgramFiles, ProgramHost};

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::{Repo, SqliteStore, Store};
pub use instances::InstanceReport;
use instances::Registry;
use reply::{bare, text, Reply};

/// Default limit of request bodies (files); larger ones are refused with `413`.
pub const MAX_BODY: usize = 16 << 20;

/// How many reload requests [`RepoState::take_reloads`] can still return.
const MAX_PENDING_RELOADS: usize = 1024;

/// How often expired instances are dropped (spec §5.3).
const EXPIRY_TICK: Duration = Duration::from_secs(5);

/// Settings of the service; `Default` is what `pipy` uses without options.
#[derive(Clone, Debug)]
pub struct RepoOptions {
    /// Largest file (and request body) accepted, in bytes; larger ones get `413`.
    pub max_file_size: usize,
    /// `--admin-log-file`: one line per POST, PATCH and DELETE request (spec §1).
    pub admin_log_file: Option<std::path::PathBuf>,
    /// `--admin-tls-cert/key/trusted`: serve HTTPS (see [`crate::tls`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The process's own logs, shown by `GET /log` and streamed on `/api/v1/log//NAME`
    /// (spec §6.3); without one, `/log` is empty and `/log/NAME` is `404`.
    pub own_log: Option<Arc<dyn ProcessLog>>,
    /// Runs `/api/v1/program` (and `--init-code`); without one those get `400`.
    pub program: Option<Arc<dyn ProgramHost>>,
    /// When set, the codebases are managed elsewhere (the operator's Codebase
    /// resources): writes to `/api/v1/repo…`, `/api/v1/repo-files/…` and
    /// `/api/v1/program` get `403` with this text.
    pub read_only: Option<String>,
    /// Checks every request before anything else (pipy-operator: ServiceAccount
    /// tokens); without one, every request is served.
    pub guard: Option<Arc<dyn Guard>>,
    /// Asked before an update check (`HEAD /repo/CB/`) offers a worker a version other
    /// than the one it reported running; without one, the served version is offered.
    pub hold_back: Option<Arc<dyn HoldBack>>,
    /// Loads scripts for `/api/v1/graph` and `/api/v1/check/CB`; without one those
    /// are `404`.
    pub script_check: Option<Arc<dyn ScriptCheck>>,
    /// The Admin console's files (`/`, `/assets/…`); without them those are `404`.
    pub console: Option<ConsoleFiles>,
}

impl Default for RepoOptions {
    fn default() -> Self {
        Self {
            max_file_size: MAX_BODY,
            admin_log_file: None,
            tls: None,
            own_log: None,
            program: None,
            read_only: None,
            guard: None,
            hold_back: None,
            script_check: None,
            console: None,
        }
    }
}

/// Everything the service shares between connections: the codebase model, the worker
/// instance registry and the codebases waiting for a `reload`.
#[derive(Debug)]
pub struct RepoState {
    options: RepoOptions,
    repo: Mutex<Repo<SqliteStore>>,
    instances: Mutex<Registry>,
    reloads: Mutex<Vec<String>>,
    links: Mutex<admin_link::Links>,
    watchers: Mutex<logs::Watchers>,
    /// The writer of `--admin-log-file`.
    admin_log: Option<admin_log::AdminLog>,
    /// Published entries read so far, by path; dropped by every change of the
    /// repo (workers download far more often than anyone writes).
    published: Mutex<std::collections::HashMap<String, Option<crate::Published>>>,
    /// Codebase paths, for the status reports' existence check; dropped with the
    /// published cache.
    codebases: Mutex<Option<std::collections::HashSet<String>>>,
    /// `/api/v1/program`'s state.
    program: Mutex<program::ProgramState>,
    /// This process's instance uuid, shown by `/api/v1/status` while a program runs.
    uuid: String,
}

impl RepoState {
    /// Shared state over `repo`, with no instances yet and default options.
    pub fn new(repo: Repo<SqliteStore>) -> Arc<Self> {
        Self::with_options(repo, RepoOptions::default())
    }

    /// Shared state over `repo` with `options`.
    pub fn with_options(repo: Repo<SqliteStore>, options: RepoOptions) -> Arc<Self> {
        let admin_log = options
            .admin_log_file
            .clone()
            .map(admin_log::AdminLog::open);
        Arc::new(Self {
            options,
            repo: Mutex::new(repo),
            instances: Mutex::new(Registry::default()),
            reloads: Mutex::new(Vec::new()),
            links: Mutex::new(admin_link::Links::new()),
            watchers: Mutex::new(logs::Watchers::default()),
            admin_log,
            published: Mutex::new(std::collections::HashMap::new()),
            codebases: Mutex::new(None),
            program: Mutex::new(program::ProgramState::default()),
            uuid: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// Takes the codebases that publishes asked to `reload` since the last call, in order
    /// (for the admin link, spec §3.5 step 5).
    pub fn take_reloads(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.reloads))
    }

    fn repo(&self) -> MutexGuard<'_, Repo<SqliteStore>> {
        lock(&self.repo)
    }

    fn instances(&self) -> MutexGuard<'_, Registry> {
        lock(&self.instances)
    }

    /// Whether codebase `cb` exists, from a cache filled under the repo's lock.
    fn codebase_exists(&self, cb: &str) -> crate::Result<bool> {
        if let Some(set) = lock(&self.codebases).as_ref() {
            return Ok(set.contains(cb));
        }
        let repo = self.repo();
        let set: std::collections::HashSet<String> = repo.list()?.into_iter().collect();
        let found = set.contains(cb);
        *lock(&self.codebases) = Some(set);
        Ok(found)
    }

    /// Swaps in a whole new repo (the operator rebuilds its read model from the
    /// Codebase resources) and tells the workers of every codebase whose published
    /// version changed, or that appeared, to `reload`. Returns those codebases.
    pub fn replace_repo(&self, repo: Repo<SqliteStore>) -> crate::Result<Vec<String>> {
        let etags = |r: &Repo<SqliteStore>| -> crate::Result<HashMap<String, String>> {
            let mut out = HashMap::new();
            for cb in r.list()? {
                if let Some(m) = r.manifest(&cb)? {
                    out.insert(cb, m.etag);
                }
            }
            Ok(out)
        };
        let new = etags(&repo)?;
        let changed: Vec<String> = {
            let mut current = self.repo();
            let old = etags(&current)?;
            *current = repo;
            lock(&self.published).clear();
            *lock(&self.codebases) = None;
            let mut changed: Vec<String> = new
                .iter()
                .filter(|(cb, etag)| old.get(*cb) != Some(*etag))
                .map(|(cb, _)| cb.clone())
                .collect();
            changed.sort();
            changed
        };
        self.add_reloads(changed.clone());
        Ok(changed)
    }

    /// Per codebase path: how many instances report it, by the version they run
    /// (`""` before their first reload).
    pub fn instance_versions(&self) -> HashMap<String, HashMap<String, usize>> {
        self.instances().versions()
    }

    /// Every instance known here, as its last status report describes it.
    pub fn instance_reports(&self) -> Vec<InstanceReport> {
        self.instances().reports()
    }

    fn add_reloads(&self, paths: Vec<String>) {
        // Linked workers hear of it at once (spec §3.5 step 5).
        admin_link::push_reloads(self, &paths);
        // Kept for `take_reloads`; nothing drains it in a running repo, so only the
        // most recent entries are kept.
        let mut reloads = lock(&self.reloads);
        reloads.extend(paths);
        let excess = reloads.len().saturating_sub(MAX_PENDING_RELOADS);
        reloads.drain(..excess);
    }
}

/// A poisoned lock only means another request panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves the repo on an already bound listener until `shutdown` resolves. Connection
/// tasks and the instance-expiry timer are aborted when it returns.
pub async fn serve(
    listener: TcpListener,
    state: Arc<RepoState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut tasks = JoinSet::new();
    let expiry = state.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(EXPIRY_TICK);
        loop {
            tick.tick().await;
            // Instances with a live admin link or log watcher stay (spec §5.3).
            let mut linked: std::collections::HashSet<String> =
                lock(&expiry.links).keys().cloned().collect();
            linked.extend(lock(&expiry.watchers).uuids().map(str::to_owned));
            expiry
                .instances()
                .expire(instances::now_ms(), |uuid| linked.contains(uuid));
            // The same 5 s tick samples the metric history (spec §6.2).
            expiry.instances().tick();
        }
    });
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Per-connection failures (reset before accept, fd exhaustion) must not
                // stop the service.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        let state = state.clone();
        let tls = state
            .options
            .tls
            .clone()
            .map(tokio_rustls::TlsAcceptor::from);
        tasks.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move {
                    if let Some(why) = console::cross_origin(&req) {
                        return Ok::<_, std::convert::Infallible>(text(StatusCode::FORBIDDEN, why));
                    }
                    if let Some(guard) = state.options.guard.clone() {
                        let path = percent_decode(req.uri().path());
                        // The console's own files hold nothing to guard: its
                        // page loads, then asks for a token.
                        let public = state.options.console.is_some() && console::is_public(&path);
                        let authorization = console::authorization(req.headers());
                        if !public {
                            if let Err((status, message)) = guard
                                .check(req.method(), &path, authorization.as_deref())
                                .await
                            {
                                return Ok::<_, std::convert::Infallible>(text(status, &message));
                            }
                        }
                    }
                    // WebSocket upgrades under /repo/ come first (spec §5.4).
                    if req.uri().path().starts_with("/repo/") && admin_link::is_upgrade(&req) {
                        let path = req.uri().path().to_string();
                        return Ok::<_, std::convert::Infallible>(admin_link::accept(
                            state, &path, req,
                        ));
                    }
                    // Log watchers (spec §6.3); a plain request there is a 405 of route().
                    let path = req.uri().path();
                    if path.starts_with("/api/v1/log/") && admin_link::is_upgrade(&req) {
                        let path = percent_decode(req.uri().path());
                        return Ok(logs::accept(state, &path, req));
                    }
                    Ok(handle(&state, peer, req).await)
                }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.keep_alive(true)
                // Upstream never sends `date` (spec §5.2).
                .auto_date_header(false);
            // A peer that drops the connection mid-request (or fails the TLS handshake)
            // is not our error.
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = http.serve_connection(io, service).with_upgrades().await;
                    }
                }
                None => {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = http.serve_connection(io, service).with_upgrades().await;
                }
            }
        });
    }
}

/// A request reduced to what the handlers need.
struct Req {
    method: Method,
    /// Percent-decoded path, query string included (spec §2).
    path: String,
    body: Bytes,
    peer: SocketAddr,
    /// The `accept` header asks for HTML (such requests under `/repo/` go to the GUI).
    wants_html: bool,
    /// The `accept-encoding` header allows gzip (for `/metrics`).
    accepts_gzip: bool,
}

async fn handle(state: &Arc<RepoState>, peer: SocketAddr, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let limit = state.options.max_file_size;
    let too_big = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64);
    if too_big {
        return body_too_large(limit);
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return body_too_large(limit),
        Err(e) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let raw = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let wants_html = parts
        .headers
        .get_all(http::header::ACCEPT)
        .iter()
        .any(|v| v.as_bytes().windows(9).any(|w| w == b"text/html"));
    let req = Req {
        method: parts.method,
        path: percent_decode(raw),
        body,
        peer,
        wants_html,
        accepts_gzip: metrics::accepts_gzip(&parts.headers),
    };
    if check::is_check(&req.path) {
        // A script check runs the engine for up to its time limit: not on
        // the thread that serves every worker.
        return check::off_thread(state.clone(), req).await;
    }
    let writes = req.method != Method::GET
        && req.method != Method::HEAD
        && (req.path.starts_with("/api/v1/repo") || req.path == "/api/v1/dump-store");
    let reply = route(state, &req);
    if let Some(log) = &state.admin_log {
        log.record(reply.status(), &req.method, &req.path, &req.body);
    }
    if writes {
        // Under the repo's lock, like the reads that fill the cache.
        let _repo = state.repo();
        lock(&state.published).clear();
        *lock(&state.codebases) = None;
    }
    reply
}

/// `413` with the limit, so that a user knows what to change.
fn body_too_large(limit: usize) -> Reply {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("Request body too large: the limit is {limit} bytes"),
    )
}

/// The routing order of spec §2; the first matching rule wins.
fn route(state: &RepoState, req: &Req) -> Reply {
    let p = req.path.as_str();
    let get = req.method == Method::GET;
    if p == "/status" || p == "/api/v1/status" {
        return if get {
            status_json(state)
        } else {
            bare(StatusCode::METHOD_NOT_ALLOWED)
        };
    }
    if p == "/log" || p.starts_with("/log/") {
        return logs::get(state, req);
    }
    if let Some(page) = console::serve(state, req) {
        return page;
    }
    if p == "/metrics" {
        return metrics::prometheus_text(state, req);
    }
    if p == "/api/v1/metrics" {
        return metrics::api(state, req, "");
    }
    if let Some(why) = &state.options.read_only {
        let managed = p.starts_with("/api/v1/repo") || p == "/api/v1/program";
        if managed && !get && req.method != Method::HEAD {
            return text(StatusCode::FORBIDDEN, why);
        }
    }
    if p == "/api/v1/dump-store" {
        return dump_store(state);
    }
    if p == "/repo" || (p.starts_with("/repo/") && !req.wants_html) {
        return worker::handle(state, req);
    }
    if p == "/api/v1/repo" || p.starts_with("/api/v1/repo/") {
        return manage::codebase(state, req);
    }
    if let Some(rest) = p.strip_prefix("/api/v1/repo-files") {
        if rest.starts_with('/') {
            return manage::file(state, req, rest);
        }
    }
    if let Some(rest) = p.strip_prefix("/api/v1/files") {
        if rest.is_empty() || rest.starts_with('/') {
            return program::files(state, req, rest);
        }
    }
    if p == "/api/v1/program" {
        return program::program(state, req);
    }
    if let Some(rest) = p.strip_prefix("/api/v1/metrics/") {
        return metrics::api(state, req, rest);
    }
    if p.starts_with("/api/v1/log/") {
        // Only WebSocket upgrades (taken in serve()) watch logs (spec §6.3).
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    }
    if p == "/api/v1/graph" {
        return check::graph(state, req);
    }
    if let Some(cb) = p.strip_prefix("/api/v1/check") {
        if cb.starts_with('/') {
            return check::draft(state, req, cb);
        }
    }
    // Not yet: dump, options, admin and the GUI
    // all fall through to the last rule.
    if get {
        bare(StatusCode::NOT_FOUND)
    } else {
        bare(StatusCode::METHOD_NOT_ALLOWED)
    }
}

/// `/api/v1/status` and `/status` with no program running (spec §6.1).
/// While a program runs (§6.4) the times and uuid are real and `logs` names the
/// process log.
fn status_json(state: &RepoState) -> Reply {
    let Some(since) = lock(&state.program).running_since() else {
        return reply::json(
            r#"{"timestamp":0,"since":0,"uuid":"","name":"","ip":"","version":"","modules":{},"logs":[]}"#
                .to_owned(),
        );
    };
    let doc = serde_json::json!({
        "timestamp": instances::now_ms(),
        "since": since,
        "uuid": state.uuid,
        "name": "",
        "ip": "",
        "version": "",
        "modules": {},
        "logs": ["pipy_log"],
    });
    reply::json(doc.to_string())
}

/// `/api/v1/dump-store` (spec §6.7): every record to stdout, `key: value` per line.
fn dump_store(state: &RepoState) -> Reply {
    let records = match state.repo().store().list("") {
        Ok(r) => r,
        Err(e) => return reply::error(&e),
    };
    let mut out = String::new();
    for (key, value) in records {
        out.push_str(&key);
        out.push_str(": ");
        out.push_str(&String::from_utf8_lossy(&value));
        out.push('\n');
    }
    print!("{out}");
    bare(StatusCode::OK)
}

/// Decodes `%XX` escapes only (`+` stays `+`, a malformed escape stays literal). Bytes
/// that do not form UTF-8 become U+FFFD: the model's paths are strings.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_percent_escapes_only() {
        assert_eq!(percent_decode("/a%20b+c"), "/a b+c");
        assert_eq!(percent_decode("/x%2Fy%2f"), "/x/y/");
        assert_eq!(percent_decode("/bad%zz%4"), "/bad%zz%4");
        assert_eq!(percent_decode("/nul%00"), "/nul\0");
        assert_eq!(percent_decode("%41"), "A");
    }
}
