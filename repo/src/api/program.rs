//! `/api/v1/program` and `/api/v1/files` (spec §6.4, §6.5): a codebase run inside the
//! repo process, from its draft view, by a [`ProgramHost`] that the binary provides
//! (this crate has no script engine).

use std::collections::BTreeSet;
use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::Value;

use super::reply::{self, bare, text, Reply};
use super::{lock, RepoState, Req};

/// The files of one run of a program.
#[derive(Clone, Debug, Default)]
pub struct ProgramFiles {
    /// The codebase path, such as `/hello`.
    pub codebase: String,
    /// Its entry file.
    pub main: String,
    /// Every file of its draft view (own, edited and inherited), sorted by path.
    pub files: Vec<super::ProgramFile>,
}

/// Runs programs for the repo; implemented by the `pipy` binary.
pub trait ProgramHost: Send + Sync + std::fmt::Debug {
    /// Stops whatever runs, then starts `program`. `Err` is logged; the client sees
    /// `Failed to start up`.
    fn start(&self, program: &ProgramFiles) -> Result<(), String>;
    /// Loads `program` into the running one (a hot reload; the old version keeps
    /// serving if the new one fails).
    fn reload(&self, program: &ProgramFiles) -> Result<(), String>;
    /// Stops the running program, if any.
    fn stop(&self);
}

/// What the service remembers of programs.
#[derive(Debug, Default)]
pub(super) struct ProgramState {
    /// The codebase running now, `""` when none.
    running: String,
    /// The files of the last program started (kept after a stop, like upstream), or
    /// `None` before any start.
    last: Option<Arc<ProgramFiles>>,
    /// When the running program started, ms since the epoch.
    since: u64,
}

impl ProgramState {
    /// Start time of the running program, if one runs.
    pub(super) fn running_since(&self) -> Option<u64> {
        (!self.running.is_empty()).then_some(self.since)
    }
}

/// `/api/v1/program`.
pub(super) fn program(state: &RepoState, req: &Req) -> Reply {
    match req.method {
        Method::GET => text(StatusCode::OK, &lock(&state.program).running),
        Method::POST | Method::PATCH => run(state, req),
        Method::DELETE => {
            if let Some(host) = &state.options.program {
                host.stop();
            }
            lock(&state.program).running.clear();
            bare(StatusCode::NO_CONTENT)
        }
        _ => bare(StatusCode::METHOD_NOT_ALLOWED),
    }
}

fn run(state: &RepoState, req: &Req) -> Reply {
    let asked = String::from_utf8_lossy(&req.body);
    match launch(state, asked.trim(), req.method == Method::PATCH) {
        Ok(()) => bare(StatusCode::CREATED),
        Err((status, message)) => text(status, &message),
    }
}

impl RepoState {
    /// Starts codebase `cb` as the program, as `POST /api/v1/program` does
    /// (`--init-code`); `Err` is the text a client would get.
    pub fn start_program(&self, cb: &str) -> Result<(), String> {
        launch(self, cb, false).map_err(|(_, message)| message)
    }
}

/// Why a program did not start: the status and text a client gets.
pub(super) type Refusal = (StatusCode, String);

fn bad(message: impl Into<String>) -> Refusal {
    (StatusCode::BAD_REQUEST, message.into())
}

/// Starts (or with `reload`, reloads) the codebase `asked` names; `/` means the last
/// one started.
fn launch(state: &RepoState, asked: &str, reload: bool) -> Result<(), Refusal> {
    let Some(host) = state.options.program.clone() else {
        return Err(bad("This repo runs no programs (no script host)"));
    };
    let cb = if asked == "/" {
        let last = lock(&state.program)
            .last
            .as_ref()
            .map(|p| p.codebase.clone());
        match last {
            Some(cb) => cb,
            None => return Err(bad("Codebase not found: /")),
        }
    } else {
        asked.to_string()
    };
    let program = draft_files(state, &cb)?;
    let reloading = reload && !lock(&state.program).running.is_empty();
    let result = if reloading {
        host.reload(&program)
    } else {
        host.start(&program)
    };
    if let Err(e) = result {
        tracing::error!("program {cb}: {e}");
        return Err(bad("Failed to start up"));
    }
    let mut ps = lock(&state.program);
    if !reloading {
        ps.since = super::instances::now_ms();
    }
    ps.running = cb;
    ps.last = Some(Arc::new(program));
    Ok(())
}

/// The draft view of `cb` (committed, edited and inherited files, less erasures).
pub(super) fn draft_files(state: &RepoState, cb: &str) -> Result<ProgramFiles, Refusal> {
    let store_error = |e: crate::Error| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let repo = state.repo();
    let info = match repo.info(cb) {
        Ok(Some(info)) => info,
        Ok(None) => return Err(bad(format!("Codebase not found: {cb}"))),
        Err(e) => return Err(store_error(e)),
    };
    let names: BTreeSet<&String> = info
        .files
        .iter()
        .chain(&info.edit_files)
        .chain(&info.base_files)
        .collect();
    let mut files = Vec::new();
    for name in names {
        match repo.read_file(cb, name) {
            Ok(Some(content)) => files.push((name.clone(), content)),
            Ok(None) => {}
            Err(e) => return Err(store_error(e)),
        }
    }
    if !files.iter().any(|(name, _)| *name == info.main) {
        return Err(bad("No main script"));
    }
    Ok(ProgramFiles {
        codebase: cb.to_string(),
        main: info.main,
        files,
    })
}

/// `/api/v1/files` and `/api/v1/files/FILE`; `rest` is what follows `/api/v1/files`.
/// Always read-only: writes are accepted and ignored, as upstream does for a program
/// that runs from the store.
pub(super) fn files(state: &RepoState, req: &Req, rest: &str) -> Reply {
    let last = lock(&state.program).last.clone();
    if rest.is_empty() || rest == "/" {
        return match req.method {
            Method::GET => {
                let (main, names) = match &last {
                    Some(p) => (
                        p.main.as_str(),
                        p.files.iter().map(|(n, _)| n.as_str()).collect(),
                    ),
                    None => ("", Vec::new()),
                };
                let doc = serde_json::json!({ "main": main, "files": names, "readOnly": true });
                reply::json(doc.to_string())
            }
            Method::PATCH if last.is_none() => bare(StatusCode::NOT_FOUND),
            Method::PATCH => match serde_json::from_slice::<Value>(&req.body) {
                Err(_) => text(StatusCode::BAD_REQUEST, "Invalid JSON"),
                Ok(Value::Object(m)) => match m.get("main") {
                    Some(Value::String(s)) if !s.is_empty() => bare(StatusCode::CREATED),
                    _ => text(StatusCode::BAD_REQUEST, "Invalid main filename"),
                },
                Ok(_) => text(StatusCode::BAD_REQUEST, "Invalid JSON object"),
            },
            _ => bare(StatusCode::METHOD_NOT_ALLOWED),
        };
    }
    let Some(program) = last else {
        return bare(StatusCode::NOT_FOUND);
    };
    match req.method {
        Method::GET => match program.files.iter().find(|(n, _)| n == rest) {
            Some((_, content)) => reply::content(content.clone()),
            None => bare(StatusCode::NOT_FOUND),
        },
        Method::POST | Method::PATCH => bare(StatusCode::CREATED),
        Method::DELETE => bare(StatusCode::NO_CONTENT),
        _ => bare(StatusCode::METHOD_NOT_ALLOWED),
    }
}
