//! `throttleMessageRate`, `throttleDataRate`, `throttleConcurrency` and
//! `algo.Quota`. Timings and outputs are those upstream Pipy 1.5.18 gives
//! for the same scripts and clients (compared side by side).

use crate::harness::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

fn serve(script: &str) -> (Pipy, u16) {
    let port = free_port();
    let p = Pipy::script(&script.replace("PORT", &port.to_string()), &[port]);
    (p, port)
}

#[test]
fn message_rate_lets_a_quota_of_messages_through_per_period() {
    let (_p, port) = serve(
        "(q => pipy().listen(PORT).demuxHTTP().to($=>$
           .throttleMessageRate(q)
           .replaceMessage(() => new Message('ok ' + q.current)))
         )(new algo.Quota(2, {per: 0.4}))",
    );
    let start = Instant::now();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let r = get(port, "/");
        seen.push((start.elapsed().as_millis() / 400, r.text()));
    }
    let rounds: Vec<u128> = seen.iter().map(|(t, _)| *t).collect();
    assert_eq!(rounds, [0, 0, 1, 1, 2], "{seen:?}");
    let texts: Vec<&str> = seen.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["ok 1", "ok 0", "ok 1", "ok 0", "ok 1"]);
}

#[test]
fn data_rate_paces_bytes_and_cuts_chunks_at_the_quota() {
    let (_p, port) =
        serve("(q => pipy().listen(PORT).throttleDataRate(q))(new algo.Quota(1000, {per: 0.1}))");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let start = Instant::now();
    s.write_all(&[b'x'; 5000]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let took = start.elapsed();
    assert_eq!(got.len(), 5000);
    // 1000 at once, then 1000 per 0.1 s: about 0.4 s, as upstream.
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn concurrency_holds_a_stream_until_one_ends() {
    let (_p, port) = serve(
        "(q => pipy().listen(PORT).throttleConcurrency(q)
           .replaceData(x => new Data('[' + x.toString() + q.current + ']')))(new algo.Quota(1))",
    );
    let read_some = |s: &mut TcpStream, wait: u64| -> Option<String> {
        s.set_read_timeout(Some(Duration::from_millis(wait)))
            .unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => None,
        }
    };
    let mut a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    a.write_all(b"a").unwrap();
    assert_eq!(read_some(&mut a, 5000).as_deref(), Some("[a0]"));
    let mut b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    b.write_all(b"b").unwrap();
    assert_eq!(read_some(&mut b, 300), None, "b waits while a is open");
    drop(a);
    assert_eq!(read_some(&mut b, 5000).as_deref(), Some("[b0]"));
}

#[test]
fn quota_api_and_bad_arguments() {
    let (code, out, _) = run_to_end(&[
        "-e",
        "(q => [q.consume(3), q.consume(30), q.current, (q.produce(100), q.current), (q.reset(), q.current), q.initial].join(' '))(new algo.Quota(10, {max: 50}))",
    ]);
    assert_eq!(code, 0);
    // (`-e` prints a string as JSON here; upstream prints it bare.)
    assert_eq!(out.trim(), "\"3 7 0 50 10 10\"");
    let (code, _, err) = run_to_end(&["-e", "pipy().listen(1).throttleDataRate(5)"]);
    assert_ne!(code, 0);
    assert!(err.contains("expects an algo.Quota"), "{err}");
}
