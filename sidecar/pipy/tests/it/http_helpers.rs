//! `http.Directory`, `http.Agent`, and `serveHTTP` answering with a Promise.
//! Answers are those upstream Pipy 1.5.18 gives for the same scripts
//! (compared side by side), except where a test says otherwise.

use crate::harness::*;

#[test]
fn a_directory_serves_files_index_pages_and_precompressed_variants() {
    let dir = temp_dir();
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(www.join("sub/index.html"), "sub index\n").unwrap();
    std::fs::write(www.join("data.json"), "{\"a\":1}\n").unwrap();
    std::fs::write(www.join("style.css"), "body{}\n").unwrap();
    std::fs::write(www.join("style.css.gz"), b"pretend-gzip").unwrap();
    std::fs::write(www.join("big.txt"), "x".repeat(2000)).unwrap();
    std::fs::write(dir.join("secret.txt"), "secret").unwrap();
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "(dir => pipy().listen({port}).serveHTTP(req => dir.serve(req) || new Message({{status: 404}}, 'nope')))
             (new http.Directory('{}', {{fs: true, compression: (req, acc, path, size) => size > 1000 ? 'gzip' : null}}))",
            www.display()
        ),
        &[port],
    );
    let r = get(port, "/");
    assert_eq!(
        (r.status, r.header("content-type"), r.text().as_str()),
        (200, Some("text/html"), "<h1>home</h1>\n")
    );
    assert_eq!(get(port, "/sub").text(), "sub index\n");
    assert_eq!(get(port, "/sub/").text(), "sub index\n");
    let r = get(port, "/data.json?x=1");
    assert_eq!(r.header("content-type"), Some("application/json"));
    // No way out of the root.
    let r = get(port, "/../secret.txt");
    assert_eq!((r.status, r.text().as_str()), (404, "nope"));
    assert_eq!(get(port, "/sub/../../secret.txt").status, 404);
    // A precompressed variant for a client that accepts it; gzip made once
    // for a big file by the compression callback.
    let mut c = Conn::open(port);
    c.send(b"GET /style.css HTTP/1.1\r\nhost: x\r\naccept-encoding: gzip, br\r\n\r\n");
    let r = c.read(false);
    assert_eq!(
        (r.header("content-encoding"), r.body.as_slice()),
        (Some("gzip"), &b"pretend-gzip"[..])
    );
    let (ok, out) = curl(&["--compressed", &format!("http://127.0.0.1:{port}/big.txt")]);
    assert!(ok && out == "x".repeat(2000), "{out}");
    // A changed file is served changed.
    std::fs::write(www.join("data.json"), "{\"a\":2}\n").unwrap();
    assert_eq!(get(port, "/data.json").text(), "{\"a\":2}\n");
}

#[test]
fn a_directory_in_the_codebase() {
    let port = free_port();
    let _p = Pipy::script_with(
        &format!(
            "(dir => pipy().listen({port}).serveHTTP(req => dir.serve(req) || new Message({{status: 404}})))(new http.Directory('/static'))"
        ),
        &[("static/index.html", "from the codebase"), ("static/app.js", "let x = 1")],
        &[],
        &[port],
    );
    assert_eq!(get(port, "/").text(), "from the codebase");
    let r = get(port, "/app.js");
    assert_eq!(r.header("content-type"), Some("application/javascript"));
    assert_eq!(get(port, "/main.js").status, 404);
}

#[test]
fn an_agent_sends_requests_from_callbacks_on_kept_alive_connections() {
    let up = free_port();
    let _u = Pipy::script(
        &format!(
            "pipy().listen({up}).serveHTTP(req => new Message({{status: 201, headers: {{'x-echo': req.head.headers['x-test'] || ''}}}},
               req.head.method + ' ' + req.head.path + ' ' + req.head.headers.host + ' ' + (req.body ? req.body.toString() : '') + ' ' + __inbound.remotePort))"
        ),
        &[up],
    );
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "((agent, bad) => pipy().listen({port}).serveHTTP(req =>
               agent.request('POST', '/hello', {{'x-test': 'yes'}}, 'payload').then(a =>
               agent.request('GET', '/again').then(b =>
               bad.request('GET', '/').then(e =>
                 new Message({{ headers: {{ 'x-tail': a.tail.bodySize + '/' + (a.tail.headSize > 0) }} }}, a.head.status + ' ' + a.head.headers['x-echo'] + ' [' + a.body.toString() + '] [' + b.body.toString() + '] ' + e.head.status + ' ' + e.head.statusText))))))
             (new http.Agent('127.0.0.1:{up}'), new http.Agent('127.0.0.1:1'))"
        ),
        &[port],
    );
    let r = get(port, "/");
    let text = r.text();
    let parts: Vec<&str> = text.split(['[', ']']).collect();
    assert_eq!(parts[0], "201 yes ", "{text}");
    // The response's tail, as upstream's: its body and head sizes.
    assert_eq!(
        r.header("x-tail"),
        Some(format!("{}/true", parts[1].len()).as_str()),
        "{text}"
    );
    let first: Vec<&str> = parts[1].split(' ').collect();
    let second: Vec<&str> = parts[3].split(' ').collect();
    assert_eq!(
        &first[..4],
        ["POST", "/hello", &format!("127.0.0.1:{up}"), "payload"],
        "{text}"
    );
    assert_eq!(&second[..2], ["GET", "/again"], "{text}");
    // One connection for both: the same client port.
    assert_eq!(first[4], second[4], "{text}");
    // No answer: a 502 made for the error, as upstream resolves with.
    assert_eq!(parts[4], " 502 Connection Refused", "{text}");
}

#[test]
fn admin_pipelines_answer_their_paths_on_the_admin_port() {
    let port = free_port();
    let admin = free_port();
    let dir = temp_dir();
    std::fs::write(
        dir.join("main.js"),
        format!(
            "pipy({{_n: 0}}).listen({port}).serveHTTP(new Message('app'))
               .admin('/admin/hello').replaceMessage(req => new Message({{status: 201, headers: {{'x-admin': 'yes'}}}},
                  req.head.method + ' ' + req.head.path + ' ' + (req.body ? req.body.toString() : '')))"
        ),
    )
    .unwrap();
    let admin_arg = format!("--admin-port=127.0.0.1:{admin}");
    let _p = Pipy::spawn(
        &[&admin_arg, &dir.join("main.js").to_string_lossy()],
        &[port, admin],
    );
    let r = post(admin, "/admin/hello?q=1", b"body");
    assert_eq!((r.status, r.header("x-admin")), (201, Some("yes")));
    assert_eq!(r.text(), "POST /admin/hello?q=1 body");
    // Other paths are the admin port's own or not found.
    assert_eq!(get(admin, "/admin/other").status, 404);
    assert_eq!(get(admin, "/readyz").status, 200);
    let (code, _, err) = run_to_end(&["-e", "pipy().admin('/x')"]);
    assert_ne!(code, 0);
    assert!(err.contains("path must start with /admin/"), "{err}");
}
