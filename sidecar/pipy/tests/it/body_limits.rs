//! Filters that gather whole bodies do so within limits: upstream's
//! `bufferLimit` cuts the body, and without it a default bound ends the stream
//! instead of letting one client grow memory. Pipelined requests are bounded too.

use crate::harness::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn post_raw(port: u16, body_len: usize) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("t");
    write!(
        c,
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {body_len}\r\n\r\n"
    )
    .expect("head");
    let chunk = vec![b'x'; 64 * 1024];
    let mut left = body_len;
    while left > 0 {
        let n = left.min(chunk.len());
        if c.write_all(&chunk[..n]).is_err() {
            break; // the server gave up on the body: its answer says why
        }
        left -= n;
    }
    let mut r = BufReader::new(c);
    let mut status = String::new();
    let _ = r.read_line(&mut status);
    let code = status
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    (code, rest)
}

#[test]
fn buffer_limit_cuts_the_body_as_upstream() {
    let port = free_port();
    let script = format!(
        "pipy().listen({port}).demuxHTTP().to($=>$\n\
           .handleMessage(msg => console.log('got', msg.body.size), {{ bufferLimit: 1000 }})\n\
           .replaceMessage(msg => new Message('size ' + msg.body.size), {{ bufferLimit: '2k' }}))"
    );
    let _p = Pipy::script(&script, &[port]);
    let r = post(port, "/", &vec![b'a'; 5000]);
    assert_eq!(r.text(), "size 2048");
}

#[test]
fn without_a_limit_a_huge_body_ends_the_stream_and_others_carry_on() {
    let port = free_port();
    let script = format!(
        "pipy().listen({port}).demuxHTTP().to($=>$\n\
           .replaceMessage(msg => new Message('size ' + msg.body.size)))"
    );
    let p = Pipy::script(&script, &[port]);
    let (code, _) = post_raw(port, 20 << 20);
    assert_eq!(code, 500, "{}", p.stderr_text());
    assert!(
        p.stderr_text().contains("message body over"),
        "{}",
        p.stderr_text()
    );
    assert_eq!(post(port, "/", b"small").text(), "size 5");
}

#[test]
fn serve_http_answers_413_to_a_request_body_too_large_to_gather() {
    let port = free_port();
    let script = format!("pipy().listen({port}).serveHTTP(msg => new Message('' + msg.body.size))");
    let _p = Pipy::script(&script, &[port]);
    let (code, _) = post_raw(port, 20 << 20);
    assert_eq!(code, 413);
    assert_eq!(post(port, "/", b"abc").text(), "3");
}

#[test]
fn branch_message_holds_a_bounded_amount_before_choosing() {
    let port = free_port();
    let script = format!(
        "pipy().listen({port}).demuxHTTP().to($=>$\n\
           .branchMessage(msg => msg.body.size > 0, $=>$.replaceMessage(new Message('body')),\n\
                          $=>$.replaceMessage(new Message('empty'))))"
    );
    let _p = Pipy::script(&script, &[port]);
    assert_eq!(post(port, "/", b"abc").text(), "body");
    let (code, _) = post_raw(port, 20 << 20);
    assert_eq!(code, 500);
}

/// A client that pipelines thousands of requests without reading answers is
/// paused, not buffered: every answer arrives, in order, and memory stays small.
#[test]
fn pipelined_requests_are_bounded_and_all_answered_in_order() {
    let port = free_port();
    let script = format!("pipy().listen({port}).serveHTTP(msg => new Message(msg.head.path))");
    let p = Pipy::script(&script, &[port]);
    let n = 5000;
    let c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let writer = {
        let mut w = c.try_clone().expect("clone");
        std::thread::spawn(move || {
            let mut all = Vec::new();
            for i in 0..n {
                all.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes());
            }
            w.write_all(&all).expect("pipeline");
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("t");
    let mut r = BufReader::new(c);
    for i in 0..n {
        let mut line = String::new();
        let mut len = 0usize;
        loop {
            line.clear();
            r.read_line(&mut line).expect("head");
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().expect("length");
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).expect("body");
        assert_eq!(String::from_utf8_lossy(&body), format!("/{i}"));
    }
    writer.join().expect("writer");
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.child.id())).expect("status");
    let rss: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB");
}

/// Behind a backend that does not answer, a pipelining client gets at most a
/// bounded number of requests forwarded (32 in progress, plus the rest of the
/// one read that brought them): the rest wait in its own socket.
#[test]
fn a_pipelining_client_is_paused_while_its_requests_wait() {
    let backend = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bport = backend.local_addr().expect("addr").port();
    let port = free_port();
    let script = format!(
        "pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{bport}')))"
    );
    let _p = Pipy::script(&script, &[port]);
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut all = Vec::new();
    for i in 0..5000 {
        all.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes());
    }
    let writer = std::thread::spawn(move || {
        let _ = c.write_all(&all);
        c
    });
    // The harness's readiness probe may have opened a first connection.
    let mut seen = 0;
    backend.set_nonblocking(false).expect("blocking");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while seen == 0 && std::time::Instant::now() < deadline {
        let (mut s, _) = backend.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_millis(1500)))
            .expect("t");
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        seen = String::from_utf8_lossy(&got).matches("GET /").count();
    }
    assert!(seen > 0, "requests reach the backend");
    // One read is at most 64 KiB: about 2,000 of these requests.
    assert!(
        seen <= 2500,
        "{seen} requests forwarded while none was answered"
    );
    drop(backend);
    drop(writer);
}
