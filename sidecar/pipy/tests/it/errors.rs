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
    assert_eq!(code, 255);
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
    assert_eq!(code, 255);
    assert!(err.contains("--threads"), "{err}");
    let (code, _, err) = run_to_end(&["/definitely/missing.js"]);
    assert_eq!(code, 255);
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

/// A raw upstream that runs `answer` on each accepted connection.
fn raw_upstream(answer: fn(std::net::TcpStream)) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || answer(s));
        }
    });
    port
}

fn proxy_to(up: u16) -> (Pipy, u16) {
    let port = free_port();
    let p = Pipy::script(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{up}')))"),
        &[port],
    );
    (p, port)
}

#[test]
fn upstream_cut_mid_response_closes_the_client_and_keeps_serving() {
    use std::io::{Read, Write};
    let up = raw_upstream(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
    });
    let (_p, port) = proxy_to(up);
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    // The client connection is closed (no hang, no made-up ending).
    assert!(c.read_to_end(&mut got).is_ok(), "connection left open");
    let text = String::from_utf8_lossy(&got);
    let body_len = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    assert!(
        body_len < 100,
        "the cut response must not look complete: {text}"
    );
    // The worker is fine: a request to a dead port still gets its 502.
    let (_q, port2) = proxy_to(free_port());
    assert_eq!(get(port2, "/").status, 502);
}

#[test]
fn a_client_that_leaves_early_harms_nobody() {
    use std::io::{Read, Write};
    let up = raw_upstream(|mut s| {
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .is_err()
            {
                break;
            }
        }
    });
    let (p, port) = proxy_to(up);
    for _ in 0..5 {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        drop(c);
    }
    assert_eq!(get(port, "/").text(), "ok");
    assert!(!p.stderr_text().contains("panicked"), "{}", p.stderr_text());
}

#[test]
fn bounded_concurrent_load_sees_no_errors() {
    let port = free_port();
    let up = free_port();
    let _u = Pipy::script(
        &format!("pipy().listen({up}).serveHTTP(msg => new Message(msg.head.path))"),
        &[up],
    );
    let _p = Pipy::script_with(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{up}')))"),
        &[],
        &["--threads=2"],
        &[port],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let workers: Vec<_> = (0..16)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c = Conn::open(port);
                let mut ok = 0;
                for i in 0..100 {
                    if std::time::Instant::now() > deadline {
                        break;
                    }
                    c.send(format!("GET /w{w}/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
                    let r = c.read(false);
                    assert_eq!(r.text(), format!("/w{w}/{i}"));
                    ok += 1;
                }
                ok
            })
        })
        .collect();
    let total: usize = workers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 1600);
}
