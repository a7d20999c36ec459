//! The socket options of `listen` and `connect`, observed from outside.

use crate::harness::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Reads until the peer closes or `limit` passes; true when it closed.
fn closes_within(c: &mut TcpStream, limit: Duration) -> bool {
    c.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = [0u8; 1024];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}

#[test]
fn listen_max_connections_pauses_accepting_at_the_limit() {
    let port = free_port();
    let script =
        format!("pipy().listen({port}, {{ maxConnections: 2 }}).handleData(() => undefined)");
    let _pipy = Pipy::script(&script, &[port]);
    // The harness's readiness probe connected once; let it go.
    std::thread::sleep(Duration::from_millis(100));
    let mut a = TcpStream::connect(("127.0.0.1", port)).expect("a");
    let mut b = TcpStream::connect(("127.0.0.1", port)).expect("b");
    a.write_all(b"x").expect("a");
    b.write_all(b"x").expect("b");
    // The third connection completes in the kernel's backlog but is not served:
    // its data is not echoed until one of the first two closes.
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("c");
    c.write_all(b"third").expect("c");
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("t");
    let mut buf = [0u8; 16];
    assert!(c.read(&mut buf).is_err(), "served while two are open");
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
    let n = c.read(&mut buf).expect("served once one closed");
    assert_eq!(&buf[..n], b"third");
    drop(b);
}

#[test]
fn listen_read_timeout_ends_a_silent_connection() {
    let port = free_port();
    let script = format!("pipy().listen({port}, {{ readTimeout: '300ms' }}).dummy()");
    let _pipy = Pipy::script(&script, &[port]);
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let t = Instant::now();
    assert!(closes_within(&mut c, Duration::from_secs(5)));
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn listen_idle_timeout_zero_means_none_and_a_short_one_closes() {
    let (a, b) = (free_port(), free_port());
    let script = format!(
        "pipy().listen({a}, {{ idleTimeout: 0 }}).dummy()\n\
         .listen({b}, {{ idleTimeout: 0.3 }}).dummy()"
    );
    let _pipy = Pipy::script(&script, &[a, b]);
    let mut never = TcpStream::connect(("127.0.0.1", a)).expect("a");
    let mut soon = TcpStream::connect(("127.0.0.1", b)).expect("b");
    assert!(closes_within(&mut soon, Duration::from_secs(5)));
    assert!(!closes_within(&mut never, Duration::from_millis(800)));
}

#[test]
fn connect_reports_its_states_and_binds_where_told() {
    let backend = TcpListener::bind("127.0.0.1:0").expect("bind");
    let bport = backend.local_addr().expect("addr").port();
    let port = free_port();
    let script = format!(
        "pipy().listen({port})\n\
         .connect('127.0.0.1:{bport}', {{\n\
           bind: '127.0.0.3',\n\
           onState: ob => console.log('state', ob.state, ob.state === 'connected' ? ob.localAddress : ''),\n\
         }})"
    );
    let pipy = Pipy::script(&script, &[port]);
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.write_all(b"ping").expect("send");
    // The harness's readiness probe made a connection first; skip it.
    let mut buf = [0u8; 4];
    let (mut s, peer) = loop {
        let (mut s, peer) = backend.accept().expect("accept");
        if s.read_exact(&mut buf).is_ok() {
            break (s, peer);
        }
    };
    assert_eq!(
        peer.ip().to_string(),
        "127.0.0.3",
        "bound to the given address"
    );
    assert_eq!(&buf, b"ping");
    s.write_all(b"pong").expect("pong");
    c.read_exact(&mut buf).expect("pong");
    assert_eq!(&buf, b"pong");
    drop(s);
    assert!(closes_within(&mut c, Duration::from_secs(5)));
    wait_for("the closed state", Duration::from_secs(5), || {
        pipy.stderr_text().contains("state closed")
    });
    let log = pipy.stderr_text();
    let order: Vec<usize> = [
        "state open",
        "state connecting",
        "state connected 127.0.0.3",
        "state closed",
    ]
    .iter()
    .map(|s| log.find(s).unwrap_or_else(|| panic!("{s} missing:\n{log}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{log}");
}

#[test]
fn listen_write_timeout_ends_a_connection_whose_reader_stalls() {
    let port = free_port();
    let script = format!(
        "pipy().listen({port}, {{ writeTimeout: '300ms' }})\n\
         .serveHTTP(new Message('x'.repeat(32 * 1024 * 1024)))"
    );
    let _pipy = Pipy::script(&script, &[port]);
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("send");
    // Read nothing for a while: the proxy's writes stall and time out.
    std::thread::sleep(Duration::from_secs(2));
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
    let mut total = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(
        total < 32 * 1024 * 1024,
        "the whole body arrived ({total} bytes)"
    );
}

/// Removes an iptables rule when dropped.
struct NatRule(Vec<String>);

impl NatRule {
    fn add(args: &[String]) -> Option<NatRule> {
        let mut add = vec!["-t".to_string(), "nat".into(), "-A".into()];
        add.extend_from_slice(args);
        let ok = std::process::Command::new("iptables")
            .args(&add)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| NatRule(args.to_vec()))
    }
}

impl Drop for NatRule {
    fn drop(&mut self) {
        let mut del = vec!["-t".to_string(), "nat".into(), "-D".into()];
        del.extend_from_slice(&self.0);
        let _ = std::process::Command::new("iptables").args(&del).status();
    }
}

#[test]
fn a_transparent_listener_learns_where_a_redirected_connection_was_going() {
    let port = free_port();
    let script = format!(
        "pipy().listen({port}, {{ transparent: true }})\n\
         .serveHTTP(() => new Message(__inbound.destinationAddress + ':' + __inbound.destinationPort))"
    );
    let _pipy = Pipy::script(&script, &[port]);
    // Not redirected: nothing to learn, as upstream.
    assert_eq!(get(port, "/").text(), ":0");
    // Redirected by a NAT rule, as a sidecar's traffic is.
    let dport = free_port();
    let rule: Vec<String> = [
        "OUTPUT",
        "-p",
        "tcp",
        "-d",
        "127.0.0.77",
        "--dport",
        &dport.to_string(),
        "-j",
        "REDIRECT",
        "--to-ports",
        &port.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let Some(_rule) = NatRule::add(&rule) else {
        eprintln!("iptables cannot add a NAT rule here: the redirected half is not tested");
        return;
    };
    let mut c = TcpStream::connect(("127.0.0.77", dport)).expect("connect through NAT");
    c.write_all(b"GET / HTTP/1.1\r\nconnection: close\r\n\r\n")
        .expect("send");
    let mut text = String::new();
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
    c.read_to_string(&mut text).expect("answer");
    assert!(text.ends_with(&format!("127.0.0.77:{dport}")), "{text}");
}

/// Reads one HTTP/1.1 response with a `content-length` body from `c`;
/// `got` holds what was read past the previous one.
fn read_response(c: &mut TcpStream, got: &mut Vec<u8>) -> (String, Vec<u8>) {
    let mut buf = [0u8; 65536];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            while got.len() < end + 4 + length {
                let n = c.read(&mut buf).expect("body");
                assert!(n > 0, "closed in the body");
                got.extend_from_slice(&buf[..n]);
            }
            let body = got[end + 4..end + 4 + length].to_vec();
            got.drain(..end + 4 + length);
            return (head, body);
        }
        let n = c.read(&mut buf).expect("head");
        assert!(n > 0, "closed before a response");
        got.extend_from_slice(&buf[..n]);
    }
}

/// A read that leaves room in the buffer takes the socket as drained until
/// the next readiness event (one `recvfrom` less per read): bytes that come
/// in pieces, after pauses, or many at once must all still arrive, on the
/// inbound and the outbound side alike.
#[test]
fn bytes_in_pieces_after_pauses_and_in_bulk_all_arrive() {
    let up = free_port();
    let port = free_port();
    let _u = Pipy::script(
        &format!("pipy().listen({up}).serveHTTP(msg => new Message(msg.body))"),
        &[up],
    );
    let _p = Pipy::script(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{up}')))"),
        &[port],
    );
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_nodelay(true).expect("nodelay");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");

    // One request in five pieces, each after the previous one was read.
    let pieces: [&[u8]; 5] = [
        b"POST /a HTTP/1.1\r\nHo",
        b"st: x\r\ncontent-len",
        b"gth: 11\r\n\r\n",
        b"hello ",
        b"world",
    ];
    for piece in pieces {
        c.write_all(piece).expect("piece");
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut got = Vec::new();
    let (head, body) = read_response(&mut c, &mut got);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"hello world");

    // Two requests in one write.
    c.write_all(
        b"POST /b HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n\r\none\
          POST /c HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n\r\ntwo",
    )
    .expect("pipelined");
    assert_eq!(read_response(&mut c, &mut got).1, b"one");
    assert_eq!(read_response(&mut c, &mut got).1, b"two");

    // A body much larger than any read buffer: full reads, then a short one.
    let big: Vec<u8> = (0..3_000_001u32).map(|i| (i % 251) as u8).collect();
    c.write_all(
        format!(
            "POST /d HTTP/1.1\r\nHost: x\r\ncontent-length: {}\r\n\r\n",
            big.len()
        )
        .as_bytes(),
    )
    .expect("head");
    let writer = {
        let mut w = c.try_clone().expect("clone");
        let big = big.clone();
        std::thread::spawn(move || w.write_all(&big).expect("body"))
    };
    let (head, body) = read_response(&mut c, &mut got);
    writer.join().expect("writer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body.len(), big.len());
    assert!(body == big, "the echoed body differs");
    assert!(got.is_empty(), "{} bytes past the last response", got.len());
}
