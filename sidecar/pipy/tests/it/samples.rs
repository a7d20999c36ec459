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

/// Writes a codebase of `files` into a new folder; returns its path.
fn codebase(files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = temp_dir();
    for (name, content) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
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

/// samples/serve: a YAML configuration read with `pipy.load`, HTTP routed
/// by `algo.URLRouter` to files (`http.Directory`) or to a balanced proxy
/// (`muxHTTP` keyed by the `algo.LoadBalancer`'s allocation, the path
/// rewritten), a 404 page, and TCP ports balanced over targets with
/// `onStart`/`connect`/`onEnd`.
#[test]
fn serve_files_proxies_and_balances_tcp() {
    let (http, tcp, b1, b2) = (free_port(), free_port(), free_port(), free_port());
    let config = format!(
        "http:\n  listen: [{http}]\n  routes:\n    /api/*: api\n    /*: files\n\
         tcp:\n  listen: [{tcp}]\n  targets: ['127.0.0.1:{b1}', '127.0.0.1:{b2}']\n\
         backends: [{b1}, {b2}]\n"
    );
    let script = r#"#!/usr/bin/env pipy
var config = YAML.decode(pipy.load('config.yml'))
var page404 = new Message({ status: 404 }, 'Not found')
var files = new http.Directory('www')
var router = new algo.URLRouter(config.http.routes)
var balancer = new algo.LoadBalancer(config.tcp.targets)
var $conn
var $route

config.backends.forEach(port => pipy.listen(port, $=>$
  .serveHTTP(req => new Message(`backend ${port} ${req.head.path}`))
))

config.tcp.listen.forEach(port => pipy.listen(port, $=>$
  .onStart(function () {
    $conn = balancer.allocate()
    return $conn ? new Data : new StreamEnd
  })
  .connect(() => $conn.target)
  .onEnd(() => $conn?.free?.())
))

var serveFiles = pipeline($=>$.replaceData().replaceMessage(req => files.serve(req) || page404))
var serveProxy = pipeline($=>$
  .handleMessageStart(msg => void (msg.head.path = msg.head.path.replace(/^\/api/, '')))
  .muxHTTP(() => $conn = balancer.allocate()).to($=>$.connect(() => $conn.target))
  .onEnd(() => $conn.free())
)
config.http.listen.forEach(port => pipy.listen(port, $=>$
  .demuxHTTP().to($=>$
    .pipe(function (evt) {
      if (evt instanceof MessageStart) {
        $route = router.find(evt.head.headers.host, evt.head.path)
        return $route === 'api' ? serveProxy : serveFiles
      }
    })
  )
))
"#;
    let dir = codebase(&[
        ("main.js", script),
        ("config.yml", &config),
        ("www/index.html", "<h1>home</h1>"),
    ]);
    let main = dir.join("main.js");
    let _p = Pipy::spawn(&[main.to_str().unwrap()], &[http, tcp, b1, b2]);
    let home = get(http, "/index.html");
    assert_eq!((home.status, home.text().as_str()), (200, "<h1>home</h1>"));
    assert_eq!(home.header("content-type"), Some("text/html"));
    let missing = get(http, "/missing.txt");
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (404, "Not found")
    );
    // Round robin over both backends, the prefix gone.
    let mut seen: Vec<String> = (0..4).map(|_| get(http, "/api/x").text()).collect();
    seen.sort();
    seen.dedup();
    let mut expected = vec![format!("backend {b1} /x"), format!("backend {b2} /x")];
    expected.sort();
    assert_eq!(seen, expected);
    let mut tcp_seen: Vec<String> = (0..4).map(|_| get(tcp, "/t").text()).collect();
    tcp_seen.sort();
    tcp_seen.dedup();
    let expected: Vec<String> = expected.iter().map(|e| e.replace("/x", "/t")).collect();
    assert_eq!(tcp_seen, expected);
}

/// samples/gateway: `import`/`export` between the files of a codebase, a
/// configuration module, plugins loaded with `pipy.import` and chained with
/// `pipe(plugins, () => $ctx)` (each gets the context as its start
/// argument and hands on with `pipeNext()`), a router that rewrites paths.
#[test]
fn gateway_plugins_chain_with_pipe_next() {
    let port = free_port();
    let config = format!(
        "listen: {port}\nplugins: [router, hello, default]\n\
         endpoints:\n  /hi:\n    route: hi\n  /api/*:\n    route: api\n    rewrite: ['^/api/?', '/']\n\
         hello:\n  hi:\n    head:\n      status: 200\n      headers:\n        content-type: text/plain\n    body: \"Hi, there!\\n\"\n"
    );
    let main = r#"import config from './config.js'
var plugins = config.plugins.map(name => pipy.import(`./plugins/${name}.js`).default)
var $ctx
pipy.listen(config.listen, $=>$
  .demuxHTTP().to($=>$
    .onStart(() => void ($ctx = { route: null, path: null }))
    .pipe(plugins, () => $ctx)
  )
)
"#;
    let config_js = "export default YAML.decode(pipy.load('config.yml'))\n";
    let router = r#"import config from '/config.js'
var router = new algo.URLRouter(Object.fromEntries(
  Object.entries(config.endpoints).map(([url, { route, rewrite }]) => [url, { route, rewrite: rewrite && [new RegExp(rewrite[0]), rewrite[1]] }])
))
var $ctx
export default pipeline($=>$
  .onStart(ctx => void ($ctx = ctx))
  .handleMessageStart(function (msg) {
    var r = router.find(msg.head.headers.host, msg.head.path)
    if (r?.rewrite) msg.head.path = msg.head.path.replace(r.rewrite[0], r.rewrite[1])
    $ctx.route = r?.route
    $ctx.path = msg.head.path
  })
  .pipeNext()
)
"#;
    let hello = r#"import config from '/config.js'
var greetings = Object.fromEntries(
  Object.entries(config.hello).map(([name, { head, body }]) => [name, new Message(head, body)])
)
var $ctx
export default pipeline($=>$
  .onStart(ctx => void ($ctx = ctx))
  .pipe(evt => {
    if (evt instanceof MessageStart) return greetings[$ctx.route] ? 'greet' : 'pass'
  }, {
    greet: $=>$.replaceData().replaceMessage(() => greetings[$ctx.route]),
    pass: $=>$.pipeNext(),
  })
)
"#;
    let default = r#"var $ctx
export default pipeline($=>$
  .onStart(ctx => void ($ctx = ctx))
  .replaceMessage(() => new Message({ status: 404 }, `No handler for ${$ctx.route} ${$ctx.path}`))
)
"#;
    let dir = codebase(&[
        ("main.js", main),
        ("config.js", config_js),
        ("config.yml", &config),
        ("plugins/router.js", router),
        ("plugins/hello.js", hello),
        ("plugins/default.js", default),
    ]);
    let _p = Pipy::spawn(&[dir.join("main.js").to_str().unwrap()], &[port]);
    let hi = get(port, "/hi");
    assert_eq!((hi.status, hi.text().as_str()), (200, "Hi, there!\n"));
    assert_eq!(hi.header("content-type"), Some("text/plain"));
    let api = get(port, "/api/users");
    assert_eq!(
        (api.status, api.text().as_str()),
        (404, "No handler for api /users")
    );
    let other = get(port, "/elsewhere");
    assert_eq!(other.text(), "No handler for undefined /elsewhere");
}

/// samples/webapp: a todo REST API on SQLite (`sqlite(file)`, `sql()`,
/// `bind`, `exec`), its functions imported with `import * as db`, routes by
/// `algo.URLRouter`; the rows outlive the process.
#[test]
fn webapp_todos_on_sqlite() {
    use pipy_e2e::request;
    let port = free_port();
    let main = format!(
        r#"import * as db from './db.js'
var json = (status, obj) => new Message(
  {{ status, headers: {{ 'content-type': 'application/json' }} }},
  status === 204 ? undefined : JSON.encode(obj || {{ status }})
)
var api = new algo.URLRouter({{
  '/api/todos': req => req.head.method === 'GET' ? json(200, db.list()) : json(201, db.insert(req.body.toString())),
  '/api/todos/*': function (req) {{
    var id = req.head.path.substring(11) | 0
    switch (req.head.method) {{
      case 'GET': return json(200, db.get(id))
      case 'PATCH': return json(200, db.update(id, req.body.toString()))
      case 'DELETE': db.remove(id); return json(204)
      default: return json(405)
    }}
  }},
  '/*': () => json(404),
}})
pipy.listen({port}, $=>$.serveHTTP(req => api.find(req.head.path)(req)))
"#
    );
    // (A path of its own: a relative one is the process's working folder's.)
    let data = temp_dir().join("data.db");
    let db = r#"var db = sqlite(pipy.argv[1])
if (db.exec(`SELECT * FROM sqlite_schema WHERE type = 'table' AND name = 'todos'`).length === 0) {
  db.exec(`CREATE TABLE todos (id INTEGER PRIMARY KEY, content TEXT NOT NULL, checked INTEGER NOT NULL DEFAULT 0)`)
}
export function list() { return db.sql(`SELECT * FROM todos`).exec() }
export function get(id) { return db.sql(`SELECT * FROM todos WHERE id = ${id}`).exec()[0] }
export function insert(content) {
  db.sql(`INSERT INTO todos (content) VALUES (?)`).bind(1, content).exec()
  return db.sql(`SELECT * FROM todos WHERE id = last_insert_rowid()`).exec()[0]
}
export function update(id, content) {
  db.sql(`UPDATE todos SET content = ? WHERE id = ?`).bind(1, content).bind(2, id).exec()
  return get(id)
}
export function remove(id) { return db.exec(`DELETE FROM todos WHERE id = ${id}`) }
"#;
    let dir = codebase(&[("main.js", &main), ("db.js", db)]);
    let main_path = dir.join("main.js");
    {
        let _p = Pipy::spawn(
            &[main_path.to_str().unwrap(), "--", data.to_str().unwrap()],
            &[port],
        );
        let a = request(port, "POST", "/api/todos", "write tests");
        assert_eq!(a.status, 201);
        assert_eq!(a.text(), r#"{"id":1,"content":"write tests","checked":0}"#);
        request(port, "POST", "/api/todos", "ship it");
        let b = request(port, "PATCH", "/api/todos/2", "ship it today");
        assert_eq!(
            b.text(),
            r#"{"id":2,"content":"ship it today","checked":0}"#
        );
        assert_eq!(request(port, "DELETE", "/api/todos/1", "").status, 204);
        assert_eq!(request(port, "PUT", "/api/todos/1", "").status, 405);
        assert_eq!(get(port, "/nope").text(), r#"{"status":404}"#);
    }
    // The database is a real file: a new process sees the rows.
    let _p = Pipy::spawn(
        &[main_path.to_str().unwrap(), "--", data.to_str().unwrap()],
        &[port],
    );
    assert_eq!(
        get(port, "/api/todos").text(),
        r#"[{"id":2,"content":"ship it today","checked":0}]"#
    );
}

/// samples/proxy: a SOCKS proxy and an HTTP proxy (forwarding, `CONNECT`
/// tunnels) sharing one pipeline that detects the protocol, a blacklist
/// answered with `403`, each checked with curl.
#[test]
fn proxy_socks_http_and_connect_with_a_blacklist() {
    let (socks, http, backend) = (free_port(), free_port(), free_port());
    let script = format!(
        r#"#!/usr/bin/env pipy
var blackList = ['blocked.test']
var allowed = host => !blackList.includes(host.split(':')[0])
var $target
var $host
pipy.listen({backend}, $=>$.serveHTTP(req => new Message(`backend saw ${{req.head.path}}`)))
var connectTarget = pipeline($=>$
  .pipe(() => allowed($target) ? 'pass' : 'deny', {{
    pass: $=>$.connect(() => $target),
    deny: $=>$.replaceStreamStart(new StreamEnd),
  }})
)
var proxy = pipeline($=>$
  .detectProtocol(() => {{}})
  .pipe(connectTarget)
)
pipy.listen({socks}, $=>$
  .acceptSOCKS(req => {{ $target = `${{req.domain || req.ip}}:${{req.port}}`; return true }})
  .to(proxy)
)
pipy.listen({http}, $=>$
  .demuxHTTP().to($=>$
    .pipe(function (req) {{
      if (req instanceof MessageStart) {{
        var head = req.head
        if (head.method === 'CONNECT') {{
          $target = head.path
          return 'tunnel'
        }}
        var url = new URL(head.path)
        if (!allowed(url.hostname)) return 'forbidden'
        $host = `${{url.hostname}}:${{url.port}}`
        head.path = url.path
        return 'forward'
      }}
    }}, {{
      tunnel: $=>$.acceptHTTPTunnel(() => new Message({{ status: 200 }})).to(proxy),
      forward: $=>$.muxHTTP(() => $host).to($=>$.connect(() => $host)),
      forbidden: $=>$.replaceMessage(new Message({{ status: 403 }})),
    }})
  )
)
"#
    );
    let _p = Pipy::script(&script, &[socks, http, backend]);
    let url = format!("http://127.0.0.1:{backend}/a");
    let (ok, out) = curl(&["--socks5", &format!("127.0.0.1:{socks}"), &url]);
    assert!(ok && out == "backend saw /a", "{out}");
    let (ok, out) = curl(&["-x", &format!("127.0.0.1:{http}"), &url]);
    assert!(ok && out == "backend saw /a", "{out}");
    let (ok, out) = curl(&["-p", "-x", &format!("127.0.0.1:{http}"), &url]);
    assert!(ok && out == "backend saw /a", "{out}");
    let (_, code) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-x",
        &format!("127.0.0.1:{http}"),
        "http://blocked.test/",
    ]);
    assert_eq!(code, "403");
    let (ok, _) = curl(&[
        "--socks5-hostname",
        &format!("127.0.0.1:{socks}"),
        "http://blocked.test/",
    ]);
    assert!(!ok, "a blocked SOCKS target is refused");
}

/// samples/rate-limit: each request first asks a rate-limiting service
/// (`forkJoin` of one branch, over HTTP/2 by `muxHTTP({ version: 2 })`),
/// which holds it with `throttleMessageRate` by a quota chosen per path
/// (`pipe` by a function of the MessageStart); only then does the request go
/// on to the backend.
#[test]
fn rate_limit_holds_requests_by_their_path_quota() {
    let (front, limiter, backend) = (free_port(), free_port(), free_port());
    let script = format!(
        r#"#!/usr/bin/env pipy
pipy.listen({backend}, $=>$.serveHTTP(new Message('hi!\n')))
var $path
pipy.listen({front}, $=>$
  .demuxHTTP().to($=>$
    .handleMessageStart(msg => void ($path = msg.head.path))
    .forkJoin([1]).to($=>$
      .onStart(() => new Message({{ path: $path }}))
      .muxHTTP({{ version: 2 }}).to($=>$.connect('127.0.0.1:{limiter}'))
      .replaceMessage(new StreamEnd)
    )
    .muxHTTP().to($=>$.connect('127.0.0.1:{backend}'))
  )
)
var router = new algo.URLRouter({{ '/slow/*': new algo.Quota(4, {{ per: 1 }}), '/*': null }})
var $quota
var pass = pipeline($=>$)
var throttled = pipeline($=>$.throttleMessageRate(() => $quota))
pipy.listen({limiter}, $=>$
  .demuxHTTP().to($=>$
    .pipe(function (evt) {{
      if (evt instanceof MessageStart) {{
        $quota = router.find(evt.head.path)
        return $quota ? throttled : pass
      }}
    }})
    .replaceMessage(new Message)
  )
)
"#
    );
    let _p = Pipy::script(&script, &[front, limiter, backend]);
    let started = std::time::Instant::now();
    for _ in 0..8 {
        assert_eq!(get(front, "/fast").text(), "hi!\n");
    }
    let fast = started.elapsed();
    let started = std::time::Instant::now();
    for _ in 0..10 {
        assert_eq!(get(front, "/slow/x").text(), "hi!\n");
    }
    let slow = started.elapsed();
    // 4 a second: the first 4 pass at once, the next 6 take at least 1 s.
    assert!(slow >= Duration::from_millis(1000), "{slow:?}");
    assert!(fast < Duration::from_millis(1000), "{fast:?}");
}

/// samples/stress: a load generator in a pipeline (`forkJoin` of
/// connections, `repeat` until a deadline, `mux` per connection over
/// `encodeHTTPRequest`/`decodeHTTPResponse`, the connections closed at the
/// end by an inserted StreamEnd so the process can end), counted in
/// `stats.Counter` and `stats.Histogram` and reported with `stats.sum`.
#[test]
fn stress_counts_and_reports_with_stats_sum() {
    let target = free_port();
    let _server = Pipy::script(
        &format!("pipy().listen({target}).serveHTTP(new Message('ok'))"),
        &[target],
    );
    let script = format!(
        r#"#!/usr/bin/env pipy
var endTime = Date.now() + 700
var counts = new stats.Counter('counts', ['status'])
var latency = new stats.Histogram('latency', [0.5, 1, 5, 50, 1000, Number.POSITIVE_INFINITY])
var $time
var $conn
var stopAll
var stopped = new Promise(r => stopAll = r)
pipeline($=>$
  .onStart(new Message({{ path: '/', headers: {{ host: 'x' }} }}))
  .forkJoin(Array(3)).to($=>$
    .onStart((_, i) => void ($conn = i))
    .encodeHTTPRequest()
    .repeat(() => Date.now() < endTime).to($=>$
      .handleMessageStart(() => void ($time = pipy.now()))
      .mux(() => $conn).to($=>$
        .insert(() => stopped.then(() => new StreamEnd))
        .connect('127.0.0.1:{target}')
        .decodeHTTPResponse()
      )
      .handleMessageStart(function (res) {{
        latency.observe(pipy.now() - $time)
        counts.increase()
        counts.withLabels(res.head.status).increase()
      }})
      .replaceMessage(new StreamEnd)
    )
  )
  .replaceStreamStart(() => {{ stopAll(); return new StreamEnd }})
).spawn().then(() => stats.sum(['counts', 'latency']).then(({{ counts, latency }}) => {{
  println('total', counts.value > 10)
  counts.submetrics().forEach(m => println('status', m.label, m.value === counts.value))
  println('p50', latency.percentile.calculate(50) > 0, latency.percentile.calculate(100) <= 1000)
  println('count', latency.value[latency.value.length - 2] === counts.value)
}}))
"#
    );
    let dir = codebase(&[("main.js", &script)]);
    let (code, out, err) = run_to_end(&[dir.join("main.js").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out, "total true\nstatus 200 true\np50 true true\ncount true\n",
        "{err}"
    );
}

/// samples/scan: a port scanner (`repeat` in each of a `forkJoin`'s
/// branches, `connect` with a connect timeout, `pipe` by name), options from
/// `pipy.argv` after `--args`, results printed when the spawned pipeline's
/// Promise resolves.
#[test]
fn scan_finds_open_ports_from_its_arguments() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let _ = c.write_all(b"HELLO\r\n");
            std::thread::sleep(Duration::from_millis(1500));
        }
    });
    let script = r#"#!/usr/bin/env -S pipy --args
var host = pipy.argv[1]
var first = Number.parseInt(pipy.argv[2])
var last = Number.parseInt(pipy.argv[3])
var current = first
var found = []
var $port
var $data
pipeline($=>$
  .onStart(new Data)
  .forkJoin(Array(2)).to($=>$
    .repeat(() => current <= last).to($=>$
      .onStart(() => void ($port = current++, $data = new Data))
      .pipe(() => $port <= last ? 'probe' : 'end', {
        probe: $=>$
          .connect(() => `${host}:${$port}`, { connectTimeout: 1, idleTimeout: 0.5 })
          .handleData(d => $data.push(d))
          .handleStreamEnd(evt => {
            if (evt.error === 'IdleTimeout') found.push(`${$port} ${$data.toString().trim()}`)
          }),
        end: $=>$.replaceStreamStart(new StreamEnd),
      })
    )
  )
  .replaceStreamStart(new StreamEnd)
).spawn().then(() => {
  println(`Scanned ${last - first + 1} ports`)
  found.forEach(f => println('open', f))
})
"#;
    let dir = codebase(&[("main.js", script)]);
    let main = dir.join("main.js");
    let (first, last) = (open.saturating_sub(2).to_string(), (open + 2).to_string());
    let (code, out, err) =
        run_to_end(&["--args", main.to_str().unwrap(), "127.0.0.1", &first, &last]);
    assert_eq!(code, 0, "{err}");
    // (Ports beside it may belong to other tests running meanwhile.)
    assert!(out.starts_with("Scanned 5 ports\n"), "{out}{err}");
    assert!(
        out.contains(&format!("\nopen {open} HELLO\n")),
        "{out}{err}"
    );
}

/// A process to signal when the test ends (a child the script started).
struct Pid(u32);

impl Drop for Pid {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}

/// The text on `port`, or empty while nothing answers there.
fn text_or_empty(port: u16) -> String {
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => get(port, "/").text(),
        Err(_) => String::new(),
    }
}

/// samples/bootload: a bootloader in PipyJS (`--args` for its options)
/// polls a repo's codebase with `http.Agent`, writes the files with `os`,
/// starts `pipy` on them with the `exec` filter (`onStart` gives the pid)
/// in a pipeline spawned from a callback, and on a new version sends the
/// child SIGHUP with `os.kill`: the child reloads its files and serves the
/// new version.
#[test]
fn bootload_downloads_starts_and_reloads_a_codebase() {
    let repo_dir = temp_dir();
    let (_repo, admin) = pipy_e2e::repo(&[repo_dir.to_str().unwrap()]);
    let child_port = free_port();
    let version =
        |v: &str| format!("pipy.listen({child_port}, $=>$.serveHTTP(new Message('{v}')))\n");
    pipy_e2e::publish(admin, "/hello", &version("v1"), "1");
    let script = r#"#!/usr/bin/env -S pipy --args
var url = new URL(pipy.argv[1])
var root = pipy.argv[2]
var client = new http.Agent(url.host)
var etag
var pid = 0

function start() {
  if (pid) return os.kill(pid, 1)
  pipeline($=>$
    .onStart(new Data)
    .exec([pipy.argv[0], os.path.join(root, 'main.js')], {
      onStart: p => { pid = p; println('started', p) },
      onExit: () => void (pid = 0),
    })
  ).spawn()
}

function check() {
  client.request('GET', url.path).then(res => {
    var tag = res.head.headers.etag
    if (res.head.status !== 200 || tag === etag) return
    return Promise.all(
      res.body.toString().split('\n').filter(p => p).map(
        path => client.request('GET', os.path.join(url.path, path)).then(
          file => [path, file.body]
        )
      )
    ).then(files => {
      files.forEach(([path, body]) => {
        var full = os.path.join(root, path)
        os.mkdir(os.path.dirname(full), { recursive: true })
        os.write(full, body)
      })
      etag = tag
      start()
    })
  }).then(() => new Timeout(0.2).wait()).then(check)
}

check()
"#;
    let dir = codebase(&[("boot.js", script)]);
    let root = temp_dir();
    let url = format!("http://127.0.0.1:{admin}/repo/hello/");
    let boot = Pipy::spawn(
        &[
            "--args",
            dir.join("boot.js").to_str().unwrap(),
            &url,
            root.to_str().unwrap(),
        ],
        &[],
    );
    let pid: u32 = pipy_e2e::eventually("the child's pid", Duration::from_secs(20), || {
        boot.stdout_text()
            .lines()
            .find_map(|l| l.strip_prefix("started ")?.trim().parse().ok())
    });
    let _child = Pid(pid);
    pipy_e2e::wait_for("v1 served", Duration::from_secs(20), || {
        text_or_empty(child_port) == "v1"
    });
    pipy_e2e::publish(admin, "/hello", &version("v2"), "2");
    pipy_e2e::wait_for("v2 served after SIGHUP", Duration::from_secs(20), || {
        text_or_empty(child_port) == "v2"
    });
    // The same child: reloaded, not restarted.
    assert_eq!(boot.stdout_text().matches("started ").count(), 1);
}

/// samples/ws-udp: UDP datagrams carried over WebSocket tunnels: the
/// client side takes datagrams on a UDP port, frames them
/// (`encodeWebSocket`) into an HTTP tunnel (`connectHTTPTunnel` over
/// `muxHTTP`); the server side accepts the tunnel (`acceptHTTPTunnel`),
/// unframes them and sends them on to a UDP target (`pipe` to a pipeline
/// value). Checked with real UDP sockets at both ends.
#[test]
fn ws_udp_carries_datagrams_through_a_websocket_tunnel() {
    let (tunnel, udp_in) = (free_port(), free_port());
    let (back_a, back_b) = (free_port(), free_port());
    let udp = || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };
    let (target, home_a, home_b) = (udp(), udp(), udp());
    let target_addr = target.local_addr().unwrap();
    let (home_a_addr, home_b_addr) = (home_a.local_addr().unwrap(), home_b.local_addr().unwrap());
    // The server keeps `$target` and `$source` in a function, as the sample
    // does: upstream makes them context variables all the same (one per
    // tunnel), so two receiving tunnels join their own hubs.
    let server = format!(
        r#"#!/usr/bin/env pipy
function runServer() {{
  var $target
  var $source
  var hubs = {{}}
  var ok = new Message({{ status: 101, headers: {{ connection: 'upgrade', upgrade: 'websocket' }} }})
  var send = pipeline($=>$.connect(() => $target, {{ protocol: 'udp' }}))
  var recv = pipeline($=>$.swap(() => hubs[$source] ??= new pipeline.Hub))
  pipy.listen({tunnel}, $=>$
    .demuxHTTP().to($=>$
      .acceptHTTPTunnel(function (req) {{
        var path = req.head.path
        if (path.startsWith('/send/')) {{ $target = path.substring(6); return ok }}
        if (path.startsWith('/recv/')) {{ $source = path.substring(6); return ok }}
        return new Message({{ status: 404 }})
      }}).to($=>$
        .decodeWebSocket()
        .pipe(() => $target ? send : recv)
        .replaceData(data => new Message(data))
        .encodeWebSocket()
      )
    )
  )
  ;[['{back_a}', '{home_a_addr}'], ['{back_b}', '{home_b_addr}']].forEach(([port, home]) =>
    pipy.listen('127.0.0.1:' + port, 'udp', $=>$.swap(() => hubs[home] ??= new pipeline.Hub))
  )
}}
function runClient() {{
  pipy.listen('127.0.0.1:{udp_in}', 'udp', $=>$
    .replaceData(data => new Message(data))
    .encodeWebSocket()
    .connectHTTPTunnel(
      new Message({{ path: '/send/{target_addr}', headers: {{ connection: 'upgrade', upgrade: 'websocket' }} }})
    ).to($=>$
      .muxHTTP().to($=>$.connect('127.0.0.1:{tunnel}'))
    )
    .decodeWebSocket()
  )
  ;['{home_a_addr}', '{home_b_addr}'].forEach(home =>
    pipeline($=>$
      .onStart(new Data)
      .repeat(() => new Timeout(0.2).wait().then(() => true)).to($=>$
        .loop($=>$
          .replaceStreamEnd()
          .replaceData(data => new Message(data))
          .encodeWebSocket()
          .connectHTTPTunnel(
            new Message({{ path: '/recv/' + home, headers: {{ connection: 'upgrade', upgrade: 'websocket' }} }})
          ).to($=>$
            .muxHTTP().to($=>$.connect('127.0.0.1:{tunnel}'))
          )
          .decodeWebSocket()
          .connect(home, {{ protocol: 'udp' }})
        )
      )
    ).spawn()
  )
}}
runServer()
runClient()
"#
    );
    let _p = Pipy::script(&server, &[tunnel]);
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut buf = [0u8; 64];
    for i in 0..3 {
        let msg = format!("datagram {i}");
        sender
            .send_to(msg.as_bytes(), ("127.0.0.1", udp_in))
            .unwrap();
        let (n, _) = target
            .recv_from(&mut buf)
            .expect("a datagram through the tunnel");
        assert_eq!(&buf[..n], msg.as_bytes());
    }
    // Back from the server's side: each port reaches its own home, once the
    // receiving tunnels are up (they retry every 0.2 s until then).
    for (port, home, name) in [(back_a, &home_a, "a"), (back_b, &home_b, "b")] {
        let got = pipy_e2e::eventually("a datagram home", Duration::from_secs(10), || {
            sender
                .send_to(format!("to {name}").as_bytes(), ("127.0.0.1", port))
                .unwrap();
            home.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            home.recv_from(&mut buf)
                .ok()
                .map(|(n, _)| buf[..n].to_vec())
        });
        assert_eq!(got, format!("to {name}").as_bytes());
    }
    // And nothing crossed over.
    for (home, other) in [(&home_a, "to b"), (&home_b, "to a")] {
        home.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while let Ok((n, _)) = home.recv_from(&mut buf) {
            assert_ne!(
                &buf[..n],
                other.as_bytes(),
                "a datagram reached the other home"
            );
        }
    }
}

/// samples/bgp: a BGP speaker in PipyJS: a session per peer shared through
/// `mux`, messages built as payloads (`new Message(null, { type, body })`)
/// and framed by `encodeBGP`, answers read by `decodeBGP`, a tick pipeline
/// spawned every so often with `fork` per peer and `demux` into the
/// session. Peered with a real `gobgpd`: the session comes up and the route
/// the script announces reaches gobgpd's table.
#[test]
fn bgp_speaker_peers_with_gobgpd_and_announces_a_route() {
    let dir = temp_dir();
    let (bgp, api) = (free_port(), free_port());
    let config = format!(
        r#"[global.config]
as = 65002
router-id = "10.0.0.2"
port = {bgp}
local-address-list = ["127.0.0.6"]
[[neighbors]]
[neighbors.config]
neighbor-address = "127.0.0.1"
peer-as = 65001
[neighbors.transport.config]
passive-mode = true
local-address = "127.0.0.6"
"#
    );
    let _gobgpd = crate::codecs::gobgpd(&dir, "gobgpd.toml", &config, api);
    let script = format!(
        r#"#!/usr/bin/env pipy
var peers = [{{ destination: '127.0.0.6:{bgp}', state: 'Idle', announced: false }}]
var $peer

var open = () => new Message(null, {{
  type: 'OPEN',
  body: {{
    myAS: 65001, identifier: '10.0.0.1', holdTime: 90,
    parameters: [{{ name: 'Capabilities', value: [
      {{ code: 1, value: new Data([0, 1, 0, 1]) }},
      {{ code: 65, value: new Data([0, 0, 0xfd, 0xe9]) }},
    ] }}],
  }},
}})
var keepalive = () => new Message(null, {{ type: 'KEEPALIVE' }})
var update = () => new Message(null, {{
  type: 'UPDATE',
  body: {{
    pathAttributes: [
      {{ name: 'ORIGIN', value: 0, transitive: true }},
      {{ name: 'AS_PATH', value: [[65001]], transitive: true }},
      {{ name: 'NEXT_HOP', value: '192.0.2.1', transitive: true }},
    ],
    withdrawnRoutes: [],
    destinations: ['10.9.0.0/16'],
  }},
}})

function receive(peer, msg) {{
  var type = msg.payload?.type
  if (type === 'OPEN') peer.state = 'OpenConfirm'
  if (type === 'KEEPALIVE' && peer.state === 'OpenConfirm') {{
    peer.state = 'Established'
    console.info('established')
  }}
}}

function tick(peer) {{
  switch (peer.state) {{
    case 'Idle': peer.state = 'OpenSent'; return open()
    case 'OpenSent': return null
    case 'OpenConfirm': return keepalive()
    default:
      if (peer.announced) return keepalive()
      peer.announced = true
      return [keepalive(), update()]
  }}
}}

var session = pipeline($=>$
  .mux(() => $peer, {{ maxQueue: 0 }}).to($=>$
    .encodeBGP({{ enableAS4: true }})
    .connect(() => $peer.destination, {{ idleTimeout: 0 }})
    .decodeBGP({{ enableAS4: true }})
    .handleMessage(msg => receive($peer, msg))
    .handleStreamEnd(() => void ($peer.state = 'Idle', $peer.announced = false))
  )
)

var ticker = pipeline($=>$
  .onStart(new Message)
  .fork(peers).to($=>$
    .onStart(p => void ($peer = p))
    .replaceMessage(() => tick($peer))
    .demux().to(session)
  )
  .replaceMessage(new StreamEnd)
)

function again() {{
  ticker.spawn()
  new Timeout(0.3).wait().then(again)
}}
again()
"#
    );
    let dir = codebase(&[("main.js", &script)]);
    let p = Pipy::spawn(&[dir.join("main.js").to_str().unwrap()], &[]);
    let gobgp = |args: &[&str]| crate::codecs::gobgp(api, args);
    let rib = pipy_e2e::eventually("gobgpd learns the route", Duration::from_secs(30), || {
        let rib = gobgp(&["global", "rib", "-a", "ipv4"]);
        rib.contains("10.9.0.0/16").then_some(rib)
    });
    assert!(rib.contains("192.0.2.1"), "{rib}");
    assert!(gobgp(&["neighbor"]).contains("Establ"));
    assert!(
        p.stderr_text().contains("established"),
        "{}",
        p.stderr_text()
    );
}

/// `muxFastCGI` and `demuxFastCGI` back to back, one shared session: a
/// client that hangs up before its answer gets its request aborted
/// (`FCGI_ABORT_REQUEST`), and the next client, which may get the same
/// request ID, gets its own answer, never the abandoned one.
#[test]
fn fastcgi_requests_abandoned_midway_do_not_answer_later_streams() {
    use std::io::Write;
    let (front, app) = (free_port(), free_port());
    let script = format!(
        r#"#!/usr/bin/env pipy
var $q
pipy.listen({app}, $=>$
  .demuxFastCGI().to($=>$
    .handleMessageStart(req => void ($q = req.head.params.QUERY_STRING))
    .wait(() => $q === 'slow' ? new Timeout(0.5).wait().then(() => true) : true)
    .replaceMessage(() => new Message(`Content-Type: text/plain\r\n\r\nanswer for ${{$q}}`))
  )
)
pipy.listen({front}, $=>$
  .demuxHTTP().to($=>$
    .replaceMessage(msg => new Message({{ keepAlive: true, params: {{ QUERY_STRING: new URL(msg.head.path).query }} }}, ''))
    .muxFastCGI(() => 'shared').to($=>$.connect('127.0.0.1:{app}'))
    .replaceMessageStart(() => new Data('HTTP/1.1 200 OK\r\n'))
    .replaceMessageEnd(new StreamEnd)
    .decodeHTTPResponse()
  )
)
"#
    );
    let p = Pipy::script(&script, &[front, app]);
    // A client asks the slow question and hangs up at once.
    let mut gone = std::net::TcpStream::connect(("127.0.0.1", front)).unwrap();
    gone.write_all(b"GET /?slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(gone);
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..3 {
        let q = format!("fast{i}");
        assert_eq!(
            get(front, &format!("/?{q}")).text(),
            format!("answer for {q}")
        );
    }
    // Past the slow answer's time: still every client its own.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        get(front, "/?late").text(),
        "answer for late",
        "{}",
        p.stderr_text()
    );
}

/// FastCGI records written by hand.
fn fcgi_record(kind: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![1, kind, (id >> 8) as u8, id as u8];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0]);
    r.extend_from_slice(body);
    r
}

/// A misbehaving FastCGI client: parameters past the per-connection bound,
/// or parameters cut short, end that connection only; the next, proper
/// request on a new connection is answered.
#[test]
fn demux_fastcgi_refuses_hostile_clients_and_keeps_serving() {
    use std::io::{Read, Write};
    let port = free_port();
    let script = format!(
        "#!/usr/bin/env pipy\n\
         pipy.listen({port}, $=>$.demuxFastCGI().to($=>$\n\
           .replaceMessage(req => new Message({{}}, 'ok ' + req.head.params.Q))))\n"
    );
    let _p = Pipy::script(&script, &[port]);
    let begin = fcgi_record(1, 1, &[0, 1, 0, 0, 0, 0, 0, 0]);
    let closed_after = |records: Vec<u8>| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // The server may close while we still write: that is the answer too.
        let _ = s.write_all(&records);
        let mut buf = Vec::new();
        let n = s.read_to_end(&mut buf);
        assert!(
            n.is_ok() || buf.is_empty(),
            "the connection should end, not hang"
        );
        buf
    };
    // Over 1 MiB of parameters, in full records.
    let mut flood = begin.clone();
    for _ in 0..20 {
        flood.extend(fcgi_record(4, 1, &vec![b'x'; 60_000]));
    }
    assert!(closed_after(flood).is_empty());
    // A name-value pair cut short (a 4-byte length announcing more than
    // there is), then the end of the parameters.
    let mut cut = begin.clone();
    cut.extend(fcgi_record(4, 1, &[0x80, 0, 1, 0, 1, b'a']));
    cut.extend(fcgi_record(4, 1, &[]));
    assert!(closed_after(cut).is_empty());
    // A proper request still gets its answer.
    let mut good = begin;
    good.extend(fcgi_record(4, 1, &[1, 2, b'Q', b'h', b'i']));
    good.extend(fcgi_record(4, 1, &[]));
    good.extend(fcgi_record(5, 1, &[]));
    let answer = closed_after(good);
    assert!(
        answer.windows(5).any(|w| w == b"ok hi"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
