//! Publishing (§3.5), saving (§3.6), changing main (§3.7) and the published read side
//! that workers download (§5.2).

use std::collections::BTreeMap;

use crate::keys::{
    bump_etag, bump_version, check_path, check_version, derived_prefix, etags_key, manifest_key,
    published_key, set_base, Entry, FileSet, Record, TREE,
};
use crate::model::Repo;
use crate::store::Store;
use crate::txn::Txn;
use crate::Result;

/// A published file as served at `/repo/CB/FILE`: its bytes and its `etag` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The body.
    pub content: Vec<u8>,
    /// The etag: the version, a sub-version after a save, or empty.
    pub etag: String,
}

impl<S: Store> Repo<S> {
    /// Publishes `cb` as `version` (§3.5): commits its drafts, rebuilds its published tree
    /// and bumps the derivatives built from an older version, depth first. Returns the
    /// codebases whose workers must be told to `reload`: `cb` first, then every bumped
    /// derivative.
    pub fn publish(&mut self, cb: &str, version: &str) -> Result<Vec<String>> {
        self.patch(cb, None, Some(version))
    }

    /// Saves `cb` without a new version (§3.6): commits its drafts and re-stamps the
    /// changed published files with sub-version etags. Nothing happens without drafts.
    pub fn save(&mut self, cb: &str) -> Result<()> {
        self.patch(cb, None, None).map(drop)
    }

    /// Sets the main file of `cb` (§3.7) and nothing else; the manifest keeps its order
    /// until the next publish. (`PATCH` with `main` also saves: see [`Repo::patch`].)
    pub fn set_main(&mut self, cb: &str, main: &str) -> Result<()> {
        check_path(main)?;
        let mut txn = Txn::new(&self.store);
        let mut rec = txn.require(cb)?;
        if rec.main != main {
            rec.main = main.to_owned();
            txn.put_record(&rec);
        }
        let batch = txn.finish(&rec)?;
        self.apply(batch)
    }

    /// `PATCH /api/v1/repo/CB` in one batch (§4.4): set `main` if given and different,
    /// then publish with `version`, or save without. Returns the paths to `reload`
    /// (empty for a save).
    pub fn patch(
        &mut self,
        cb: &str,
        main: Option<&str>,
        version: Option<&str>,
    ) -> Result<Vec<String>> {
        if let Some(main) = main {
            check_path(main)?;
        }
        if let Some(version) = version {
            check_version(version)?;
        }
        let mut txn = Txn::new(&self.store);
        let mut rec = txn.require(cb)?;
        if let Some(main) = main.filter(|m| *m != rec.main) {
            rec.main = main.to_owned();
            txn.put_record(&rec);
        }
        let mut reload = Vec::new();
        match version {
            Some(version) => {
                txn.apply_drafts(&rec)?;
                rec.version = version.to_owned();
                txn.put_record(&rec);
                txn.rebuild_published(&rec)?;
                reload.push(rec.path.clone());
                txn.propagate(&rec, &mut reload)?;
            }
            None => txn.save(&rec)?,
        }
        let batch = txn.finish(&rec)?;
        self.apply(batch)?;
        Ok(reload)
    }

    /// The manifest of `cb` (`/repo/CB/`), or `None` before the first publish.
    pub fn manifest(&self, cb: &str) -> Result<Option<Published>> {
        self.published(cb, "/")
    }

    /// The `_etags` list of `cb` (`/repo/CB/_etags`, served with an empty etag).
    pub fn etags(&self, cb: &str) -> Result<Option<Published>> {
        self.published(cb, "/_etags")
    }

    /// The published entry at `/repo/CB/FILE`, looked up by exact path like upstream:
    /// FILE `/` is the manifest and `/_etags` the etag list.
    pub fn published(&self, cb: &str, file: &str) -> Result<Option<Published>> {
        let txn = Txn::new(&self.store);
        let Some(value) = txn.get(&published_key(cb, file))? else {
            return Ok(None);
        };
        let entry = Entry::decode(&value)?;
        Ok(txn.content(&entry.id)?.map(|content| Published {
            content,
            etag: entry.etag,
        }))
    }
}

impl<S: Store> Txn<'_, S> {
    /// Step 1 of publish and save: edits become own files, erased files go. Returns the
    /// edited (FILE -> content id) and erased paths.
    fn apply_drafts(&mut self, rec: &Record) -> Result<(BTreeMap<String, String>, Vec<String>)> {
        let files = set_base(&rec.id, FileSet::Files);
        let edits = self.file_set(&rec.id, FileSet::Edit)?;
        for (file, fid) in &edits {
            if let Some(old) = self.set_entry(&rec.id, FileSet::Files, file)? {
                self.drop_content(&old);
            }
            self.put(files.clone() + file, fid.as_str());
            self.delete(set_base(&rec.id, FileSet::Edit) + file);
        }
        let erased: Vec<String> = self
            .file_set(&rec.id, FileSet::Erased)?
            .into_keys()
            .collect();
        for file in &erased {
            if let Some(old) = self.set_entry(&rec.id, FileSet::Files, file)? {
                self.drop_content(&old);
            }
            self.delete(files.clone() + file);
            self.delete(set_base(&rec.id, FileSet::Erased) + file);
        }
        Ok((edits, erased))
    }

    /// Own committed files over the base chain's committed files.
    fn committed_tree(&self, rec: &Record) -> Result<BTreeMap<String, String>> {
        let mut tree = self.inherited(rec)?;
        tree.extend(self.file_set(&rec.id, FileSet::Files)?);
        Ok(tree)
    }

    /// CB's published files (FILE -> entry), without the manifest, `_etags`, and the
    /// entries of codebases nested under CB's path (unlike upstream, §10 quirk 3, we
    /// leave those alone).
    fn published_entries(&self, cb: &str) -> Result<BTreeMap<String, Entry>> {
        let nested: Vec<String> = self
            .list_strings(&format!("{TREE}{cb}/"))?
            .into_iter()
            .map(|(n, _)| format!("{n}/"))
            .collect();
        let mut entries = BTreeMap::new();
        for (rest, value) in self.list_strings(&manifest_key(cb))? {
            if rest.is_empty() || rest == "_etags" || nested.iter().any(|n| rest.starts_with(n)) {
                continue;
            }
            entries.insert(format!("/{rest}"), Entry::decode(value.as_bytes())?);
        }
        Ok(entries)
    }

    /// Removes CB's whole published tree: files, manifest and `_etags`.
    pub(crate) fn clear_published(&mut self, cb: &str) -> Result<()> {
        for (file, entry) in self.published_entries(cb)? {
            self.delete(published_key(cb, &file));
            self.drop_content(&entry.id);
        }
        for key in [manifest_key(cb), etags_key(cb)] {
            self.replace_generated(&key, None)?;
        }
        Ok(())
    }

    /// Replaces the generated file (manifest or `_etags`) at `key`, dropping the old text.
    fn replace_generated(&mut self, key: &str, new: Option<(&[u8], Option<&str>)>) -> Result<()> {
        if let Some(old) = self.get(key)? {
            self.drop_content(&Entry::decode(&old)?.id);
            self.delete(key);
        }
        if let Some((text, etag)) = new {
            let id = self.new_content(text);
            let value = match etag {
                Some(etag) => Entry::new(id, etag).encode(),
                None => format!("id={id}\n"),
            };
            self.put(key, value);
        }
        Ok(())
    }

    /// Step 3 of publish: every committed file of the tree at etag = version, the
    /// manifest (main first, then the rest sorted, no trailing newline) and `_etags`.
    fn rebuild_published(&mut self, rec: &Record) -> Result<()> {
        let cb = rec.path.as_str();
        self.clear_published(cb)?;
        let tree = self.committed_tree(rec)?;
        let mut manifest = rec.main.clone();
        for (file, fid) in &tree {
            self.put(
                published_key(cb, file),
                Entry::new(fid, &rec.version).encode(),
            );
            if *file != rec.main {
                manifest.push('\n');
                manifest.push_str(file);
            }
        }
        let version = rec.version.as_str();
        self.replace_generated(
            &manifest_key(cb),
            Some((manifest.as_bytes(), Some(version))),
        )?;
        self.write_etags(cb)
    }

    /// Regenerates `_etags` from CB's published entries: `FILE#etag\n`, or `FILE\n`.
    fn write_etags(&mut self, cb: &str) -> Result<()> {
        let mut text = String::new();
        for (file, entry) in self.published_entries(cb)? {
            text.push_str(&file);
            if !entry.etag.is_empty() {
                text.push('#');
                text.push_str(&entry.etag);
            }
            text.push('\n');
        }
        self.replace_generated(&etags_key(cb), Some((text.as_bytes(), None)))
    }

    /// Step 4 of publish: bump and rebuild every derivative last built from another
    /// version of `base`, recursing depth first into every derivative (bumped or not,
    /// like upstream; an unbumped one normally has nothing stale below it).
    fn propagate(&mut self, base: &Record, reload: &mut Vec<String>) -> Result<()> {
        // Children in path order, so the reload list is deterministic.
        let mut children = Vec::new();
        for (child, built_from) in self.children(&base.id)? {
            if let Some(rec) = self.record_by_id(&child)? {
                children.push((rec, built_from));
            }
        }
        children.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        for (mut rec, built_from) in children {
            if built_from != base.version {
                rec.version = bump_version(&rec.version);
                self.put_record(&rec);
                self.put(derived_prefix(&base.id) + &rec.id, base.version.as_str());
                self.rebuild_published(&rec)?;
                reload.push(rec.path.clone());
            }
            self.propagate(&rec, reload)?;
        }
        Ok(())
    }

    /// §3.6: commit drafts, re-stamp changed files with sub-version etags, give every own
    /// file a published entry, regenerate `_etags`. Manifest and version stay.
    fn save(&mut self, rec: &Record) -> Result<()> {
        let (edits, erased) = self.apply_drafts(rec)?;
        if edits.is_empty() && erased.is_empty() {
            return Ok(());
        }
        let cb = rec.path.as_str();
        let published = self.published_entries(cb)?;
        let etag_of = |file: &str| published.get(file).map_or("", |e| e.etag.as_str());
        let inherited = self.inherited(rec)?;
        for file in &erased {
            match inherited.get(file) {
                Some(fid) => {
                    let entry = Entry::new(fid, bump_etag(etag_of(file)));
                    self.put(published_key(cb, file), entry.encode());
                }
                None => self.delete(published_key(cb, file)),
            }
        }
        for (file, fid) in self.file_set(&rec.id, FileSet::Files)? {
            let etag = if edits.contains_key(&file) {
                bump_etag(etag_of(&file))
            } else {
                etag_of(&file).to_owned()
            };
            self.put(published_key(cb, &file), Entry::new(fid, etag).encode());
        }
        for (file, old) in &published {
            if erased.contains(file) || edits.contains_key(file) {
                self.drop_content(&old.id);
            }
        }
        self.write_etags(cb)
    }
}
