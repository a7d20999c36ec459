//! Broken scripts, failing callbacks and bad command lines.

use crate::harness::*;

fn run_script(src: &str) -> (i32, String) {
    let dir = temp_dir();
    let path = dir.join("broken.js");
    std::fs::write(&path, src).unwrap();
    let (code, _, err) = run_to_end(&[&path.to_string_lossy()]);
    (code, err)
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let (code, err) = run_script("pipy()\n  .listen(8000\n  .serveHTTP(1)\n  oops\n");
    assert_ne!(code, 0);
    assert!(err.contains("broken.js:4:3:"), "{err}");
    assert!(err.contains("SyntaxError"), "{err}");
}

#[test]
fn evaluation_error_names_its_position() {
    let (code, err) = run_script("pipy()\n  .listen(8000)\n  .noSuchFilter()\n");
    assert_ne!(code, 0);
    assert!(err.contains("broken.js:3:"), "{err}");
}

#[test]
fn undefined_pipeline_and_non_configuration_are_refused() {
    let (code, err) = run_script("pipy().listen(8000).demuxHTTP().to('nowhere')");
    assert_ne!(code, 0);
    assert!(err.contains("nowhere"), "{err}");
    let (code, err) = run_script("({ not: 'a configuration' })");
    assert_ne!(code, 0);
    assert!(err.contains("Configuration"), "{err}");
}

#[test]
fn callback_exception_answers_500_and_keeps_serving() {
    let port = free_port();
    let p = Pipy::script(
        &format!("pipy().listen({port}).serveHTTP(msg => msg.head.path == '/boom' ? nothing.here : new Message('fine'))"),
        &[port],
    );
    let r = get(port, "/boom");
    assert_eq!(r.status, 500);
    assert_eq!(get(port, "/ok").text(), "fine");
    let err = p.stderr_text();
    assert!(
        err.contains("ReferenceError") && err.contains("main.js:1:"),
        "{err}"
    );
}

#[test]
fn exception_in_a_sub_pipeline_callback_is_a_500() {
    let port = free_port();
    let _p = Pipy::script(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.replaceMessage(() => {{ throw new Error('bad') }}))"),
        &[port],
    );
    let r = get(port, "/");
    assert_eq!(r.status, 500);
    assert_eq!(get(port, "/").status, 500, "the worker keeps serving");
}

#[test]
fn unreachable_upstreams_map_to_gateway_errors() {
    let dead = free_port();
    let port = free_port();
    let _p = Pipy::script(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{dead}', {{ connectTimeout: 1, retryCount: 1, retryDelay: '10ms' }})))"),
        &[port],
    );
    let r = get(port, "/");
    assert_eq!((r.status, r.reason.as_str()), (502, "Connection Refused"));
}

#[test]
fn unknown_option_is_a_clean_error() {
    let (code, _, err) = run_to_end(&["--no-such-option", "x.js"]);
    assert_eq!(code, 2);
    assert!(err.contains("--no-such-option"), "{err}");
    let (code, _, err) = run_to_end(&["--threads=zero", "x.js"]);
    assert_ne!(code, 0);
    assert!(err.contains("--threads"), "{err}");
    let (code, _, err) = run_to_end(&["/definitely/missing.js"]);
    assert_ne!(code, 0);
    assert!(err.contains("missing.js"), "{err}");
}

#[test]
fn version_and_help() {
    let (code, out, _) = run_to_end(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("pipy "), "{out}");
    let (code, out, _) = run_to_end(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--threads") && out.contains("--admin-port"),
        "{out}"
    );
}
