//! Native modules (`use('module.so')`): C modules of our own, one per shape
//! of upstream's `samples/nmi` (hello, line-count, counter-threads,
//! string-transform) plus one that goes through the value functions, built
//! here with the system's C compiler against our `pipy/nmi.h` and run by the
//! real binary. Upstream's own samples, built with upstream's header, were
//! run side by side on both binaries by hand and answer alike.

use crate::harness::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `tests/it/nmi/<name>.c` into a shared object; returns its path.
fn build_module(name: &str) -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = here.join("tests/it/nmi").join(format!("{name}.c"));
    let include = here.join("../nmi/include");
    let out = temp_dir().join(format!("{name}.so"));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-pthread", "-Wall", "-Werror", "-I"])
        .arg(&include)
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("a C compiler (cc)");
    assert!(status.success(), "cc {}", source.display());
    out
}

/// The hello sample's shape: the module answers each HTTP request itself.
#[test]
fn a_native_pipeline_answers_http_requests() {
    let module = build_module("reply");
    let port = free_port();
    let script = format!(
        "pipy().listen({port}).demuxHTTP().to($=>$.use('{}'))",
        module.display()
    );
    let _p = Pipy::script(&script, &[port]);
    let r = post(port, "/", b"hello");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "got 5 bytes");
    // Keep-alive: one native pipeline per request, state kept within each.
    let mut c = Conn::open(port);
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(c.read(false).text(), "got 3 bytes");
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "got 0 bytes");
}

/// The line-count sample's shape: a variable the module defines, exported
/// under a namespace, read by the script through `import`.
#[test]
fn a_native_variable_is_imported_by_the_script() {
    let module = build_module("lines");
    let dir = temp_dir();
    std::fs::write(dir.join("input.txt"), "one\ntwo\nthree\n").unwrap();
    let script = format!(
        r#"pipy()
  .import({{ __lines: 'lines' }})
  .task()
  .onStart(() => new Message)
  .read('{}')
  .use('{}')
  .handleStreamEnd(() => (
    console.log('Line count:', __lines),
    pipy.exit()
  ))
"#,
        dir.join("input.txt").display(),
        module.display()
    );
    std::fs::write(dir.join("main.js"), script).unwrap();
    let (code, _out, err) = run_to_end(&[dir.join("main.js").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Line count: 3"), "{err}");
}

/// The counter-threads sample's shape: a thread of the module's own feeds
/// the pipeline through `pipy_schedule`; its hold keeps a worker with no
/// port running until it lets go, then the process ends by itself.
#[test]
fn a_module_thread_outputs_through_schedule_and_the_worker_ends_after() {
    let module = build_module("ticker");
    let dir = temp_dir();
    let script = format!(
        "pipy().task().onStart(() => new Message).use('{}')\
         .handleMessage(msg => console.log(msg.body.toString()))\
         .handleStreamEnd(() => console.log('ended'))\n",
        module.display()
    );
    std::fs::write(dir.join("main.js"), script).unwrap();
    let started = std::time::Instant::now();
    let (code, _out, err) = run_to_end(&[dir.join("main.js").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split("[INF] ").nth(1))
        .filter(|l| l.starts_with("tick") || *l == "ended")
        .collect();
    assert_eq!(
        lines,
        ["tick 1", "tick 2", "tick 3", "tick 4", "tick 5", "ended"],
        "{err}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

/// The string-transform sample's shape: a map the script puts into the
/// module's variable per stream, read by the module; and a named pipeline
/// of the module (`use(file, name)`).
#[test]
fn a_module_reads_what_the_script_put_in_its_variable() {
    let module = build_module("rewrite");
    let port = free_port();
    let script = format!(
        r#"pipy()
.import({{ __words: 'rewrite' }})
.listen({port})
.demuxHTTP().to($=>$
  .onStart(() => void (__words = {{ Hello: 'Bonjour', world: 'monde' }}))
  .pipe(evt => evt.head.path === '/loud' ? 'loud' : 'plain', {{
    loud: $=>$.replaceMessage(msg => new Message(msg.body)).use('{m}').use('{m}', 'shout'),
    plain: $=>$.replaceMessage(msg => new Message(msg.body)).use('{m}'),
  }})
)
"#,
        m = module.display()
    );
    let _p = Pipy::script(&script, &[port]);
    let r = post(port, "/", "Hello, world! Hello there.".as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Bonjour, monde! Bonjour there.");
    let r = post(port, "/loud", "Hello, world!".as_bytes());
    assert_eq!(r.text(), "BONJOUR, MONDE!");
}

/// Every value function, as the module reports what each gave.
#[test]
fn the_value_functions_behave_as_scripts_values() {
    let module = build_module("values");
    let port = free_port();
    let script = format!(
        "pipy().listen({port}).demuxHTTP().to($=>$.use('{}'))",
        module.display()
    );
    let _p = Pipy::script(&script, &[port]);
    let r = post(port, "/values", b"");
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-native"), Some("yes"));
    let expected = "types 0 1 2 3 4 4\n\
        array 3 1 removed 1 second 8\n\
        popped two\n\
        joined 7,8,1\n\
        string 5 6 233 empty 1\n\
        keys y= why\n z= true\n\
        equal 1 0 1 nullish 1 0\n\
        class 1 1 1 0\n\
        native 1 1 0\n\
        data 2 2 cd\n\
        error ConnectionReset\n\
        bad error 0\n\
        method POST\n";
    assert_eq!(r.text(), expected);
}

/// A module that cannot be loaded, or that has no init function, stops the
/// script with a message naming it.
#[test]
fn a_missing_or_foreign_module_is_refused_with_its_name() {
    let dir = temp_dir();
    let missing = dir.join("missing.so");
    std::fs::write(
        dir.join("main.js"),
        format!("pipy().task().use('{}')", missing.display()),
    )
    .unwrap();
    let (code, _out, err) = run_to_end(&[dir.join("main.js").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "cannot load native module '{}'",
            missing.display()
        )),
        "{err}"
    );

    // A shared object that is no native module (no pipy_module_init).
    let foreign = dir.join("foreign.so");
    std::fs::write(dir.join("foreign.c"), "int answer(void) { return 42; }\n").unwrap();
    let ok = Command::new("cc")
        .args(["-shared", "-fPIC"])
        .arg(dir.join("foreign.c"))
        .arg("-o")
        .arg(&foreign)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    std::fs::write(
        dir.join("main.js"),
        format!("pipy().task().use('{}')", foreign.display()),
    )
    .unwrap();
    let (code, _out, err) = run_to_end(&[dir.join("main.js").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "pipy_module_init() not found in native module {}",
            foreign.display()
        )),
        "{err}"
    );
}

/// A reload of the codebase keeps a native module loaded once (as
/// upstream's, per thread): its variables keep working for the new version.
#[test]
fn a_native_module_and_its_variables_survive_reloads() {
    let module = build_module("rewrite");
    let port = free_port();
    let script = format!(
        "pipy().import({{ __words: 'rewrite' }}).listen({port})\
         .demuxHTTP().to($=>$\
           .onStart(() => void (__words = {{ Hello: 'Salut' }}))\
           .replaceMessage(msg => new Message(msg.body)).use('{}'))",
        module.display()
    );
    let p = Pipy::script(&script, &[port]);
    assert_eq!(post(port, "/", b"Hello you").text(), "Salut you");
    for round in 1..=2 {
        let before = p.stderr_text().matches("Codebase reloaded").count();
        let _ = Command::new("kill")
            .args(["-HUP", &p.child.id().to_string()])
            .status();
        pipy_e2e::wait_for("the reload", std::time::Duration::from_secs(10), || {
            p.stderr_text().matches("Codebase reloaded").count() > before
        });
        assert_eq!(
            post(port, "/", b"Hello you").text(),
            "Salut you",
            "round {round}"
        );
    }
}
