//! Who may use the operator's repo: every request carries a ServiceAccount token
//! (`authorization: Bearer …`, audience [`AUDIENCE`]), checked with a TokenReview.
//!
//! * `/repo/<ns>/<name>/…` (a sidecar's downloads, polls, status reports and admin
//!   link): a ServiceAccount of namespace `<ns>`, or of a namespace the Codebase
//!   shares itself with (`pipy.dev/shared-with`, what lets a pod run another
//!   namespace's codebase), so that a sidecar reads only codebases meant for it; or
//!   anyone allowed to `get` Codebases in `<ns>` (a SubjectAccessReview).
//! * everything else (`/api/v1/…` with every instance's logs and metrics, `/repo`):
//!   anyone allowed to `get` Codebases in every namespace.
//!
//! The injected sidecar gets such a token from a projected volume and sends it with
//! `pipy --repo-token-file`. An admin gets one with
//! `kubectl create token <sa> --audience pipy-repo`. Verdicts are cached for
//! [`CACHE_TTL`] (at most [`MAX_CACHED`] of each kind, the oldest evicted first), so
//! the API server sees one review per token and minute, not one per poll; a review
//! that takes longer than [`REVIEW_TIMEOUT`] answers `503`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use pipy_repo::{Guard, Verdict};

use crate::crd::Codebase;
use sha2::{Digest, Sha256};

/// The audience of the tokens the repo accepts: a token made for the repo cannot be
/// replayed against the API server, nor an API token against the repo.
pub const AUDIENCE: &str = "pipy-repo";
/// How long a token's verdict is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// The most verdicts kept, of each kind.
pub const MAX_CACHED: usize = 4096;
/// How long a TokenReview or SubjectAccessReview may take.
pub const REVIEW_TIMEOUT: Duration = Duration::from_secs(5);

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user name (`system:serviceaccount:<ns>:<name>` for a ServiceAccount).
    pub username: String,
    /// The groups.
    pub groups: Vec<String>,
}

impl Identity {
    /// The namespace of a ServiceAccount identity.
    pub fn service_account_namespace(&self) -> Option<&str> {
        let rest = self.username.strip_prefix("system:serviceaccount:")?;
        rest.split_once(':').map(|(ns, _)| ns)
    }
}

/// What a path needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// A ServiceAccount of this namespace (or of one the Codebase of this name shares
    /// itself with), or `get` on its Codebases.
    Namespace(String, String),
    /// `get` on Codebases of every namespace.
    Admin,
}

/// What `path` needs: `/repo/<ns>/<name>…` is namespace `<ns>`'s, the rest is an
/// admin's.
pub fn need(path: &str) -> Need {
    let mut parts = path.strip_prefix("/repo/").unwrap_or_default().split('/');
    match (parts.next(), parts.next()) {
        (Some(ns), name) if !ns.is_empty() => {
            Need::Namespace(ns.to_string(), name.unwrap_or_default().to_string())
        }
        _ => Need::Admin,
    }
}

/// Verdicts kept for [`CACHE_TTL`]: by key, when they were made and what they were.
type Cache<K, V> = Mutex<HashMap<K, (Instant, V)>>;

/// The repo's guard: TokenReview and SubjectAccessReview through `client`.
pub struct TokenGuard {
    client: Client,
    /// The Codebases, for their `pipy.dev/shared-with`.
    codebases: Option<Store<Codebase>>,
    /// By sha256 of the token: when the entry was made and who the token is.
    tokens: Cache<[u8; 32], Option<Identity>>,
    /// By user, groups and namespace (`""` for every namespace): when and whether
    /// allowed.
    access: Cache<(String, Vec<String>, String), bool>,
}

impl std::fmt::Debug for TokenGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenGuard")
    }
}

impl TokenGuard {
    /// A guard that asks the API server behind `client`; `codebases` says which
    /// Codebases share themselves with other namespaces.
    pub fn new(client: Client, codebases: Option<Store<Codebase>>) -> Self {
        Self {
            client,
            codebases,
            tokens: Mutex::new(HashMap::new()),
            access: Mutex::new(HashMap::new()),
        }
    }

    /// Who `token` is, `None` when the API server does not authenticate it for
    /// [`AUDIENCE`].
    async fn identity(&self, token: &str) -> Result<Option<Identity>, String> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = cached(&self.tokens, &key) {
            return Ok(hit);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                audiences: Some(vec![AUDIENCE.to_string()]),
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer =
            tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review))
                .await
                .map_err(|_| "TokenReview: no answer in time".to_string())?
                .map_err(|e| format!("TokenReview: {e}"))?;
        let status = answer.status.unwrap_or_default();
        // The API server says which of the asked audiences the token is for.
        let for_us = status
            .audiences
            .as_ref()
            .is_some_and(|a| a.iter().any(|a| a == AUDIENCE));
        let identity = match (status.authenticated, status.user) {
            (Some(true), Some(user)) if for_us => Some(Identity {
                username: user.username.unwrap_or_default(),
                groups: user.groups.unwrap_or_default(),
            }),
            _ => None,
        };
        remember(&self.tokens, key, identity.clone());
        Ok(identity)
    }

    /// Whether `who` may `get` Codebases in `namespace` (`""`: in every namespace).
    async fn may_read(&self, who: &Identity, namespace: &str) -> Result<bool, String> {
        let key = (
            who.username.clone(),
            who.groups.clone(),
            namespace.to_string(),
        );
        if let Some(hit) = cached(&self.access, &key) {
            return Ok(hit);
        }
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(who.username.clone()),
                groups: Some(who.groups.clone()),
                resource_attributes: Some(ResourceAttributes {
                    group: Some(crate::GROUP.to_string()),
                    resource: Some("codebases".into()),
                    verb: Some("get".into()),
                    namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer =
            tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review))
                .await
                .map_err(|_| "SubjectAccessReview: no answer in time".to_string())?
                .map_err(|e| format!("SubjectAccessReview: {e}"))?;
        let allowed = answer.status.is_some_and(|s| s.allowed);
        remember(&self.access, key, allowed);
        Ok(allowed)
    }

    async fn verdict(&self, path: &str, authorization: Option<&str>) -> Verdict {
        let unavailable = |e: String| (StatusCode::SERVICE_UNAVAILABLE, e);
        let Some(token) = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Err((
                StatusCode::UNAUTHORIZED,
                format!(
                    "a ServiceAccount token is required (authorization: Bearer, audience \
                     {AUDIENCE}; injected sidecars send one)"
                ),
            ));
        };
        let Some(who) = self.identity(token).await.map_err(unavailable)? else {
            return Err((
                StatusCode::UNAUTHORIZED,
                format!("the token is not valid for audience {AUDIENCE}"),
            ));
        };
        match need(path) {
            Need::Namespace(ns, name) => {
                let own = who.service_account_namespace();
                if own == Some(ns.as_str())
                    || own.is_some_and(|own| self.shared_with(&ns, &name, own))
                    || self.may_read(&who, &ns).await.map_err(unavailable)?
                {
                    Ok(())
                } else {
                    Err((
                        StatusCode::FORBIDDEN,
                        format!(
                            "{} may not read the codebases of namespace {ns}",
                            who.username
                        ),
                    ))
                }
            }
            Need::Admin => {
                if self.may_read(&who, "").await.map_err(unavailable)? {
                    Ok(())
                } else {
                    Err((
                        StatusCode::FORBIDDEN,
                        format!(
                            "{} may not use {path}: it needs get on codebases in every namespace",
                            who.username
                        ),
                    ))
                }
            }
        }
    }
}

impl TokenGuard {
    /// Whether Codebase `ns/name` shares itself with namespace `with`.
    fn shared_with(&self, ns: &str, name: &str, with: &str) -> bool {
        let Some(store) = &self.codebases else {
            return false;
        };
        store
            .get(&ObjectRef::new(name).within(ns))
            .is_some_and(|cb| crate::crd::shares_with(&cb, with))
    }
}

impl Guard for TokenGuard {
    fn check<'a>(
        &'a self,
        _method: &'a Method,
        path: &'a str,
        authorization: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(self.verdict(path, authorization))
    }
}

fn cached<K: std::hash::Hash + Eq, V: Clone>(map: &Cache<K, V>, key: &K) -> Option<V> {
    let map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.get(key)
        .filter(|(at, _)| at.elapsed() < CACHE_TTL)
        .map(|(_, v)| v.clone())
}

fn remember<K: std::hash::Hash + Eq + Clone, V>(map: &Cache<K, V>, key: K, value: V) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_CACHED {
        map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
    }
    if map.len() >= MAX_CACHED {
        // Still full of live verdicts (a flood of tokens): the oldest go first, so
        // the sidecars' steady tokens stay.
        let mut ages: Vec<(Instant, K)> = map.iter().map(|(k, (at, _))| (*at, k.clone())).collect();
        ages.sort_by_key(|(at, _)| *at);
        for (_, k) in ages.into_iter().take(MAX_CACHED / 4) {
            map.remove(&k);
        }
    }
    map.insert(key, (Instant::now(), value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_need_their_namespace_or_an_admin() {
        let ns = |ns: &str, name: &str| Need::Namespace(ns.into(), name.into());
        assert_eq!(need("/repo/apps/shop/"), ns("apps", "shop"));
        assert_eq!(need("/repo/apps/shop/main.js"), ns("apps", "shop"));
        assert_eq!(need("/repo/apps"), ns("apps", ""));
        assert_eq!(need("/repo"), Need::Admin);
        assert_eq!(need("/repo/"), Need::Admin);
        assert_eq!(need("/api/v1/log/x/y"), Need::Admin);
        assert_eq!(need("/metrics"), Need::Admin);
    }

    #[test]
    fn service_account_namespaces() {
        let who = |u: &str| Identity {
            username: u.into(),
            groups: vec![],
        };
        assert_eq!(
            who("system:serviceaccount:apps:default").service_account_namespace(),
            Some("apps")
        );
        assert_eq!(who("admin").service_account_namespace(), None);
        assert_eq!(
            who("system:serviceaccount:apps").service_account_namespace(),
            None
        );
    }
}
