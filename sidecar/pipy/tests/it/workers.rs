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
