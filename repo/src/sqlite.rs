//! [`SqliteStore`]: the embedded store of `pipy` in repo mode (bundled SQLite).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{Batch, Store};
use crate::{Error, Result};

/// A [`Store`] in one SQLite table `kv(key TEXT PRIMARY KEY, value BLOB)`.
///
/// Files are opened in WAL mode with `synchronous=FULL`: a publish answered with `201`
/// must survive a power cut, and publishes are rare human actions, so one fsync per
/// commit costs nothing that matters (`NORMAL` would only risk losing the last commits,
/// never corrupt the file, but "acknowledged then lost" is the wrong trade here).
#[derive(Debug)]
pub struct SqliteStore {
    pub(crate) conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let conn = Connection::open(path).map_err(store_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(store_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(store_err)?;
        Self::init(conn)
    }

    /// A private in-memory database, for `pipy` started without a repo directory.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(store_err)?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.execute_batch("CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value BLOB)")
            .map_err(store_err)?;
        Ok(Self { conn })
    }
}

impl Store for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        // Cached statement: workers' downloads read here at a high rate.
        self.conn
            .prepare_cached("SELECT value FROM kv WHERE key = ?1")
            .and_then(|mut st| st.query_row([key], |row| row.get(0)).optional())
            .map_err(store_err)
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        // A range scan on the primary key: [prefix, successor(prefix)).
        let row = |row: &rusqlite::Row<'_>| Ok((row.get(0)?, row.get(1)?));
        let rows = match prefix_successor(prefix) {
            Some(upper) => self
                .conn
                .prepare_cached(
                    "SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key",
                )
                .and_then(|mut stmt| stmt.query_map(params![prefix, upper], row)?.collect()),
            None => self
                .conn
                .prepare_cached("SELECT key, value FROM kv WHERE key >= ?1 ORDER BY key")
                .and_then(|mut stmt| stmt.query_map([prefix], row)?.collect()),
        };
        rows.map_err(store_err)
    }

    fn apply(&mut self, batch: Batch) -> Result<()> {
        let tx = self.conn.transaction().map_err(store_err)?;
        {
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO kv(key, value) VALUES (?1, ?2)")
                .map_err(store_err)?;
            let mut del = tx
                .prepare_cached("DELETE FROM kv WHERE key = ?1")
                .map_err(store_err)?;
            for (key, value) in batch.ops() {
                match value {
                    Some(value) => put.execute(params![key, value]),
                    None => del.execute([key]),
                }
                .map_err(store_err)?;
            }
        }
        tx.commit().map_err(store_err)
    }
}

/// The smallest string greater than every string starting with `prefix`, or `None` when
/// there is none (empty prefix, or only `char::MAX`s). UTF-8 byte order is code point
/// order, so bumping the last bumpable character works.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn store_err(e: rusqlite::Error) -> Error {
    Error::Store(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_bumps_last_char() {
        assert_eq!(prefix_successor("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
    }

    #[test]
    fn list_is_prefix_bounded_and_ordered() {
        let mut s = SqliteStore::in_memory().unwrap();
        let mut b = Batch::new();
        for k in ["a/2", "a/1", "a0", "a", "b/1", "a/\u{10FFFF}"] {
            b.put(k, k.as_bytes());
        }
        s.apply(b).unwrap();
        let keys: Vec<_> = s.list("a/").unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a/1", "a/2", "a/\u{10FFFF}"]);
        assert_eq!(s.list("").unwrap().len(), 6);
        let mut b = Batch::new();
        b.delete("a/1");
        b.put("c", "x");
        s.apply(b).unwrap();
        assert_eq!(s.get("a/1").unwrap(), None);
        assert_eq!(s.get("c").unwrap().as_deref(), Some(&b"x"[..]));
    }
}
