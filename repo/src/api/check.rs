//! Script checks for the console: `POST /api/v1/graph` (upstream's, spec §6.6:
//! a script in, its pipeline graph out) and `POST /api/v1/check/CB` (ours: the
//! dry run of codebase CB's draft, as a worker would load it, with where the
//! first error is). Both need the script engine, which this library does not
//! have: the `pipy` binary gives a [`ScriptCheck`]; without one both are `404`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::{Method, StatusCode};

use super::program::{draft_files, ProgramFiles};
use super::reply::{self, bare, text, Reply};
use super::{RepoState, Req};

/// Script checks running at once, at most: each holds a thread (and the
/// engine) for up to the dry run's time limit.
const MAX_CHECKS: usize = 2;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Whether `path` is one of the checks (which run off the serving thread).
pub(super) fn is_check(path: &str) -> bool {
    path == "/api/v1/graph" || path.starts_with("/api/v1/check/")
}

/// Runs a check on a blocking thread; `429` while [`MAX_CHECKS`] run.
pub(super) async fn off_thread(state: Arc<RepoState>, req: Req) -> Reply {
    if RUNNING.fetch_add(1, Ordering::AcqRel) >= MAX_CHECKS {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
        return text(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many script checks at once; try again",
        );
    }
    let reply = tokio::task::spawn_blocking(move || super::route(&state, &req)).await;
    RUNNING.fetch_sub(1, Ordering::AcqRel);
    reply.unwrap_or_else(|_| bare(StatusCode::INTERNAL_SERVER_ERROR))
}

/// Loads scripts without running them; implemented by the `pipy` binary.
pub trait ScriptCheck: Send + Sync + std::fmt::Debug {
    /// The pipeline graph of one script (`/main.js`), or the engine's error.
    fn graph(&self, source: &str) -> Result<serde_json::Value, String>;
    /// Loads `program` as a worker would and stops there: the pipeline graph
    /// of each module loaded (`{"/main.js":{"graph":…},…}`), or the error, as
    /// `file:line:column: message` where the engine knows the position.
    fn check(&self, program: &ProgramFiles) -> Result<serde_json::Value, String>;
}

/// The engine's checks, for a binary that has the engine (`pipy`,
/// `pipy-operator`): two functions of `pipy-runtime`'s dry run.
#[derive(Debug, Clone, Copy)]
pub struct EngineCheck {
    /// A one-file script's graph (`pipy_runtime::graph_of_script`).
    pub graph: fn(&str) -> anyhow::Result<serde_json::Value>,
    /// The dry run of a program's files from its main one, answering each
    /// module's graph (`pipy_runtime::dry_run_files`).
    pub check: fn(&[ProgramFile], &str) -> anyhow::Result<ModuleGraphs>,
}

/// A file of a program: its path and content.
pub type ProgramFile = (String, Vec<u8>);

/// Each module's pipeline graph, by path: `{"/main.js":{"graph":…},…}`.
pub type ModuleGraphs = serde_json::Map<String, serde_json::Value>;

impl ScriptCheck for EngineCheck {
    fn graph(&self, source: &str) -> Result<serde_json::Value, String> {
        (self.graph)(source).map_err(|e| format!("{e:#}"))
    }

    fn check(&self, program: &ProgramFiles) -> Result<serde_json::Value, String> {
        (self.check)(&program.files, &program.main)
            .map(serde_json::Value::Object)
            .map_err(|e| format!("{e:#}"))
    }
}

/// `POST /api/v1/graph`.
pub(super) fn graph(state: &RepoState, req: &Req) -> Reply {
    let Some(checker) = &state.options.script_check else {
        return bare(StatusCode::NOT_FOUND);
    };
    if req.method != Method::POST {
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    }
    let source = String::from_utf8_lossy(&req.body);
    match checker.graph(&source) {
        Ok(graph) => reply::json(graph.to_string()),
        Err(e) => text(StatusCode::BAD_REQUEST, &e),
    }
}

/// `POST /api/v1/check/CB`: `{"ok":true,"modules":{path:{"graph":…}}}`, or
/// `{"ok":false,"error":…}` with the `file`, `line` and `column` of the error
/// when the engine gave them.
pub(super) fn draft(state: &RepoState, req: &Req, cb: &str) -> Reply {
    let Some(checker) = &state.options.script_check else {
        return bare(StatusCode::NOT_FOUND);
    };
    if req.method != Method::POST {
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    }
    let program = match draft_files(state, cb) {
        Ok(p) => p,
        Err((status, why)) => return text(status, &why),
    };
    let body = match checker.check(&program) {
        Ok(modules) => serde_json::json!({ "ok": true, "modules": modules }),
        Err(e) => error_json(&e),
    };
    reply::json(body.to_string())
}

/// `file:line:column: message` taken apart: the innermost such place of the
/// error (an import's error names the importing module first, then the
/// imported one's place), or the message whole when it names none.
fn error_json(error: &str) -> serde_json::Value {
    let mut out = serde_json::json!({ "ok": false, "error": error });
    let mut found = None;
    let mut at = 0;
    for word in error.split(' ') {
        if let Some(place) = word.strip_suffix(':').and_then(position) {
            found = Some((place, at + word.len()));
        }
        at += word.len() + 1;
    }
    let Some(((file, line, column), end)) = found else {
        return out;
    };
    let file = if file.starts_with('/') {
        file.to_string()
    } else {
        format!("/{file}")
    };
    out["file"] = file.into();
    out["line"] = line.into();
    out["column"] = column.into();
    out["message"] = error.get(end..).unwrap_or("").trim().into();
    out
}

/// `file:line:column` of a word, if it is one.
fn position(word: &str) -> Option<(&str, u64, u64)> {
    let mut parts = word.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next().filter(|f| !f.is_empty())?;
    Some((file, line, column))
}

#[cfg(test)]
mod tests {
    use super::error_json;

    #[test]
    fn errors_with_a_position_are_taken_apart() {
        let e = error_json("main.js:3:7: SyntaxError: unexpected token ':'");
        assert_eq!(e["file"], "/main.js");
        assert_eq!(e["line"], 3);
        assert_eq!(e["column"], 7);
        assert_eq!(e["message"], "SyntaxError: unexpected token ':'");
        let e = error_json(
            "main.js: Error: cannot import ./lib.js: lib.js:2:10: SyntaxError: unexpected token ';' (main.js:1:16)",
        );
        assert_eq!(e["file"], "/lib.js");
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(2), Some(10))
        );
        assert_eq!(
            e["message"],
            "SyntaxError: unexpected token ';' (main.js:1:16)"
        );
        let e = error_json("loading took longer than 10s");
        assert_eq!(e["ok"], false);
        assert!(e.get("line").is_none());
    }
}
