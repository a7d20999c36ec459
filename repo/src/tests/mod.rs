//! Tests of the codebase model against spec §3 and §8.

mod drafts;
mod publish;
mod store;

use std::cell::Cell;

use crate::{Batch, Repo, Result, SqliteStore, Store};

/// A store that counts [`Store::apply`] calls, to pin "one batch per operation".
#[derive(Debug)]
pub(super) struct Counting<S> {
    pub(super) inner: S,
    pub(super) applies: Cell<usize>,
}

impl<S: Store> Store for Counting<S> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.inner.list(prefix)
    }
    fn apply(&mut self, batch: Batch) -> Result<()> {
        self.applies.set(self.applies.get() + 1);
        self.inner.apply(batch)
    }
}

pub(super) fn repo() -> Repo<SqliteStore> {
    Repo::new(SqliteStore::in_memory().unwrap())
}

/// Draft view as text.
pub(super) fn draft<S: Store>(repo: &Repo<S>, cb: &str, file: &str) -> Option<String> {
    let bytes = repo.read_file(cb, file).unwrap()?;
    Some(String::from_utf8(bytes).unwrap())
}

/// Published entry as (text, etag).
pub(super) fn served<S: Store>(repo: &Repo<S>, cb: &str, file: &str) -> Option<(String, String)> {
    let p = repo.published(cb, file).unwrap()?;
    Some((String::from_utf8(p.content).unwrap(), p.etag))
}

pub(super) fn version<S: Store>(repo: &Repo<S>, cb: &str) -> String {
    repo.info(cb).unwrap().unwrap().version
}

/// Every `files/<id>` content key must be referenced by some set or published entry:
/// nothing leaks.
pub(super) fn assert_no_orphans<S: Store>(repo: &Repo<S>) {
    let store = repo.store();
    let mut live = std::collections::BTreeSet::new();
    for (key, value) in store.list("codebases/").unwrap() {
        let sets = ["/files/", "/edit/", "/erased/"];
        if !key.starts_with("codebases/tree") && sets.iter().any(|s| key.contains(s)) {
            live.insert(String::from_utf8(value).unwrap());
        }
    }
    for (_, value) in store.list("files/tree").unwrap() {
        live.insert(crate::keys::Entry::decode(&value).unwrap().id);
    }
    for (key, _) in store.list("files/").unwrap() {
        if !key.starts_with("files/tree") {
            assert!(live.contains(&key["files/".len()..]), "orphan {key}");
        }
    }
}
