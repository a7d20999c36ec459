//! The worker-facing `/repo` tree (spec §5.1 to §5.3): codebase listings, published
//! content with etags, and status reports.

use http::{Method, StatusCode};

use super::reply::{self, bare, text, Reply};
use super::{instances, RepoState, Req};

/// Any request on `/repo` or `/repo/…` (upgrades and HTML requests are routed elsewhere).
pub(super) fn handle(state: &RepoState, req: &Req) -> Reply {
    let rest = req.path.strip_prefix("/repo").unwrap_or_default();
    match req.method {
        Method::GET if rest.is_empty() => listing(state, ""),
        Method::GET => match published(state, rest) {
            Ok(Some(found)) => found,
            Ok(None) => listing(state, rest),
            Err(e) => reply::error(&e),
        },
        Method::HEAD if !rest.is_empty() => match published(state, rest) {
            Ok(Some(found)) => held_back(state, req, rest, &found).unwrap_or(found),
            Ok(None) => bare(StatusCode::NOT_FOUND),
            Err(e) => reply::error(&e),
        },
        Method::POST if !rest.is_empty() => report(state, req, rest),
        _ => bare(StatusCode::METHOD_NOT_ALLOWED),
    }
}

/// The answer to a worker's update check (`HEAD /CB/`) when the repo's [`HoldBack`]
/// says the worker keeps the version it reported from this address.
///
/// [`HoldBack`]: super::HoldBack
fn held_back(state: &RepoState, req: &Req, rest: &str, found: &Reply) -> Option<Reply> {
    let hold_back = state.options.hold_back.as_ref()?;
    let cb = rest.strip_suffix('/')?;
    let serving = found.headers().get("etag")?.to_str().ok()?;
    let running = state.instances().version_at(cb, req.peer.ip())?;
    (running != serving && hold_back.hold(cb, serving, &running))
        .then(|| reply::published(Vec::new(), &running))
}

/// The published entry at exactly `path` (`/hello/`, `/hello/main.js`, `/hello/_etags`).
fn published(state: &RepoState, path: &str) -> crate::Result<Option<Reply>> {
    if let Some(hit) = super::lock(&state.published).get(path) {
        return Ok(hit.clone().map(|p| reply::published(p.content, &p.etag)));
    }
    // Read and remember under the repo's lock, so that a write (which clears
    // the cache after it changed the repo) cannot slip in between.
    let repo = state.repo();
    let found = repo.published("", path)?;
    let mut cache = super::lock(&state.published);
    // Bounded: a scan of random paths must not grow it without end.
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(path.to_string(), found.clone());
    drop(cache);
    drop(repo);
    Ok(found.map(|p| reply::published(p.content, &p.etag)))
}

/// Codebases under `prefix` (all for `""` and `/`), each as `CB/\n`; `404` if none.
fn listing(state: &RepoState, prefix: &str) -> Reply {
    let list = match state.repo().list() {
        Ok(l) => l,
        Err(e) => return reply::error(&e),
    };
    let under = format!("{}/", prefix.trim_end_matches('/'));
    let mut body = String::new();
    for cb in list.iter().filter(|cb| cb.starts_with(&under)) {
        body.push_str(cb);
        body.push_str("/\n");
    }
    if body.is_empty() {
        return bare(StatusCode::NOT_FOUND);
    }
    text(StatusCode::OK, &body)
}

/// `POST /repo/CB/`: a worker's status report (spec §5.3).
fn report(state: &RepoState, req: &Req, rest: &str) -> Reply {
    let Some(cb) = rest.strip_suffix('/') else {
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    };
    match state.codebase_exists(cb) {
        Ok(true) => {}
        Ok(false) => return bare(StatusCode::METHOD_NOT_ALLOWED),
        Err(e) => return reply::error(&e),
    }
    let ip = req.peer.ip();
    let Some(decoded) = state
        .instances()
        .report(cb, ip, instances::now_ms(), &req.body)
    else {
        return text(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    // `206` lets the worker send incremental metrics next; `201` (no metrics, bad
    // ones, or an increment on a version not held here) asks for full ones.
    if decoded {
        bare(StatusCode::PARTIAL_CONTENT)
    } else {
        bare(StatusCode::CREATED)
    }
}
