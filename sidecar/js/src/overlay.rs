//! What a script lays over the running codebase, for every thread, as
//! upstream's `pipy.mount(name, dir)`, `pipy.unmount(name)` and
//! `pipy.patch(path, content)` do: folders of the file system mounted under
//! `/name/`, and files whose content is replaced in memory. Reads of the
//! codebase (`pipy.load`, imports, reloads) see them first.

use crate::codebase::{normalize, Codebase, DirCodebase};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::RwLock;

/// Bytes of patched content kept at most, over all files.
pub const MAX_PATCHED: usize = 64 << 20;

#[derive(Default)]
struct Overlay {
    mounts: BTreeMap<String, PathBuf>,
    patches: HashMap<String, Vec<u8>>,
}

static OVERLAY: RwLock<Option<Overlay>> = RwLock::new(None);

fn with<R>(f: impl FnOnce(&Overlay) -> R) -> Option<R> {
    let guard = match OVERLAY.read() {
        Ok(g) => g,
        Err(e) => e.into_inner(),
    };
    guard.as_ref().map(f)
}

fn with_mut<R>(f: impl FnOnce(&mut Overlay) -> R) -> R {
    let mut guard = match OVERLAY.write() {
        Ok(g) => g,
        Err(e) => e.into_inner(),
    };
    f(guard.get_or_insert_with(Overlay::default))
}

/// The mount a path falls in, and the path inside it.
fn split_mount(path: &str) -> Option<(String, String)> {
    let path = normalize(path);
    let (name, rest) = path.split_once('/')?;
    Some((name.to_string(), rest.to_string()))
}

/// Mounts folder `dir` at `/name/`. Refused for a name with `/`, a name the
/// codebase already has, or one mounted already.
pub fn mount(name: &str, dir: &str, under: &dyn Codebase) -> Result<(), String> {
    if name.is_empty() || name.contains('/') {
        return Err("invalid mount name".into());
    }
    if !std::path::Path::new(dir).is_dir() {
        return Err("not a directory".into());
    }
    // The same mount again (another thread, a reload running the module
    // again) is no change.
    if with(|o| {
        o.mounts
            .get(name)
            .is_some_and(|d| d == std::path::Path::new(dir))
    }) == Some(true)
    {
        return Ok(());
    }
    if under.read(name).is_some() || !under.list(name).is_empty() {
        return Err("mount path already exists".into());
    }
    with_mut(|o| {
        if o.mounts.contains_key(name) {
            return Err("mount path already exists".to_string());
        }
        o.mounts.insert(name.to_string(), PathBuf::from(dir));
        Ok(())
    })
}

/// Takes the mount at `/name/` away.
pub fn unmount(name: &str) {
    with_mut(|o| o.mounts.remove(name));
}

/// Replaces the content of the file at `path`.
pub fn patch(path: &str, content: Vec<u8>) -> Result<(), String> {
    let key = normalize(path).to_string();
    with_mut(|o| {
        let held: usize = o
            .patches
            .iter()
            .filter(|(k, _)| **k != key)
            .map(|(_, v)| v.len())
            .sum();
        if held + content.len() > MAX_PATCHED {
            return Err(format!("patched files over {MAX_PATCHED} bytes"));
        }
        o.patches.insert(key, content);
        Ok(())
    })
}

/// The file at `path` as the overlay has it: `Some(content)` for a patched
/// file or one under a mount (`Some(None)` when the mount lacks it), `None`
/// when the overlay does not cover the path.
pub fn read(path: &str) -> Option<Option<Vec<u8>>> {
    with(|o| {
        if let Some(p) = o.patches.get(normalize(path)) {
            return Some(Some(p.clone()));
        }
        let (name, rest) = split_mount(path)?;
        let dir = o.mounts.get(&name)?;
        Some(DirCodebase::new(dir.clone()).read(&rest))
    })
    .flatten()
}

/// The files under `dir` as the overlay has them: under a mount, the
/// mount's; at the root, the codebase's (`under`) with the mounts' names.
pub fn list(dir: &str, under: &dyn Codebase) -> Vec<String> {
    let mounted = with(|o| {
        let d = normalize(dir).trim_end_matches('/').to_string();
        if let Some(path) = o.mounts.get(&d) {
            return Some(DirCodebase::new(path.clone()).list(""));
        }
        if let Some((name, rest)) = split_mount(&d) {
            if let Some(path) = o.mounts.get(&name) {
                return Some(DirCodebase::new(path.clone()).list(&rest));
            }
        }
        None
    })
    .flatten();
    if let Some(list) = mounted {
        return list;
    }
    let mut list = under.list(dir);
    if matches!(normalize(dir).trim_end_matches('/'), "" | ".") {
        let names = with(|o| o.mounts.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        for name in names {
            let inside = list_mount(&name);
            list.extend(inside.into_iter().map(|f| format!("{name}/{f}")));
        }
        list.sort();
    }
    list
}

fn list_mount(name: &str) -> Vec<String> {
    with(|o| o.mounts.get(name).cloned())
        .flatten()
        .map(|p| DirCodebase::new(p).list(""))
        .unwrap_or_default()
}
