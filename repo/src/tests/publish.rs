//! §3.5 to §3.7 and the §9 end-to-end sequence.

use super::*;

/// Spec §9, as far as the model goes (plus §3.6's `1` -> `1.1` -> `1.2`).
#[test]
fn end_to_end_publish_and_save() {
    let mut r = repo();
    r.create("/hello", None, None).unwrap();
    assert_eq!(r.manifest("/hello").unwrap(), None);
    assert_eq!(r.publish("/hello", "1").unwrap(), ["/hello"]);
    assert_eq!(
        served(&r, "/hello", "/").unwrap(),
        ("/main.js".into(), "1".into())
    );
    assert_eq!(served(&r, "/hello", "/main.js").unwrap().1, "1");
    r.write_file("/hello", "/main.js", b"v1").unwrap();
    r.write_file("/hello", "/lib/util.js", b"util").unwrap();
    // Drafts are not served.
    assert_ne!(served(&r, "/hello", "/main.js").unwrap().0, "v1");
    r.save("/hello").unwrap();
    assert_eq!(
        served(&r, "/hello", "/main.js").unwrap(),
        ("v1".into(), "1.1".into())
    );
    assert_eq!(
        served(&r, "/hello", "/lib/util.js").unwrap(),
        ("util".into(), ".1".into())
    );
    assert_eq!(
        served(&r, "/hello", "/").unwrap(),
        ("/main.js".into(), "1".into())
    );
    assert_eq!(version(&r, "/hello"), "1");
    let etags = r.etags("/hello").unwrap().unwrap();
    assert_eq!(etags.content, b"/lib/util.js#.1\n/main.js#1.1\n");
    assert_eq!(etags.etag, "");
    r.write_file("/hello", "/main.js", b"v1b").unwrap();
    r.save("/hello").unwrap();
    assert_eq!(
        served(&r, "/hello", "/main.js").unwrap(),
        ("v1b".into(), "1.2".into())
    );
    assert_eq!(served(&r, "/hello", "/lib/util.js").unwrap().1, ".1");
    let info = r.info("/hello").unwrap().unwrap();
    assert_eq!(info.files, ["/lib/util.js", "/main.js"]);
    assert!(info.edit_files.is_empty());

    assert_eq!(r.publish("/hello", "2").unwrap(), ["/hello"]);
    let manifest = served(&r, "/hello", "/").unwrap();
    assert_eq!(manifest, ("/main.js\n/lib/util.js".into(), "2".into()));
    let etags = r.etags("/hello").unwrap().unwrap().content;
    assert_eq!(etags, b"/lib/util.js#2\n/main.js#2\n");
    r.write_file("/hello", "/main.js", b"hello v4").unwrap();
    assert_eq!(r.publish("/hello", "4").unwrap(), ["/hello"]);
    assert_eq!(
        served(&r, "/hello", "/main.js").unwrap(),
        ("hello v4".into(), "4".into())
    );
    // Publishing the same version again republishes.
    assert_eq!(r.publish("/hello", "4").unwrap(), ["/hello"]);
    assert_no_orphans(&r);
}

#[test]
fn manifest_lists_main_first_even_if_missing() {
    let mut r = repo();
    r.create("/m", None, None).unwrap();
    for f in ["/z.js", "/a.js", "/lib/b.js"] {
        r.write_file("/m", f, f.as_bytes()).unwrap();
    }
    r.publish("/m", "1").unwrap();
    let text = "/main.js\n/a.js\n/lib/b.js\n/z.js";
    assert_eq!(served(&r, "/m", "/").unwrap().0, text);
    r.set_main("/m", "/start.js").unwrap();
    assert_eq!(r.info("/m").unwrap().unwrap().main, "/start.js");
    assert_eq!(
        served(&r, "/m", "/").unwrap().0,
        text,
        "manifest waits for a publish"
    );
    r.publish("/m", "2").unwrap();
    let text = "/start.js\n/a.js\n/lib/b.js\n/main.js\n/z.js";
    assert_eq!(served(&r, "/m", "/").unwrap().0, text);
    assert_eq!(served(&r, "/m", "/start.js"), None);
    // Files published before but no longer present disappear.
    r.erase_file("/m", "/z.js").unwrap();
    r.publish("/m", "3").unwrap();
    assert_eq!(served(&r, "/m", "/z.js"), None);
    let etags = r.etags("/m").unwrap().unwrap().content;
    assert_eq!(etags, b"/a.js#3\n/lib/b.js#3\n/main.js#3\n");
    assert_no_orphans(&r);
}

/// §3.6 point 6: the never-published `/u` case.
#[test]
fn save_on_never_published_codebase() {
    let mut r = repo();
    r.create("/u", None, None).unwrap();
    r.write_file("/u", "/extra.js", b"x").unwrap();
    r.save("/u").unwrap();
    assert_eq!(served(&r, "/u", "/main.js").unwrap().1, "");
    assert_eq!(
        served(&r, "/u", "/extra.js").unwrap(),
        ("x".into(), ".1".into())
    );
    assert_eq!(
        r.etags("/u").unwrap().unwrap().content,
        b"/extra.js#.1\n/main.js\n"
    );
    assert_eq!(r.manifest("/u").unwrap(), None);
    assert_eq!(version(&r, "/u"), "0");
}

#[test]
fn save_without_drafts_and_patch_with_main() {
    let mut r = Repo::new(Counting {
        inner: SqliteStore::in_memory().unwrap(),
        applies: Cell::new(0),
    });
    r.create("/p", None, None).unwrap();
    r.publish("/p", "1").unwrap();
    let applies = r.store().applies.get();
    r.save("/p").unwrap();
    assert_eq!(
        r.store().applies.get(),
        applies,
        "an empty save writes nothing"
    );
    assert_eq!(r.etags("/p").unwrap().unwrap().content, b"/main.js#1\n");
    r.write_file("/p", "/app.js", b"app").unwrap();
    assert_eq!(
        r.patch("/p", Some("/app.js"), None).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(r.info("/p").unwrap().unwrap().main, "/app.js");
    assert_eq!(served(&r, "/p", "/app.js").unwrap().1, ".1");
    assert_eq!(served(&r, "/p", "/").unwrap().0, "/main.js");
    assert_eq!(r.patch("/p", Some("/app.js"), Some("2")).unwrap(), ["/p"]);
    assert_eq!(served(&r, "/p", "/").unwrap().0, "/app.js\n/main.js");
}

/// §3.5's observed sequence: /base 2->3 makes /derived 9->10 and /gc 1->2.
#[test]
fn publish_propagates_depth_first() {
    let mut r = Repo::new(Counting {
        inner: SqliteStore::in_memory().unwrap(),
        applies: Cell::new(0),
    });
    r.create("/base", None, None).unwrap();
    r.write_file("/base", "/lib.js", b"lib 2").unwrap();
    r.publish("/base", "2").unwrap();
    r.create("/derived", Some("/base"), None).unwrap();
    r.write_file("/derived", "/main.js", b"derived main")
        .unwrap();
    assert_eq!(r.publish("/derived", "9").unwrap(), ["/derived"]);
    r.create("/gc", Some("/derived"), None).unwrap();
    assert_eq!(r.publish("/gc", "1").unwrap(), ["/gc"]);
    assert_eq!(served(&r, "/gc", "/main.js").unwrap().0, "derived main");
    r.write_file("/derived", "/draft.js", b"draft").unwrap();
    r.write_file("/base", "/lib.js", b"lib 3").unwrap();
    let applies = r.store().applies.get();
    let reload = r.publish("/base", "3").unwrap();
    assert_eq!(
        r.store().applies.get(),
        applies + 1,
        "one batch for the whole cascade"
    );
    assert_eq!(reload, ["/base", "/derived", "/gc"]);
    assert_eq!(version(&r, "/derived"), "10");
    assert_eq!(version(&r, "/gc"), "2");
    assert_eq!(
        served(&r, "/derived", "/lib.js").unwrap(),
        ("lib 3".into(), "10".into())
    );
    assert_eq!(
        served(&r, "/gc", "/lib.js").unwrap(),
        ("lib 3".into(), "2".into())
    );
    assert_eq!(served(&r, "/gc", "/").unwrap().1, "2");
    // The derivative's drafts are left alone and not published.
    assert_eq!(
        r.info("/derived").unwrap().unwrap().edit_files,
        ["/draft.js"]
    );
    assert_eq!(served(&r, "/derived", "/draft.js"), None);
    // Same version again: no bump.
    assert_eq!(r.publish("/base", "3").unwrap(), ["/base"]);
    assert_eq!(version(&r, "/derived"), "10");
    assert_no_orphans(&r);
}

#[test]
fn bump_uses_c_atoi_and_reaches_unpublished_derivatives() {
    let mut r = repo();
    r.create("/b", None, None).unwrap();
    r.create("/word", Some("/b"), Some("abc")).unwrap();
    r.create("/plain", Some("/b"), None).unwrap();
    let reload = r.publish("/b", "1").unwrap();
    assert_eq!(reload, ["/b", "/plain", "/word"]);
    assert_eq!(version(&r, "/word"), "1");
    assert_eq!(version(&r, "/plain"), "1");
    assert_eq!(
        served(&r, "/plain", "/").unwrap(),
        ("/main.js".into(), "1".into())
    );
}

#[test]
fn save_in_derivative_repoints_erased_override_to_base() {
    let mut r = repo();
    r.create("/base", None, None).unwrap();
    r.publish("/base", "1").unwrap();
    r.create("/d", Some("/base"), None).unwrap();
    r.write_file("/d", "/main.js", b"override").unwrap();
    r.write_file("/d", "/own.js", b"own").unwrap();
    r.publish("/d", "5").unwrap();
    r.erase_file("/d", "/main.js").unwrap();
    r.erase_file("/d", "/own.js").unwrap();
    r.save("/d").unwrap();
    let (text, etag) = served(&r, "/d", "/main.js").unwrap();
    assert_eq!(
        (text.as_str(), etag.as_str()),
        (crate::TEMPLATE_MAIN, "5.1")
    );
    assert_eq!(served(&r, "/d", "/own.js"), None);
    assert_eq!(r.etags("/d").unwrap().unwrap().content, b"/main.js#5.1\n");
    assert_no_orphans(&r);
}

/// Not §10 quirk 3: publishing `/org` leaves `/org/team/app` published.
#[test]
fn nested_codebases_keep_their_published_trees() {
    let mut r = repo();
    r.create("/org", None, None).unwrap();
    r.create("/org/team/app", None, None).unwrap();
    r.publish("/org/team/app", "7").unwrap();
    r.publish("/org", "1").unwrap();
    assert_eq!(served(&r, "/org/team/app", "/").unwrap().1, "7");
    assert_eq!(r.etags("/org").unwrap().unwrap().content, b"/main.js#1\n");
    r.delete("/org").unwrap();
    assert_eq!(served(&r, "/org/team/app", "/main.js").unwrap().1, "7");
    assert_no_orphans(&r);
}
