//! The key/value store the codebase model is written against.
//!
//! Keys are UTF-8 strings ordered bytewise (Rust's `str` order, SQLite's `BINARY`
//! collation); values are bytes. A [`Batch`] of puts and deletes is applied atomically,
//! which is what lets every model operation be all-or-nothing.

use std::collections::BTreeMap;

use crate::Result;

/// A key/value store with ordered prefix listing and atomic batches.
///
/// Implemented by [`SqliteStore`](crate::SqliteStore); the operator will implement it
/// over Kubernetes resources.
pub trait Store {
    /// The value stored at `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Every entry whose key starts with `prefix`, in ascending key order.
    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>>;

    /// Applies every put and delete of `batch` in one transaction: all or nothing.
    fn apply(&mut self, batch: Batch) -> Result<()>;
}

/// Puts and deletes to apply together; a later operation on a key replaces an earlier one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    ops: BTreeMap<String, Option<Vec<u8>>>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.ops.insert(key.into(), Some(value.into()));
    }

    /// Removes `key` (a no-op in the store if it is absent).
    pub fn delete(&mut self, key: impl Into<String>) {
        self.ops.insert(key.into(), None);
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations in key order: `Some(value)` is a put, `None` a delete.
    pub fn ops(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.ops.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// The pending operation on `key`: `Some(None)` means "deleted in this batch".
    pub(crate) fn pending(&self, key: &str) -> Option<Option<&[u8]>> {
        self.ops.get(key).map(|v| v.as_deref())
    }

    /// Pending operations on keys starting with `prefix`, in key order.
    pub(crate) fn pending_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        self.ops
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_deref()))
    }
}
