//! [`Txn`]: a read-your-writes view of a [`Store`] that collects one [`Batch`].
//!
//! Model operations read and write through a `Txn`, then hand its batch to
//! [`Store::apply`] once, so an operation is all-or-nothing even across a crash.

use std::collections::{BTreeMap, BTreeSet};

use crate::keys::{content_key, corrupt};
use crate::store::{Batch, Store};
use crate::Result;

pub(crate) struct Txn<'s, S: Store> {
    store: &'s S,
    batch: Batch,
    /// Content ids whose last reference may have been dropped; checked at commit.
    dropped: BTreeSet<String>,
}

impl<'s, S: Store> Txn<'s, S> {
    pub(crate) fn new(store: &'s S) -> Self {
        Self {
            store,
            batch: Batch::new(),
            dropped: BTreeSet::new(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self.batch.pending(key) {
            Some(value) => Ok(value.map(<[u8]>::to_vec)),
            None => self.store.get(key),
        }
    }

    pub(crate) fn get_string(&self, key: &str) -> Result<Option<String>> {
        self.get(key)?
            .map(|v| String::from_utf8(v).map_err(|_| corrupt(key)))
            .transpose()
    }

    /// Entries under `prefix` in key order, pending writes included.
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut merged: BTreeMap<String, Vec<u8>> = self.store.list(prefix)?.into_iter().collect();
        for (key, value) in self.batch.pending_prefix(prefix) {
            match value {
                Some(value) => merged.insert(key.to_owned(), value.to_vec()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// Like [`list`](Self::list), with the prefix stripped and values as strings.
    pub(crate) fn list_strings(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        self.list(prefix)?
            .into_iter()
            .map(|(k, v)| {
                let v = String::from_utf8(v).map_err(|_| corrupt(&k))?;
                Ok((k[prefix.len()..].to_owned(), v))
            })
            .collect()
    }

    pub(crate) fn put(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.batch.put(key, value);
    }

    pub(crate) fn delete(&mut self, key: impl Into<String>) {
        self.batch.delete(key);
    }

    /// Stores `bytes` under a fresh content id and returns the id.
    pub(crate) fn new_content(&mut self, bytes: &[u8]) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.put(content_key(&id), bytes);
        id
    }

    pub(crate) fn content(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.get(&content_key(id))
    }

    /// Notes that a reference to content `id` went away; it is deleted at commit unless
    /// something still refers to it.
    pub(crate) fn drop_content(&mut self, id: &str) {
        self.dropped.insert(id.to_owned());
    }

    pub(crate) fn take_dropped(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.dropped)
    }

    pub(crate) fn into_batch(self) -> Batch {
        self.batch
    }
}
