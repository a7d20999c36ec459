//! One test per sample of upstream Pipy's `samples/` folder: scripts of our
//! own in each sample's shape (statement modules, `pipy.listen`, the
//! pipeline API), against the real peers the samples talk to. Each checks
//! what upstream 1.5.18 answers to the same requests (compared side by side
//! by hand with the samples themselves).

use crate::harness::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A peer process killed when the test ends.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16) {
    pipy_e2e::wait_for("the peer's port", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// samples/fastcgi: HTTP in front of a FastCGI application (PHP's
/// `php-cgi`, a real one) through `muxFastCGI`, the CGI parameters made from
/// each request; and `demuxFastCGI` answering a real FastCGI client
/// (`cgi-fcgi` of the FastCGI development kit).
#[test]
fn fastcgi_in_front_of_php_and_for_a_fastcgi_client() {
    let (front, php_port, server_port) = (free_port(), free_port(), free_port());
    let docs = temp_dir();
    std::fs::write(
        docs.join("index.php"),
        "<?php\nheader('X-Php: yes');\n\
         echo $_SERVER['REQUEST_METHOD'], ' ', $_SERVER['QUERY_STRING'], ' ', \
         $_SERVER['HTTP_X_NAME'] ?? '-', ' ', file_get_contents('php://input'), \"\\n\";\n\
         error_log('to stderr');\n",
    )
    .unwrap();
    let _php = Peer(
        Command::new("php-cgi")
            .args(["-b", &format!("127.0.0.1:{php_port}")])
            .env("PHP_FCGI_CHILDREN", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("php-cgi (Debian's php8.2-cgi)"),
    );
    wait_port(php_port);
    let script = format!(
        r#"#!/usr/bin/env pipy
var documents = '{docs}'
pipy.listen({front}, $=>$
  .demuxHTTP().to($=>$
    .replaceMessage(function (msg) {{
      var head = msg.head
      var url = new URL(head.path)
      var path = url.pathname === '/' ? '/index.php' : url.pathname
      return new Message({{
        keepAlive: true,
        params: {{
          REQUEST_METHOD: head.method,
          QUERY_STRING: url.query,
          SCRIPT_FILENAME: documents + path,
          CONTENT_LENGTH: msg.body ? msg.body.size : 0,
          ...Object.fromEntries(Object.entries(head.headers).map(
            ([k, v]) => ['HTTP_' + k.toUpperCase().replaceAll('-', '_'), v]
          )),
        }},
      }}, msg.body)
    }})
    .muxFastCGI(() => 'php').to($=>$.connect('127.0.0.1:{php_port}'))
    .handleMessageEnd(e => console.log('tail', e.tail.appStatus, e.tail.protocolStatus, e.tail.stderr.toString().trim()))
    .replaceMessageStart(() => new Data('HTTP/1.1 200 OK\r\n'))
    .replaceMessageEnd(new StreamEnd)
    .decodeHTTPResponse()
  )
)
pipy.listen({server_port}, $=>$
  .demuxFastCGI().to($=>$
    .replaceMessage(req => new Message(
      {{ appStatus: 0 }},
      `Content-Type: text/plain\r\n\r\nrole=${{req.head.role}} keep=${{req.head.keepAlive}} q=${{req.head.params.QUERY_STRING}} body=${{req.body.toString()}}\n`
    ))
  )
)
"#,
        docs = docs.display()
    );
    let p = Pipy::script(&script, &[front, server_port]);

    // Several requests share the one session of key 'php' (one PHP child).
    for i in 0..3 {
        let r = get(front, &format!("/?n={i}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-php"), Some("yes"));
        assert_eq!(r.text(), format!("GET n={i} - \n"));
    }
    let r = post(front, "/index.php?p=1", b"a body");
    assert_eq!(r.text(), "POST p=1 - a body\n");
    // PHP's own 404 comes back as its `Status` line in the CGI head.
    let r = get(front, "/missing.php");
    assert_eq!(r.header("status"), Some("404 Not Found"));
    pipy_e2e::wait_for("the tails", Duration::from_secs(5), || {
        p.stderr_text().matches("tail 0 0 ").count() >= 5
    });
    assert!(p.stderr_text().contains("to stderr"), "{}", p.stderr_text());

    // A real FastCGI client: the environment as parameters, stdin as body.
    let out = Command::new("cgi-fcgi")
        .args(["-bind", "-connect", &format!("127.0.0.1:{server_port}")])
        .env_clear()
        .env("REQUEST_METHOD", "POST")
        .env("QUERY_STRING", "x=1")
        .env("CONTENT_LENGTH", "3")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"abc")?;
            c.wait_with_output()
        })
        .expect("cgi-fcgi (Debian's libfcgi-bin)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Content-Type: text/plain\r\n\r\nrole=1 keep=false q=x=1 body=abc\n"
    );
}
