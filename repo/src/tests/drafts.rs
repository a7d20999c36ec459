//! §3.1 to §3.4 and §3.8: records, draft view, draft operations, deletion.

use super::*;
use crate::{Error, TEMPLATE_MAIN};

#[test]
fn new_codebase_has_template_main_and_is_unpublished() {
    let mut r = repo();
    r.create("/hello", None, None).unwrap();
    let info = r.info("/hello").unwrap().unwrap();
    assert_eq!(info.version, "0");
    assert_eq!(info.path, "/hello");
    assert_eq!(info.main, "/main.js");
    assert_eq!(info.files, ["/main.js"]);
    assert!(info.edit_files.is_empty() && info.erased_files.is_empty());
    assert!(info.base_files.is_empty() && info.derived.is_empty());
    assert_eq!(info.base, None);
    let main = draft(&r, "/hello", "/main.js").unwrap();
    assert_eq!(main, TEMPLATE_MAIN);
    assert!(main.contains(".listen(80)"));
    assert_eq!(r.manifest("/hello").unwrap(), None);
    assert_eq!(r.published("/hello", "/main.js").unwrap(), None);
    assert_eq!(r.etags("/hello").unwrap(), None);
    assert_eq!(r.list().unwrap(), ["/hello"]);
    assert!(r.exists("/hello").unwrap() && !r.exists("/nope").unwrap());
}

#[test]
fn create_errors() {
    let mut r = repo();
    r.create("/a", None, None).unwrap();
    assert!(matches!(
        r.create("/a", None, None),
        Err(Error::AlreadyExists(_))
    ));
    // The base is checked before existence, like upstream.
    let err = r.create("/a", Some("/none"), None);
    assert!(matches!(err, Err(Error::BaseNotFound(_))));
    for bad in ["", "/x/", "x", "/a/../b", "/a\0"] {
        assert!(matches!(
            r.create(bad, None, None),
            Err(Error::InvalidPath(_))
        ));
    }
    let err = r.create("/b", None, Some(""));
    assert!(matches!(err, Err(Error::InvalidVersion(_))));
    assert!(matches!(
        r.write_file("/a", "/x/", b""),
        Err(Error::InvalidPath(_))
    ));
    assert!(matches!(
        r.write_file("/a", "/_etags", b""),
        Err(Error::InvalidPath(_))
    ));
    assert!(matches!(
        r.write_file("/zz", "/x.js", b""),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(r.publish("/zz", "1"), Err(Error::NotFound(_))));
    assert!(matches!(r.delete("/zz"), Err(Error::NotFound(_))));
    assert_eq!(r.info("/zz").unwrap(), None);
    assert_eq!(r.read_file("/zz", "/main.js").unwrap(), None);
}

#[test]
fn derivative_sees_base_chain_and_copies_main() {
    let mut r = repo();
    r.create("/base", None, None).unwrap();
    r.set_main("/base", "/app.js").unwrap();
    r.create("/derived", Some("/base"), Some("5")).unwrap();
    let info = r.info("/derived").unwrap().unwrap();
    assert_eq!(info.version, "5");
    assert_eq!(info.main, "/app.js");
    assert_eq!(info.base.as_deref(), Some("/base"));
    assert!(info.files.is_empty());
    assert_eq!(info.base_files, ["/main.js"]);
    assert_eq!(r.info("/base").unwrap().unwrap().derived, ["/derived"]);
    // A version given at creation publishes nothing.
    assert_eq!(r.manifest("/derived").unwrap(), None);
    assert_eq!(draft(&r, "/derived", "/main.js").unwrap(), TEMPLATE_MAIN);
}

/// The spec's derivative-with-drafts info example, and the §3.3 resolution order.
#[test]
fn draft_resolution_order() {
    let mut r = repo();
    r.create("/base", None, None).unwrap();
    r.write_file("/base", "/a.js", b"base a").unwrap();
    r.write_file("/base", "/b.js", b"base b").unwrap();
    r.publish("/base", "1").unwrap();
    r.create("/derived", Some("/base"), None).unwrap();
    r.write_file("/derived", "/a.js", b"derived a").unwrap();
    r.write_file("/derived", "/c.js", b"derived c").unwrap();
    let info = r.info("/derived").unwrap().unwrap();
    assert_eq!(info.edit_files, ["/a.js", "/c.js"]);
    assert_eq!(info.base_files, ["/a.js", "/b.js", "/main.js"]);
    assert_eq!(draft(&r, "/derived", "/a.js").unwrap(), "derived a");
    // Bases' drafts are ignored.
    r.write_file("/base", "/b.js", b"base b draft").unwrap();
    assert_eq!(draft(&r, "/derived", "/b.js").unwrap(), "base b");
    assert_eq!(draft(&r, "/base", "/b.js").unwrap(), "base b draft");
    // Draft beats committed; erasure hides both and reveals the base.
    r.save("/derived").unwrap();
    r.write_file("/derived", "/a.js", b"derived a2").unwrap();
    assert_eq!(draft(&r, "/derived", "/a.js").unwrap(), "derived a2");
    r.erase_file("/derived", "/a.js").unwrap();
    assert_eq!(r.info("/derived").unwrap().unwrap().erased_files, ["/a.js"]);
    assert_eq!(draft(&r, "/derived", "/a.js").unwrap(), "base a");
    r.erase_file("/derived", "/c.js").unwrap();
    assert_eq!(draft(&r, "/derived", "/c.js"), None);
    assert_eq!(draft(&r, "/derived", "/nope.js"), None);
    assert_no_orphans(&r);
}

#[test]
fn erase_and_reset_semantics() {
    let mut r = repo();
    r.create("/base", None, None).unwrap();
    r.create("/d", Some("/base"), None).unwrap();
    let before = r.info("/d").unwrap();
    // Erasing an inherited or unknown file changes nothing.
    r.erase_file("/d", "/main.js").unwrap();
    r.erase_file("/d", "/ghost.js").unwrap();
    assert_eq!(r.info("/d").unwrap(), before);
    assert_eq!(draft(&r, "/d", "/main.js").unwrap(), TEMPLATE_MAIN);
    // Erasing a never-committed draft discards it.
    r.write_file("/d", "/new.js", b"x").unwrap();
    r.erase_file("/d", "/new.js").unwrap();
    assert_eq!(r.info("/d").unwrap(), before);
    // An own committed file is marked; writing clears the mark; reset drops both.
    r.erase_file("/base", "/main.js").unwrap();
    let info = r.info("/base").unwrap().unwrap();
    assert_eq!(
        (info.files, info.erased_files),
        (vec!["/main.js".into()], vec!["/main.js".into()])
    );
    assert_eq!(draft(&r, "/base", "/main.js"), None);
    r.write_file("/base", "/main.js", b"new").unwrap();
    let info = r.info("/base").unwrap().unwrap();
    assert!(info.erased_files.is_empty());
    assert_eq!(info.edit_files, ["/main.js"]);
    r.erase_file("/base", "/main.js").unwrap();
    r.reset_file("/base", "/main.js").unwrap();
    let info = r.info("/base").unwrap().unwrap();
    assert!(info.erased_files.is_empty() && info.edit_files.is_empty());
    assert_eq!(draft(&r, "/base", "/main.js").unwrap(), TEMPLATE_MAIN);
    r.write_file("/base", "/main.js", b"").unwrap();
    assert_eq!(draft(&r, "/base", "/main.js").unwrap(), "");
    r.reset_file("/base", "/main.js").unwrap();
    assert_eq!(draft(&r, "/base", "/main.js").unwrap(), TEMPLATE_MAIN);
    assert_no_orphans(&r);
}

#[test]
fn delete_cascades_and_name_is_reusable() {
    let mut r = repo();
    r.create("/base", None, None).unwrap();
    r.publish("/base", "1").unwrap();
    r.create("/derived", Some("/base"), None).unwrap();
    r.create("/gc", Some("/derived"), None).unwrap();
    r.create("/other", Some("/base"), None).unwrap();
    r.publish("/gc", "1").unwrap();
    r.write_file("/gc", "/draft.js", b"d").unwrap();
    // Deleting a derivative unlinks it from its base.
    assert_eq!(r.delete("/other").unwrap(), ["/other"]);
    assert_eq!(r.info("/base").unwrap().unwrap().derived, ["/derived"]);
    assert_eq!(r.delete("/base").unwrap(), ["/base", "/derived", "/gc"]);
    for cb in ["/base", "/derived", "/gc"] {
        assert_eq!(r.info(cb).unwrap(), None);
        assert_eq!(r.manifest(cb).unwrap(), None);
        assert_eq!(
            r.etags(cb).unwrap(),
            None,
            "_etags goes too (not §10 quirk 4)"
        );
        assert_eq!(r.published(cb, "/main.js").unwrap(), None);
    }
    assert!(r.list().unwrap().is_empty());
    // Nothing at all is left behind.
    assert!(r.store().list("").unwrap().is_empty());
    r.create("/base", None, None).unwrap();
    let info = r.info("/base").unwrap().unwrap();
    assert_eq!((info.version.as_str(), info.files.len()), ("0", 1));
    assert!(info.derived.is_empty());
    assert_eq!(r.manifest("/base").unwrap(), None);
}
