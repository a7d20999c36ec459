//! §8: key layout, persistence across reopen, and file vs in-memory stores.

use super::*;
use crate::TEMPLATE_MAIN;

fn text(store: &impl Store, key: &str) -> String {
    String::from_utf8(store.get(key).unwrap().unwrap()).unwrap()
}

#[test]
fn key_layout_is_upstreams_byte_for_byte() {
    let mut r = repo();
    r.create("/hello", None, None).unwrap();
    r.publish("/hello", "1").unwrap();
    let s = r.store();
    let id = text(s, "codebases/tree//hello");
    let record = text(s, &format!("codebases/{id}"));
    assert_eq!(record, "base=\nmain=/main.js\npath=/hello\nversion=1\n");
    let fid = text(s, &format!("codebases/{id}/files//main.js"));
    assert_eq!(text(s, &format!("files/{fid}")), TEMPLATE_MAIN);
    assert_eq!(
        text(s, "files/tree//hello/main.js"),
        format!("id={fid}\nversion=1\n")
    );
    assert!(text(s, "files/tree//hello/").starts_with("id="));
    let etags = text(s, "files/tree//hello/_etags");
    assert!(etags.starts_with("id=") && !etags.contains("version="));
    r.create("/d", Some("/hello"), None).unwrap();
    let s = r.store();
    let did = text(s, "codebases/tree//d");
    assert_eq!(text(s, &format!("codebases/{id}/derived/{did}")), "1");
    assert!(text(s, &format!("codebases/{did}")).starts_with(&format!("base={id}\n")));
}

/// A fixed scenario, and everything it leaves observable.
fn scenario<S: Store>(r: &mut Repo<S>) -> Vec<String> {
    r.create("/base", None, None).unwrap();
    r.write_file("/base", "/lib/a.js", b"a").unwrap();
    r.publish("/base", "1").unwrap();
    r.create("/d", Some("/base"), None).unwrap();
    r.write_file("/d", "/main.js", b"d main").unwrap();
    r.publish("/d", "4").unwrap();
    r.write_file("/d", "/x.js", b"x").unwrap();
    r.save("/d").unwrap();
    r.write_file("/d", "/draft.js", b"draft").unwrap();
    r.publish("/base", "2").unwrap();
    snapshot(r)
}

fn snapshot<S: Store>(r: &Repo<S>) -> Vec<String> {
    let mut out = Vec::new();
    for cb in r.list().unwrap() {
        out.push(format!("{:?}", r.info(&cb).unwrap()));
        for f in [
            "/",
            "/_etags",
            "/main.js",
            "/lib/a.js",
            "/x.js",
            "/draft.js",
        ] {
            out.push(format!(
                "{cb}{f} {:?} {:?}",
                r.published(&cb, f).unwrap(),
                draft(r, &cb, f)
            ));
        }
    }
    out
}

#[test]
fn reopened_file_store_finds_everything_and_matches_memory() {
    let dir = std::env::temp_dir().join(format!("pipy-repo-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("repo.db");
    let mut on_disk = Repo::new(SqliteStore::open(&path).unwrap());
    let written = scenario(&mut on_disk);
    drop(on_disk);
    let reopened = Repo::new(SqliteStore::open(&path).unwrap());
    assert_eq!(snapshot(&reopened), written);
    assert_eq!(version(&reopened, "/d"), "5");
    // The base's publish rebuilt /d from its committed files, the saved /x.js included.
    assert_eq!(served(&reopened, "/d", "/x.js").unwrap().1, "5");
    let manifest = served(&reopened, "/d", "/").unwrap().0;
    assert_eq!(manifest, "/main.js\n/lib/a.js\n/x.js");
    drop(reopened);

    let mut memory = repo();
    let in_memory = scenario(&mut memory);
    assert_eq!(in_memory, written);
    // Same keys, too (ids differ, so compare the key shapes).
    let shape = |keys: Vec<(String, Vec<u8>)>| keys.len();
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(
        shape(reopened.list("").unwrap()),
        shape(memory.store().list("").unwrap())
    );
    assert_no_orphans(&memory);
    drop(reopened);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Keys as upstream Pipy writes them (its creation record has no `base=` line) are
/// readable and writable.
#[test]
fn reads_an_upstream_layout() {
    let mut store = SqliteStore::in_memory().unwrap();
    let mut b = Batch::new();
    b.put("codebases/tree//up", "cb1");
    b.put("codebases/cb1", "main=/main.js\npath=/up\nversion=3\n");
    b.put("codebases/cb1/files//main.js", "f1");
    b.put("files/f1", "upstream main");
    b.put("files/tree//up/main.js", "id=f1\nversion=3\n");
    b.put("files/tree//up/", "id=m1\nversion=3\n");
    b.put("files/m1", "/main.js");
    store.apply(b).unwrap();
    let mut r = Repo::new(store);
    assert_eq!(r.list().unwrap(), ["/up"]);
    let info = r.info("/up").unwrap().unwrap();
    assert_eq!((info.version.as_str(), info.files.len()), ("3", 1));
    assert_eq!(draft(&r, "/up", "/main.js").unwrap(), "upstream main");
    assert_eq!(
        served(&r, "/up", "/").unwrap(),
        ("/main.js".into(), "3".into())
    );
    r.create("/down", Some("/up"), None).unwrap();
    assert_eq!(r.publish("/up", "4").unwrap(), ["/up", "/down"]);
    assert_eq!(served(&r, "/down", "/main.js").unwrap().1, "1");
    assert_no_orphans(&r);
}

#[test]
fn file_store_uses_wal() {
    let path = std::env::temp_dir().join(format!("pipy-repo-wal-{}.db", uuid::Uuid::new_v4()));
    let store = SqliteStore::open(&path).unwrap();
    let mode: String = store
        .conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    let sync: i64 = store
        .conn
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        (mode.as_str(), sync),
        ("wal", 2),
        "WAL with synchronous=FULL"
    );
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
