//! Repo mode and worker mode: a real `pipy` repo and real `pipy` workers.

use crate::harness::*;
use std::time::{Duration, Instant};

fn request(port: u16, method: &str, path: &str, body: &str) -> Response {
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

fn repo(args: &[&str]) -> (Pipy, u16) {
    let port = free_port();
    let admin = format!("--admin-port=127.0.0.1:{port}");
    let mut all = vec![admin.as_str()];
    all.extend_from_slice(args);
    (Pipy::spawn(&all, &[port]), port)
}

/// Creates codebase `cb` with `main.js` and publishes `version`.
fn publish(port: u16, cb: &str, main_js: &str, version: &str) {
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

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn text_on(port: u16) -> String {
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => get(port, "/").text(),
        Err(_) => String::new(),
    }
}

#[test]
fn init_repo_publishes_every_example() {
    let ex = examples();
    let init = format!("--init-repo={}", ex.display());
    let (_r, port) = repo(&[&init]);
    let list = request(port, "GET", "/repo", "").text();
    assert!(
        list.contains("/01-hello/\n") && list.contains("/gateway/\n"),
        "{list}"
    );
    let m = request(port, "GET", "/repo/07-plugins/", "");
    assert_eq!(m.header("etag"), Some("1"));
    assert_eq!(
        m.text(),
        "/main.js\n/config.js\n/plugins/balancer.js\n/plugins/default.js\n/plugins/router.js"
    );
}

#[test]
fn a_worker_runs_published_versions_and_keeps_the_last_good_one() {
    let (r, port) = repo(&[]);
    let app = free_port();
    publish(
        port,
        "/app",
        &format!("pipy().listen({app}).serveHTTP(new Message('v1'))"),
        "1",
    );
    let url = format!("http://127.0.0.1:{port}/repo/app/");
    let w = Pipy::spawn(&[&url, "--instance-name=w1"], &[app]);
    assert_eq!(get(app, "/").text(), "v1");
    // A new version reaches the worker by its 5 s check.
    publish(
        port,
        "/app",
        &format!("pipy().listen({app}).serveHTTP(new Message('v2'))"),
        "2",
    );
    wait_for("v2", Duration::from_secs(15), || text_on(app) == "v2");
    // The instance reports the version it runs.
    wait_for("the report of v2", Duration::from_secs(15), || {
        request(port, "GET", "/api/v1/repo/app", "")
            .text()
            .contains(r#""name":"w1","ip""#)
            && request(port, "GET", "/api/v1/repo/app", "")
                .text()
                .contains(r#""version":"2""#)
    });
    // A broken version is refused; v2 keeps serving.
    publish(port, "/app", "pipy().listen(", "3");
    wait_for("the failed reload", Duration::from_secs(15), || {
        w.stderr_text().contains("reload failed")
    });
    assert_eq!(get(app, "/").text(), "v2");
    assert!(
        w.stderr_text().contains("main.js:1:"),
        "{}",
        w.stderr_text()
    );
    drop(r);
}

#[test]
fn a_repo_on_disk_survives_a_kill() {
    let dir = temp_dir();
    let d = dir.to_string_lossy().into_owned();
    let (mut r, port) = repo(&[&d]);
    publish(port, "/keep", "pipy().listen(1).dummy()", "7");
    let _ = r.child.kill();
    let _ = r.child.wait();
    let (_r2, port2) = repo(&[&d]);
    let m = request(port2, "GET", "/repo/keep/", "");
    assert_eq!((m.status, m.header("etag")), (200, Some("7")));
    assert_eq!(
        request(port2, "GET", "/repo/keep/main.js", "").text(),
        "pipy().listen(1).dummy()"
    );
}
