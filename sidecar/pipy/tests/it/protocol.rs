//! HTTP/1 behaviour on the wire: keep-alive, pipelining, bodies, framing, and
//! malformed input.

use crate::harness::*;

/// An echo server: answers with the request body and a few facts in headers.
fn echo_server() -> (Pipy, u16) {
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy().listen({port}).serveHTTP(msg => new Message({{ headers: {{ 'x-method': msg.head.method, 'x-path': msg.head.path }} }}, msg.body))"
        ),
        &[port],
    );
    (p, port)
}

/// A proxy in front of `upstream`.
fn proxy(upstream: u16) -> (Pipy, u16) {
    let port = free_port();
    let p = Pipy::script(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}')))"),
        &[port],
    );
    (p, port)
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let (_p, port) = echo_server();
    let mut c = Conn::open(port);
    for i in 0..5 {
        c.send(format!("GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let r = c.read(false);
        assert_eq!(r.header("x-path"), Some(format!("/r{i}").as_str()));
    }
}

#[test]
fn pipelined_requests_are_answered_in_order_through_a_proxy() {
    let (_u, up) = echo_server();
    let (_p, port) = proxy(up);
    let mut c = Conn::open(port);
    let mut all = Vec::new();
    for i in 0..10 {
        all.extend_from_slice(
            format!("POST /p{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{i:02}").as_bytes(),
        );
    }
    c.send(&all);
    for i in 0..10 {
        let r = c.read(false);
        assert_eq!(r.header("x-path"), Some(format!("/p{i}").as_str()));
        assert_eq!(r.text(), format!("{i:02}"));
    }
}

#[test]
fn chunked_request_body_is_decoded() {
    let (_p, port) = echo_server();
    let mut c = Conn::open(port);
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.text(), "hello world");
    // The connection stays usable after a chunked message.
    c.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).header("x-path"), Some("/after"));
}

#[test]
fn large_bodies_stream_through_a_proxy_both_ways() {
    let (_u, up) = echo_server();
    let (_p, port) = proxy(up);
    let body: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let r = post(port, "/big", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len());
    assert!(r.body == body, "body bytes differ");
    // A body the handler holds whole keeps its length (no re-chunking), and the
    // proxy keeps it too.
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(r.header("transfer-encoding"), None);
}

#[test]
fn http10_closes_unless_keep_alive() {
    let (_p, port) = echo_server();
    let mut c = Conn::open(port);
    c.send(b"GET /a HTTP/1.0\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 200);
    assert!(c.is_closed(), "HTTP/1.0 without keep-alive must close");

    let mut c = Conn::open(port);
    c.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.read(false).header("connection"), Some("keep-alive"));
    c.send(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.read(false).header("x-path"), Some("/b"));
}

#[test]
fn connection_close_is_honoured() {
    let (_p, port) = echo_server();
    let mut c = Conn::open(port);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

#[test]
fn expect_continue_gets_an_interim_response() {
    let (_p, port) = echo_server();
    let mut c = Conn::open(port);
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    // The interim answer comes before the body is sent.
    assert_eq!(c.read_interim(), 100);
    c.send(b"data");
    let r = c.read(false);
    assert_eq!(r.text(), "data");
}

#[test]
fn head_and_no_content_responses_have_no_body() {
    let port = free_port();
    let _p = Pipy::script(
        &format!("pipy().listen({port}).serveHTTP(msg => msg.head.path == '/204' ? new Message({{status: 204}}) : new Message('twelve bytes'))"),
        &[port],
    );
    let mut c = Conn::open(port);
    c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(true);
    assert_eq!(r.status, 200);
    c.send(b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 204);
    assert!(r.header("content-length").is_none());
    // Had a body leaked after HEAD or 204, this would not parse.
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "twelve bytes");
}

fn expect_400_and_close(port: u16, raw: &[u8]) {
    expect_status_and_close(port, raw, 400);
}

pub(crate) fn expect_status_and_close(port: u16, raw: &[u8], status: u16) {
    let mut c = Conn::open(port);
    c.send(raw);
    let r = c.read(false);
    assert_eq!(r.status, status, "for {:?}", String::from_utf8_lossy(raw));
    assert!(c.is_closed(), "must close after a bad request");
}

#[test]
fn malformed_requests_get_400_and_close() {
    let (_p, port) = echo_server();
    expect_400_and_close(port, b"GET\r\n\r\n");
    expect_400_and_close(port, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    expect_400_and_close(port, b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n");
    expect_400_and_close(
        port,
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    expect_400_and_close(
        port,
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    );
    expect_400_and_close(port, b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
    let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..3000 {
        huge.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(30)).as_bytes());
    }
    huge.extend_from_slice(b"\r\n");
    expect_status_and_close(port, &huge, 431);
}

#[test]
fn a_smuggled_second_request_is_not_served() {
    let (_p, port) = echo_server();
    let mut c = Conn::open(port);
    // CL and TE together: rejected as a whole, the hidden request never runs.
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 400);
    assert!(c.is_closed());
}

#[test]
fn idle_connections_close_after_the_listen_idle_timeout() {
    let port = free_port();
    let _p = Pipy::script(
        &format!("pipy().listen({port}, {{ idleTimeout: '300ms' }}).serveHTTP(new Message('x'))"),
        &[port],
    );
    let mut c = Conn::open(port);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "x");
    let t = std::time::Instant::now();
    assert!(c.is_closed(), "idle connection must be closed");
    let waited = t.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(150)
            && waited < std::time::Duration::from_secs(4),
        "{waited:?}"
    );
}

#[test]
fn a_fixed_response_is_right_on_every_path() {
    let port = free_port();
    let _p = Pipy::script(
        &format!("pipy().listen({port}).serveHTTP(new Message({{ headers: {{ 'x-fixed': '1' }} }}, 'fixed'))"),
        &[port],
    );
    let mut c = Conn::open(port);
    // Alone (the encoded-once fast path), then pipelined with a HEAD in between.
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!(
        (r.text().as_str(), r.header("x-fixed")),
        ("fixed", Some("1"))
    );
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "fixed");
    let h = c.read(true);
    assert_eq!(h.header("content-length"), Some("5"));
    assert_eq!(c.read(false).text(), "fixed");
    // HTTP/1.0 gets an answer (in HTTP/1.1, RFC 9110 §2.5) and a close.
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.text(), "fixed");
    assert!(c.is_closed());
}
