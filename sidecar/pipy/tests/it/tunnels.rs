//! Protocol detection, the PROXY protocol and SOCKS, against curl and raw
//! sockets, and our own clients against our own servers.

use crate::harness::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn detect_protocol_tells_tls_http_and_others_apart() {
    let port = free_port();
    let script = format!(
        "pipy().listen({port})
           .detectProtocol(p => (console.log('detected', JSON.stringify(p)), p === 'HTTP' ? undefined : new StreamEnd), {{ timeout: 0.5 }})
           .serveHTTP(new Message('plain http'))"
    );
    let p = Pipy::script(&script, &[port]);
    // HTTP passes through untouched.
    assert_eq!(get(port, "/").text(), "plain http");
    let exchange = |bytes: &[u8]| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(bytes).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    };
    // The others get the StreamEnd the callback returned: the connection closes.
    assert!(exchange(&[22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3]).is_empty());
    assert!(exchange(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").is_empty());
    assert!(exchange(b"SSH-2.0-OpenSSH_9.2\r\n").is_empty());
    // Too few bytes to tell: the timeout answers.
    assert!(exchange(b"GE").is_empty());
    wait_for("four answers", Duration::from_secs(5), || {
        let log = p.stderr_text();
        ["\"HTTP\"", "\"TLS\"", "\"HTTP2\""]
            .iter()
            .all(|w| log.contains(&format!("detected {w}")))
            && log.matches("detected \"\"").count() == 2
    });
}

#[test]
fn proxy_protocol_headers_both_versions_both_ways() {
    let (accept, v1, v2, local) = (free_port(), free_port(), free_port(), free_port());
    let script = format!(
        "pipy()
         .listen({accept})
           .acceptProxyProtocol(h => (console.log('header', JSON.stringify(h)), h.sourceAddress !== '6.6.6.6'))
           .to($ => $.serveHTTP(new Message('behind a proxy')))
         .listen({v1}).connectProxyProtocol(() => ({{ protocol: 'TCP4', sourceAddress: '10.0.0.1', sourcePort: 1234, targetAddress: '10.0.0.2', targetPort: 80 }}))
           .to($ => $.connect('127.0.0.1:{accept}'))
         .listen({v2}).connectProxyProtocol({{ version: 2, protocol: 'TCP6', sourceAddress: '2001:db8::1', sourcePort: 5, targetAddress: '::1', targetPort: 6 }})
           .to($ => $.connect('127.0.0.1:{accept}'))
         .listen({local}).connectProxyProtocol({{ sourceAddress: '6.6.6.6' }}).to($ => $.connect('127.0.0.1:{accept}'))"
    );
    let p = Pipy::script(&script, &[accept, v1, v2, local]);
    // curl writes a v1 header with the real addresses.
    let (ok, text) = curl(&["--haproxy-protocol", &format!("http://127.0.0.1:{accept}/")]);
    assert!(ok && text == "behind a proxy", "{text}");
    assert_eq!(get(v1, "/").text(), "behind a proxy");
    assert_eq!(get(v2, "/").text(), "behind a proxy");
    // The handler refused: the connection ends without an answer.
    let mut s = TcpStream::connect(("127.0.0.1", local)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // No header at all: refused too.
    let (ok, _) = curl(&[&format!("http://127.0.0.1:{accept}/")]);
    assert!(!ok);
    let log = p.stderr_text();
    let want = [
        r#""version":1,"protocol":"TCP4","sourceAddress":"127.0.0.1","targetAddress":"127.0.0.1""#.to_string(),
        format!(r#""targetPort":{accept}"#),
        r#"{"version":1,"protocol":"TCP4","sourceAddress":"10.0.0.1","targetAddress":"10.0.0.2","sourcePort":1234,"targetPort":80}"#.into(),
        r#"{"version":2,"command":"PROXY","protocol":"TCP6","sourceAddress":"2001:db8::1","targetAddress":"::1","sourcePort":5,"targetPort":6}"#.into(),
        r#""sourceAddress":"6.6.6.6""#.into(),
    ];
    for w in want {
        assert!(log.contains(&w), "{w} not in\n{log}");
    }
}

#[test]
fn socks_4_4a_and_5_with_curl_and_our_own_client() {
    let (socks, web, client) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy()
         .listen({socks})
           .acceptSOCKS(r => (console.log('socks', JSON.stringify(r)), r.port === {web}))
           .to($ => $.connect('127.0.0.1:{web}'))
         .listen({web}).serveHTTP(m => new Message('via socks ' + m.head.path))
         .listen({client}).connectSOCKS(() => 'service.test:{web}').to($ => $.connect('127.0.0.1:{socks}'))"
    );
    let p = Pipy::script(&script, &[socks, web, client]);
    let proxy = format!("127.0.0.1:{socks}");
    for (flag, host, path) in [
        ("--socks5-hostname", "named.test", "/five"),
        ("--socks5", "127.0.0.1", "/five-ip"),
        ("--socks4", "127.0.0.1", "/four"),
        ("--socks4a", "named.test", "/four-a"),
    ] {
        let url = format!("http://{host}:{web}{path}");
        let (ok, text) = curl(&[flag, &proxy, &url]);
        assert!(ok && text == format!("via socks {path}"), "{flag}: {text}");
    }
    // The handler refuses other ports: curl is told so.
    let (ok, _) = curl(&["--socks5-hostname", &proxy, "http://named.test:1/"]);
    assert!(!ok);
    // Our SOCKS 5 client through our server.
    assert_eq!(get(client, "/ours").text(), "via socks /ours");
    let log = p.stderr_text();
    for w in [
        format!(r#"socks {{"domain":"named.test","port":{web}}}"#),
        format!(r#"socks {{"ip":"127.0.0.1","port":{web}}}"#),
        format!(r#"socks {{"id":"","ip":"127.0.0.1","port":{web}}}"#),
        format!(r#"socks {{"id":"","domain":"named.test","port":{web}}}"#),
        format!(r#"socks {{"domain":"service.test","port":{web}}}"#),
    ] {
        assert!(log.contains(&w), "{w} not in\n{log}");
    }
}

#[test]
fn http_connect_tunnels_with_curl_and_our_own_client() {
    let (proxy, origin, client) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy()
         .listen({proxy}).demuxHTTP().to($ => $
           .acceptHTTPTunnel(req => (
             console.log('tunnel', req.head.method, req.head.path),
             req.head.path.startsWith('denied') ? new Message({{ status: 403 }}, 'no') : undefined
           ))
           .to($ => $.connect('127.0.0.1:{origin}'))
         )
         .listen({origin}).serveHTTP(m => new Message('origin saw ' + m.head.path))
         .listen({client})
           .connectHTTPTunnel(() => new Message({{ method: 'CONNECT', path: 'svc.test:{origin}' }}))
           .to($ => $.muxHTTP().to($ => $.connect('127.0.0.1:{proxy}')))"
    );
    let p = Pipy::script(&script, &[proxy, origin, client]);
    let via = format!("127.0.0.1:{proxy}");
    let (ok, text) = curl(&["-p", "-x", &via, &format!("http://svc.test:{origin}/one")]);
    assert!(ok && text == "origin saw /one", "{text}");
    // Several requests through one tunnel.
    let mut c = Conn::open(client);
    for path in ["/a", "/b"] {
        c.send(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes());
        let r = c.read(false);
        assert_eq!(r.text(), format!("origin saw {path}"));
    }
    // A refusal is the handler's answer, and no tunnel.
    let (ok, text) = curl(&["-v", "-p", "-x", &via, "http://denied.test:1/"]);
    assert!(!ok && text.contains("< HTTP/1.1 403"), "{text}");
    let log = p.stderr_text();
    assert!(
        log.contains(&format!("tunnel CONNECT svc.test:{origin}")),
        "{log}"
    );
    assert!(log.contains("tunnel CONNECT denied.test:1"), "{log}");
}

#[test]
fn throwing_callbacks_end_their_own_connection_only() {
    let (pp, socks, detect, tunnel, ok) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let boom = "() => { throw new Error('boom') }";
    let script = format!(
        "pipy()
         .listen({pp}).acceptProxyProtocol({boom}).to($ => $.serveHTTP(new Message('no')))
         .listen({socks}).acceptSOCKS({boom}).to($ => $.connect('127.0.0.1:{ok}'))
         .listen({detect}).detectProtocol({boom}).serveHTTP(new Message('no'))
         .listen({tunnel}).demuxHTTP().to($ => $.acceptHTTPTunnel({boom}).to($ => $.connect('127.0.0.1:{ok}')))
         .listen({ok}).serveHTTP(new Message('still here'))"
    );
    let p = Pipy::script(&script, &[pp, socks, detect, tunnel, ok]);
    let (ok1, _) = curl(&["--haproxy-protocol", &format!("http://127.0.0.1:{pp}/")]);
    let (ok2, _) = curl(&[
        "--socks5-hostname",
        &format!("127.0.0.1:{socks}"),
        &format!("http://x.test:{ok}/"),
    ]);
    let (ok3, _) = curl(&[&format!("http://127.0.0.1:{detect}/")]);
    let (ok4, _) = curl(&[
        "-p",
        "-x",
        &format!("127.0.0.1:{tunnel}"),
        &format!("http://x.test:{ok}/"),
    ]);
    assert!(
        !ok1 && !ok2 && !ok3 && !ok4,
        "a throwing callback let a request through"
    );
    assert_eq!(get(ok, "/").text(), "still here");
    wait_for("the four errors", Duration::from_secs(5), || {
        p.stderr_text().matches("boom").count() >= 4
    });
}
