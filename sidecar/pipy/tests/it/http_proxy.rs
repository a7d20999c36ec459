//! HTTP/1 through `demuxHTTP -> muxHTTP -> connect` against raw TCP backends
//! written here: HTTP/1.0 clients, length-delimited bodies kept as they are,
//! protocol upgrades, and upstreams that fail or do not speak HTTP.

use crate::harness::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A proxy in front of `upstream`, with `options` for `demuxHTTP` and `muxHTTP`.
fn proxy_with(upstream: u16, options: &str) -> (Pipy, u16) {
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy().listen({port}).demuxHTTP({options}).to($=>$.muxHTTP({options}).to($=>$.connect('127.0.0.1:{upstream}')))"
        ),
        &[port],
    );
    (p, port)
}

/// A backend that accepts once and runs `serve` on the connection.
fn backend(serve: impl FnOnce(TcpStream) + Send + 'static) -> (u16, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        serve(s);
    });
    (port, t)
}

/// Reads a head (up to the empty line) and returns its lines.
fn read_head(r: &mut impl BufRead) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            return lines;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            return lines;
        }
        lines.push(line);
    }
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn client(port: u16) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    BufReader::new(s)
}

fn at_eof(r: &mut BufReader<TcpStream>) -> bool {
    let mut b = [0u8; 1];
    matches!(r.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn http10_requests_get_http11_responses_closing_unless_kept_alive() {
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "pipy().listen({port}).serveHTTP(msg => new Message({{ headers: {{ 'x-path': msg.head.path }} }}, 'hi'))"
        ),
        &[port],
    );
    let mut c = client(port);
    c.get_mut().write_all(b"GET /a HTTP/1.0\r\n\r\n").unwrap();
    let head = read_head(&mut c);
    assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
    assert_eq!(header(&head, "connection"), Some("close"));
    let mut body = String::new();
    c.read_to_string(&mut body).unwrap();
    assert_eq!(body, "hi");

    let mut c = client(port);
    for path in ["/b", "/c"] {
        let req = format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        c.get_mut().write_all(req.as_bytes()).unwrap();
        let head = read_head(&mut c);
        assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
        assert_eq!(header(&head, "connection"), Some("keep-alive"));
        assert_eq!(header(&head, "x-path"), Some(path));
        let mut body = [0u8; 2];
        c.read_exact(&mut body).unwrap();
    }
    // A response that asks to close wins over the client's keep-alive.
    let port = free_port();
    let _p = Pipy::script(
        &format!("pipy().listen({port}).serveHTTP(new Message({{ headers: {{ connection: 'close' }} }}, 'bye'))"),
        &[port],
    );
    let mut c = client(port);
    c.get_mut()
        .write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let head = read_head(&mut c);
    assert_eq!(header(&head, "connection"), Some("close"), "{head:?}");
    let mut body = String::new();
    c.read_to_string(&mut body).unwrap();
    assert_eq!(body, "bye");
}

#[test]
fn known_length_bodies_keep_their_length_and_stream_through_a_proxy() {
    const LEN: usize = 32 << 20;
    const FIRST: usize = 1 << 20;
    let body: Vec<u8> = (0..LEN).map(|i| (i * 7 % 251) as u8).collect();
    let (head_seen_tx, head_seen) = mpsc::channel();
    let (go_on, go_on_rx) = mpsc::channel::<()>();
    let expect = body.clone();
    let (up, t) = backend(move |s| {
        let mut r = BufReader::new(s);
        let head = read_head(&mut r);
        head_seen_tx.send(head.clone()).unwrap();
        let mut got = vec![0u8; LEN];
        r.read_exact(&mut got).unwrap();
        assert!(got == expect, "request body bytes differ");
        let w = r.get_mut();
        w.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {LEN}\r\n\r\n").as_bytes())
            .unwrap();
        w.write_all(&got[..FIRST]).unwrap();
        // The rest only once the client has seen the head: nothing buffers it all.
        go_on_rx.recv_timeout(Duration::from_secs(20)).unwrap();
        w.write_all(&got[FIRST..]).unwrap();
    });
    let (_p, port) = proxy_with(up, "");
    let mut c = client(port);
    let req = format!("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: {LEN}\r\n\r\n");
    c.get_mut().write_all(req.as_bytes()).unwrap();
    c.get_mut().write_all(&body[..FIRST]).unwrap();
    // The backend sees the request before the client has sent it all.
    let head = head_seen.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(
        header(&head, "content-length"),
        Some(LEN.to_string().as_str())
    );
    assert_eq!(header(&head, "transfer-encoding"), None);
    c.get_mut().write_all(&body[FIRST..]).unwrap();
    let head = read_head(&mut c);
    assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
    assert_eq!(
        header(&head, "content-length"),
        Some(LEN.to_string().as_str())
    );
    assert_eq!(header(&head, "transfer-encoding"), None);
    go_on.send(()).unwrap();
    let mut got = vec![0u8; LEN];
    c.read_exact(&mut got).unwrap();
    assert!(got == body, "response body bytes differ");
    t.join().unwrap();
}

#[test]
fn an_upgrade_tunnels_bytes_both_ways_through_a_proxy() {
    let (up, t) = backend(|s| {
        let mut r = BufReader::new(s);
        let head = read_head(&mut r);
        assert_eq!(header(&head, "upgrade"), Some("websocket"), "{head:?}");
        let w = r.get_mut();
        // The first tunnel bytes share a packet with the 101.
        w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello")
            .unwrap();
        // Echo until the client's FIN, then a last word (the tunnel is half
        // open: the client still reads) and close.
        let mut buf = [0u8; 4096];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            r.get_mut().write_all(&buf[..n]).unwrap();
        }
        r.get_mut().write_all(b"bye").unwrap();
    });
    let (_p, port) = proxy_with(up, "");
    let mut c = client(port);
    c.get_mut()
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .unwrap();
    let head = read_head(&mut c);
    assert!(head[0].starts_with("HTTP/1.1 101"), "{head:?}");
    let mut hello = [0u8; 5];
    c.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    for msg in [
        &b"\x81\x04ping"[..],
        b"not HTTP at all\r\n\r\n",
        &[0u8; 70_000],
    ] {
        c.get_mut().write_all(msg).unwrap();
        let mut back = vec![0u8; msg.len()];
        c.read_exact(&mut back).unwrap();
        assert!(back == msg, "echo differs");
    }
    c.get_mut().shutdown(Shutdown::Write).unwrap();
    let mut last = Vec::new();
    c.read_to_end(&mut last).unwrap();
    assert_eq!(last, b"bye", "the far end's last bytes, then its close");
    t.join().unwrap();
}

#[test]
fn an_upgrade_ends_when_the_far_end_closes() {
    // With and without the request asking for it: a 101 is a 101.
    for req in [
        &b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let (up, t) = backend(|mut s| {
            let mut r = BufReader::new(s.try_clone().unwrap());
            read_head(&mut r);
            s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
                .unwrap();
            let mut ping = [0u8; 4];
            r.read_exact(&mut ping).unwrap();
            s.write_all(&ping).unwrap();
            s.write_all(b"bye").unwrap();
        });
        let (_p, port) = proxy_with(up, "");
        let mut c = client(port);
        c.get_mut().write_all(req).unwrap();
        assert!(read_head(&mut c)[0].starts_with("HTTP/1.1 101"));
        c.get_mut().write_all(b"ping").unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"pingbye");
        t.join().unwrap();
    }
}

#[test]
fn an_upstream_failing_mid_response_sends_what_came_then_closes() {
    let (up, t) = backend(|s| {
        let mut r = BufReader::new(s);
        read_head(&mut r);
        r.get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Up: 1\r\n\r\npartial")
            .unwrap();
    });
    let (_p, port) = proxy_with(up, "");
    let mut c = client(port);
    c.get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = read_head(&mut c);
    assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
    assert_eq!(header(&head, "x-up"), Some("1"));
    assert_eq!(header(&head, "content-length"), Some("100"));
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"partial");
    t.join().unwrap();
}

#[test]
fn an_upstream_that_does_not_speak_http_gets_502() {
    for garbage in [&b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..], b"\x16\x03\x01\x00"] {
        let (up, t) = backend(move |s| {
            let mut r = BufReader::new(s);
            read_head(&mut r);
            r.get_mut().write_all(garbage).unwrap();
            // The connection stays open: the proxy must not wait for more, and
            // it closes this connection, whose framing is lost.
            let mut rest = Vec::new();
            let _ = r.read_to_end(&mut rest);
        });
        let (_p, port) = proxy_with(up, "");
        let r = get(port, "/");
        assert_eq!(r.status, 502, "for {garbage:?}");
        t.join().unwrap();
    }
}

#[test]
fn encode_http_response_sends_what_it_held_when_the_stream_ends() {
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "pipy().listen({port}).decodeHTTPRequest()
              .replaceMessage(() => [new MessageStart({{ status: 200 }}), new Data('partial')])
              .encodeHTTPResponse()"
        ),
        &[port],
    );
    let mut c = client(port);
    c.get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    c.get_mut().shutdown(Shutdown::Write).unwrap();
    let head = read_head(&mut c);
    assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    // Chunked, and never finished: the client knows the message was cut.
    assert_eq!(rest, b"7\r\npartial\r\n");
}

#[test]
fn a_request_cut_short_closes_its_upstream_connection() {
    let (done_tx, done) = mpsc::channel();
    let (up, t) = backend(move |s| {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = BufReader::new(s);
        read_head(&mut r);
        // The rest of the body never comes: the proxy must not leave this
        // connection open with a message half sent (its framing is lost).
        let mut rest = Vec::new();
        done_tx.send(r.read_to_end(&mut rest).is_ok()).unwrap();
    });
    let (_p, port) = proxy_with(up, "");
    let mut c = client(port);
    // More than the 16 KiB held back, so that the request has started upstream.
    c.get_mut()
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    c.get_mut().write_all(&[b'a'; 20_000]).unwrap();
    thread::sleep(Duration::from_millis(100));
    c.get_mut().shutdown(Shutdown::Write).unwrap();
    assert!(at_eof(&mut c), "the client's connection closes");
    let closed = done.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(closed, "the upstream connection was left open");
    t.join().unwrap();
}

/// Two clients whose requests share one upstream session (a fixed key): a
/// request arriving while another's body is still coming waits for it to end,
/// so neither request's bytes land inside the other's. (Upstream's `test/mux`
/// hung on this when requests were interleaved on the wire.)
#[test]
fn requests_sharing_a_session_go_upstream_one_at_a_time() {
    let (port, up) = (free_port(), free_port());
    let _p = Pipy::script(
        &format!(
            "pipy()
            .listen({up}).serveHTTP(msg => new Message(msg.head.path + ':' + msg.body.toString()))
            .listen({port}).demuxHTTP().to($=>$
              .muxHTTP(() => 'shared').to($=>$.connect('127.0.0.1:{up}')))"
        ),
        &[port, up],
    );
    let pause = || thread::sleep(Duration::from_millis(50));
    let mut a = client(port);
    a.get_mut()
        .write_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        .unwrap();
    pause();
    let mut b = client(port);
    b.get_mut()
        .write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nhello-B")
        .unwrap();
    pause();
    // A third client starts a request and leaves while queued: the others go on.
    let mut c = client(port);
    c.get_mut()
        .write_all(b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc")
        .unwrap();
    pause();
    drop(c);
    pause();
    a.get_mut().write_all(b"56789").unwrap();
    for (r, want) in [(&mut a, "/a:0123456789"), (&mut b, "/b:hello-B")] {
        let head = read_head(r);
        assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
        let len: usize = header(&head, "content-length").unwrap().parse().unwrap();
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        assert_eq!(String::from_utf8_lossy(&body), want);
    }
    // The session still works after the dropped request.
    let mut d = client(port);
    d.get_mut()
        .write_all(b"GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = read_head(&mut d);
    assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
    let mut body = vec![0; 3];
    d.read_exact(&mut body).unwrap();
    assert_eq!(body, b"/d:");
}

/// A backend for many connections: `/ws` switches protocols and echoes,
/// anything else gets `ok` (kept alive).
fn upgrading_backend() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming().take(8) {
            let Ok(s) = s else { return };
            thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                loop {
                    let head = read_head(&mut r);
                    if head.is_empty() {
                        return;
                    }
                    if head[0].starts_with("GET /ws") {
                        w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: upgrade\r\n\r\n")
                            .unwrap();
                        let mut buf = [0u8; 1024];
                        while let Ok(n) = r.read(&mut buf) {
                            if n == 0 || w.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                        return;
                    }
                    w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .unwrap();
                }
            });
        }
    });
    port
}

/// An upgrade on a session other streams share makes it that stream's
/// tunnel: a client that used the session before gets its next request
/// answered on another session, not through the tunnel, which carries on.
#[test]
fn an_upgrade_on_a_shared_session_keeps_the_tunnel_to_its_stream() {
    let up = upgrading_backend();
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "pipy().listen({port}).demuxHTTP().to($=>$
              .muxHTTP(() => 'shared').to($=>$.connect('127.0.0.1:{up}')))"
        ),
        &[port],
    );
    let get_ok = |b: &mut BufReader<TcpStream>| {
        b.get_mut()
            .write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let head = read_head(b);
        assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
        let mut body = [0u8; 2];
        b.read_exact(&mut body).unwrap();
        assert_eq!(&body, b"ok");
    };
    // B is on the shared session before A upgrades it.
    let mut b = client(port);
    get_ok(&mut b);
    let mut a = client(port);
    a.get_mut()
        .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: upgrade\r\n\r\n")
        .unwrap();
    let head = read_head(&mut a);
    assert!(head[0].starts_with("HTTP/1.1 101"), "{head:?}");
    let echo = |a: &mut BufReader<TcpStream>, what: &[u8]| {
        a.get_mut().write_all(what).unwrap();
        let mut got = vec![0; what.len()];
        a.read_exact(&mut got).unwrap();
        assert_eq!(got, what);
    };
    echo(&mut a, b"ping");
    // B's next request must not go into A's tunnel.
    get_ok(&mut b);
    echo(&mut a, b"pong");
}
