//! Driving a repo over its REST API.

use crate::{free_port, get, Conn, Pipy, Response};
use std::time::{Duration, Instant};

/// One request with a body on a new connection.
pub fn request(port: u16, method: &str, path: &str, body: &str) -> Response {
    let mut c = Conn::open(port);
    c.send(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    c.read(method == "HEAD")
}

/// Starts `pipy <args>` as a repo on a free loopback port; returns it and the port.
pub fn repo(args: &[&str]) -> (Pipy, u16) {
    let port = free_port();
    let admin = format!("--admin-port=127.0.0.1:{port}");
    let mut all = vec![admin.as_str()];
    all.extend_from_slice(args);
    (Pipy::spawn(&all, &[port]), port)
}

/// Creates codebase `cb` (if new) with `main.js` and publishes `version`.
pub fn publish(port: u16, cb: &str, main_js: &str, version: &str) {
    let _ = request(port, "POST", &format!("/api/v1/repo{cb}"), "");
    let r = request(
        port,
        "POST",
        &format!("/api/v1/repo-files{cb}/main.js"),
        main_js,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = request(
        port,
        "PATCH",
        &format!("/api/v1/repo{cb}"),
        &format!(r#"{{"version":"{version}"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

/// Polls `ok` every 100 ms until it holds; fails the test after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `f` every 200 ms until it gives `Some`, for at most `limit`, and returns
/// what it gave.
pub fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The body `GET /` gets on `port`, or `""` when nothing listens there.
pub fn text_on(port: u16) -> String {
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => get(port, "/").text(),
        Err(_) => String::new(),
    }
}
