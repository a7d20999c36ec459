//! Backpressure end to end: a proxy between a fast side and a slow one holds
//! its memory bounded, and every byte arrives.

use crate::harness::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Bytes each test moves through the proxy.
const TOTAL: u64 = 1 << 30;
/// Peak resident memory the proxy may reach.
const RSS_LIMIT_KB: u64 = 64 * 1024;

/// A block of the repeating test pattern; its length is prime, so a byte lost
/// or repeated anywhere shifts everything after it.
fn pattern() -> Vec<u8> {
    (0..65521u32)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect()
}

/// Writes `total` bytes of the pattern.
fn write_pattern(w: &mut impl Write, total: u64) -> std::io::Result<()> {
    let p = pattern();
    let mut left = total;
    while left > 0 {
        let n = left.min(p.len() as u64) as usize;
        w.write_all(&p[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Reads `total` bytes and checks them against the pattern, pausing every
/// `pause_every` bytes for a millisecond (a slow reader).
fn read_pattern(r: &mut impl Read, total: u64, pause_every: u64) -> u64 {
    let p = pattern();
    let mut buf = vec![0u8; 16 * 1024];
    let (mut got, mut since_pause) = (0u64, 0u64);
    while got < total {
        let want = ((total - got) as usize).min(buf.len());
        let n = r.read(&mut buf[..want]).expect("read");
        if n == 0 {
            break;
        }
        let mut off = 0;
        while off < n {
            let at = ((got + off as u64) % p.len() as u64) as usize;
            let len = (n - off).min(p.len() - at);
            assert!(
                buf[off..off + len] == p[at..at + len],
                "bytes differ near offset {}",
                got + off as u64
            );
            off += len;
        }
        got += n as u64;
        since_pause += n as u64;
        if since_pause >= pause_every {
            since_pause = 0;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    got
}

/// Reads an HTTP head, returning it as text.
fn read_head(r: &mut impl BufRead) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).expect("head") == 0 {
            break;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    head
}

/// Peak resident set of a process, in KiB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// An origin answering one request with `total` bytes as fast as it may:
/// its port, and its thread.
fn fast_origin(total: u64) -> (u16, std::thread::JoinHandle<()>) {
    let backend = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = backend.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (s, _) = backend.accept().expect("accept");
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        read_head(&mut r);
        let mut w = s;
        write!(w, "HTTP/1.1 200 OK\r\ncontent-length: {total}\r\n\r\n").expect("head");
        // The proxy may close early if the test fails; that is its report.
        let _ = write_pattern(&mut w, total);
    });
    (port, server)
}

fn proxy_script(port: u16, backend: u16) -> String {
    format!(
        "pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{backend}')))"
    )
}

#[test]
fn a_slow_reader_behind_a_fast_upstream_holds_memory_bounded() {
    let (bport, server) = fast_origin(TOTAL);
    let port = free_port();
    let pipy = Pipy::script(&proxy_script(port, bport), &[port]);
    let started = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.write_all(b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("send");
    let mut r = BufReader::with_capacity(16 * 1024, c);
    let head = read_head(&mut r);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let got = read_pattern(&mut r, TOTAL, 256 * 1024);
    assert_eq!(got, TOTAL, "all bytes arrive");
    let rss = peak_rss_kb(pipy.child.id());
    eprintln!(
        "slow reader: {} MiB in {:?}, peak RSS {} KiB",
        TOTAL >> 20,
        started.elapsed(),
        rss
    );
    assert!(rss < RSS_LIMIT_KB, "peak RSS {rss} KiB");
    server.join().expect("backend");
}

#[test]
fn a_fast_writer_in_front_of_a_slow_upstream_holds_memory_bounded() {
    let backend = TcpListener::bind("127.0.0.1:0").expect("bind");
    let bport = backend.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (s, _) = backend.accept().expect("accept");
        let mut r = BufReader::with_capacity(16 * 1024, s.try_clone().expect("clone"));
        let head = read_head(&mut r);
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("content-length: {TOTAL}")),
            "{head}"
        );
        let got = read_pattern(&mut r, TOTAL, 256 * 1024);
        let mut w = s;
        let body = got.to_string();
        write!(
            w,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("answer");
    });
    let port = free_port();
    let pipy = Pipy::script(&proxy_script(port, bport), &[port]);
    let started = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        c,
        "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: {TOTAL}\r\n\r\n"
    )
    .expect("head");
    write_pattern(&mut c, TOTAL).expect("upload");
    let mut r = BufReader::new(c);
    let head = read_head(&mut r);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut body = vec![0u8; TOTAL.to_string().len()];
    r.read_exact(&mut body).expect("body");
    assert_eq!(
        String::from_utf8_lossy(&body),
        TOTAL.to_string(),
        "the upstream got every byte"
    );
    let rss = peak_rss_kb(pipy.child.id());
    eprintln!(
        "slow upstream: {} MiB in {:?}, peak RSS {} KiB",
        TOTAL >> 20,
        started.elapsed(),
        rss
    );
    assert!(rss < RSS_LIMIT_KB, "peak RSS {rss} KiB");
    server.join().expect("backend");
}

/// An HTTP/2 client that asks for `/big`, reads nothing for a second (its
/// window and the socket fill up), then reads it all; prints the byte count.
const H2_SLOW_CLIENT: &str = r#"
import socket, sys, time, h2.connection, h2.events, h2.config
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.settimeout(30)
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.initiate_connection()
c.send_headers(1, [(':method', 'GET'), (':path', '/big'), (':scheme', 'http'), (':authority', 'x')], end_stream=True)
s.sendall(c.data_to_send())
time.sleep(1)
got = 0
while True:
    data = s.recv(1 << 20)
    if not data:
        break
    done = False
    for e in c.receive_data(data):
        if isinstance(e, h2.events.DataReceived):
            got += len(e.data)
            c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        elif isinstance(e, h2.events.StreamEnded):
            done = True
    s.sendall(c.data_to_send())
    if done:
        break
print(got, flush=True)
"#;

#[test]
fn a_slow_http2_reader_behind_a_fast_upstream_holds_memory_bounded() {
    const H2_TOTAL: u64 = 256 << 20;
    let (bport, server) = fast_origin(H2_TOTAL);
    let port = free_port();
    let pipy = Pipy::script(&proxy_script(port, bport), &[port]);
    let started = Instant::now();
    let out = std::process::Command::new("python3")
        .args(["-c", H2_SLOW_CLIENT, &port.to_string()])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        H2_TOTAL.to_string(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rss = peak_rss_kb(pipy.child.id());
    eprintln!(
        "slow HTTP/2 reader: {} MiB in {:?}, peak RSS {rss} KiB",
        H2_TOTAL >> 20,
        started.elapsed()
    );
    assert!(rss < RSS_LIMIT_KB, "peak RSS {rss} KiB");
    server.join().expect("backend");
}
