//! Worker threads, graceful drain and `pipy.exit()`.

use crate::harness::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn two_threads_share_the_port() {
    let port = free_port();
    let _p = Pipy::script_with(
        &format!("pipy().listen({port}).serveHTTP(new Message('mt'))"),
        &[],
        &["--threads=2"],
        &[port],
    );
    let handles: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || (0..25).map(|_| get(port, "/").text()).collect::<Vec<_>>())
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().iter().all(|t| t == "mt"));
    }
}

/// A raw upstream that answers its first request after a pause.
fn slow_upstream(delay: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            std::thread::sleep(delay);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow");
        }
    });
    port
}

#[test]
fn sigterm_drains_in_flight_requests() {
    let up = slow_upstream(Duration::from_millis(700));
    let port = free_port();
    let mut p = Pipy::script(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{up}')))"),
        &[port],
    );
    let client = std::thread::spawn(move || get(port, "/"));
    std::thread::sleep(Duration::from_millis(200));
    let code = p.terminate();
    let r = client.join().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "slow"));
    assert_eq!(code, Some(0));
}

#[test]
fn pipy_exit_stops_with_its_code() {
    let dir = temp_dir();
    std::fs::write(
        dir.join("main.js"),
        "pipy().task().onStart(() => (pipy.exit(3), new Data('')))",
    )
    .unwrap();
    let (code, _, err) = run_to_end(&[&dir.join("main.js").to_string_lossy()]);
    assert_eq!(code, 3, "{err}");
}

#[test]
fn pipy_restart_reloads_and_a_broken_version_keeps_the_old_one() {
    let port = free_port();
    let script = |text: &str| {
        format!(
            "((v = pipy.load('version.txt').toString()) => pipy()
              .listen({port}).serveHTTP(msg => msg.head.path == '/restart' ? (pipy.restart(), new Message('restarting')) : new Message(v + ' {text}')))()"
        )
    };
    let p = Pipy::script_with(&script("a"), &[("version.txt", "v1")], &[], &[port]);
    // The script lives in its own folder: find it through the command line.
    let main = std::fs::read_to_string(format!("/proc/{}/cmdline", p.child.id())).unwrap();
    let main = std::path::PathBuf::from(main.split('\0').find(|s| s.ends_with("main.js")).unwrap());
    let code_dir = main.parent().unwrap();
    assert_eq!(get(port, "/").text(), "v1 a");
    // A new version: new file contents and a new script.
    std::fs::write(code_dir.join("version.txt"), "v2").unwrap();
    std::fs::write(&main, script("b")).unwrap();
    assert_eq!(get(port, "/restart").text(), "restarting");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get(port, "/").text() != "v2 b" {
        assert!(
            std::time::Instant::now() < deadline,
            "not reloaded: {}",
            p.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A broken version is refused; the running one keeps serving.
    std::fs::write(&main, "pipy().listen(").unwrap();
    assert_eq!(get(port, "/restart").text(), "restarting");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !p.stderr_text().contains("Failed reloading codebase") {
        assert!(std::time::Instant::now() < deadline, "{}", p.stderr_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        p.stderr_text().contains("main.js:1:"),
        "{}",
        p.stderr_text()
    );
    assert_eq!(get(port, "/").text(), "v2 b");
}

#[test]
fn the_admin_port_serves_metrics_and_status() {
    let port = free_port();
    let admin = free_port();
    let flag = format!("--admin-port=127.0.0.1:{admin}");
    let _p = Pipy::script_with(
        &format!("pipy().listen({port}).serveHTTP(new Message('m'))"),
        &[],
        &[&flag, "--instance-name=metrics-test"],
        &[port, admin],
    );
    for _ in 0..3 {
        assert_eq!(get(port, "/").text(), "m");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // Bytes received from clients, per listening port: as upstream, no
    // per-client series without `peerStats: true`.
    let received = |text: &str| -> u64 {
        let key = format!("pipy_inbound_in_total{{listen=\"[0.0.0.0]:{port}/TCP\"}} ");
        assert!(!text.contains("peer=\"127.0.0.1\""), "{text}");
        text.lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    loop {
        let m = get(admin, "/metrics");
        assert_eq!(m.status, 200);
        assert_eq!(
            m.header("content-type"),
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
        );
        let text = m.text();
        if received(&text) > 0 && text.contains("# TYPE pipy_inbound_count gauge\n") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = get(admin, "/status");
    assert!(
        s.text().contains(r#""name":"metrics-test""#),
        "{}",
        s.text()
    );
    assert_eq!(get(admin, "/readyz").status, 200);
    assert_eq!(get(admin, "/nothing").status, 404);
}
