//! The command line and the log lines that tools read, as upstream's: its
//! option syntax, `--log-level=debug:TOPIC`, and a worker that stops promptly
//! once no request is in flight.

use crate::harness::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[test]
fn upstream_options_are_accepted_and_topics_filter_debug_lines() {
    let port = free_port();
    let p = Pipy::script_with(
        &format!("pipy().listen({port}).serveHTTP(new Message('hi'))"),
        &[],
        &[
            "--no-graph",
            "--log-level=debug:thread",
            "--trace-objects",
            "--log-local-only",
        ],
        &[port],
    );
    assert_eq!(get(port, "/").text(), "hi");
    wait_for("the thread line", Duration::from_secs(5), || {
        p.stderr_text().contains("[thread] Thread 0 started")
    });
    let log = p.stderr_text();
    assert!(
        log.contains(&format!(
            "[listener] Listening on TCP port {port} at 0.0.0.0"
        )),
        "{log}"
    );
    // Only the thread topic's debug lines: none from other topics.
    assert!(
        !log.contains("DEBUG")
            || log
                .lines()
                .filter(|l| l.contains("DEBUG"))
                .all(|l| l.contains("[thread]")),
        "{log}"
    );
}

#[test]
fn bad_log_levels_and_topics_stop_pipy_with_a_reason() {
    let (code, _, err) = run_to_end(&["--log-level=verbose", "-e", "1"]);
    assert_eq!(code, 255);
    assert!(err.contains("unknown log level: verbose"), "{err}");
    let (code, _, err) = run_to_end(&["--log-level=debug:nope", "-e", "1"]);
    assert_eq!(code, 255);
    assert!(err.contains("unknown log topic: nope"), "{err}");
    let (code, out, _) = run_to_end(&["-version"]);
    assert_eq!(code, 0);
    assert!(out.contains("pipy"), "{out}");
}

#[test]
fn the_log_can_go_to_a_file() {
    let dir = temp_dir();
    let log = dir.join("pipy.log");
    let arg = format!("--log-file={}", log.display());
    let (code, _, err) = run_to_end(&[
        &arg,
        "-e",
        "pipy().task().onStart(() => (console.log('to the file'), pipy.exit(0), new Data))",
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("to the file"), "{text}");
    assert!(!err.contains("to the file"), "{err}");
}

#[test]
fn force_start_skips_a_port_in_use() {
    let taken = TcpListener::bind("0.0.0.0:0").expect("bind");
    let busy = taken.local_addr().expect("addr").port();
    let free = free_port();
    let script = format!(
        "pipy().listen({busy}).serveHTTP(new Message('a')).listen({free}).serveHTTP(new Message('b'))"
    );
    let p = Pipy::script_with(&script, &[], &["--force-start"], &[free]);
    assert_eq!(get(free, "/").text(), "b");
    assert!(
        p.stderr_text().contains("Cannot start listening"),
        "{}",
        p.stderr_text()
    );
}

/// After SIGINT, an idle keep-alive client and a pooled upstream connection
/// (a muxHTTP session to a port of the same process) do not hold the worker up.
#[test]
fn sigint_exits_once_no_request_is_in_flight() {
    let (port, backend) = (free_port(), free_port());
    let script = format!(
        "pipy().listen({backend}).serveHTTP(new Message('ok'))\n\
         .listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{backend}')))"
    );
    let mut p = Pipy::script(&script, &[port, backend]);
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("send");
    let mut buf = [0u8; 256];
    let n = c.read(&mut buf).expect("answer");
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("ok"));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &p.child.id().to_string()])
        .status();
    let t = Instant::now();
    let mut code = None;
    while t.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(s)) = p.child.try_wait() {
            code = s.code();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(code, Some(0), "exited in {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
