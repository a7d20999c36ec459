//! A broken request never hangs: seeded random mutations of valid HTTP/1
//! requests, each sent and followed by the client's FIN, must get an answer or a
//! close at once, on a `serveHTTP` port and on a `demuxHTTP -> muxHTTP -> connect`
//! proxy port, and the process must still serve good requests afterwards. The
//! same for mutated responses of an upstream that closes after answering.

use crate::harness::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A tiny xorshift64 generator: deterministic for a seed, no dependency.
struct Rng(u64);

impl Rng {
    /// `default`, or another seed to explore further:
    /// `PIPY_FUZZ_SEED=n cargo test -p pipy --test it http_fuzz`.
    fn seeded(default: u64) -> Rng {
        let seed = std::env::var("PIPY_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(default);
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a?b=c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
    b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    // A refused upgrade: what follows is HTTP again.
    b"GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    b"POST /u HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabcPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
];

/// Bytes that matter to HTTP framing, to insert or overwrite with.
const INTERESTING: &[u8] = b"\r\n :;0123456789abcdefxXG\t\x00\xff-";

const FRAGMENTS: &[&[u8]] = &[
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 7\r\n",
    b"Content-Length: 99999\r\n",
    b"\r\n",
    b"0\r\n\r\n",
    b"ffffffffffffffffff\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        let len = input.len().max(1);
        let at = rng.below(len).min(input.len());
        match rng.below(7) {
            0 => {
                if at < input.len() {
                    input[at] = INTERESTING[rng.below(INTERESTING.len())];
                }
            }
            1 => input.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 => {
                let end = (at + 1 + rng.below(8)).min(input.len());
                input.drain(at..end);
            }
            3 => input.truncate(at),
            4 => {
                let f = FRAGMENTS[rng.below(FRAGMENTS.len())];
                input.splice(at..at, f.iter().copied());
            }
            5 => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                let copy = input[at..end].to_vec();
                input.splice(at..at, copy);
            }
            _ => {
                if at < input.len() {
                    input[at] ^= 1 << rng.below(8);
                }
            }
        }
    }
}

/// Sends `input`, shuts the write side, and reads until the server closes.
/// Returns what was read, or an error naming the hang.
fn exchange(port: u16, input: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    // The server may close (and reset) before taking all the bytes: fine.
    let _ = s.write_all(input);
    let _ = s.shutdown(Shutdown::Write);
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // Some sign of life within 1 s, the close within 3 s.
        let limit = if got.is_empty() { 1 } else { 3 };
        let left = Duration::from_secs(limit).saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(format!(
                "no close after {:?}, got {} bytes",
                start.elapsed(),
                got.len()
            ));
        }
        s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        match s.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Ok(got), // reset: a close too
        }
    }
}

#[test]
fn mutated_requests_never_hang_and_the_process_survives() {
    let (serve, proxy) = (free_port(), free_port());
    let mut p = Pipy::script(
        &format!(
            "pipy()
              .listen({serve}).serveHTTP(msg => new Message('ok:' + msg.body.size))
              .listen({proxy}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{serve}')))"
        ),
        &[serve, proxy],
    );
    let mut rng = Rng::seeded(0x9e37_79b9_7f4a_7c15);
    let started = Instant::now();
    let mut count = 0;
    while count < 20_000 && started.elapsed() < Duration::from_secs(4) {
        let mut input = SEEDS[rng.below(SEEDS.len())].to_vec();
        mutate(&mut rng, &mut input);
        let port = if count % 2 == 0 { serve } else { proxy };
        // A hang is deterministic: an input that fails twice is one, while a
        // single miss may be a busy machine's scheduling.
        if let Err(why) = exchange(port, &input).or_else(|_| exchange(port, &input)) {
            panic!(
                "input #{count} to port {}: {why}\n{:?}",
                if port == serve { "serveHTTP" } else { "proxy" },
                String::from_utf8_lossy(&input)
            );
        }
        count += 1;
    }
    eprintln!("{count} inputs in {:?}", started.elapsed());
    assert!(count >= 50, "only {count} inputs in the time allowed");
    assert!(p.child.try_wait().unwrap().is_none(), "pipy exited");
    for port in [serve, proxy] {
        let r = post(port, "/", b"abc");
        assert_eq!((r.status, r.text().as_str()), (200, "ok:3"));
    }
}

const RESPONSE_SEEDS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nuntil the close",
    b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\ntunnel bytes",
];

/// An upstream that answers each connection with the next response it is given,
/// then closes.
fn scripted_upstream() -> (u16, mpsc::Sender<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let (Ok(mut s), Ok(response)) = (conn, rx.recv()) else {
                return;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut head = Vec::new();
            let mut b = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(n) if n > 0 => head.extend_from_slice(&b[..n]),
                    _ => break,
                }
            }
            let _ = s.write_all(&response);
            let _ = s.shutdown(Shutdown::Both);
        }
    });
    (port, tx)
}

/// Whether a request through `port` gets some bytes or a close within 1 s.
fn answered(port: u16) -> Result<(), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut =>
        {
            Err("neither an answer nor a close within 1 s".into())
        }
        _ => Ok(()),
    }
}

#[test]
fn mutated_responses_never_hang_a_proxy() {
    let (up, responses) = scripted_upstream();
    let proxy = free_port();
    let mut p = Pipy::script(
        &format!(
            "pipy().listen({proxy}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{up}')))"
        ),
        &[proxy],
    );
    let mut rng = Rng::seeded(0x2545_f491_4f6c_dd1d);
    let started = Instant::now();
    let mut count = 0;
    while count < 5_000 && started.elapsed() < Duration::from_secs(3) {
        let mut input = RESPONSE_SEEDS[rng.below(RESPONSE_SEEDS.len())].to_vec();
        mutate(&mut rng, &mut input);
        responses.send(input.clone()).unwrap();
        let twice = || {
            responses.send(input.clone()).unwrap();
            answered(proxy)
        };
        if let Err(why) = answered(proxy).or_else(|_| twice()) {
            panic!(
                "response #{count}: {why}\n{:?}",
                String::from_utf8_lossy(&input)
            );
        }
        count += 1;
    }
    eprintln!("{count} responses in {:?}", started.elapsed());
    assert!(count >= 50, "only {count} responses in the time allowed");
    assert!(p.child.try_wait().unwrap().is_none(), "pipy exited");
    responses.send(RESPONSE_SEEDS[0].to_vec()).unwrap();
    assert_eq!(get(proxy, "/").text(), "hello");
}
