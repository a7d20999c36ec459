//! `pipy-repo`: the codebase repository behind `pipy` in repo mode and the operator.
//!
//! This crate holds the codebase model of `spec/repo-api.md` §3, its persistence (§8)
//! and the HTTP service over it ([`api`]: §2, §4 to §6 except §6.6 and §6.8).
//!
//! * [`Store`] is a key/value map with ordered prefix listing and atomic [`Batch`]es.
//!   [`SqliteStore`] is the embedded one (a file, or in memory for `pipy` without a
//!   directory); the operator will add one over Kubernetes resources.
//! * [`Repo`] is the model over any store. Codebases have a version string, a main file,
//!   an optional base, own committed files, draft edits and erasures. The draft view
//!   ([`Repo::read_file`]) is what the API shows; the published tree
//!   ([`Repo::published`], [`Repo::manifest`], [`Repo::etags`]) is what workers download.
//!   [`Repo::publish`] moves drafts into it and bumps derivatives; [`Repo::save`] does so
//!   without a version, with sub-version etags.
//! * [`serve`] runs the HTTP service (hyper, one task per connection) over a shared
//!   [`RepoState`]: the repo behind a mutex, the registry of worker instances fed by
//!   status reports (expired 60 s after their last report, except uuid `""`), and the
//!   codebases that publishes asked to reload ([`RepoState::take_reloads`]).
//! * Each mutating operation writes exactly one batch, so a crash never leaves a half
//!   applied publish. Keys follow upstream's layout (see `keys.rs`), so upstream repos
//!   stay readable.
//!
//! ```
//! use pipy_repo::{Repo, SqliteStore};
//! let mut repo = Repo::new(SqliteStore::in_memory()?);
//! repo.create("/hello", None, None)?;
//! repo.write_file("/hello", "/main.js", b"pipy().listen(8080).serveHTTP(new Message('hi'))")?;
//! assert_eq!(repo.publish("/hello", "1")?, ["/hello"]);
//! assert_eq!(repo.manifest("/hello")?.unwrap().content, b"/main.js");
//! # Ok::<(), pipy_repo::Error>(())
//! ```
//!
//! Deliberately not copied from upstream (spec §10): publishing `/org` leaves the
//! published tree of a nested `/org/team/app` alone, and deleting a codebase removes its
//! `_etags` too. Upstream also deletes content that a derivative's published tree still
//! shares; we garbage-collect content only once nothing in its family refers to it.
//!
//! Known limits: `/org`'s own file `/team/app/x.js` and codebase `/org/team/app`'s
//! `/x.js` share one published key (inherent in the layout); a file may not be named
//! `/_etags`. Garbage collection after an operation that drops content scans the
//! family's keys, which is fine for an embedded repo but worth revisiting for a
//! Kubernetes-backed store.
//!
//! The service does not copy these upstream accidents either: `204` carries no
//! `content-length` (RFC 9110; hyper drops it), JSON strings use standard escapes (no
//! `\a`/`\v`), a request body over [`RepoOptions::max_file_size`] (16 MiB by default)
//! gets `413` with the limit in its text, and file or codebase paths the model refuses
//! (control characters such as NUL, CR or LF, empty, `.` or `..` segments, over 1024
//! bytes or a segment over 255) get
//! `400 Invalid filename` / `400 Invalid codebase name` instead of being stored
//! literally. The bodies of `POST`/`PATCH /api/v1/repo/CB` must be empty or a JSON object
//! of the keys `base`, `main` and `version` (`400 Invalid JSON`, `400 Invalid JSON
//! object`, `400 Unknown field: K`), where upstream treats anything else as `{}`: a typo
//! must not turn a publish into a save. Percent-decoded bytes
//! that are not UTF-8 become U+FFFD. `/api/v1/dump-store` prints the store as
//! `key: value` lines whatever the store (upstream prints only an in-memory one).
//!
//! The WebSocket admin link (§5.4) carries `reload` to linked workers after a publish
//! (`api/admin_link.rs`) and relays their logs to WebSocket watchers on
//! `/api/v1/log/UUID/NAME` (`api/logs.rs`, §6.3); the repo's own log (an
//! [`api::ProcessLog`] in [`RepoOptions::own_log`]) is `GET /log` and
//! `/api/v1/log//NAME`. An instance with a live link or watcher does not expire.
//! `--admin-log-file` lines are appended by a writer thread (`api/admin_log.rs`); their
//! time is UTC where upstream prints local time.
//!
//! Status reports carry metrics (`pipy-metrics` wire format); the repo keeps each
//! instance's latest tree and a 60-sample history (`api/metrics.rs`), answers `206` when
//! they decode, and serves `/api/v1/metrics[/UUID/][NAME]` and the fleet's `/metrics`
//! (OpenMetrics text through prometheus-client, label `instance`, gzip on request).
//! `/api/v1/program` runs a codebase's draft view through a [`ProgramHost`] the binary
//! provides, and `/api/v1/files` shows its files (`api/program.rs`). [`tls`] makes the
//! rustls configurations for `--admin-tls-*` ([`RepoOptions::tls`]) and for workers.
//!
//! `/api/v1/graph` (§6.6) and `/api/v1/check/CB` (the dry run of a draft) need the
//! script engine: the `pipy` and `pipy-operator` binaries give one ([`EngineCheck`]). Not yet: `/dump`,
//! `/options`, `/admin/…` and the GUI (§6.8).
//! These fall through to the last routing rule: `GET` → `404`, other methods → `405`.

pub mod api;
mod keys;
mod model;
mod publish;
mod sqlite;
mod store;
pub mod tls;
mod txn;

#[cfg(test)]
mod tests;

pub use api::{
    embedded_console, serve, ConsoleFiles, EngineCheck, Guard, HoldBack, InstanceReport,
    ModuleGraphs, ProgramFiles, ProgramHost, RepoOptions, RepoState, ScriptCheck, Verdict,
};
pub use model::{CodebaseInfo, Repo, TEMPLATE_MAIN};
pub use publish::Published;
pub use sqlite::SqliteStore;
pub use store::{Batch, Store};

/// Everything that can go wrong in the repository.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No codebase at this path.
    #[error("codebase not found: {0}")]
    NotFound(String),
    /// A codebase already exists at this path.
    #[error("codebase already exists: {0}")]
    AlreadyExists(String),
    /// The requested base codebase does not exist.
    #[error("base codebase not found: {0}")]
    BaseNotFound(String),
    /// A codebase or file path that is empty, relative, too long, or has a NUL or an
    /// empty, `.` or `..` segment.
    #[error("invalid path: {0:?}")]
    InvalidPath(String),
    /// An empty version, or one with a line break or NUL.
    #[error("invalid version: {0:?}")]
    InvalidVersion(String),
    /// The store holds something the model cannot parse.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
