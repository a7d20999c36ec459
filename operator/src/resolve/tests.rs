use super::*;
use crate::crd::{ConfigMapFiles, KeyToPath};

fn cb(ns: &str, name: &str, base: Option<&str>, files: &[(&str, &str)]) -> Codebase {
    crate::crd::test_codebase(ns, name, base, files)
}

fn text(r: &Resolved) -> Vec<(&str, &str)> {
    r.files
        .iter()
        .map(|(p, b)| (p.as_str(), std::str::from_utf8(b).unwrap_or("<binary>")))
        .collect()
}

fn no_maps() -> ConfigMaps {
    ConfigMaps::new()
}

#[test]
fn a_chain_of_depth_three_inherits_and_overrides() {
    let all = vec![
        cb(
            "ns",
            "root",
            None,
            &[
                ("/main.js", "root main"),
                ("/a.js", "root a"),
                ("/b.js", "root b"),
            ],
        ),
        cb(
            "ns",
            "mid",
            Some("root"),
            &[("/a.js", "mid a"), ("/c.js", "mid c")],
        ),
        cb("ns", "leaf", Some("mid"), &[("b.js", "leaf b")]),
    ];
    let leaf = resolve(&all, &all[2], &no_maps()).expect("resolves");
    assert_eq!(
        text(&leaf),
        [
            ("/a.js", "mid a"),
            ("/b.js", "leaf b"),
            ("/c.js", "mid c"),
            ("/main.js", "root main"),
        ]
    );
    assert_eq!(leaf.main, "/main.js");
    assert_eq!(leaf.version, &leaf.content_hash[..VERSION_LEN]);
    assert_eq!(leaf.content_hash.len(), 64);
}

#[test]
fn erase_hides_inherited_files_for_derivatives_too() {
    let mut mid = cb("ns", "mid", Some("root"), &[]);
    mid.spec.erase = vec!["/b.js".into()];
    let all = vec![
        cb("ns", "root", None, &[("/main.js", "m"), ("/b.js", "b")]),
        mid,
        cb("ns", "leaf", Some("mid"), &[]),
    ];
    let files = |i: usize| -> Vec<String> {
        resolve(&all, &all[i], &no_maps())
            .expect("resolves")
            .files
            .into_keys()
            .collect()
    };
    assert_eq!(files(0), ["/b.js", "/main.js"]);
    assert_eq!(files(1), ["/main.js"]);
    assert_eq!(files(2), ["/main.js"]);
}

#[test]
fn a_file_both_defined_and_erased_is_an_error() {
    let mut d = cb("ns", "d", Some("root"), &[("/b.js", "mine")]);
    d.spec.erase = vec!["b.js".into()];
    let all = vec![cb("ns", "root", None, &[("/b.js", "b")]), d];
    let err = resolve(&all, &all[1], &no_maps()).expect_err("conflict");
    assert_eq!(err.reason(), reason::INVALID_SPEC);
    assert_eq!(
        err.to_string(),
        "ns/d: file 'b.js': both defined and erased"
    );
}

#[test]
fn main_is_inherited_unless_set() {
    let mut root = cb("ns", "root", None, &[("/app.js", "x")]);
    root.spec.main = Some("app.js".into());
    let mut other = cb("ns", "other", Some("root"), &[("/b.js", "x")]);
    other.spec.main = Some("/b.js".into());
    let all = vec![root, cb("ns", "d", Some("root"), &[]), other];
    assert_eq!(
        resolve(&all, &all[1], &no_maps()).map(|r| r.main),
        Ok("/app.js".into())
    );
    assert_eq!(
        resolve(&all, &all[2], &no_maps()).map(|r| r.main),
        Ok("/b.js".into())
    );
    let plain = cb("ns", "p", None, &[]);
    assert_eq!(
        resolve(std::slice::from_ref(&plain), &plain, &no_maps()).map(|r| r.main),
        Ok(DEFAULT_MAIN.into())
    );
}

#[test]
fn cycles_are_reported_with_their_path() {
    let all = vec![
        shared(cb("ns", "a", Some("b"), &[]), "*"),
        cb("ns", "b", Some("other/c"), &[]),
        shared(cb("other", "c", Some("ns/a"), &[]), "ns"),
        cb("ns", "d", Some("a"), &[]),
    ];
    let err = resolve(&all, &all[0], &no_maps()).expect_err("cycle");
    assert_eq!(
        err.to_string(),
        "base cycle: ns/a -> ns/b -> other/c -> ns/a"
    );
    assert_eq!(err.reason(), reason::BASE_CYCLE);
    // A codebase that leads into a cycle fails too, naming the cycle.
    let err = resolve(&all, &all[3], &no_maps()).expect_err("leads into a cycle");
    assert_eq!(
        err.to_string(),
        "base cycle: ns/a -> ns/b -> other/c -> ns/a"
    );
    let selfish = cb("ns", "s", Some("s"), &[]);
    assert!(matches!(
        resolve(std::slice::from_ref(&selfish), &selfish, &no_maps()),
        Err(Error::BaseCycle(_))
    ));
    // Derivatives of a cycle end.
    assert_eq!(derivatives(&all, &all[0]).len(), 3);
}

#[test]
fn a_missing_base_is_reported() {
    let all = vec![
        cb("ns", "mid", Some("gone"), &[]),
        cb("ns", "leaf", Some("mid"), &[]),
    ];
    let err = resolve(&all, &all[1], &no_maps()).expect_err("missing base");
    assert_eq!(err.to_string(), "ns/mid: base ns/gone does not exist");
    assert_eq!(err.reason(), reason::BASE_NOT_FOUND);
    let bad = cb("ns", "bad", Some("a/b/c"), &[]);
    let err = resolve(std::slice::from_ref(&bad), &bad, &no_maps()).expect_err("bad ref");
    assert_eq!(err.reason(), reason::INVALID_SPEC);
}

/// `cb` shared with `namespaces` (its `pipy.dev/shared-with` annotation).
fn shared(mut cb: Codebase, namespaces: &str) -> Codebase {
    cb.metadata.annotations = Some(BTreeMap::from([(
        crate::crd::SHARED_WITH_ANNOTATION.to_string(),
        namespaces.to_string(),
    )]));
    cb
}

#[test]
fn a_base_in_another_namespace_must_share_itself() {
    for (annotation, ok) in [
        (None, false),
        (Some("other, elsewhere"), false),
        (Some("elsewhere, team"), true),
        (Some("*"), true),
    ] {
        let base = cb("shared", "lib", None, &[("/main.js", "m")]);
        let base = match annotation {
            Some(list) => shared(base, list),
            None => base,
        };
        let all = vec![base, cb("team", "app", Some("shared/lib"), &[])];
        let result = resolve(&all, &all[1], &no_maps());
        match (ok, result) {
            (true, Ok(app)) => assert_eq!(text(&app), [("/main.js", "m")]),
            (false, Err(e)) => {
                assert_eq!(e.reason(), reason::BASE_NOT_SHARED);
                assert!(e.to_string().contains("pipy.dev/shared-with"), "{e}");
            }
            (ok, other) => panic!("{annotation:?}: expected ok={ok}, got {other:?}"),
        }
    }
}

#[test]
fn a_base_may_live_in_another_namespace() {
    let all = vec![
        shared(
            cb("shared", "lib", None, &[("/main.js", "shared main")]),
            "team",
        ),
        cb("lib", "lib", None, &[("/main.js", "wrong namespace")]),
        cb("team", "app", Some("shared/lib"), &[("/app.js", "app")]),
        cb(
            "team",
            "lib",
            None,
            &[("/main.js", "same name, own namespace")],
        ),
    ];
    let app = resolve(&all, &all[2], &no_maps()).expect("resolves");
    assert_eq!(
        text(&app),
        [("/app.js", "app"), ("/main.js", "shared main")]
    );
    assert_eq!(derivatives(&all, &all[0]), [("team".into(), "app".into())]);
    assert!(derivatives(&all, &all[3]).is_empty());
}

#[test]
fn identical_content_has_an_identical_version() {
    let all = vec![
        cb("a", "one", None, &[("/main.js", "x"), ("/lib.js", "y")]),
        cb("b", "two", None, &[("lib.js", "y"), ("main.js", "x")]),
        cb("c", "base", None, &[("/lib.js", "y")]),
        cb("c", "derived", Some("base"), &[("/main.js", "x")]),
        cb("d", "other", None, &[("/main.js", "x"), ("/lib.js", "z")]),
    ];
    let v = |i: usize| {
        resolve(&all, &all[i], &no_maps())
            .expect("resolves")
            .version
    };
    assert_eq!(v(0), v(1));
    assert_eq!(
        v(0),
        v(3),
        "inherited or own, the same content is the same version"
    );
    assert_ne!(v(0), v(4));
    assert_eq!(v(0).len(), VERSION_LEN);
    // main is part of the content.
    let mut moved = all[0].clone();
    moved.spec.main = Some("/lib.js".into());
    assert_ne!(
        resolve(&all, &moved, &no_maps()).expect("resolves").version,
        v(0)
    );
    // Bytes cannot shift between a path and its content.
    let split = |p: &str, c: &str| content_hash(&BTreeMap::from([(p.into(), c.into())]), "/m");
    assert_ne!(split("/ab", "c"), split("/a", "bc"));
}

#[test]
fn derivatives_are_transitive_parents_first() {
    let all = vec![
        cb("ns", "root", None, &[]),
        shared(cb("ns", "b", Some("root"), &[]), "x"),
        cb("ns", "a", Some("ns/root"), &[]),
        cb("ns", "aa", Some("a"), &[]),
        cb("x", "bb", Some("ns/b"), &[]),
        cb("ns", "unrelated", None, &[]),
        cb("y", "cc", Some("ns/a"), &[]),
    ];
    let names: Vec<String> = derivatives(&all, &all[0]).iter().map(display).collect();
    assert_eq!(names, ["ns/a", "ns/b", "ns/aa", "x/bb"]);
    assert!(derivatives(&all, &all[3]).is_empty());
    assert_eq!(derivatives(&all, &all[1]), [("x".into(), "bb".into())]);
    // y/cc names ns/a, which does not share itself with y: it holds nothing.
    assert_eq!(derivatives(&all, &all[2]), [("ns".into(), "aa".into())]);
}

#[test]
fn resolve_all_covers_every_codebase() {
    let all = vec![
        cb("ns", "root", None, &[("/main.js", "m")]),
        cb("ns", "d", Some("gone"), &[]),
    ];
    let out = resolve_all(&all, &no_maps());
    assert!(out[&("ns".into(), "root".into())].is_ok());
    assert!(out[&("ns".into(), "d".into())].is_err());
}

#[test]
fn paused_holds_derivatives() {
    let mut mid = cb("ns", "mid", Some("root"), &[]);
    mid.spec.paused = true;
    let all = vec![
        cb("ns", "root", None, &[]),
        mid,
        cb("ns", "leaf", Some("mid"), &[]),
    ];
    assert_eq!(paused_by(&all, &all[0]), None);
    assert_eq!(paused_by(&all, &all[1]).as_deref(), Some("ns/mid"));
    assert_eq!(paused_by(&all, &all[2]).as_deref(), Some("ns/mid"));
}

fn config_map(ns: &str, name: &str, data: &[(&str, &str)], binary: &[(&str, &[u8])]) -> ConfigMap {
    let mut cm = ConfigMap {
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        binary_data: Some(
            binary
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect(),
        ),
        ..ConfigMap::default()
    };
    cm.metadata.namespace = Some(ns.into());
    cm.metadata.name = Some(name.into());
    cm
}

#[test]
fn config_maps_supply_files_under_inline_ones() {
    let mut c = cb("ns", "big", None, &[("/main.js", "inline main")]);
    c.spec.config_maps = vec![
        ConfigMapFiles {
            name: "all".into(),
            ..ConfigMapFiles::default()
        },
        ConfigMapFiles {
            name: "lib".into(),
            dir: Some("/lib/".into()),
            items: vec![KeyToPath {
                key: "util.js".into(),
                path: "deep/util.js".into(),
            }],
            ..ConfigMapFiles::default()
        },
        ConfigMapFiles {
            name: "absent".into(),
            optional: true,
            ..ConfigMapFiles::default()
        },
    ];
    let all = vec![c];
    assert_eq!(
        config_maps_needed(&all, &all[0]),
        [
            ("ns".into(), "absent".into()),
            ("ns".into(), "all".into()),
            ("ns".into(), "lib".into())
        ]
    );
    let maps: ConfigMaps = [
        config_map(
            "ns",
            "all",
            &[("main.js", "cm main"), ("a.js", "a")],
            &[("logo.png", &[0, 255])],
        ),
        config_map(
            "ns",
            "lib",
            &[("util.js", "u"), ("other.js", "not picked")],
            &[],
        ),
    ]
    .into_iter()
    .map(|cm| {
        (
            (
                "ns".to_string(),
                cm.metadata.name.clone().unwrap_or_default(),
            ),
            cm,
        )
    })
    .collect();
    let r = resolve(&all, &all[0], &maps).expect("resolves");
    assert_eq!(
        text(&r),
        [
            ("/a.js", "a"),
            ("/lib/deep/util.js", "u"),
            ("/logo.png", "<binary>"),
            ("/main.js", "inline main"),
        ]
    );
    let mut missing = all[0].clone();
    missing.spec.config_maps[0].name = "nope".into();
    let err = resolve(&all, &missing, &maps).expect_err("missing ConfigMap");
    assert_eq!(err.to_string(), "ns/big: ConfigMap nope does not exist");
    assert_eq!(err.reason(), reason::CONFIG_MAP_NOT_FOUND);
    let mut no_key = all[0].clone();
    no_key.spec.config_maps[1].items[0].key = "gone.js".into();
    assert!(matches!(
        resolve(&all, &no_key, &maps),
        Err(Error::ConfigMapKeyNotFound { .. })
    ));
}

#[test]
fn paths_are_cleaned_or_refused() {
    assert_eq!(clean_path("main.js"), Ok("/main.js".into()));
    assert_eq!(clean_path("/lib/a.js"), Ok("/lib/a.js".into()));
    for bad in ["", "/", "/a//b", "/a/", "/../etc/passwd", "./a"] {
        assert!(clean_path(bad).is_err(), "{bad:?}");
    }
    let twice = cb("ns", "t", None, &[("/a.js", "1"), ("a.js", "2")]);
    assert!(matches!(
        resolve(std::slice::from_ref(&twice), &twice, &no_maps()),
        Err(Error::BadPath { .. })
    ));
}

#[test]
fn snapshots_round_trip() {
    let files = BTreeMap::from([
        ("/main.js".to_string(), b"pipy()".to_vec()),
        ("/lib/a b.js".to_string(), vec![0, 1, 2]),
    ]);
    let content = Resolved::new(files.clone(), "/main.js".into());
    let cm = Snapshot::to_config_map(&content).expect("small enough");
    assert!(cm
        .binary_data
        .iter()
        .flatten()
        .all(|(k, _)| k.chars().all(|c| c.is_ascii_alphanumeric())));
    assert_eq!(
        Snapshot::from_config_map(&cm),
        Some(("/main.js".to_string(), files))
    );
    let big = Resolved::new(
        BTreeMap::from([("/big".to_string(), vec![0; Snapshot::MAX_BYTES + 1])]),
        "/main.js".into(),
    );
    assert!(Snapshot::to_config_map(&big).is_none());
    assert_eq!(Snapshot::from_config_map(&ConfigMap::default()), None);
}
