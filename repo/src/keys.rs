//! The storage layout of spec §8, byte for byte upstream's, so upstream repos stay
//! readable: the key prefixes end in `/` and `<CB>` and `<FILE>` (which start with `/`)
//! are appended as they are. Codebase `/hello` is `codebases/tree//hello`, its own
//! `/main.js` is `codebases/<id>/files//main.js`, and it is published at
//! `files/tree//hello/main.js`, with the manifest at `files/tree//hello/` and the etag
//! list at `files/tree//hello/_etags`.

use crate::{Error, Result};

/// Longest accepted codebase or file path, in bytes.
pub(crate) const MAX_PATH: usize = 1024;

/// Longest accepted segment of a path, in bytes (a common file-system name limit).
pub(crate) const MAX_SEGMENT: usize = 255;

pub(crate) const TREE: &str = "codebases/tree/";
pub(crate) const PUBLISHED: &str = "files/tree/";

pub(crate) fn tree_key(cb: &str) -> String {
    format!("{TREE}{cb}")
}
pub(crate) fn record_key(id: &str) -> String {
    format!("codebases/{id}")
}
/// `codebases/<id>/<set>/`, to which FILE is appended, for `files`, `edit`, `erased`.
pub(crate) fn set_base(id: &str, set: FileSet) -> String {
    format!("codebases/{id}/{}/", set.name())
}
pub(crate) fn derived_prefix(id: &str) -> String {
    format!("codebases/{id}/derived/")
}
pub(crate) fn content_key(fid: &str) -> String {
    format!("files/{fid}")
}
/// Prefix of CB's published tree; also the key of its manifest entry.
pub(crate) fn manifest_key(cb: &str) -> String {
    format!("{PUBLISHED}{cb}/")
}
pub(crate) fn published_key(cb: &str, file: &str) -> String {
    format!("{PUBLISHED}{cb}{file}")
}
pub(crate) fn etags_key(cb: &str) -> String {
    format!("{PUBLISHED}{cb}/_etags")
}

/// The three per-codebase path sets of spec §3.1 that are stored as keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileSet {
    /// Own committed files.
    Files,
    /// Draft edits.
    Edit,
    /// Draft erasures (value: the erased committed content id).
    Erased,
}

impl FileSet {
    fn name(self) -> &'static str {
        match self {
            FileSet::Files => "files",
            FileSet::Edit => "edit",
            FileSet::Erased => "erased",
        }
    }
}

/// A codebase record, stored as `base=…\nmain=…\npath=…\nversion=…\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) id: String,
    /// The base codebase's id.
    pub(crate) base: Option<String>,
    pub(crate) main: String,
    pub(crate) path: String,
    pub(crate) version: String,
}

impl Record {
    pub(crate) fn encode(&self) -> String {
        format!(
            "base={}\nmain={}\npath={}\nversion={}\n",
            self.base.as_deref().unwrap_or(""),
            self.main,
            self.path,
            self.version
        )
    }

    pub(crate) fn decode(id: &str, value: &[u8]) -> Result<Self> {
        let fields = Fields::parse(value)?;
        Ok(Self {
            id: id.to_owned(),
            base: Some(fields.get("base").to_owned()).filter(|b| !b.is_empty()),
            main: fields.get("main").to_owned(),
            path: fields.get("path").to_owned(),
            version: fields.get("version").to_owned(),
        })
    }
}

/// A published entry `id=<file id>\nversion=<etag>\n` (`_etags` has no version line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) etag: String,
}

impl Entry {
    pub(crate) fn new(id: impl Into<String>, etag: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            etag: etag.into(),
        }
    }

    pub(crate) fn encode(&self) -> String {
        format!("id={}\nversion={}\n", self.id, self.etag)
    }

    /// Also accepts a bare id (no `id=` line), in case a store holds one.
    pub(crate) fn decode(value: &[u8]) -> Result<Self> {
        let fields = Fields::parse(value)?;
        if fields.0.is_empty() {
            let id = std::str::from_utf8(value).map_err(|_| corrupt("entry"))?;
            return Ok(Self::new(id.trim(), ""));
        }
        Ok(Self::new(fields.get("id"), fields.get("version")))
    }
}

/// `key=value` lines.
struct Fields<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    fn parse(value: &'a [u8]) -> Result<Self> {
        let text = std::str::from_utf8(value).map_err(|_| corrupt("record"))?;
        Ok(Self(
            text.lines().filter_map(|l| l.split_once('=')).collect(),
        ))
    }
    fn get(&self, key: &str) -> &'a str {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| v)
    }
}

pub(crate) fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("malformed {what}"))
}

/// Checks a codebase or file path: starts with `/`, at most [`MAX_PATH`] bytes, no
/// control character (NUL, CR, LF, ESC, ...: names end up in headers, logs and
/// the console's pages), no segment longer than [`MAX_SEGMENT`], no empty, `.` or `..`
/// segment (so no trailing `/`, which would collide with the manifest key).
pub(crate) fn check_path(path: &str) -> Result<()> {
    let bad = path.len() > MAX_PATH
        || path.chars().any(char::is_control)
        || !path.starts_with('/')
        || path[1..]
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == ".." || seg.len() > MAX_SEGMENT);
    if bad {
        return Err(Error::InvalidPath(path.to_owned()));
    }
    Ok(())
}

/// Like [`check_path`], and also refuses `/_etags`, the name of the generated etag list.
pub(crate) fn check_file(path: &str) -> Result<()> {
    check_path(path)?;
    if path == "/_etags" {
        return Err(Error::InvalidPath(path.to_owned()));
    }
    Ok(())
}

/// A version is any non-empty string without a line break or NUL (records are lines).
pub(crate) fn check_version(version: &str) -> Result<()> {
    if version.is_empty() || version.contains(['\n', '\r', '\0']) {
        return Err(Error::InvalidVersion(version.to_owned()));
    }
    Ok(())
}

/// C `atoi`: leading whitespace, optional sign, digits; anything else stops it; no digits
/// gives 0. Saturates at the `i32` range where C would be undefined.
pub(crate) fn atoi(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = (n * 10 + i64::from(b - b'0')).min(i64::from(i32::MAX) + 1);
    }
    let n = if neg { -n } else { n };
    n.clamp(i64::from(i32::MIN), i64::from(i32::MAX))
}

/// The version a base-triggered rebuild gives a derivative: `atoi(version) + 1`.
pub(crate) fn bump_version(version: &str) -> String {
    (atoi(version) + 1).to_string()
}

/// The sub-version etag of a saved file: `1` -> `1.1`, `1.1` -> `1.2`, `` -> `.1`.
pub(crate) fn bump_etag(etag: &str) -> String {
    match etag.rsplit_once('.') {
        None => format!("{etag}.1"),
        Some((head, tail)) => format!("{head}.{}", atoi(tail) + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_like_c() {
        assert_eq!(bump_version("7"), "8");
        assert_eq!(bump_version("abc"), "1");
        assert_eq!(bump_version(" 12x"), "13");
        assert_eq!(bump_version("-3"), "-2");
        assert_eq!(bump_version("99999999999"), "2147483648");
    }

    #[test]
    fn sub_version_etags() {
        assert_eq!(bump_etag("1"), "1.1");
        assert_eq!(bump_etag("1.1"), "1.2");
        assert_eq!(bump_etag("1.9"), "1.10");
        assert_eq!(bump_etag(""), ".1");
        assert_eq!(bump_etag(".1"), ".2");
    }

    #[test]
    fn paths() {
        for ok in ["/a", "/a/b.js", "/org/team/app", "/a..b"] {
            check_path(ok).unwrap();
        }
        let long = format!("/{}x", "x/".repeat(MAX_PATH / 2));
        let long_segment = format!("/a/{}", "x".repeat(MAX_SEGMENT + 1));
        check_path(&format!("/a/{}", "x".repeat(MAX_SEGMENT))).unwrap();
        for bad in [
            "",
            "a",
            "/",
            "/a/",
            "//a",
            "/a/../b",
            "/..",
            "/./a",
            "/a\0",
            "/a\r\nb",
            "/a\x1b[31m",
            "/tab\there",
            "/del\x7f",
            "/c1\u{85}",
            &long,
            &long_segment,
        ] {
            assert!(
                matches!(check_path(bad), Err(Error::InvalidPath(_))),
                "{bad:?}"
            );
        }
        assert!(check_file("/_etags").is_err());
    }

    #[test]
    fn record_round_trip() {
        let r = Record {
            id: "i".into(),
            base: None,
            main: "/main.js".into(),
            path: "/hello".into(),
            version: "0".into(),
        };
        assert_eq!(r.encode(), "base=\nmain=/main.js\npath=/hello\nversion=0\n");
        assert_eq!(Record::decode("i", r.encode().as_bytes()).unwrap(), r);
        let e = Entry::new("f", "1.1");
        assert_eq!(Entry::decode(e.encode().as_bytes()).unwrap(), e);
        assert_eq!(Entry::decode(b"abc").unwrap(), Entry::new("abc", ""));
    }
}
