//! What each Codebase publishes, computed from the Codebases of the cluster and the
//! ConfigMaps they read: pure functions, no API calls.
//!
//! * [`resolve`]: the effective files and `main` of a codebase along its base chain (of
//!   any depth: inherit, override, erase, as [`crate::crd`] describes), and its version.
//! * [`content_hash`]: sha256 over `main` and the sorted effective files; the version is
//!   its first [`VERSION_LEN`] hex digits, so identical content has the identical
//!   version wherever it comes from.
//! * [`derivatives`]: every codebase that builds on a given one, directly or not (a base
//!   that changes re-publishes them; a base that has some is held at deletion).
//! * [`paused_by`], [`config_maps_needed`]: what the controller asks before publishing.
//! * [`Snapshot`]: the content of a published version in a ConfigMap, for rollbacks and
//!   for the repo's read model.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::ByteString;
use kube::ResourceExt as _;
use sha2::{Digest, Sha256};

use crate::crd::{reason, Codebase, DEFAULT_MAIN};

/// A Codebase's identity: `(namespace, name)`.
pub type Key = (String, String);

/// The ConfigMaps the controller fetched, by `(namespace, name)`.
pub type ConfigMaps = BTreeMap<Key, ConfigMap>;

/// How many hex digits of the content hash make a version.
pub const VERSION_LEN: usize = 12;

/// Why a codebase's content cannot be resolved. Each names the codebase at fault as
/// `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `spec.base` names no Codebase.
    #[error("{codebase}: base {base} does not exist")]
    BaseNotFound {
        /// The codebase whose base is missing.
        codebase: String,
        /// The missing base, `namespace/name`.
        base: String,
    },
    /// The base is in another namespace that does not share it with this one.
    #[error(
        "{codebase}: base {base} is in another namespace and does not share itself with \
         this one (annotation pipy.dev/shared-with on the base)"
    )]
    BaseNotShared {
        /// The codebase that names the base.
        codebase: String,
        /// The base, `namespace/name`.
        base: String,
    },
    /// The base chain comes back to a codebase it passed.
    #[error("base cycle: {}", .0.join(" -> "))]
    BaseCycle(Vec<String>),
    /// `spec.base` is neither `name` nor `namespace/name`.
    #[error("{codebase}: base '{base}' is neither 'name' nor 'namespace/name'")]
    BadBase {
        /// The codebase with the bad reference.
        codebase: String,
        /// The reference as written.
        base: String,
    },
    /// A ConfigMap that is not optional does not exist.
    #[error("{codebase}: ConfigMap {config_map} does not exist")]
    ConfigMapNotFound {
        /// The codebase that reads it.
        codebase: String,
        /// Its name.
        config_map: String,
    },
    /// A key listed in `items` is not in its ConfigMap.
    #[error("{codebase}: ConfigMap {config_map} has no key '{key}'")]
    ConfigMapKeyNotFound {
        /// The codebase that reads it.
        codebase: String,
        /// The ConfigMap.
        config_map: String,
        /// The missing key.
        key: String,
    },
    /// A file path of the spec is not a clean codebase path, or names a file twice.
    #[error("{codebase}: file '{path}': {problem}")]
    BadPath {
        /// The codebase at fault.
        codebase: String,
        /// The path as written.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A Codebase without a namespace (never, for a namespaced kind read from the API).
    #[error("Codebase {0} has no namespace")]
    NoNamespace(String),
}

impl Error {
    /// The reason of the `Valid=False` condition ([`crate::crd::reason`]).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::BaseNotFound { .. } => reason::BASE_NOT_FOUND,
            Error::BaseNotShared { .. } => reason::BASE_NOT_SHARED,
            Error::BaseCycle(_) => reason::BASE_CYCLE,
            Error::ConfigMapNotFound { .. } | Error::ConfigMapKeyNotFound { .. } => {
                reason::CONFIG_MAP_NOT_FOUND
            }
            Error::BadBase { .. } | Error::BadPath { .. } | Error::NoNamespace(_) => {
                reason::INVALID_SPEC
            }
        }
    }
}

/// What a codebase publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Every file, base files merged in: codebase path (`/lib/a.js`) to content.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The entry module.
    pub main: String,
    /// [`content_hash`] of `files` and `main` (64 hex digits).
    pub content_hash: String,
    /// The version: the first [`VERSION_LEN`] digits of `content_hash`.
    pub version: String,
}

impl Resolved {
    /// The resolved content of `files` entered at `main`, with its hash and version.
    pub fn new(files: BTreeMap<String, Vec<u8>>, main: String) -> Self {
        let content_hash = content_hash(&files, &main);
        let version = content_hash[..VERSION_LEN].to_owned();
        Self {
            files,
            main,
            content_hash,
            version,
        }
    }
}

/// `namespace/name`.
pub fn display(key: &Key) -> String {
    format!("{}/{}", key.0, key.1)
}

/// The key of a Codebase.
pub fn key_of(cb: &Codebase) -> Result<Key, Error> {
    let ns = cb
        .namespace()
        .ok_or_else(|| Error::NoNamespace(cb.name_any()))?;
    Ok((ns, cb.name_any()))
}

/// The key of a Codebase's base, if it has one: `name` is in its own namespace.
pub fn base_of(cb: &Codebase) -> Result<Option<Key>, Error> {
    let Some(base) = &cb.spec.base else {
        return Ok(None);
    };
    let key = key_of(cb)?;
    let bad = || Error::BadBase {
        codebase: display(&key),
        base: base.clone(),
    };
    let (ns, name) = match base.split_once('/') {
        Some((ns, name)) => (ns.to_owned(), name),
        None => (key.0.clone(), base.as_str()),
    };
    if ns.is_empty() || name.is_empty() || name.contains('/') {
        return Err(bad());
    }
    Ok(Some((ns, name.to_owned())))
}

fn find<'a>(all: &'a [Codebase], key: &Key) -> Option<&'a Codebase> {
    all.iter()
        .find(|c| c.namespace().as_deref() == Some(&key.0) && c.name_any() == key.1)
}

/// `cb` and its bases, nearest first, ending at a codebase without a base.
pub fn base_chain<'a>(all: &'a [Codebase], cb: &'a Codebase) -> Result<Vec<&'a Codebase>, Error> {
    let mut chain = vec![cb];
    let mut keys = vec![key_of(cb)?];
    let mut current = cb;
    while let Some(base) = base_of(current)? {
        if let Some(at) = keys.iter().position(|k| *k == base) {
            let mut cycle: Vec<String> = keys[at..].iter().map(display).collect();
            cycle.push(display(&base));
            return Err(Error::BaseCycle(cycle));
        }
        let Some(next) = find(all, &base) else {
            return Err(Error::BaseNotFound {
                codebase: display(&keys[keys.len() - 1]),
                base: display(&base),
            });
        };
        let from = &keys[keys.len() - 1];
        if !crate::crd::shares_with(next, &from.0) {
            return Err(Error::BaseNotShared {
                codebase: display(from),
                base: display(&base),
            });
        }
        chain.push(next);
        keys.push(base);
        current = next;
    }
    Ok(chain)
}

/// The chain as far as it goes, for questions that do not need all of it.
fn partial_chain<'a>(all: &'a [Codebase], cb: &'a Codebase) -> Vec<&'a Codebase> {
    let mut chain = vec![cb];
    let mut current = cb;
    while let Ok(Some(base)) = base_of(current) {
        let Some(next) = find(all, &base) else { break };
        if chain.iter().any(|c| std::ptr::eq(*c, next)) {
            break;
        }
        chain.push(next);
        current = next;
    }
    chain
}

/// What `cb` publishes: its own files over its base's effective files (minus what it
/// erases), along the whole base chain, with the version of that content.
pub fn resolve(
    all: &[Codebase],
    cb: &Codebase,
    config_maps: &ConfigMaps,
) -> Result<Resolved, Error> {
    let chain = base_chain(all, cb)?;
    let mut files = BTreeMap::new();
    let mut main: Option<String> = None;
    for link in chain.into_iter().rev() {
        let codebase = display(&key_of(link)?);
        let own = own_files(link, &codebase, config_maps)?;
        for path in &link.spec.erase {
            let clean = clean_path(path).map_err(|problem| Error::BadPath {
                codebase: codebase.clone(),
                path: path.clone(),
                problem,
            })?;
            if own.contains_key(&clean) {
                return Err(Error::BadPath {
                    codebase,
                    path: path.clone(),
                    problem: "both defined and erased",
                });
            }
            files.remove(&clean);
        }
        files.extend(own);
        if let Some(m) = &link.spec.main {
            main = Some(clean_path(m).map_err(|problem| Error::BadPath {
                codebase: codebase.clone(),
                path: m.clone(),
                problem,
            })?);
        }
    }
    Ok(Resolved::new(
        files,
        main.unwrap_or_else(|| DEFAULT_MAIN.to_owned()),
    ))
}

/// [`resolve`] for every codebase of `all`.
pub fn resolve_all(
    all: &[Codebase],
    config_maps: &ConfigMaps,
) -> BTreeMap<Key, Result<Resolved, Error>> {
    all.iter()
        .filter_map(|cb| Some((key_of(cb).ok()?, resolve(all, cb, config_maps))))
        .collect()
}

/// The files a codebase defines itself: its ConfigMaps in order, then `files`.
fn own_files(
    cb: &Codebase,
    codebase: &str,
    config_maps: &ConfigMaps,
) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut out = BTreeMap::new();
    let ns = cb.namespace().unwrap_or_default();
    for source in &cb.spec.config_maps {
        let Some(cm) = config_maps.get(&(ns.clone(), source.name.clone())) else {
            if source.optional {
                continue;
            }
            return Err(Error::ConfigMapNotFound {
                codebase: codebase.to_owned(),
                config_map: source.name.clone(),
            });
        };
        let content = config_map_content(cm);
        let dir = source.dir.as_deref().unwrap_or("/");
        let picked: Vec<(&str, &str)> = if source.items.is_empty() {
            content.keys().map(|k| (*k, *k)).collect()
        } else {
            source
                .items
                .iter()
                .map(|i| (i.key.as_str(), i.path.as_str()))
                .collect()
        };
        for (key, path) in picked {
            let Some(bytes) = content.get(key) else {
                if source.optional {
                    continue;
                }
                return Err(Error::ConfigMapKeyNotFound {
                    codebase: codebase.to_owned(),
                    config_map: source.name.clone(),
                    key: key.to_owned(),
                });
            };
            let joined = format!("{}/{}", dir.trim_end_matches('/'), path);
            let clean = clean_path(&joined).map_err(|problem| Error::BadPath {
                codebase: codebase.to_owned(),
                path: joined.clone(),
                problem,
            })?;
            out.insert(clean, bytes.clone());
        }
    }
    let mut inline = BTreeSet::new();
    for (path, text) in &cb.spec.files {
        let clean = clean_path(path).map_err(|problem| Error::BadPath {
            codebase: codebase.to_owned(),
            path: path.clone(),
            problem,
        })?;
        if !inline.insert(clean.clone()) {
            return Err(Error::BadPath {
                codebase: codebase.to_owned(),
                path: path.clone(),
                problem: "given twice (with and without a leading '/')",
            });
        }
        out.insert(clean, text.clone().into_bytes());
    }
    Ok(out)
}

/// Every key of a ConfigMap (`data` and `binaryData`) with its bytes.
fn config_map_content(cm: &ConfigMap) -> BTreeMap<&str, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (k, v) in cm.binary_data.iter().flatten() {
        out.insert(k.as_str(), v.0.clone());
    }
    for (k, v) in cm.data.iter().flatten() {
        out.insert(k.as_str(), v.clone().into_bytes());
    }
    out
}

/// A codebase path as the repo spells it: a leading `/`, no empty, `.` or `..`
/// segment, no trailing `/`. `main.js` becomes `/main.js`.
pub fn clean_path(path: &str) -> Result<String, &'static str> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.is_empty() {
        return Err("empty path");
    }
    for segment in rest.split('/') {
        match segment {
            "" => return Err("empty segment (a '//' or a trailing '/')"),
            "." | ".." => return Err("'.' and '..' are not allowed"),
            _ => {}
        }
    }
    if rest.contains(['\\', '\0']) {
        return Err("'\\' and NUL are not allowed");
    }
    Ok(format!("/{rest}"))
}

/// sha256 (hex) over `main` and the files in path order, each field framed by its
/// length so that no two contents share a hash by shifting bytes between fields.
pub fn content_hash(files: &BTreeMap<String, Vec<u8>>, main: &str) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"pipy-codebase-v1");
    field(main.as_bytes());
    for (path, content) in files {
        field(path.as_bytes());
        field(content);
    }
    let mut out = String::with_capacity(64);
    for b in h.finalize() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Every codebase that builds on `cb`, directly or through others, parents before
/// children (breadth first), as `(namespace, name)`; one of another namespace only
/// when its base shares itself with that namespace. Codebases of a cycle are listed
/// once.
pub fn derivatives(all: &[Codebase], cb: &Codebase) -> Vec<Key> {
    let Ok(root) = key_of(cb) else {
        return Vec::new();
    };
    let mut out: Vec<Key> = Vec::new();
    let mut queue = std::collections::VecDeque::from([root.clone()]);
    while let Some(parent) = queue.pop_front() {
        // A codebase of another namespace builds on `parent` only if `parent` shares
        // itself with that namespace (so nobody can hold someone else's base).
        let parent_cb = find(all, &parent);
        let mut children: Vec<Key> = all
            .iter()
            .filter(|c| matches!(base_of(c), Ok(Some(b)) if b == parent))
            .filter(|c| {
                parent_cb
                    .is_some_and(|p| crate::crd::shares_with(p, &c.namespace().unwrap_or_default()))
            })
            .filter_map(|c| key_of(c).ok())
            .filter(|k| *k != root && !out.contains(k))
            .collect();
        children.sort();
        out.extend(children.iter().cloned());
        queue.extend(children);
    }
    out
}

/// The codebase that holds `cb` back from publishing: `cb` itself or the nearest of
/// its bases with `spec.paused`, as `namespace/name`.
pub fn paused_by(all: &[Codebase], cb: &Codebase) -> Option<String> {
    partial_chain(all, cb)
        .into_iter()
        .find(|c| c.spec.paused)
        .and_then(|c| key_of(c).ok())
        .map(|k| display(&k))
}

/// The ConfigMaps `cb` and its bases read, as `(namespace, name)` (each Codebase reads
/// from its own namespace), sorted.
pub fn config_maps_needed(all: &[Codebase], cb: &Codebase) -> Vec<Key> {
    let set: BTreeSet<Key> = partial_chain(all, cb)
        .into_iter()
        .filter_map(|c| {
            let ns = c.namespace()?;
            Some(
                c.spec
                    .config_maps
                    .iter()
                    .map(move |m| (ns.clone(), m.name.clone())),
            )
        })
        .flatten()
        .collect();
    set.into_iter().collect()
}

/// The content of a published version kept in a ConfigMap ([`crate::crd`], "Staging
/// and rollback"): `data["manifest.json"]` is `{"main": "/main.js", "files":
/// {"/main.js": "f0", ...}}` and `binaryData["f<N>"]` holds the N-th file (ConfigMap
/// keys cannot hold `/`).
#[derive(Debug)]
pub struct Snapshot;

impl Snapshot {
    /// The `data` key of the manifest.
    pub const MANIFEST: &'static str = "manifest.json";

    /// The most content bytes a snapshot takes: a ConfigMap holds at most 1 MiB, and the
    /// manifest needs some of it.
    pub const MAX_BYTES: usize = 1024 * 1024 - 64 * 1024;

    /// A ConfigMap (without metadata) holding `content`; `None` when it is too large.
    pub fn to_config_map(content: &Resolved) -> Option<ConfigMap> {
        let size: usize = content.files.values().map(Vec::len).sum();
        if size > Self::MAX_BYTES {
            return None;
        }
        let mut keys = serde_json::Map::new();
        let mut binary = BTreeMap::new();
        for (i, (path, bytes)) in content.files.iter().enumerate() {
            let key = format!("f{i}");
            keys.insert(path.clone(), key.clone().into());
            binary.insert(key, ByteString(bytes.clone()));
        }
        let manifest = serde_json::json!({ "main": content.main, "files": keys });
        Some(ConfigMap {
            data: Some(BTreeMap::from([(
                Self::MANIFEST.to_owned(),
                manifest.to_string(),
            )])),
            binary_data: Some(binary),
            ..ConfigMap::default()
        })
    }

    /// `(main, files)` of a snapshot ConfigMap; `None` when it is not one, or is
    /// damaged (a file missing).
    pub fn from_config_map(cm: &ConfigMap) -> Option<(String, BTreeMap<String, Vec<u8>>)> {
        let manifest = cm.data.as_ref()?.get(Self::MANIFEST)?;
        let manifest: serde_json::Value = serde_json::from_str(manifest).ok()?;
        let main = manifest.get("main")?.as_str()?.to_owned();
        let binary = cm.binary_data.as_ref();
        let mut files = BTreeMap::new();
        for (path, key) in manifest.get("files")?.as_object()? {
            let bytes = binary?.get(key.as_str()?)?;
            files.insert(path.clone(), bytes.0.clone());
        }
        Some((main, files))
    }
}

#[cfg(test)]
mod tests;
