use super::*;

fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    list.iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect()
}

fn check(list: &[(&str, &str)]) -> Result<(), ValidationError> {
    validate_codebase(&files(list), "/main.js")
}

const GOOD: &str = "\
pipy({ hits: 0 })

.listen(18080)
.demuxHTTP().to('serve')

.pipeline('serve')
.handleMessageStart(() => hits++)
.serveHTTP(new Message('hello'))
";

#[test]
fn a_good_codebase_passes() {
    assert_eq!(check(&[("/main.js", GOOD)]), Ok(()));
}

#[test]
fn a_syntax_error_gives_file_and_line() {
    let err = check(&[(
        "/main.js",
        "pipy()\n.listen(8080)\n.serveHTTP(new Message('hi')\n",
    )])
    .expect_err("does not parse");
    assert_eq!((err.file.as_str(), err.line), ("/main.js", Some(3)));
    assert!(err.message.starts_with("SyntaxError"), "{err}");
    assert!(err.to_string().starts_with("/main.js:3:"), "{err}");
}

#[test]
fn a_runtime_error_gives_file_and_line() {
    let err = check(&[(
        "/main.js",
        "pipy()\n.listen(8080)\n.serveHTTP(\n  nothing.here()\n)",
    )])
    .expect_err("throws");
    assert_eq!((err.file.as_str(), err.line), ("/main.js", Some(3)));
    assert_eq!(err.message, "ReferenceError: nothing is not defined");
}

#[test]
fn errors_in_an_imported_module_name_that_module() {
    let main = "pipy()\n.listen(8080)\n.use('lib/util.js')";
    let err = check(&[
        ("/main.js", main),
        ("/lib/util.js", "pipy()\n.pipeline()\n.dummy(\n"),
    ])
    .expect_err("the module does not parse");
    assert_eq!((err.file.as_str(), err.line), ("/lib/util.js", Some(3)));
    let err = check(&[
        ("/main.js", main),
        ("/lib/util.js", "(() => { throw new Error('boom') })()"),
    ])
    .expect_err("the module throws");
    assert_eq!(err.to_string(), "/lib/util.js:1:16: Error: boom");
}

#[test]
fn a_bad_filter_argument_fails() {
    let err = check(&[("/main.js", "pipy()\n.listen('not a port')\n.dummy()")])
        .expect_err("not an address");
    assert_eq!((err.file.as_str(), err.line), ("/main.js", Some(2)));
    assert!(err.message.contains("not a port"), "{err}");
    let err = check(&[("/main.js", "pipy()\n.listen(8080)\n.noSuchFilter()")])
        .expect_err("no such filter");
    assert_eq!(err.line, Some(3), "{err}");
}

#[test]
fn an_unknown_named_pipeline_fails() {
    let err = check(&[("/main.js", "pipy()\n.listen(8080)\n.link('nowhere')")])
        .expect_err("no such pipeline");
    assert_eq!(err.file, "/main.js");
    assert!(err.message.contains("nowhere"), "{err}");
    let err = check(&[
        ("/main.js", "pipy()\n.listen(8080)\n.use('lib.js')"),
        ("/lib.js", "pipy()\n.pipeline()\n.link('elsewhere')"),
    ])
    .expect_err("no such pipeline in the module");
    assert_eq!(err.file, "/lib.js");
    assert!(err.message.contains("elsewhere"), "{err}");
}

#[test]
fn a_module_importing_another_file_works() {
    let main = "\
pipy()
.import({ greeting: 'lib' })
.listen(pipy.solve('config.js').port)
.use('/lib/greet.js')
";
    let lib = "\
pipy({ greeting: 'hi' })
.export('lib', { greeting: 'hi' })
.pipeline()
.serveHTTP(() => new Message(greeting))
";
    let config = "({ port: 8080 })";
    assert_eq!(
        check(&[
            ("/main.js", main),
            ("/lib/greet.js", lib),
            ("/config.js", config)
        ]),
        Ok(())
    );
}

#[test]
fn a_missing_entry_or_module_fails() {
    let err = validate_codebase(&files(&[("/a.js", "pipy()")]), "main.js").expect_err("no main");
    assert_eq!(
        err.to_string(),
        "/main.js: the entry file is not in the codebase"
    );
    let err =
        check(&[("/main.js", "pipy()\n.listen(8080)\n.use('missing.js')")]).expect_err("no module");
    assert!(err.message.contains("missing.js"), "{err}");
}

#[test]
fn not_a_configuration_fails() {
    let err = check(&[("/main.js", "42")]).expect_err("not a Configuration");
    assert_eq!(err.file, "/main.js");
}

#[test]
fn validation_binds_nothing() {
    // Hold the port the script listens on: a validator that bound it would fail.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = held.local_addr().expect("bound").port();
    let main = format!("pipy()\n.listen('127.0.0.1:{port}')\n.serveHTTP(new Message('x'))");
    assert_eq!(check(&[("/main.js", &main)]), Ok(()));
    assert_eq!(
        check(&[("/main.js", &main)]),
        Ok(()),
        "twice: no state kept"
    );
}

#[test]
fn runs_do_not_share_state() {
    let first = check(&[
        ("/main.js", "pipy()\n.listen(8080)\n.use('lib.js')"),
        ("/lib.js", "pipy().pipeline().dummy()"),
    ]);
    assert_eq!(first, Ok(()));
    // The module table is fresh: lib.js is not remembered from the run before.
    let err = check(&[("/main.js", "pipy()\n.listen(8080)\n.use('lib.js')")])
        .expect_err("lib.js is gone");
    assert!(err.message.contains("lib.js"), "{err}");
}

#[test]
fn display_without_position() {
    let e = ValidationError {
        file: "/main.js".into(),
        line: Some(2),
        column: None,
        message: "m".into(),
    };
    assert_eq!(e.to_string(), "/main.js:2: m");
}
