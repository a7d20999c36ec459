//! TLS: `acceptTLS`, `connectTLS` and `handleTLSClientHello` against real
//! clients and servers (curl, openssl s_client, Python's ssl) and each other.

use crate::harness::*;
use pipy_e2e::TestCerts;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Duration;

/// The certificate files a script loads with `pipy.load(...)`.
fn cert_files(certs: &TestCerts) -> Vec<(String, String)> {
    ["ca", "server", "client", "a", "b", "expired", "rogue"]
        .iter()
        .flat_map(|n| [format!("{n}.pem"), format!("{n}-key.pem")])
        .filter(|f| f != "ca-key.pem")
        .map(|f| {
            let text = std::fs::read_to_string(certs.path(&f)).unwrap_or_default();
            (f, text)
        })
        .collect()
}

fn start(script: &str, certs: &TestCerts, ports: &[u16]) -> Pipy {
    let files = cert_files(certs);
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    Pipy::script_with(script, &files, &[], ports)
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}
/// A script preamble binding the test certificates to variables.
const LOAD: &str = "((
  ca = new crypto.Certificate(pipy.load('ca.pem')),
  cert = name => ({ cert: new crypto.Certificate(pipy.load(name + '.pem')), key: new crypto.PrivateKey(pipy.load(name + '-key.pem')) }),
  server = cert('server'), a = cert('a'), b = cert('b'), client = cert('client'),
  expired = cert('expired'), rogue = cert('rogue'),
) => pipy()";

#[test]
fn accept_tls_picks_a_certificate_per_server_name_and_negotiates_alpn() {
    let certs = TestCerts::new();
    let port = free_port();
    let script = format!(
        "{LOAD}
         .listen({port})
         .handleTLSClientHello(h => console.log('hello', JSON.stringify(h)))
         .acceptTLS({{
           certificate: sni => sni === 'a.test' ? a : sni === 'b.test' ? b : server,
           alpn: ['http/1.1'],
           handshake: h => console.log('handshake', JSON.stringify(h)),
           onState: s => s.state === 'connected' && console.log('connected', s.hostname, s.protocol),
         }}).to($ => $.serveHTTP(new Message('hello over tls\\n')))
        )()"
    );
    let p = start(&script, &certs, &[port]);
    let ca = certs.arg("ca.pem");
    for host in ["a.test", "b.test"] {
        // curl checks the certificate names the host: each got its own.
        let resolve = format!("{host}:{port}:127.0.0.1");
        let url = format!("https://{host}:{port}/");
        let (ok, text) = curl(&["--cacert", &ca, "--resolve", &resolve, &url]);
        assert!(ok, "{host}: {text}");
        assert_eq!(text, "hello over tls\n");
    }
    let (ok, text) = curl(&["--cacert", &ca, &format!("https://127.0.0.1:{port}/")]);
    assert!(ok && text == "hello over tls\n", "{text}");
    // The server chooses from its list among what the client offers.
    let o = run(
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-alpn",
            "h2,http/1.1",
            "-servername",
            "b.test",
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("ALPN protocol: http/1.1"), "{text}");
    assert!(
        text.contains("CN=b.test") || text.contains("CN = b.test"),
        "{text}"
    );
    wait_for("the callbacks' lines", Duration::from_secs(5), || {
        let log = p.stderr_text();
        log.contains(r#"hello {"serverNames":["a.test"],"protocolNames":["h2","http/1.1"]}"#)
            && log.contains(r#"handshake {"alpn":"http/1.1"}"#)
            && log.contains("connected b.test http/1.1")
    });
}

#[test]
fn bad_clients_end_their_own_connection_only() {
    let certs = TestCerts::new();
    let port = free_port();
    let script = format!(
        "{LOAD}.listen({port}).acceptTLS({{ certificate: server }}).to($ => $.serveHTTP(new Message('fine')))\n)()"
    );
    let p = start(&script, &certs, &[port]);
    // Plain text on a TLS port: an alert, then the connection closes.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got.first(), Some(&21), "an alert record: {got:?}");
    // A client that does not trust the certificate gives up; the worker carries on.
    let (ok, _) = curl(&[&format!("https://127.0.0.1:{port}/")]);
    assert!(!ok);
    // A client that stops in the middle of the handshake.
    let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
    half.write_all(&[22, 3, 1, 0, 200, 1, 0, 0]).unwrap();
    drop(half);
    let (ok, text) = curl(&[
        "--cacert",
        &certs.arg("ca.pem"),
        &format!("https://127.0.0.1:{port}/"),
    ]);
    assert!(ok && text == "fine", "{text}");
    wait_for("the logged reason", Duration::from_secs(5), || {
        p.stderr_text().contains("[tls] handshake failed")
    });
}

#[test]
fn mutual_tls_between_connect_tls_and_accept_tls() {
    let certs = TestCerts::new();
    let (tls, plain, wrong, expired, rogue) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let (stale_server, rogue_server) = (free_port(), free_port());
    let to = |port: u16, who: &str| {
        format!(
            ".listen({port}).demuxHTTP().to($ => $.muxHTTP().to($ => $.connectTLS({{
               certificate: {who}, trusted: [ca], sni: 'a.test',
               onState: s => s.state === 'connected' && console.log('{port} peer', s.peer.subject.commonName),
             }}).to($ => $.connect('127.0.0.1:{tls}'))))"
        )
    };
    let script = format!(
        "{LOAD}
         .listen({tls}).acceptTLS({{
           certificate: a, trusted: [ca],
           verify: (ok, cert) => (console.log('verify', ok, cert.subjectAltNames.join()), ok),
         }}).to($ => $.serveHTTP(new Message('mutual')))
         {}
         .listen({wrong}).demuxHTTP().to($ => $.muxHTTP().to($ => $.connectTLS({{ certificate: rogue, trusted: [ca] }}).to($ => $.connect('127.0.0.1:{tls}'))))
         .listen({expired}).demuxHTTP().to($ => $.muxHTTP().to($ => $.connectTLS({{ trusted: [ca] }}).to($ => $.connect('127.0.0.1:{}'))))
         .listen({rogue}).demuxHTTP().to($ => $.muxHTTP().to($ => $.connectTLS({{ trusted: [ca] }}).to($ => $.connect('127.0.0.1:{}'))))
         .listen({}).acceptTLS({{ certificate: expired }}).to($ => $.serveHTTP(new Message('stale')))
         .listen({}).acceptTLS({{ certificate: rogue }}).to($ => $.serveHTTP(new Message('rogue')))
        )()",
        to(plain, "client"),
        stale_server,
        rogue_server,
        stale_server,
        rogue_server,
    );
    let p = start(&script, &certs, &[tls, plain]);
    // Our client presents its certificate and checks the server's.
    let r = get(plain, "/");
    assert_eq!((r.status, r.text().as_str()), (200, "mutual"));
    // curl: without a client certificate refused, with one served.
    let ca = certs.arg("ca.pem");
    let resolve = format!("a.test:{tls}:127.0.0.1");
    let a_url = format!("https://a.test:{tls}/");
    let (ok, _) = curl(&["--cacert", &ca, "--resolve", &resolve, &a_url]);
    assert!(!ok, "served a client without a certificate");
    let (ok, text) = curl(&[
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "--cert",
        &certs.arg("client.pem"),
        "--key",
        &certs.arg("client-key.pem"),
        &a_url,
    ]);
    assert!(ok && text == "mutual", "{text}");
    // A client certificate nobody vouches for is refused.
    let r = get(wrong, "/");
    assert_ne!(r.status, 200);
    // Our client refuses an expired and an untrusted server certificate.
    for port in [expired, rogue] {
        let r = get(port, "/");
        assert_ne!(r.status, 200, "port {port}: {}", r.text());
    }
    wait_for("the verify and peer lines", Duration::from_secs(5), || {
        let log = p.stderr_text();
        log.contains("verify true worker") && log.contains(&format!("{plain} peer a.test"))
    });
}

/// A Python TLS server for one connection, answering an HTTP request with
/// the server name and protocol the client asked for.
const PY_TLS_SERVER: &str = r#"
import socket, ssl, sys
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(['h2', 'http/1.1'])
seen = {}
ctx.sni_callback = lambda s, name, c: seen.update(sni=name)
srv = socket.create_server(('127.0.0.1', port))
print('ready', flush=True)
srv.settimeout(20)
conn, _ = srv.accept()
tls = ctx.wrap_socket(conn, server_side=True)
req = b''
while b'\r\n\r\n' not in req:
    chunk = tls.recv(4096)
    if not chunk: break
    req += chunk
body = ('sni=%s alpn=%s' % (seen.get('sni'), tls.selected_alpn_protocol())).encode()
tls.sendall(b'HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n' % len(body) + body)
tls.close()
"#;

#[test]
fn connect_tls_sends_sni_and_alpn_to_a_python_server() {
    let certs = TestCerts::new();
    let (py, port) = (free_port(), free_port());
    let mut server = Peer(
        Command::new("python3")
            .args([
                "-c",
                PY_TLS_SERVER,
                &py.to_string(),
                &certs.arg("a.pem"),
                &certs.arg("a-key.pem"),
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3"),
    );
    let mut ready = [0u8; 5];
    server
        .0
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut ready)
        .unwrap();
    let script = format!(
        "{LOAD}.listen({port}).demuxHTTP().to($ => $.muxHTTP().to($ => $.connectTLS({{
           sni: () => 'a.test', alpn: 'http/1.1', trusted: [ca],
           handshake: h => console.log('negotiated', h.alpn),
         }}).to($ => $.connect('127.0.0.1:{py}'))))\n)()"
    );
    let p = start(&script, &certs, &[port]);
    let r = get(port, "/");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "sni=a.test alpn=http/1.1")
    );
    assert!(
        p.stderr_text().contains("negotiated http/1.1"),
        "{}",
        p.stderr_text()
    );
    let _ = server.0.wait();
}
