//! UDP: `listen` and `connect` with `protocol: 'udp'`, datagram by datagram.

use crate::harness::*;
use std::net::UdpSocket;
use std::time::Duration;

fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

#[test]
fn a_udp_listener_answers_each_datagram_and_ends_idle_peers() {
    let (udp, http) = (free_udp_port(), free_port());
    let script = format!(
        "pipy()\n\
         .listen({udp}, {{ protocol: 'udp', idleTimeout: 0.3 }})\n\
           .replaceData(d => new Data(d.toString().toUpperCase()))\n\
           .handleStreamEnd(e => console.log('peer ended', e.error))\n\
         .listen({http}).serveHTTP(new Message('up'))"
    );
    let p = Pipy::script(&script, &[http]);
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("t");
    client.connect(("127.0.0.1", udp)).expect("connect");
    let mut buf = [0u8; 64];
    // Boundaries are kept: one datagram in, one out.
    for word in ["a", "bb", "ccc"] {
        client.send(word.as_bytes()).expect("send");
        let n = client.recv(&mut buf).expect("answer");
        assert_eq!(&buf[..n], word.to_uppercase().as_bytes());
    }
    wait_for("the idle peer to end", Duration::from_secs(5), || {
        p.stderr_text().contains("peer ended IdleTimeout")
    });
    // A new datagram from the same peer starts over.
    client.send(b"again").expect("send");
    let n = client.recv(&mut buf).expect("answer");
    assert_eq!(&buf[..n], b"AGAIN");
}

#[test]
fn connect_over_udp_sends_each_message_as_a_datagram() {
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let sport = server.local_addr().expect("addr").port();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("t");
        let (n, from) = server.recv_from(&mut buf).expect("datagram");
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        server
            .send_to(format!("pong to {got}").as_bytes(), from)
            .expect("reply");
        got
    });
    let port = free_port();
    let script = format!(
        "pipy().listen({port}).demuxHTTP().to($=>$\n\
           .replaceMessage(msg => new Data('ping ' + msg.head.path))\n\
           .connect('127.0.0.1:{sport}', {{ protocol: 'udp' }})\n\
           .replaceData(d => new Message(d)))"
    );
    let _p = Pipy::script(&script, &[port]);
    assert_eq!(get(port, "/x").text(), "pong to ping /x");
    assert_eq!(echo.join().expect("server"), "ping /x");
}

#[test]
fn a_bad_protocol_is_refused_at_load_time() {
    let dir = temp_dir();
    let main = dir.join("main.js");
    std::fs::write(&main, "pipy().listen(8999, { protocol: 'sctp' }).dummy()").expect("write");
    let (code, _, err) = run_to_end(&[&main.to_string_lossy()]);
    assert_eq!(code, 255);
    assert!(err.contains("'sctp' is not 'tcp' or 'udp'"), "{err}");
}
