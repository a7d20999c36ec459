//! HTTP/2: `demuxHTTP`/`serveHTTP` as servers and `muxHTTP({ version: 2 })`
//! as a client, against curl, h2load, Python's `h2` and gRPC (`grpcio`).

use crate::harness::*;
use pipy_e2e::TestCerts;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs a Python script that prints `ready` once listening.
fn python(script: &str, args: &[&str]) -> Peer {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Peer(child)
}

#[test]
fn http2_serves_curl_and_many_streams_on_one_connection() {
    let certs = TestCerts::new();
    let (serve, proxy, tls) = (free_port(), free_port(), free_port());
    let files = [
        (
            "server.pem",
            std::fs::read_to_string(certs.path("server.pem")).unwrap(),
        ),
        (
            "server-key.pem",
            std::fs::read_to_string(certs.path("server-key.pem")).unwrap(),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let script = format!(
        "pipy()
         .listen({serve}).serveHTTP(m => new Message('{{proto}} ' + m.head.protocol + ' ' + m.head.path + ' ' + m.body.size))
         .listen({proxy}).demuxHTTP().to($ => $.muxHTTP({{ version: 2 }}).to($ => $.connect('127.0.0.1:{serve}')))
         .listen({tls}).acceptTLS({{
             certificate: {{ cert: new crypto.Certificate(pipy.load('server.pem')), key: new crypto.PrivateKey(pipy.load('server-key.pem')) }},
             alpn: ['h2', 'http/1.1'],
           }}).to($ => $.demuxHTTP().to($ => $.muxHTTP({{ version: 2 }}).to($ => $.connect('127.0.0.1:{serve}'))))"
    );
    let _p = Pipy::script_with(&script, &files, &[], &[serve, proxy, tls]);
    // Cleartext with prior knowledge, through the HTTP/2 client too.
    let (ok, text) = curl(&[
        "--http2-prior-knowledge",
        "-d",
        "hello",
        &format!("http://127.0.0.1:{proxy}/a"),
    ]);
    assert!(ok && text == "{proto} HTTP/2 /a 5", "{text}");
    // HTTP/1.1 clients of the same port still get HTTP/1.1.
    assert_eq!(get(proxy, "/b").text(), "{proto} HTTP/2 /b 0");
    // TLS with ALPN choosing h2.
    let (ok, text) = curl(&[
        "--http2",
        "--cacert",
        &certs.arg("ca.pem"),
        "-w",
        " %{http_version}",
        &format!("https://127.0.0.1:{tls}/c"),
    ]);
    assert!(ok && text == "{proto} HTTP/2 /c 0 2", "{text}");
    // 1000 requests, 100 streams at a time on a single connection.
    for port in [serve, proxy] {
        let o = Command::new("h2load")
            .args([
                "-n",
                "1000",
                "-c",
                "1",
                "-m",
                "100",
                &format!("http://127.0.0.1:{port}/load"),
            ])
            .output()
            .expect("h2load");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("1000 succeeded, 0 failed, 0 errored"),
            "{text}"
        );
    }
}

#[test]
fn http2_carries_large_bodies_both_ways() {
    let (serve, proxy) = (free_port(), free_port());
    let script = format!(
        "pipy()
         .listen({serve}).serveHTTP(m => new Message('#'.repeat(m.body.size * 2)))
         .listen({proxy}).demuxHTTP().to($ => $.muxHTTP({{ version: 2 }}).to($ => $.connect('127.0.0.1:{serve}')))"
    );
    let _p = Pipy::script(&script, &[serve, proxy]);
    let dir = temp_dir();
    let upload = dir.join("upload.bin");
    std::fs::write(&upload, vec![b'u'; 3 << 20]).unwrap();
    let (ok, text) = curl(&[
        "--http2-prior-knowledge",
        "--data-binary",
        &format!("@{}", upload.display()),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
        &format!("http://127.0.0.1:{proxy}/big"),
    ]);
    assert!(ok, "{text}");
    assert_eq!(text, format!("200 {}", 6 << 20));
}

/// A gRPC server with a unary method that sets trailing metadata, a
/// server-streaming one, and one that fails.
const GRPC_SERVER: &str = r#"
import grpc, sys, concurrent.futures as cf
def say(req, ctx):
    ctx.set_trailing_metadata((('x-trailer', 'yes'),))
    return b'echo:' + req
def many(req, ctx):
    for i in range(int(req)):
        yield b'x' * 1000
def fail(req, ctx):
    ctx.abort(grpc.StatusCode.NOT_FOUND, 'nothing here')
h = grpc.method_handlers_generic_handler('test.Echo', {
    'Say': grpc.unary_unary_rpc_method_handler(say),
    'Many': grpc.unary_stream_rpc_method_handler(many),
    'Fail': grpc.unary_unary_rpc_method_handler(fail),
})
s = grpc.server(cf.ThreadPoolExecutor(4))
s.add_generic_rpc_handlers((h,))
s.add_insecure_port('127.0.0.1:' + sys.argv[1])
s.start()
print('ready', flush=True)
s.wait_for_termination(60)
"#;

const GRPC_CLIENT: &str = r#"
import grpc, sys
ch = grpc.insecure_channel('127.0.0.1:' + sys.argv[1])
resp, call = ch.unary_unary('/test.Echo/Say').with_call(b'hi', timeout=10)
print(resp.decode(), dict(call.trailing_metadata()).get('x-trailer'))
print(sum(len(m) for m in ch.unary_stream('/test.Echo/Many')(b'500', timeout=10)))
try:
    ch.unary_unary('/test.Echo/Fail')(b'', timeout=10)
except grpc.RpcError as e:
    print(e.code().name, e.details())
"#;

#[test]
fn grpc_goes_through_the_proxy() {
    let (grpc, proxy) = (free_port(), free_port());
    let _server = python(GRPC_SERVER, &[&grpc.to_string()]);
    let script = format!(
        "pipy().listen({proxy}).demuxHTTP().to($ => $.muxHTTP({{ version: 2 }}).to($ => $.connect('127.0.0.1:{grpc}')))"
    );
    let _p = Pipy::script(&script, &[proxy]);
    let o = Command::new("python3")
        .args(["-c", GRPC_CLIENT, &proxy.to_string()])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        text,
        "echo:hi yes\n500000\nNOT_FOUND nothing here\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// With Python's `h2`: a stream the client resets leaves the others alone.
const H2_CLIENT: &str = r#"
import socket, sys, h2.connection, h2.events, h2.config
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.settimeout(10)
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.initiate_connection()
hdr = lambda p: [(':method', 'GET'), (':path', p), (':scheme', 'http'), (':authority', 'x')]
c.send_headers(1, hdr('/slow'), end_stream=False)
c.reset_stream(1)
c.send_headers(3, hdr('/fast'), end_stream=True)
s.sendall(c.data_to_send())
got = {}
while True:
    data = s.recv(65536)
    if not data:
        break
    for e in c.receive_data(data):
        if isinstance(e, h2.events.DataReceived):
            got[e.stream_id] = got.get(e.stream_id, b'') + e.data
        elif isinstance(e, h2.events.StreamEnded):
            print(sorted((k, v.decode()) for k, v in got.items()), flush=True)
            sys.exit(0)
    s.sendall(c.data_to_send())
"#;

/// An HTTP/1 origin that answers `/slow` after two seconds (time for a
/// reload to happen first on a machine busy with the other tests).
const SLOW_ORIGIN: &str = r#"
import http.server, sys, time, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        if self.path == '/slow':
            time.sleep(2)
        body = ('done ' + self.path).encode()
        self.send_response(200)
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H)
print('ready', flush=True)
srv.serve_forever()
"#;

/// Asks for `/slow` with nghttp, does `act` after `after`, and checks that
/// a GOAWAY came and then the whole answer.
fn slow_stream_sees_goaway(proxy: u16, p: &Pipy, after: Duration, act: impl FnOnce()) {
    let client = Command::new("nghttp")
        .args(["-v", &format!("http://127.0.0.1:{proxy}/slow")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("nghttp");
    std::thread::sleep(after);
    act();
    let out = client.wait_with_output().expect("client");
    let text = String::from_utf8_lossy(&out.stdout);
    let goaway = text.find("recv GOAWAY").unwrap_or(usize::MAX);
    let body = text.find("done /slow").unwrap_or(0);
    assert!(
        goaway < body && body < text.len(),
        "{text}\n{}",
        p.stderr_text()
    );
}

#[test]
fn http2_reset_streams_and_goaway_on_shutdown() {
    let (origin, proxy) = (free_port(), free_port());
    let _slow = python(SLOW_ORIGIN, &[&origin.to_string()]);
    let script = format!(
        "pipy().listen({proxy}).demuxHTTP().to($ => $.muxHTTP().to($ => $.connect('127.0.0.1:{origin}')))"
    );
    let mut p = Pipy::script(&script, &[proxy]);
    // A reset stream: the other stream on the connection is answered.
    let reset = Command::new("python3")
        .args(["-c", H2_CLIENT, &proxy.to_string()])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&reset.stdout);
    assert!(
        text.contains("[(3, 'done /fast')]"),
        "{text}{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    // Shutting down in the middle of a stream: GOAWAY, then its answer
    // (nghttp2's client; Python's h2 refuses frames after a GOAWAY, which
    // RFC 9113 §6.8 allows).
    slow_stream_sees_goaway(proxy, &p, Duration::from_millis(400), || {
        Command::new("kill")
            .args(["-INT", &p.child.id().to_string()])
            .status()
            .unwrap();
    });
    let _ = p.terminate();
}

#[test]
fn http2_reload_in_the_middle_of_a_stream_says_goaway_and_finishes_it() {
    let (origin, proxy, ctl) = (free_port(), free_port(), free_port());
    let _slow = python(SLOW_ORIGIN, &[&origin.to_string()]);
    let script = format!(
        "pipy()
         .listen({proxy}).demuxHTTP().to($ => $.muxHTTP().to($ => $.connect('127.0.0.1:{origin}')))
         .listen({ctl}).serveHTTP(() => (pipy.restart(), new Message('restarting')))"
    );
    let p = Pipy::script(&script, &[proxy, ctl]);
    slow_stream_sees_goaway(proxy, &p, Duration::from_millis(300), || {
        assert_eq!(get(ctl, "/").text(), "restarting");
    });
    // The new version serves the next connection.
    let (ok, text) = curl(&[
        "--http2-prior-knowledge",
        &format!("http://127.0.0.1:{proxy}/fast"),
    ]);
    assert!(ok && text == "done /fast", "{text}");
}
