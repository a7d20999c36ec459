//! [`Repo`]: codebases, their drafts and their inheritance (spec §3.1 to §3.4, §3.8).
//! Publishing and saving live in `publish.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::keys::{
    check_file, check_path, check_version, content_key, corrupt, derived_prefix, record_key,
    set_base, tree_key, Entry, FileSet, Record, TREE,
};
use crate::store::Store;
use crate::txn::Txn;
use crate::{Error, Result};

/// The `/main.js` of a codebase created without a base. Upstream ships a different
/// 232-byte skeleton; clients may only rely on this being non-empty JavaScript. Like
/// upstream's, it binds port 80: never run it as is.
pub const TEMPLATE_MAIN: &str = "\
// A new codebase. Replace this skeleton with your own pipelines,
// then publish a version so that workers pick it up.
//
// As written it accepts connections on port 80, dumps whatever
// arrives to the log, and answers nothing.

pipy()

.listen(80)
.dump()
.dummy()
";

/// The codebase repository over a [`Store`].
///
/// Every mutating operation reads through a transaction view and writes one batch with
/// [`Store::apply`], so a crash never leaves it half done.
#[derive(Debug)]
pub struct Repo<S: Store> {
    pub(crate) store: S,
}

/// The info document of a codebase (spec §4.2, without `instances`). Lists are sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodebaseInfo {
    /// The codebase path, such as `/hello`.
    pub path: String,
    /// The version string (`"0"` until set).
    pub version: String,
    /// The entry file.
    pub main: String,
    /// The base codebase's path, for a derivative.
    pub base: Option<String>,
    /// Own committed files (`files`).
    pub files: Vec<String>,
    /// Draft edits (`editFiles`).
    pub edit_files: Vec<String>,
    /// Draft erasures (`erasedFiles`).
    pub erased_files: Vec<String>,
    /// Files the base chain provides (`baseFiles`).
    pub base_files: Vec<String>,
    /// Paths of direct derivatives (`derived`).
    pub derived: Vec<String>,
}

impl<S: Store> Repo<S> {
    /// A repository over `store` (which may already hold codebases).
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Every codebase path, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let txn = Txn::new(&self.store);
        let prefix = format!("{TREE}/");
        Ok(txn
            .list_strings(&prefix)?
            .into_iter()
            .map(|(k, _)| format!("/{k}"))
            .collect())
    }

    /// True if `cb` is a codebase.
    pub fn exists(&self, cb: &str) -> Result<bool> {
        Ok(Txn::new(&self.store).record(cb)?.is_some())
    }

    /// Creates codebase `cb` (§3.2), unpublished, at `version` (default `"0"`). Without
    /// `base` it gets one committed `/main.js` ([`TEMPLATE_MAIN`]); with `base` it has no
    /// own files and copies the base's main.
    pub fn create(&mut self, cb: &str, base: Option<&str>, version: Option<&str>) -> Result<()> {
        check_path(cb)?;
        if let Some(v) = version {
            check_version(v)?;
        }
        let mut txn = Txn::new(&self.store);
        let base = match base {
            Some(b) => Some(
                txn.record(b)?
                    .ok_or_else(|| Error::BaseNotFound(b.into()))?,
            ),
            None => None,
        };
        if txn.record(cb)?.is_some() {
            return Err(Error::AlreadyExists(cb.into()));
        }
        let rec = Record {
            id: uuid::Uuid::new_v4().to_string(),
            base: base.as_ref().map(|b| b.id.clone()),
            main: base.as_ref().map_or("/main.js".into(), |b| b.main.clone()),
            path: cb.into(),
            version: version.unwrap_or("0").into(),
        };
        match &base {
            Some(b) => txn.put(derived_prefix(&b.id) + &rec.id, b.version.as_str()),
            None => {
                let fid = txn.new_content(TEMPLATE_MAIN.as_bytes());
                txn.put(set_base(&rec.id, FileSet::Files) + "/main.js", fid);
            }
        }
        txn.put(tree_key(cb), rec.id.as_str());
        txn.put_record(&rec);
        let batch = txn.finish(&rec)?;
        self.apply(batch)
    }

    /// The info document of `cb`, or `None` if there is no such codebase.
    pub fn info(&self, cb: &str) -> Result<Option<CodebaseInfo>> {
        let txn = Txn::new(&self.store);
        let Some(rec) = txn.record(cb)? else {
            return Ok(None);
        };
        let keys =
            |set| -> Result<Vec<String>> { Ok(txn.file_set(&rec.id, set)?.into_keys().collect()) };
        let mut derived = Vec::new();
        for (child, _) in txn.children(&rec.id)? {
            derived.extend(txn.record_by_id(&child)?.map(|r| r.path));
        }
        derived.sort();
        let base = match &rec.base {
            Some(id) => txn.record_by_id(id)?.map(|b| b.path),
            None => None,
        };
        Ok(Some(CodebaseInfo {
            files: keys(FileSet::Files)?,
            edit_files: keys(FileSet::Edit)?,
            erased_files: keys(FileSet::Erased)?,
            base_files: txn.inherited(&rec)?.into_keys().collect(),
            derived,
            base,
            path: rec.path,
            version: rec.version,
            main: rec.main,
        }))
    }

    /// Reads `file` of `cb` as the API and GUI see it (draft view, §3.3); `None` when the
    /// codebase or the file does not exist.
    pub fn read_file(&self, cb: &str, file: &str) -> Result<Option<Vec<u8>>> {
        let txn = Txn::new(&self.store);
        let Some(rec) = txn.record(cb)? else {
            return Ok(None);
        };
        let id = if txn.set_entry(&rec.id, FileSet::Erased, file)?.is_some() {
            None
        } else {
            match txn.set_entry(&rec.id, FileSet::Edit, file)? {
                Some(id) => Some(id),
                None => txn.set_entry(&rec.id, FileSet::Files, file)?,
            }
        };
        let id = match id {
            Some(id) => Some(id),
            None => txn.inherited(&rec)?.remove(file),
        };
        match id {
            Some(id) => txn.content(&id),
            None => Ok(None),
        }
    }

    /// Stores `content` as the draft edit of `file` and clears its erasure mark (§3.4).
    pub fn write_file(&mut self, cb: &str, file: &str, content: &[u8]) -> Result<()> {
        check_file(file)?;
        let mut txn = Txn::new(&self.store);
        let rec = txn.require(cb)?;
        txn.drop_edit(&rec.id, file)?;
        let fid = txn.new_content(content);
        txn.put(set_base(&rec.id, FileSet::Edit) + file, fid);
        txn.delete(set_base(&rec.id, FileSet::Erased) + file);
        let batch = txn.finish(&rec)?;
        self.apply(batch)
    }

    /// Drops the draft edit of `file`, then marks it erased if it is an own committed
    /// file (§3.4). Erasing an inherited or unknown file changes nothing.
    pub fn erase_file(&mut self, cb: &str, file: &str) -> Result<()> {
        check_file(file)?;
        let mut txn = Txn::new(&self.store);
        let rec = txn.require(cb)?;
        txn.drop_edit(&rec.id, file)?;
        if let Some(fid) = txn.set_entry(&rec.id, FileSet::Files, file)? {
            txn.put(set_base(&rec.id, FileSet::Erased) + file, fid);
        }
        let batch = txn.finish(&rec)?;
        self.apply(batch)
    }

    /// Drops the draft edit and the erasure mark of `file` (§3.4).
    pub fn reset_file(&mut self, cb: &str, file: &str) -> Result<()> {
        check_file(file)?;
        let mut txn = Txn::new(&self.store);
        let rec = txn.require(cb)?;
        txn.drop_edit(&rec.id, file)?;
        txn.delete(set_base(&rec.id, FileSet::Erased) + file);
        let batch = txn.finish(&rec)?;
        self.apply(batch)
    }

    /// Deletes `cb` and, recursively, all its derivatives with their drafts and published
    /// trees, `_etags` included (§3.8). Returns the deleted paths, `cb` first.
    pub fn delete(&mut self, cb: &str) -> Result<Vec<String>> {
        let mut txn = Txn::new(&self.store);
        let rec = txn.require(cb)?;
        let root = txn.root_of(&rec)?;
        if let Some(base) = &rec.base {
            txn.delete(derived_prefix(base) + &rec.id);
        }
        let doomed = txn.family(&rec.id)?;
        for r in &doomed {
            txn.clear_published(&r.path)?;
            let derived = derived_prefix(&r.id);
            for (key, value) in txn.list(&format!("{}/", record_key(&r.id)))? {
                if !key.starts_with(&derived) {
                    let fid = std::str::from_utf8(&value).map_err(|_| corrupt(&key))?;
                    txn.drop_content(fid);
                }
                txn.delete(key);
            }
            txn.delete(record_key(&r.id));
            txn.delete(tree_key(&r.path));
        }
        let batch = txn.finish(&root)?;
        self.apply(batch)?;
        Ok(doomed.into_iter().map(|r| r.path).collect())
    }

    /// Applies one operation's batch.
    pub(crate) fn apply(&mut self, batch: crate::Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.store.apply(batch)
    }
}

/// Model-level reads and writes on a transaction view.
impl<S: Store> Txn<'_, S> {
    /// Garbage-collects dropped content and returns the batch to apply. Content only
    /// flows from a base to its derivatives, so every reference to content dropped in
    /// `scope`'s family lies in the family of `scope`'s root ancestor.
    pub(crate) fn finish(mut self, scope: &Record) -> Result<crate::Batch> {
        let dropped = self.take_dropped();
        if !dropped.is_empty() {
            let root = self.root_of(scope)?;
            let live = self.referenced(&root.id)?;
            for id in dropped.iter().filter(|id| !live.contains(*id)) {
                self.delete(content_key(id));
            }
        }
        Ok(self.into_batch())
    }

    pub(crate) fn record(&self, cb: &str) -> Result<Option<Record>> {
        match self.get_string(&tree_key(cb))? {
            Some(id) => self.record_by_id(&id),
            None => Ok(None),
        }
    }

    pub(crate) fn record_by_id(&self, id: &str) -> Result<Option<Record>> {
        self.get(&record_key(id))?
            .map(|v| Record::decode(id, &v))
            .transpose()
    }

    pub(crate) fn require(&self, cb: &str) -> Result<Record> {
        self.record(cb)?
            .ok_or_else(|| Error::NotFound(cb.to_owned()))
    }

    pub(crate) fn put_record(&mut self, rec: &Record) {
        self.put(record_key(&rec.id), rec.encode());
    }

    /// FILE -> content id of one of the codebase's path sets.
    pub(crate) fn file_set(&self, id: &str, set: FileSet) -> Result<BTreeMap<String, String>> {
        let base = set_base(id, set);
        Ok(self
            .list_strings(&format!("{base}/"))?
            .into_iter()
            .map(|(f, v)| (format!("/{f}"), v))
            .collect())
    }

    pub(crate) fn set_entry(&self, id: &str, set: FileSet, file: &str) -> Result<Option<String>> {
        self.get_string(&(set_base(id, set) + file))
    }

    /// Direct derivatives: (child id, base version it was last built from).
    pub(crate) fn children(&self, id: &str) -> Result<Vec<(String, String)>> {
        self.list_strings(&derived_prefix(id))
    }

    fn drop_edit(&mut self, id: &str, file: &str) -> Result<()> {
        if let Some(old) = self.set_entry(id, FileSet::Edit, file)? {
            self.delete(set_base(id, FileSet::Edit) + file);
            self.drop_content(&old);
        }
        Ok(())
    }

    /// The bases of `rec`, nearest first.
    pub(crate) fn base_chain(&self, rec: &Record) -> Result<Vec<Record>> {
        let mut chain: Vec<Record> = Vec::new();
        let mut next = rec.base.clone();
        while let Some(id) = next {
            // Bases are fixed at creation so there are no cycles, but a corrupt store
            // must not hang us.
            if id == rec.id || chain.iter().any(|r| r.id == id) {
                break;
            }
            let Some(base) = self.record_by_id(&id)? else {
                break;
            };
            next = base.base.clone();
            chain.push(base);
        }
        Ok(chain)
    }

    /// FILE -> content id of every file the base chain provides (committed only).
    pub(crate) fn inherited(&self, rec: &Record) -> Result<BTreeMap<String, String>> {
        let mut files = BTreeMap::new();
        for base in self.base_chain(rec)? {
            for (f, id) in self.file_set(&base.id, FileSet::Files)? {
                files.entry(f).or_insert(id);
            }
        }
        Ok(files)
    }

    pub(crate) fn root_of(&self, rec: &Record) -> Result<Record> {
        Ok(self.base_chain(rec)?.pop().unwrap_or_else(|| rec.clone()))
    }

    /// `id` and all its derivatives, depth first, parents before children.
    pub(crate) fn family(&self, id: &str) -> Result<Vec<Record>> {
        let mut out: Vec<Record> = Vec::new();
        let mut stack = vec![id.to_owned()];
        while let Some(id) = stack.pop() {
            if out.iter().any(|r| r.id == id) {
                continue;
            }
            let Some(rec) = self.record_by_id(&id)? else {
                continue;
            };
            let children = self.children(&id)?;
            stack.extend(children.into_iter().rev().map(|(c, _)| c));
            out.push(rec);
        }
        Ok(out)
    }

    /// Every content id referenced by the family of `root`: own sets and published trees.
    fn referenced(&self, root: &str) -> Result<BTreeSet<String>> {
        let mut live = BTreeSet::new();
        for rec in self.family(root)? {
            for set in [FileSet::Files, FileSet::Edit, FileSet::Erased] {
                live.extend(self.file_set(&rec.id, set)?.into_values());
            }
            for (_, value) in self.list(&crate::keys::manifest_key(&rec.path))? {
                live.insert(Entry::decode(&value)?.id);
            }
        }
        Ok(live)
    }
}
