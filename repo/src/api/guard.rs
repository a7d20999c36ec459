//! Optional hooks of a repo that is one of several replicas (pipy-operator's):
//! [`Guard`], who may use it (a check in front of every request, WebSocket upgrades
//! included), and [`HoldBack`], whether a worker keeps the version it runs when this
//! replica offers another. `pipy` in repo mode has neither (its admin port is the
//! operator's to protect, as upstream's).

use std::future::Future;
use std::pin::Pin;

use http::{Method, StatusCode};

/// What a [`Guard`] decides: go on, or answer with this status and message.
pub type Verdict = Result<(), (StatusCode, String)>;

/// Decides whether a request may reach the repo.
pub trait Guard: Send + Sync + std::fmt::Debug {
    /// Checks a request given its method, its percent-decoded path (no query) and its
    /// `authorization` header.
    fn check<'a>(
        &'a self,
        method: &'a Method,
        path: &'a str,
        authorization: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;
}

/// Whether a worker should keep the version it runs rather than take the one this
/// repo serves: a replica whose view lags another's must not move a worker back to an
/// older version it already left.
pub trait HoldBack: Send + Sync + std::fmt::Debug {
    /// `codebase` (`/ns/name`) is served at `serving` here, and a worker that reported
    /// from the requesting address runs `running` (never empty, never `serving`):
    /// whether to answer its update check with `running` (no change) instead.
    fn hold(&self, codebase: &str, serving: &str, running: &str) -> bool;
}
