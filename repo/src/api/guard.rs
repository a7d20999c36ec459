//! Who may use the repo: an optional check in front of every request, WebSocket
//! upgrades included. `pipy` in repo mode has none (its admin port is the operator's
//! to protect, as upstream's); pipy-operator's repo checks ServiceAccount tokens.

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
