//! Logs end to end (spec §5.4, §6.3): a real repo, a real worker whose script logs on
//! every request, and a WebSocket watcher on the repo's `/api/v1/log/UUID/pipy_log`.

use pipy_e2e::*;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{client, Message, WebSocket};

type Ws = WebSocket<TcpStream>;

/// A blocking WebSocket client on the repo at `port`; each read waits at most 1 s.
fn watch(port: u16, path: &str) -> Ws {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("repo is listening");
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("read timeout");
    let (mut ws, res) = client::client(format!("ws://127.0.0.1:{port}{path}"), stream)
        .expect("WebSocket handshake");
    assert_eq!(res.status(), 101);
    ws.send(Message::text("watch\n")).expect("send watch");
    ws
}

/// Text frames until one contains `want` or `limit` passes: everything read, and
/// whether `want` was in it.
fn read_until(ws: &mut Ws, want: &str, limit: Duration) -> (String, bool) {
    let deadline = Instant::now() + limit;
    let mut seen = String::new();
    while !seen.contains(want) {
        if Instant::now() >= deadline {
            return (seen, false);
        }
        match ws.read() {
            Ok(Message::Text(t)) => seen.push_str(&t),
            Ok(_) => {}
            // The read timeout: try again until the deadline.
            Err(tokio_tungstenite::tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("watcher socket failed: {e}; got {seen:?}"),
        }
    }
    (seen, true)
}

#[test]
fn a_watcher_gets_the_tail_then_new_lines_of_a_worker() {
    let (r, port) = repo(&[]);
    let app = free_port();
    publish(
        port,
        "/app",
        // A script is one expression, as in upstream PipyJS.
        &format!(
            "(console.log('script loaded'), pipy().listen({app})
               .serveHTTP(req => (console.log('served', req.head.path), new Message('hi'))))"
        ),
        "1",
    );
    let uuid = "0bd0c8a2-log-test";
    let url = format!("http://127.0.0.1:{port}/repo/app/");
    let w = Pipy::spawn(&[&url, &format!("--instance-uuid={uuid}")], &[app]);

    // The tail comes first (the admin link connects on the worker's first tick).
    let mut ws = watch(port, &format!("/api/v1/log/{uuid}/pipy_log"));
    let (tail, found) = read_until(&mut ws, "script loaded", Duration::from_secs(15));
    assert!(found, "no tail: {tail:?}");
    assert!(tail.contains("[INF] script loaded\n"), "{tail}");
    assert!(!tail.contains("served /first"), "{tail}");

    // A request logs a line, which streams to the watcher. The worker may still be
    // between the tail and `log/on`, so keep asking until a line shows.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut lines = String::new();
    while !lines.contains("served /first") {
        assert!(Instant::now() < deadline, "no streamed line: {lines:?}");
        assert_eq!(get(app, "/first").text(), "hi");
        lines += &read_until(&mut ws, "served", Duration::from_secs(2)).0;
    }
    assert!(lines.contains(" [INF] served /first\n"), "{lines}");
    assert!(
        w.stderr_text().contains("served /first"),
        "{}",
        w.stderr_text()
    );

    // The worker reports its log, and the repo shows and streams its own.
    wait_for("logs in the report", Duration::from_secs(15), || {
        request(port, "GET", "/api/v1/repo/app", "")
            .text()
            .contains(r#""logs":["pipy_log"]"#)
    });
    let own = request(port, "GET", "/log", "").text();
    assert!(own.contains("[INF] "), "{own}");
    let mut own_ws = watch(port, "/api/v1/log//pipy_log");
    let (own_tail, found) = read_until(&mut own_ws, "[INF] ", Duration::from_secs(5));
    assert!(
        found && own_tail.starts_with(&own),
        "{own_tail:?} vs {own:?}"
    );
    drop(r);
}

/// A script logger's lines go into the history of its name, whatever its
/// targets (here none), as upstream's: the worker reports the name with
/// `pipy_log`, and a watcher of `/api/v1/log/UUID/NAME` gets its tail, then
/// its new lines.
#[test]
fn a_script_loggers_lines_reach_a_watcher_by_its_name() {
    let (r, port) = repo(&[]);
    let app = free_port();
    publish(
        port,
        "/named",
        &format!(
            "((access = new logging.JSONLogger('access')) => (access.log({{ event: 'loaded' }}), pipy().listen({app})
               .serveHTTP(req => (access.log({{ path: req.head.path }}), new Message('hi')))))()"
        ),
        "1",
    );
    let uuid = "5a1e4f00-named-log";
    let url = format!("http://127.0.0.1:{port}/repo/named/");
    let _w = Pipy::spawn(&[&url, &format!("--instance-uuid={uuid}")], &[app]);
    wait_for("the logger in the report", Duration::from_secs(15), || {
        request(port, "GET", "/api/v1/repo/named", "")
            .text()
            .contains(r#""logs":["pipy_log","access"]"#)
    });
    let mut ws = watch(port, &format!("/api/v1/log/{uuid}/access"));
    let (tail, found) = read_until(&mut ws, r#"{"event":"loaded"}"#, Duration::from_secs(15));
    assert!(found, "no tail: {tail:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut lines = String::new();
    while !lines.contains(r#"{"path":"/seen"}"#) {
        assert!(Instant::now() < deadline, "no streamed line: {lines:?}");
        assert_eq!(get(app, "/seen").text(), "hi");
        lines += &read_until(&mut ws, "/seen", Duration::from_secs(2)).0;
    }
    // Lines of the log are bare, as the logger wrote them.
    assert!(lines.contains("{\"path\":\"/seen\"}\n"), "{lines}");
    drop(r);
}
