//! The management API (spec §4): `/api/v1/repo[/CB]` and `/api/v1/repo-files/CB/FILE`.

use http::{Method, StatusCode};
use serde_json::{Map, Value};

use super::reply::{self, bare, text, Reply};
use super::{RepoState, Req};
use crate::{CodebaseInfo, Error};

/// `/api/v1/repo`, `/api/v1/repo/` and `/api/v1/repo/CB`.
pub(super) fn codebase(state: &RepoState, req: &Req) -> Reply {
    let cb = req.path.strip_prefix("/api/v1/repo").unwrap_or_default();
    if cb.is_empty() {
        return match req.method {
            Method::GET => list(state),
            _ => bare(StatusCode::METHOD_NOT_ALLOWED),
        };
    }
    if req.method == Method::GET {
        return if cb == "/" {
            list(state)
        } else {
            info_or_file(state, cb)
        };
    }
    let mutating = [Method::POST, Method::PATCH, Method::DELETE];
    if !mutating.contains(&req.method) {
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    }
    if cb.ends_with('/') {
        return bad("Invalid codebase name");
    }
    let result = match req.method {
        Method::POST => create(state, cb, &req.body),
        Method::PATCH => patch(state, cb, &req.body),
        _ => state
            .repo()
            .delete(cb)
            .map(|_| bare(StatusCode::NO_CONTENT)),
    };
    result.unwrap_or_else(|e| match e {
        Error::NotFound(_) => bare(StatusCode::NOT_FOUND),
        Error::InvalidPath(_) => bad("Invalid codebase name"),
        Error::InvalidVersion(_) => bad("Invalid version"),
        Error::BaseNotFound(_) => bad("Base codebase not found"),
        Error::AlreadyExists(_) => bad("Codebase already exists"),
        e => reply::error(&e),
    })
}

/// `/api/v1/repo-files/CB/FILE`; `path` is everything after `/api/v1/repo-files`.
pub(super) fn file(state: &RepoState, req: &Req, path: &str) -> Reply {
    let owner = match owner(state, path) {
        Ok(o) => o,
        Err(e) => return reply::error(&e),
    };
    let write = req.method == Method::POST || req.method == Method::PATCH;
    if req.method == Method::GET {
        return read(state, owner);
    }
    if !write && req.method != Method::DELETE {
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    }
    if path.ends_with('/') {
        return bad("Invalid filename");
    }
    let Some((cb, file)) = owner else {
        return if write {
            text(StatusCode::NOT_FOUND, "Codebase not found")
        } else {
            bare(StatusCode::NOT_FOUND)
        };
    };
    let mut repo = state.repo();
    let result = match req.method {
        Method::POST => repo.write_file(cb, file, &req.body),
        Method::PATCH if req.body.is_empty() => repo.reset_file(cb, file),
        Method::PATCH => repo.write_file(cb, file, &req.body),
        _ => repo.erase_file(cb, file),
    };
    match result {
        Ok(()) if write => bare(StatusCode::CREATED),
        Ok(()) => bare(StatusCode::NO_CONTENT),
        Err(Error::InvalidPath(_)) => bad("Invalid filename"),
        Err(Error::NotFound(_)) => text(StatusCode::NOT_FOUND, "Codebase not found"),
        Err(e) => reply::error(&e),
    }
}

fn bad(msg: &str) -> Reply {
    text(StatusCode::BAD_REQUEST, msg)
}

fn list(state: &RepoState) -> Reply {
    match state.repo().list() {
        Ok(list) => text(StatusCode::OK, &list.join("\n")),
        Err(e) => reply::error(&e),
    }
}

/// Splits `path` at its longest proper prefix that is a codebase: `(CB, FILE)`.
fn owner<'p>(state: &RepoState, path: &'p str) -> crate::Result<Option<(&'p str, &'p str)>> {
    let repo = state.repo();
    for (i, _) in path
        .match_indices('/')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        if i > 0 && repo.exists(&path[..i])? {
            return Ok(Some((&path[..i], &path[i..])));
        }
    }
    Ok(None)
}

/// The draft view of a file, or a bare `404`.
fn read(state: &RepoState, owner: Option<(&str, &str)>) -> Reply {
    let Some((cb, file)) = owner else {
        return bare(StatusCode::NOT_FOUND);
    };
    match state.repo().read_file(cb, file) {
        Ok(Some(body)) => reply::content(body),
        Ok(None) => bare(StatusCode::NOT_FOUND),
        Err(e) => reply::error(&e),
    }
}

/// `GET /api/v1/repo/P` (spec §4.2): a file of a codebase that is a proper prefix of P,
/// else P's info document, else `404`.
fn info_or_file(state: &RepoState, path: &str) -> Reply {
    match owner(state, path) {
        Ok(Some(owner)) => return read(state, Some(owner)),
        Ok(None) => {}
        Err(e) => return reply::error(&e),
    }
    let info = match state.repo().info(path) {
        Ok(Some(info)) => info,
        Ok(None) => return bare(StatusCode::NOT_FOUND),
        Err(e) => return reply::error(&e),
    };
    let instances = state.instances().of_codebase(path);
    reply::json(info_json(info, instances))
}

/// The info document with upstream's key order; `base` only for derivatives.
fn info_json(info: CodebaseInfo, instances: Value) -> String {
    let mut doc = Map::new();
    doc.insert("version".into(), info.version.into());
    doc.insert("path".into(), info.path.into());
    doc.insert("main".into(), info.main.into());
    doc.insert("files".into(), info.files.into());
    doc.insert("editFiles".into(), info.edit_files.into());
    doc.insert("erasedFiles".into(), info.erased_files.into());
    doc.insert("baseFiles".into(), info.base_files.into());
    doc.insert("derived".into(), info.derived.into());
    if let Some(base) = info.base {
        doc.insert("base".into(), base.into());
    }
    doc.insert("instances".into(), instances);
    Value::Object(doc).to_string()
}

/// The keys POST and PATCH read; any other key is refused.
const BODY_KEYS: [&str; 3] = ["base", "main", "version"];

/// The body of POST and PATCH: empty (or blank) counts as `{}`, otherwise it must be a
/// JSON object with no keys but [`BODY_KEYS`]. Upstream treats any non-object body as
/// `{}` and ignores unknown keys (spec §4.3); we refuse both, so that a typo such as
/// `{"verison":2}` cannot silently save instead of publishing.
fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => match m.keys().find(|k| !BODY_KEYS.contains(&k.as_str())) {
            Some(k) => Err(format!("Unknown field: {k}")),
            None => Ok(m),
        },
        Ok(_) => Err("Invalid JSON object".into()),
        Err(_) => Err("Invalid JSON".into()),
    }
}

/// `main`: absent, or a non-empty string.
fn main_of(body: &Map<String, Value>) -> Result<Option<&str>, &'static str> {
    match body.get("main") {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err("Invalid main filename"),
    }
}

/// `version`: absent, an integer in `0..=2^31-1` (fractions truncate), or a non-empty
/// string.
fn version_of(body: &Map<String, Value>) -> Result<Option<String>, &'static str> {
    match body.get("version") {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if (0.0..=f64::from(i32::MAX)).contains(&f) => Ok(Some((f as i64).to_string())),
            _ => Err("Invalid version number"),
        },
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err("Invalid version"),
    }
}

/// `POST /api/v1/repo/CB` (spec §4.3), validated in the spec's order.
fn create(state: &RepoState, cb: &str, body: &[u8]) -> crate::Result<Reply> {
    let body = match object(body) {
        Ok(b) => b,
        Err(message) => return Ok(bad(&message)),
    };
    let base = match body.get("base") {
        None => None,
        Some(Value::String(b)) => Some(b.as_str()),
        Some(_) => return Ok(bad("Invalid base codebase")),
    };
    let mut repo = state.repo();
    if let Some(b) = base {
        if !repo.exists(b)? {
            return Ok(bad("Base codebase not found"));
        }
    }
    // A valid `main` is ignored, like upstream (spec §4.3).
    if let Err(msg) = main_of(&body) {
        return Ok(bad(msg));
    }
    let version = match version_of(&body) {
        Ok(v) => v,
        Err(msg) => return Ok(bad(msg)),
    };
    repo.create(cb, base, version.as_deref())?;
    Ok(bare(StatusCode::CREATED))
}

/// `PATCH /api/v1/repo/CB` (spec §4.4): set main, then publish or save.
fn patch(state: &RepoState, cb: &str, body: &[u8]) -> crate::Result<Reply> {
    let body = match object(body) {
        Ok(b) => b,
        Err(message) => return Ok(bad(&message)),
    };
    let main = match main_of(&body) {
        Ok(m) => m,
        Err(msg) => return Ok(bad(msg)),
    };
    let version = match version_of(&body) {
        Ok(v) => v,
        Err(msg) => return Ok(bad(msg)),
    };
    match state.repo().patch(cb, main, version.as_deref()) {
        Ok(reloads) => state.add_reloads(reloads),
        Err(Error::InvalidPath(p)) if Some(p.as_str()) == main => {
            return Ok(bad("Invalid main filename"))
        }
        Err(e) => return Err(e),
    }
    Ok(bare(StatusCode::CREATED))
}
