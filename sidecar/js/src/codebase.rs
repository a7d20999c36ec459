//! Where a codebase's files come from: a folder on disk (`pipy main.js`) or a
//! set of files held in memory (downloaded from a repo by a worker).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Read access to the files of one codebase version.
pub trait Codebase: Send + Sync {
    /// The bytes of a file, by its path in the codebase (`main.js`,
    /// `/plugins/a.js` and `./plugins/a.js` name files under the root).
    fn read(&self, path: &str) -> Option<Vec<u8>>;

    /// Where the files come from, for messages.
    fn describe(&self) -> String;

    /// The entry module, when the codebase names one (a repo manifest does).
    fn entry(&self) -> Option<String> {
        None
    }

    /// The files under folder `dir`, at any depth, by their paths from it
    /// (`pipy.list`), sorted; at most [`MAX_LISTED`].
    fn list(&self, dir: &str) -> Vec<String>;
}

/// Files `Codebase::list` gives at most.
pub const MAX_LISTED: usize = 10_000;

/// `dir` as a prefix of the paths under it (`a/b/`, or empty for the root).
fn dir_prefix(dir: &str) -> String {
    let d = normalize(dir).trim_end_matches('/');
    if d.is_empty() || d == "." {
        String::new()
    } else {
        format!("{d}/")
    }
}

/// A codebase whose content can be replaced as a whole (a worker fed by a repo
/// swaps in each new version, then reloads).
pub struct SharedCodebase {
    current: std::sync::RwLock<(std::sync::Arc<dyn Codebase>, Option<String>)>,
}

impl SharedCodebase {
    /// Starts with `codebase`, entered at `entry`.
    pub fn new(codebase: std::sync::Arc<dyn Codebase>, entry: Option<String>) -> Self {
        Self {
            current: std::sync::RwLock::new((codebase, entry)),
        }
    }

    /// Replaces the content; the next load or reload sees it.
    pub fn replace(&self, codebase: std::sync::Arc<dyn Codebase>, entry: Option<String>) {
        if let Ok(mut c) = self.current.write() {
            *c = (codebase, entry);
        }
    }

    fn get(&self) -> (std::sync::Arc<dyn Codebase>, Option<String>) {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(e) => e.into_inner().clone(),
        }
    }
}

impl Codebase for SharedCodebase {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.get().0.read(path)
    }

    fn describe(&self) -> String {
        self.get().0.describe()
    }

    fn entry(&self) -> Option<String> {
        self.get().1
    }

    fn list(&self, dir: &str) -> Vec<String> {
        self.get().0.list(dir)
    }
}

/// Normalizes a script path to the form `dir/file.js`.
pub fn normalize(path: &str) -> &str {
    path.trim_start_matches("./").trim_start_matches('/')
}

/// A codebase in a folder.
pub struct DirCodebase {
    root: PathBuf,
}

impl DirCodebase {
    /// The codebase rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl Codebase for DirCodebase {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        // An absolute path that exists is a file of the machine (scripts run
        // from disk may name one); anything else is under the root.
        let p = Path::new(path);
        if p.is_absolute() {
            if let Ok(b) = std::fs::read(p) {
                return Some(b);
            }
        }
        std::fs::read(self.root.join(normalize(path))).ok()
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let base = self.root.join(dir_prefix(dir));
        let mut out = Vec::new();
        let mut folders = vec![(base, String::new())];
        while let Some((folder, rel)) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let path = format!("{rel}{name}");
                match e.file_type() {
                    Ok(t) if t.is_dir() => folders.push((e.path(), format!("{path}/"))),
                    Ok(t) if t.is_file() => out.push(path),
                    _ => {}
                }
                if out.len() >= MAX_LISTED {
                    break;
                }
            }
        }
        out.sort();
        out
    }
}

/// A codebase held in memory.
#[derive(Default)]
pub struct MemoryCodebase {
    files: HashMap<String, Vec<u8>>,
    name: String,
}

impl MemoryCodebase {
    /// An empty codebase described as `name` in messages.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            files: HashMap::new(),
            name: name.into(),
        }
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, path: &str, content: impl Into<Vec<u8>>) {
        self.files
            .insert(normalize(path).to_string(), content.into());
    }
}

impl Codebase for MemoryCodebase {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.files.get(normalize(path)).cloned()
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let prefix = dir_prefix(dir);
        let mut out: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_str()).map(String::from))
            .take(MAX_LISTED)
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_same_file_in_every_form() {
        let mut m = MemoryCodebase::new("mem");
        m.insert("/plugins/a.js", "A");
        for p in ["plugins/a.js", "/plugins/a.js", "./plugins/a.js"] {
            assert_eq!(m.read(p).as_deref(), Some(&b"A"[..]), "{p}");
        }
        assert!(m.read("b.js").is_none());
    }
}
