//! The repo's HTTP service over real TCP on 127.0.0.1 (spec §4, §5.1 to §5.3, §6.1,
//! §6.7, §9), with a minimal blocking HTTP/1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use pipy_repo::{Repo, RepoOptions, RepoState, SqliteStore};

/// A running service; dropping it shuts the server down.
struct Server {
    addr: SocketAddr,
    state: Arc<RepoState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Self {
        Self::start_with(RepoOptions::default())
    }

    fn start_with(options: RepoOptions) -> Self {
        let state = RepoState::with_options(Repo::new(SqliteStore::in_memory().unwrap()), options);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                pipy_repo::serve(listener, served, shutdown).await.unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn client(&self) -> Client {
        let stream = TcpStream::connect(self.addr).unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
    /// Status and body as text, for compact assertions.
    fn st(&self) -> (u16, &str) {
        (self.status, self.text())
    }
}

/// One keep-alive connection.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn send(&mut self, method: &str, path: &str, body: &[u8]) -> Resp {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        self.stream.write_all(head.as_bytes()).unwrap();
        self.stream.write_all(body).unwrap();
        self.read(method == "HEAD")
    }

    fn read(&mut self, head_only: bool) -> Resp {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.to_ascii_lowercase(), v.trim().to_owned()));
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = resp
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        if !head_only {
            resp.body = vec![0; len];
            self.reader.read_exact(&mut resp.body).unwrap();
        }
        resp
    }

    fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, b"")
    }
    fn post(&mut self, path: &str, body: &str) -> Resp {
        self.send("POST", path, body.as_bytes())
    }
    fn patch(&mut self, path: &str, body: &str) -> Resp {
        self.send("PATCH", path, body.as_bytes())
    }
    fn delete(&mut self, path: &str) -> Resp {
        self.send("DELETE", path, b"")
    }
}

const HELLO_INFO: &str = r#"{"version":"0","path":"/hello","main":"/main.js","files":["/main.js"],"editFiles":[],"erasedFiles":[],"baseFiles":[],"derived":[],"instances":{}}"#;

#[test]
fn end_to_end_example() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.post("/api/v1/repo/hello", "{}").status, 201);
    assert_eq!(c.get("/repo/hello/").status, 404);
    assert_eq!(
        c.patch("/api/v1/repo/hello", r#"{"version":1}"#).status,
        201
    );
    let m = c.get("/repo/hello/");
    assert_eq!((m.st(), m.header("etag")), ((200, "/main.js"), Some("1")));
    assert_eq!(c.post("/api/v1/repo-files/hello/main.js", "v1").status, 201);
    assert_eq!(
        c.post("/api/v1/repo-files/hello/lib/util.js", "u").status,
        201
    );
    assert_eq!(c.patch("/api/v1/repo/hello", "{}").status, 201);
    let main = c.get("/repo/hello/main.js");
    assert_eq!((main.st(), main.header("etag")), ((200, "v1"), Some("1.1")));
    let util = c.get("/repo/hello/lib/util.js");
    assert_eq!((util.st(), util.header("etag")), ((200, "u"), Some(".1")));
    let m = c.get("/repo/hello/");
    assert_eq!((m.st(), m.header("etag")), ((200, "/main.js"), Some("1")));
    assert_eq!(
        c.patch("/api/v1/repo/hello", r#"{"version":2}"#).status,
        201
    );
    let m = c.get("/repo/hello/");
    assert_eq!(
        (m.st(), m.header("etag")),
        ((200, "/main.js\n/lib/util.js"), Some("2"))
    );
    let names: Vec<&str> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["server", "content-type", "etag", "content-length"]);
    assert_eq!(m.header("server"), Some("pipy-repo"));
    assert_eq!(m.header("content-type"), Some("text/plain"));
    let e = c.get("/repo/hello/_etags");
    assert_eq!(
        (e.st(), e.header("etag")),
        ((200, "/lib/util.js#2\n/main.js#2\n"), Some(""))
    );
    assert_eq!(e.header("content-length"), Some("26"));
    // HEAD: same headers, GET's content-length, no body (the next response parses).
    let h = c.send("HEAD", "/repo/hello/", b"");
    assert_eq!((h.status, h.header("etag")), (200, Some("2")));
    assert_eq!(h.header("content-length"), Some("21"));
    assert_eq!(c.send("HEAD", "/repo/hello/nope.js", b"").status, 404);
    assert_eq!(
        c.patch("/api/v1/repo/hello", r#"{"version":"3"}"#).status,
        201
    );
    assert_eq!(c.get("/repo/hello/main.js").header("etag"), Some("3"));
    assert_eq!(server.state.take_reloads(), ["/hello", "/hello", "/hello"]);
    assert!(server.state.take_reloads().is_empty());
}

#[test]
fn response_shapes_and_listing() {
    let server = Server::start();
    let mut c = server.client();
    let empty = c.get("/api/v1/repo");
    assert_eq!(
        (empty.st(), empty.header("content-type")),
        ((200, ""), Some("text/plain"))
    );
    for cb in ["/hello", "/base", "/org/team/app", "/x2"] {
        assert_eq!(c.post(&format!("/api/v1/repo{cb}"), "").status, 201);
    }
    assert_eq!(
        c.get("/api/v1/repo").st(),
        (200, "/base\n/hello\n/org/team/app\n/x2")
    );
    assert_eq!(
        c.get("/api/v1/repo/").st(),
        (200, "/base\n/hello\n/org/team/app\n/x2")
    );
    let info = c.get("/api/v1/repo/hello");
    assert_eq!(info.st(), (200, HELLO_INFO));
    assert_eq!(info.header("content-type"), Some("application/json"));
    let bare = c.get("/api/v1/repo/hello/");
    assert_eq!((bare.status, bare.header("content-type")), (404, None));
    assert_eq!(
        (bare.header("content-length"), bare.header("server")),
        (Some("0"), Some("pipy-repo"))
    );
    let err = c.post("/api/v1/repo/hello", "{}");
    assert_eq!(err.st(), (400, "Codebase already exists"));
    assert_eq!(err.header("content-type"), Some("text/plain"));
    let del = c.delete("/api/v1/repo/x2");
    assert_eq!((del.status, del.header("content-type")), (204, None));
    // RFC 9110 forbids content-length on 204; hyper drops it (upstream sends 0).
    assert_eq!(del.header("content-length"), None);
    // §5.1 listings.
    assert_eq!(
        c.get("/repo").st(),
        (200, "/base/\n/hello/\n/org/team/app/\n")
    );
    assert_eq!(
        c.get("/repo/").st(),
        (200, "/base/\n/hello/\n/org/team/app/\n")
    );
    for p in ["/repo/org", "/repo/org/", "/repo/org/team"] {
        assert_eq!(c.get(p).st(), (200, "/org/team/app/\n"), "{p}");
    }
    assert_eq!(c.get("/repo/hel").status, 404);
    assert_eq!(c.get("/repo/hello").status, 404);
    assert_eq!(c.send("HEAD", "/repo", b"").status, 405);
    assert_eq!(c.send("HEAD", "/repo/", b"").status, 404);
    assert_eq!(c.send("PUT", "/repo/hello/", b"").status, 405);
    assert_eq!(c.delete("/repo").status, 405);
    // Requests for HTML under /repo/ go to the (absent) GUI.
    let html = "GET /repo/ HTTP/1.1\r\nhost: x\r\naccept: text/html\r\n\r\n";
    c.stream.write_all(html.as_bytes()).unwrap();
    assert_eq!(c.read(false).status, 404);
}

#[test]
fn routing_rules() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.post("/api/v1/repo/hello", "").status, 201);
    let status = r#"{"timestamp":0,"since":0,"uuid":"","name":"","ip":"","version":"","modules":{},"logs":[]}"#;
    for p in ["/api/v1/status", "/status"] {
        let r = c.get(p);
        assert_eq!(
            (r.st(), r.header("content-type")),
            ((200, status), Some("application/json"))
        );
        assert_eq!(c.post(p, "").status, 405);
    }
    assert_eq!(c.get("/api/v1/repo?x=1").status, 404);
    assert_eq!(c.send("HEAD", "/api/v1/repo", b"").status, 405);
    assert_eq!(c.post("/api/v1/repo", "{}").status, 405);
    assert_eq!(c.send("PUT", "/api/v1/repo/hello", b"").status, 405);
    assert_eq!(c.send("HEAD", "/api/v1/repo/hello", b"").status, 405);
    assert_eq!(c.post("/api/v1/metrics", "").status, 405);
    assert_eq!(c.get("/nothing").status, 404);
    assert_eq!(c.post("/nothing", "").status, 405);
    assert_eq!(c.get("/api/v1/program").st(), (200, ""));
    // No script host in this server; no program ever ran.
    assert_eq!(
        c.post("/api/v1/program", "/x").st(),
        (400, "This repo runs no programs (no script host)")
    );
    assert_eq!(c.post("/api/v1/files/x", "").status, 404);
    assert_eq!(c.get("/api/v1/repo-files").status, 404);
    for m in ["GET", "POST", "DELETE"] {
        let r = c.send(m, "/api/v1/dump-store", b"");
        assert_eq!((r.st(), r.header("content-type")), ((200, ""), None));
    }
    // Percent-decoding (`+` stays) and no normalisation.
    assert_eq!(
        c.post("/api/v1/repo-files/hello/a%20b+c.js", "x").status,
        201
    );
    assert_eq!(
        c.get("/api/v1/repo-files/hello/a%20b+c.js").st(),
        (200, "x")
    );
    assert_eq!(
        c.get("/api/v1/repo-files/%68ello/a%20b+c.js").st(),
        (200, "x")
    );
    assert!(c
        .get("/api/v1/repo/hello")
        .text()
        .contains(r#""editFiles":["/a b+c.js"]"#));
    assert_eq!(
        c.post("/api/v1/repo-files/hello/nul%00.js", "x").st(),
        (400, "Invalid filename")
    );
    // Control characters in names (they end up in logs and pages).
    for name in [
        "cr%0D%0Alf.js",
        "esc%1B%5B31m.js",
        "del%7F.js",
        "c1%C2%85.js",
    ] {
        assert_eq!(
            c.post(&format!("/api/v1/repo-files/hello/{name}"), "x")
                .st(),
            (400, "Invalid filename"),
            "{name}"
        );
    }
    assert_eq!(
        c.post("/api/v1/repo/bad%0Aname", "").st(),
        (400, "Invalid codebase name")
    );
    assert!(!c.get("/api/v1/repo").text().contains("bad"));
    // Body limit: the header alone is enough to refuse.
    let big = "POST /api/v1/repo-files/hello/big.js HTTP/1.1\r\nhost: x\r\ncontent-length: 16777217\r\n\r\n";
    let mut c2 = server.client();
    c2.stream.write_all(big.as_bytes()).unwrap();
    assert_eq!(c2.read(false).status, 413);
    let limit = vec![b'a'; 16 << 20];
    let mut c3 = server.client();
    assert_eq!(
        c3.send("POST", "/api/v1/repo-files/hello/big.js", &limit)
            .status,
        201
    );
    assert_eq!(
        c3.get("/api/v1/repo-files/hello/big.js").body.len(),
        16 << 20
    );
}

#[test]
fn file_size_limit_is_configurable() {
    let server = Server::start_with(RepoOptions {
        max_file_size: 10,
        ..RepoOptions::default()
    });
    let mut c = server.client();
    assert_eq!(c.post("/api/v1/repo/a", "").status, 201);
    assert_eq!(
        c.post("/api/v1/repo-files/a/x.js", "0123456789").status,
        201
    );
    assert_eq!(
        c.post("/api/v1/repo-files/a/x.js", "0123456789a").st(),
        (413, "Request body too large: the limit is 10 bytes")
    );
    // The refused body was never read, so that connection is closed.
    let mut c = server.client();
    assert_eq!(c.get("/api/v1/repo-files/a/x.js").st(), (200, "0123456789"));
    let long = format!("/api/v1/repo-files/a/{}.js", "n".repeat(300));
    assert_eq!(c.post(&long, "x").st(), (400, "Invalid filename"));
    let long = format!("/api/v1/repo/{}", "n".repeat(300));
    assert_eq!(c.post(&long, "").st(), (400, "Invalid codebase name"));
}

#[test]
fn create_and_patch_validation() {
    let server = Server::start();
    let mut c = server.client();
    // Deliberately stricter than upstream: bodies must be empty or a JSON object of
    // known keys.
    assert_eq!(
        c.post("/api/v1/repo/base", "not json").st(),
        (400, "Invalid JSON")
    );
    assert_eq!(
        c.post("/api/v1/repo/base", "[1]").st(),
        (400, "Invalid JSON object")
    );
    assert_eq!(
        c.post("/api/v1/repo/base", r#"{"verison":2}"#).st(),
        (400, "Unknown field: verison")
    );
    assert_eq!(
        c.get("/api/v1/repo/base").status,
        404,
        "nothing was written"
    );
    assert_eq!(c.post("/api/v1/repo/base", " \n").status, 201);
    assert_eq!(
        c.patch("/api/v1/repo/base", r#"{"version":1,"x":0}"#).st(),
        (400, "Unknown field: x")
    );
    let cases = [
        ("/api/v1/repo/", "{}", "Invalid codebase name"),
        ("/api/v1/repo/x/", "{}", "Invalid codebase name"),
        ("/api/v1/repo/x", r#"{"base":1}"#, "Invalid base codebase"),
        (
            "/api/v1/repo/x",
            r#"{"base":"/zz"}"#,
            "Base codebase not found",
        ),
        ("/api/v1/repo/x", r#"{"main":""}"#, "Invalid main filename"),
        ("/api/v1/repo/x", r#"{"main":3}"#, "Invalid main filename"),
        (
            "/api/v1/repo/x",
            r#"{"version":-1}"#,
            "Invalid version number",
        ),
        (
            "/api/v1/repo/x",
            r#"{"version":2147483648}"#,
            "Invalid version number",
        ),
        ("/api/v1/repo/x", r#"{"version":""}"#, "Invalid version"),
        ("/api/v1/repo/x", r#"{"version":true}"#, "Invalid version"),
        ("/api/v1/repo/base", "{}", "Codebase already exists"),
    ];
    for (path, body, msg) in cases {
        assert_eq!(c.post(path, body).st(), (400, msg), "POST {path} {body}");
    }
    // A valid main is ignored; a version is stored but nothing is published.
    assert_eq!(
        c.post("/api/v1/repo/v", r#"{"main":"/x.js","version":1.7}"#)
            .status,
        201
    );
    let info = c.get("/api/v1/repo/v");
    assert!(info
        .text()
        .starts_with(r#"{"version":"1","path":"/v","main":"/main.js","#));
    assert_eq!(c.get("/repo/v/").status, 404);
    let cases = [
        ("/api/v1/repo/", "{}", "Invalid codebase name"),
        ("/api/v1/repo/v", r#"{"main":""}"#, "Invalid main filename"),
        (
            "/api/v1/repo/v",
            r#"{"version":-1}"#,
            "Invalid version number",
        ),
        ("/api/v1/repo/v", r#"{"version":""}"#, "Invalid version"),
        ("/api/v1/repo/v", r#"{"version":[]}"#, "Invalid version"),
    ];
    for (path, body, msg) in cases {
        assert_eq!(c.patch(path, body).st(), (400, msg), "PATCH {path} {body}");
    }
    assert_eq!(c.patch("/api/v1/repo/nope", "{}").st(), (404, ""));
    assert_eq!(
        c.patch("/api/v1/repo/v", r#"{"main":"/app.js"}"#).status,
        201
    );
    assert!(c
        .get("/api/v1/repo/v")
        .text()
        .contains(r#""main":"/app.js""#));
    assert_eq!(c.patch("/api/v1/repo/v", r#"{"version":7.9}"#).status, 201);
    assert_eq!(c.get("/repo/v/").st(), (200, "/app.js\n/main.js"));
    assert_eq!(c.get("/repo/v/").header("etag"), Some("7"));
}

#[test]
fn draft_files_and_derivatives() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.post("/api/v1/repo/base", "").status, 201);
    for (f, body) in [("/a.js", "base-a"), ("/b.js", "base-b")] {
        assert_eq!(
            c.post(&format!("/api/v1/repo-files/base{f}"), body).status,
            201
        );
    }
    assert_eq!(
        c.patch("/api/v1/repo/base", r#"{"version":"2"}"#).status,
        201
    );
    assert_eq!(
        c.post("/api/v1/repo/derived", r#"{"base":"/base"}"#).status,
        201
    );
    assert_eq!(
        c.post("/api/v1/repo-files/derived/a.js", "der-a").status,
        201
    );
    assert_eq!(c.post("/api/v1/repo-files/derived/c.js", "").status, 201);
    assert_eq!(
        c.patch("/api/v1/repo/derived", r#"{"version":"1"}"#).status,
        201
    );
    assert_eq!(c.post("/api/v1/repo-files/derived/c.js", "c2").status, 201);
    assert_eq!(
        c.get("/api/v1/repo/derived").text(),
        r#"{"version":"1","path":"/derived","main":"/main.js","files":["/a.js","/c.js"],"editFiles":["/c.js"],"erasedFiles":[],"baseFiles":["/a.js","/b.js","/main.js"],"derived":[],"base":"/base","instances":{}}"#
    );
    assert!(c
        .get("/api/v1/repo/base")
        .text()
        .contains(r#""derived":["/derived"]"#));
    // Draft view: GET on repo-files and its /api/v1/repo alias.
    assert_eq!(
        c.get("/api/v1/repo-files/derived/b.js").st(),
        (200, "base-b")
    );
    assert_eq!(c.get("/api/v1/repo/derived/a.js").st(), (200, "der-a"));
    assert_eq!(c.get("/api/v1/repo-files/derived/zz.js").st(), (404, ""));
    assert_eq!(c.get("/api/v1/repo-files/nope/a.js").st(), (404, ""));
    // Erase an own committed file: the base shows through; reset drops the erasure.
    assert_eq!(c.delete("/api/v1/repo-files/derived/a.js").status, 204);
    assert!(c
        .get("/api/v1/repo/derived")
        .text()
        .contains(r#""erasedFiles":["/a.js"]"#));
    assert_eq!(
        c.get("/api/v1/repo-files/derived/a.js").st(),
        (200, "base-a")
    );
    assert_eq!(c.patch("/api/v1/repo-files/derived/a.js", "").status, 201);
    assert_eq!(
        c.get("/api/v1/repo-files/derived/a.js").st(),
        (200, "der-a")
    );
    assert_eq!(c.delete("/api/v1/repo-files/derived/b.js").status, 204);
    assert_eq!(
        c.patch("/api/v1/repo-files/derived/n.js", "new").status,
        201
    );
    assert_eq!(c.get("/api/v1/repo-files/derived/n.js").st(), (200, "new"));
    // repo-files errors.
    assert_eq!(
        c.post("/api/v1/repo-files/derived/dir/", "x").st(),
        (400, "Invalid filename")
    );
    assert_eq!(
        c.delete("/api/v1/repo-files/derived/").st(),
        (400, "Invalid filename")
    );
    assert_eq!(
        c.post("/api/v1/repo-files/nope/a.js", "x").st(),
        (404, "Codebase not found")
    );
    assert_eq!(
        c.patch("/api/v1/repo-files/nope/a.js", "x").st(),
        (404, "Codebase not found")
    );
    assert_eq!(c.delete("/api/v1/repo-files/nope/a.js").st(), (404, ""));
    assert_eq!(
        c.send("PUT", "/api/v1/repo-files/derived/a.js", b"").status,
        405
    );
    // Publishing the base bumps derivatives depth first (§3.5).
    assert_eq!(
        c.patch("/api/v1/repo/derived", r#"{"version":"9"}"#).status,
        201
    );
    assert_eq!(
        c.post("/api/v1/repo/gc", r#"{"base":"/derived"}"#).status,
        201
    );
    assert_eq!(c.patch("/api/v1/repo/gc", r#"{"version":"1"}"#).status, 201);
    server.state.take_reloads();
    assert_eq!(
        c.patch("/api/v1/repo/base", r#"{"version":"3"}"#).status,
        201
    );
    assert_eq!(c.get("/repo/derived/").header("etag"), Some("10"));
    assert_eq!(c.get("/repo/gc/").header("etag"), Some("2"));
    assert_eq!(c.get("/repo/gc/a.js").st(), (200, "der-a"));
    assert_eq!(server.state.take_reloads(), ["/base", "/derived", "/gc"]);
    // Deleting removes derivatives too; the name is reusable at once.
    assert_eq!(c.delete("/api/v1/repo/derived").status, 204);
    assert_eq!(c.get("/api/v1/repo").st(), (200, "/base"));
    assert_eq!(c.get("/repo/derived/").status, 404);
    assert_eq!(c.get("/repo/gc/a.js").status, 404);
    assert_eq!(c.delete("/api/v1/repo/derived").status, 404);
    assert_eq!(
        c.delete("/api/v1/repo/").st(),
        (400, "Invalid codebase name")
    );
    assert_eq!(c.post("/api/v1/repo/derived", "").status, 201);
    assert!(c
        .get("/api/v1/repo/derived")
        .text()
        .contains(r#""files":["/main.js"]"#));
}

#[test]
fn nested_codebase_quirk() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.post("/api/v1/repo/org/team/app", "").status, 201);
    assert_eq!(c.get("/api/v1/repo/org/team/app").status, 200);
    assert_eq!(c.post("/api/v1/repo/org", "").status, 201);
    // Now `/team/app` reads as a file of `/org`; PATCH still finds the exact codebase.
    assert_eq!(c.get("/api/v1/repo/org/team/app").st(), (404, ""));
    assert_eq!(
        c.post("/api/v1/repo-files/org/team/app/x.js", "inner")
            .status,
        201
    );
    assert_eq!(c.get("/api/v1/repo/org/team/app/x.js").st(), (200, "inner"));
    assert_eq!(
        c.patch("/api/v1/repo/org/team/app", r#"{"version":"1"}"#)
            .status,
        201
    );
    assert_eq!(c.get("/repo/org/team/app/").st(), (200, "/main.js\n/x.js"));
}

#[test]
fn status_reports_and_instances() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.post("/api/v1/repo/hello", "").status, 201);
    assert_eq!(c.post("/api/v1/repo/other", "").status, 201);
    let report = r#"{"timestamp":1795641218182,"since":1795641218176,"uuid":"42ef","name":"","ip":"","version":"","modules":{"/main.js":{"graph":{"roots":[0],"nodes":[{"name":"serveHTTP","t":"filter","p":0}]}}},"metrics":{"version":0,"roots":[{"k":"pipy_inbound_count","t":"Gauge","l":"listen/peer","v":0}]},"logs":["pipy_log"]}"#;
    // Unpublished codebases take reports too.
    assert_eq!(c.post("/repo/hello/", report).st(), (206, ""));
    assert_eq!(
        c.post("/repo/hello/", r#"{"uuid":"second","version":4}"#)
            .status,
        201
    );
    assert_eq!(c.post("/repo/hello/", "{bad").st(), (400, "Invalid JSON"));
    assert_eq!(c.post("/repo/hello", "{}").status, 405);
    assert_eq!(c.post("/repo/nope/", "{}").status, 405);
    assert_eq!(c.post("/repo/", "{}").status, 405);
    let info = c.get("/api/v1/repo/hello");
    let doc: serde_json::Value = serde_json::from_str(info.text()).unwrap();
    let instances = doc["instances"].as_object().unwrap();
    assert_eq!(instances.keys().collect::<Vec<_>>(), ["1", "2"]);
    let one = serde_json::to_string(&instances["1"]).unwrap();
    let ts = instances["1"]["timestamp"].as_u64().unwrap();
    assert!(ts > 1_700_000_000_000);
    assert_eq!(
        one,
        format!(
            r#"{{"ip":"127.0.0.1","timestamp":{ts},"status":{{"timestamp":1795641218182,"since":1795641218176,"uuid":"42ef","name":"","ip":"","version":"","modules":{{"/main.js":{{"graph":{{"roots":[0],"nodes":[{{"name":"serveHTTP","t":"filter","p":0}}]}}}}}},"logs":["pipy_log"]}}}}"#
        )
    );
    let two = serde_json::to_string(&instances["2"]["status"]).unwrap();
    assert_eq!(
        two,
        r#"{"timestamp":0,"since":0,"uuid":"second","name":"","ip":"","version":"","modules":{},"logs":[]}"#
    );
    // Reporting to another codebase moves the instance; a new uuid gets index 3.
    assert_eq!(c.post("/repo/other/", r#"{"uuid":"42ef"}"#).status, 201);
    assert_eq!(c.post("/repo/other/", "{}").status, 201);
    let other: serde_json::Value =
        serde_json::from_str(c.get("/api/v1/repo/other").text()).unwrap();
    let keys: Vec<&String> = other["instances"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["1", "3"]);
    assert_eq!(other["instances"]["3"]["status"]["uuid"], "");
    let hello: serde_json::Value =
        serde_json::from_str(c.get("/api/v1/repo/hello").text()).unwrap();
    let keys: Vec<&String> = hello["instances"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["2"]);
}

#[test]
fn https_with_client_certificates() {
    let certs = pipy_e2e::TestCerts::new();
    let dir = &certs.dir;
    let server_config = pipy_repo::tls::server_config(
        &dir.join("server.pem"),
        &dir.join("server-key.pem"),
        Some(&dir.join("ca.pem")),
    )
    .unwrap();
    let server = Server::start_with(RepoOptions {
        tls: Some(server_config),
        ..RepoOptions::default()
    });
    let with_cert = pipy_repo::tls::client_config(
        &dir.join("ca.pem"),
        Some((&dir.join("client.pem"), &dir.join("client-key.pem"))),
    )
    .unwrap();
    let answer =
        pipy_e2e::https_get(server.addr, with_cert, "/api/v1/status").expect("HTTPS answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""uuid":"""#), "{answer}");
    // No client certificate: the handshake is refused, nothing is served.
    let without = pipy_repo::tls::client_config(&dir.join("ca.pem"), None).unwrap();
    assert_eq!(
        pipy_e2e::https_get(server.addr, without, "/api/v1/status"),
        None
    );
    // Plain HTTP on the TLS port gets no HTTP answer either.
    let mut plain = server.client();
    plain
        .stream
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = plain.stream.read_to_end(&mut buf);
    assert!(!buf.starts_with(b"HTTP/1.1 200"));
    // Bad material is refused with the file's name.
    let err = pipy_repo::tls::server_config(&dir.join("ca.pem"), &dir.join("nope.pem"), None)
        .unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

/// The repo's own log for the log tests: a fixed history and lines pushed by the test.
#[derive(Debug, Default)]
struct FakeLog {
    watchers: std::sync::Mutex<Vec<tokio::sync::mpsc::Sender<Arc<str>>>>,
}

impl FakeLog {
    fn push(&self, line: &str) {
        for w in self.watchers.lock().unwrap().iter() {
            let _ = w.try_send(Arc::from(line));
        }
    }
}

impl pipy_repo::api::ProcessLog for FakeLog {
    fn tail(&self, name: &str) -> Option<String> {
        (name == "pipy_log").then(|| "old line\n".to_owned())
    }
    fn subscribe(&self, name: &str) -> Option<tokio::sync::mpsc::Receiver<Arc<str>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        self.watchers.lock().unwrap().push(tx);
        (name == "pipy_log").then_some(rx)
    }
}

type Ws = tokio_tungstenite::tungstenite::WebSocket<TcpStream>;

/// A blocking WebSocket client on `path`; every read gives up after 5 s.
fn ws(addr: SocketAddr, path: &str) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let (ws, res) =
        tokio_tungstenite::tungstenite::client::client(format!("ws://{addr}{path}"), stream)
            .unwrap();
    assert_eq!(res.status(), 101);
    ws
}

fn ws_send(ws: &mut Ws, text: &str) {
    ws.send(tokio_tungstenite::tungstenite::Message::text(text))
        .unwrap();
}

/// The next text frame (a read past its timeout fails the test).
fn ws_text(ws: &mut Ws) -> String {
    loop {
        match ws.read().unwrap() {
            tokio_tungstenite::tungstenite::Message::Text(t) => return t.to_string(),
            tokio_tungstenite::tungstenite::Message::Binary(b) => {
                return String::from_utf8_lossy(&b).into_owned()
            }
            _ => {}
        }
    }
}

#[test]
fn log_routes() {
    let server = Server::start();
    let mut c = server.client();
    // Without a log of its own, `/log` is empty and named logs are unknown.
    assert_eq!(c.get("/log").st(), (200, ""));
    assert_eq!(c.get("/log/pipy_log").status, 404);
    drop(server);

    let own = Arc::new(FakeLog::default());
    let server = Server::start_with(RepoOptions {
        own_log: Some(own.clone()),
        ..RepoOptions::default()
    });
    let mut c = server.client();
    let r = c.get("/log");
    assert_eq!(
        (r.st(), r.header("content-type")),
        ((200, "old line\n"), Some("text/plain"))
    );
    assert_eq!(c.get("/log/pipy_log").st(), (200, "old line\n"));
    assert_eq!(c.get("/log/other").status, 404);
    assert_eq!(c.post("/log", "").status, 405);
    assert_eq!(c.post("/log/pipy_log", "").status, 405);
    // Only upgrades watch logs.
    assert_eq!(c.get("/api/v1/log/u1/pipy_log").status, 405);
    assert_eq!(c.get("/api/v1/log//pipy_log").status, 405);
    assert_eq!(c.post("/api/v1/log/u1/pipy_log", "").status, 405);
    assert_eq!(c.get("/api/v1/log").status, 404);
    assert_eq!(c.post("/api/v1/log", "").status, 405);

    // The repo's own log: the tail, then new lines.
    let mut w = ws(server.addr, "/api/v1/log//pipy_log");
    ws_send(&mut w, "watch\n");
    assert_eq!(ws_text(&mut w), "old line\n");
    own.push("new line");
    assert_eq!(ws_text(&mut w), "new line\n");
}

#[test]
fn log_relay_through_the_admin_link() {
    let server = Server::start();
    let mut worker = ws(server.addr, "/repo/app/u1");
    ws_send(&mut worker, "");
    // The link registers on its first frame; wait until the repo knows it.
    let mut watcher = ws(server.addr, "/api/v1/log/u1/pipy_log");
    std::thread::sleep(std::time::Duration::from_millis(100));
    ws_send(&mut watcher, "watch\n");
    assert_eq!(ws_text(&mut worker), "log/tail/pipy_log");
    assert_eq!(ws_text(&mut worker), "log/on/pipy_log");
    ws_send(&mut worker, "log-tail/pipy_log\nline 1\nline 2\n");
    assert_eq!(ws_text(&mut watcher), "line 1\nline 2\n");
    ws_send(&mut worker, "log/pipy_log\nline 3\n");
    assert_eq!(ws_text(&mut watcher), "line 3\n");
    // Lines of logs nobody watches are turned off.
    ws_send(&mut worker, "log/other\nx\n");
    assert_eq!(ws_text(&mut worker), "log/off/other");
    // The last watcher leaving turns the log off.
    watcher.close(None).unwrap();
    let _ = watcher.flush();
    assert_eq!(ws_text(&mut worker), "log/off/pipy_log");
}

#[test]
fn watchers_before_the_link_are_served_when_it_comes_up() {
    let server = Server::start();
    let mut watcher = ws(server.addr, "/api/v1/log/u2/pipy_log");
    ws_send(&mut watcher, "watch\n");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut worker = ws(server.addr, "/repo/app/u2");
    ws_send(&mut worker, "");
    assert_eq!(ws_text(&mut worker), "log/tail/pipy_log");
    assert_eq!(ws_text(&mut worker), "log/on/pipy_log");
    ws_send(&mut worker, "log-tail/pipy_log\nhello\n");
    assert_eq!(ws_text(&mut watcher), "hello\n");
}

#[test]
fn admin_log_file_records_writes() {
    let path = pipy_e2e::temp_dir().join("admin.log");
    let server = Server::start_with(RepoOptions {
        admin_log_file: Some(path.clone()),
        ..RepoOptions::default()
    });
    let mut c = server.client();
    assert_eq!(
        c.post("/api/v1/repo/a", r#"{ "base" : "/zz" }"#).status,
        400
    );
    assert_eq!(c.post("/api/v1/repo/a", "").status, 201);
    assert_eq!(c.get("/api/v1/repo/a").status, 200);
    assert_eq!(c.patch("/api/v1/repo/a", r#"{"version":2}"#).status, 201);
    assert_eq!(c.post("/repo/a/", r#"{"uuid":"w"}"#).st(), (201, ""));
    assert_eq!(c.delete("/api/v1/repo/a").status, 204);
    let expected = [
        r#"400 POST /api/v1/repo/a {"base":"/zz"}"#,
        "201 POST /api/v1/repo/a undefined",
        r#"201 PATCH /api/v1/repo/a {"version":2}"#,
        r#"201 POST /repo/a/ {"uuid":"w"}"#,
        "204 DELETE /api/v1/repo/a undefined",
    ];
    // The writer thread appends behind the requests.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= expected.len() || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{text}");
    for (line, want) in lines.iter().zip(expected) {
        // `2026-11-25 21:21:43.370 ` then the rest.
        let (time, rest) = line.split_at(24);
        assert_eq!(rest, want, "{text}");
        let b = time.as_bytes();
        assert!(
            b[4] == b'-' && b[10] == b' ' && b[13] == b':' && b[19] == b'.' && b[23] == b' ',
            "{text}"
        );
    }
    drop(server);
    let _ = std::fs::remove_file(path);
}

/// Polls `f` every 100 ms until it gives `Some`, for at most `secs` seconds.
fn poll_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

const FULL_METRICS: &str = r#"{"uuid":"w1","name":"","metrics":{"version":0,"roots":[{"k":"pipy_inbound_count","t":"Gauge","l":"listen/peer","v":2,"s":[{"k":"[0.0.0.0]:8080/TCP","v":2,"s":[{"k":"10.0.0.1","v":2}]}]},{"k":"lat","t":"Histogram[1,\"Inf\"]","l":"","v":[1,2,3,7.5]}]}}"#;

#[test]
fn metric_reports_answer_206_only_when_they_decode() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.post("/api/v1/repo/hello", "").status, 201);
    assert_eq!(c.post("/repo/hello/", FULL_METRICS).status, 206);
    // Incremental on the version held (0): accepted.
    let inc = r#"{"uuid":"w1","metrics":{"version":10,"last":0,"roots":[{"v":3,"s":[{"v":3,"s":[2,{"k":"10.0.0.2","v":1}]}]},[1,3,3,9]]}}"#;
    assert_eq!(c.post("/repo/hello/", inc).status, 206);
    // The same increment again: its base (0) is no longer the version held (10).
    assert_eq!(c.post("/repo/hello/", inc).status, 201);
    // Unknown instance, malformed data, no metrics: 201.
    let stranger = inc.replace("\"w1\"", "\"w2\"");
    assert_eq!(c.post("/repo/hello/", &stranger).status, 201);
    let bad = r#"{"uuid":"w1","metrics":{"version":0,"roots":[{"v":1}]}}"#;
    assert_eq!(c.post("/repo/hello/", bad).status, 201);
    assert_eq!(c.post("/repo/hello/", r#"{"uuid":"w1"}"#).status, 201);
    // A full report always starts over.
    assert_eq!(c.post("/repo/hello/", FULL_METRICS).status, 206);
}

#[test]
fn metrics_api_and_prometheus_text() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.post("/api/v1/repo/hello", "").status, 201);
    assert_eq!(c.post("/repo/hello/", FULL_METRICS).status, 206);
    let named = FULL_METRICS
        .replace("\"w1\"", "\"w2\"")
        .replace("\"name\":\"\"", "\"name\":\"edge\"");
    assert_eq!(c.post("/repo/hello/", &named).status, 206);

    // The repo's own metrics: none without a program.
    for path in [
        "/api/v1/metrics",
        "/api/v1/metrics/",
        "/api/v1/metrics/pipy_inbound_count",
    ] {
        let r = c.get(path);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let doc: serde_json::Value = serde_json::from_str(r.text()).unwrap();
        assert!(doc["time"].is_u64(), "{path}");
        assert_eq!(doc["metrics"], serde_json::json!([]), "{path}");
    }
    assert_eq!(c.post("/api/v1/metrics", "").status, 405);
    assert_eq!(c.send("PUT", "/api/v1/metrics/w1/", b"").status, 405);
    assert_eq!(c.get("/api/v1/metrics/nobody/").status, 404);
    assert_eq!(
        c.get("/api/v1/metrics/nobody/pipy_inbound_count").status,
        404
    );

    // History appears with the next 5 s tick.
    let list: serde_json::Value = poll_for(7, || {
        let doc: serde_json::Value =
            serde_json::from_str(c.get("/api/v1/metrics/w1/").text()).ok()?;
        let first = doc["metrics"][0]["v"].as_array()?.first()?.clone();
        (first == 2).then_some(doc)
    });
    assert_eq!(list["metrics"][0]["k"], "pipy_inbound_count");
    assert_eq!(list["metrics"][0]["l"], "listen/peer");
    assert!(list["metrics"][0].get("s").is_none());
    assert_eq!(list["metrics"][1]["t"], "Histogram[1,\"Inf\"]");
    let one: serde_json::Value =
        serde_json::from_str(c.get("/api/v1/metrics/w1/pipy_inbound_count").text()).unwrap();
    let series = &one["metrics"][0]["s"][0];
    assert_eq!(series["k"], "[0.0.0.0]:8080/TCP");
    assert_eq!(series["s"][0]["k"], "10.0.0.1");
    assert_eq!(series["s"][0]["v"][0], 2);
    let none: serde_json::Value =
        serde_json::from_str(c.get("/api/v1/metrics/w1/nope").text()).unwrap();
    assert_eq!(none["metrics"], serde_json::json!([]));

    // OpenMetrics text: one family, both instances (index 1, name "edge").
    let text = c.get("/metrics");
    assert_eq!(text.status, 200);
    assert_eq!(text.header("content-encoding"), None);
    assert_eq!(
        text.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = text.text().to_owned();
    assert!(
        text.starts_with("# HELP pipy_inbound_count \n# TYPE pipy_inbound_count gauge\n"),
        "{text}"
    );
    assert!(text.contains("pipy_inbound_count{instance=\"1\",listen=\"[0.0.0.0]:8080/TCP\",peer=\"10.0.0.1\"} 2\n"), "{text}");
    assert!(text.contains("pipy_inbound_count{instance=\"edge\",listen=\"[0.0.0.0]:8080/TCP\",peer=\"10.0.0.1\"} 2\n"), "{text}");
    // Upstream's [1, 2] per bucket, count 3, sum 7.5: cumulative buckets.
    assert!(
        text.contains(
            "lat_sum{instance=\"1\"} 7.5\n\
             lat_count{instance=\"1\"} 3\n\
             lat_bucket{le=\"1.0\",instance=\"1\"} 1\n\
             lat_bucket{le=\"+Inf\",instance=\"1\"} 3\n"
        ),
        "{text}"
    );
    assert!(text.contains("lat_count{instance=\"edge\"} 3\n"), "{text}");
    assert_eq!(text.matches("# TYPE").count(), 2, "{text}");
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    assert_eq!(c.post("/metrics", "").status, 405);

    // Gzip when asked for.
    c.stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\naccept-encoding: gzip, br\r\n\r\n")
        .unwrap();
    let gz = c.read(false);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, text);
}

#[test]
fn a_read_only_repo_is_swapped_whole_and_refuses_writes() {
    let server = Server::start_with(RepoOptions {
        read_only: Some("Codebases are Kubernetes resources here: use kubectl".into()),
        ..RepoOptions::default()
    });
    let mut c = server.client();
    assert_eq!(
        c.post("/api/v1/repo/a", "").st(),
        (403, "Codebases are Kubernetes resources here: use kubectl")
    );
    assert_eq!(c.post("/api/v1/repo-files/a/main.js", "x").status, 403);
    assert_eq!(c.post("/api/v1/program", "/a").status, 403);
    assert_eq!(c.get("/api/v1/repo").st(), (200, ""));
    let build = |text: &str, version: &str| {
        let mut repo = Repo::new(SqliteStore::in_memory().unwrap());
        repo.create("/ns/a", None, None).unwrap();
        repo.write_file("/ns/a", "/main.js", text.as_bytes())
            .unwrap();
        repo.publish("/ns/a", version).unwrap();
        repo.create("/ns/b", None, None).unwrap();
        repo.publish("/ns/b", "1").unwrap();
        repo
    };
    assert_eq!(
        server.state.replace_repo(build("v1", "h1")).unwrap(),
        ["/ns/a", "/ns/b"]
    );
    assert_eq!(c.get("/repo/ns/a/main.js").st(), (200, "v1"));
    // Same content again: nothing changed, nobody reloads.
    assert!(server
        .state
        .replace_repo(build("v1", "h1"))
        .unwrap()
        .is_empty());
    assert_eq!(
        server.state.replace_repo(build("v2", "h2")).unwrap(),
        ["/ns/a"]
    );
    assert_eq!(c.get("/repo/ns/a/main.js").st(), (200, "v2"));
    assert_eq!(
        c.post("/repo/ns/a/", r#"{"uuid":"w","version":"h2"}"#)
            .status,
        201
    );
    let versions = server.state.instance_versions();
    assert_eq!(versions["/ns/a"]["h2"], 1);
}

/// Holds every worker on what it runs (a replica that lags another).
#[derive(Debug)]
struct AlwaysHold;

impl pipy_repo::HoldBack for AlwaysHold {
    fn hold(&self, codebase: &str, serving: &str, running: &str) -> bool {
        assert_eq!((codebase, serving, running), ("/hello", "2", "3"));
        true
    }
}

#[test]
fn a_hold_back_keeps_a_worker_on_the_version_it_reported() {
    for hold in [false, true] {
        let server = Server::start_with(RepoOptions {
            hold_back: hold.then(|| Arc::new(AlwaysHold) as Arc<dyn pipy_repo::HoldBack>),
            ..RepoOptions::default()
        });
        let mut c = server.client();
        assert_eq!(c.post("/api/v1/repo/hello", "").status, 201);
        assert_eq!(
            c.patch("/api/v1/repo/hello", r#"{"version":"2"}"#).status,
            201
        );
        // No report yet: the served version.
        assert_eq!(
            c.send("HEAD", "/repo/hello/", b"").header("etag"),
            Some("2")
        );
        // This address reports version 3, which another replica served.
        let report = r#"{"uuid":"w","version":"3"}"#;
        assert_eq!(c.post("/repo/hello/", report).status, 201);
        let head = c.send("HEAD", "/repo/hello/", b"");
        let expected = if hold { "3" } else { "2" };
        assert_eq!(head.header("etag"), Some(expected), "hold: {hold}");
        // Downloads are never held: they serve what is published here.
        assert_eq!(c.get("/repo/hello/").header("etag"), Some("2"));
    }
}

/// A guard that lets in the token `good` only.
#[derive(Debug)]
struct OnlyGood;

impl pipy_repo::Guard for OnlyGood {
    fn check<'a>(
        &'a self,
        _method: &'a http::Method,
        _path: &'a str,
        authorization: Option<&'a str>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = pipy_repo::Verdict> + Send + 'a>> {
        Box::pin(async move {
            match authorization {
                Some("Bearer good") => Ok(()),
                _ => Err((http::StatusCode::UNAUTHORIZED, "token please".to_string())),
            }
        })
    }
}

#[test]
fn a_guarded_repo_serves_its_console_and_takes_the_token_from_a_cookie() {
    let server = Server::start_with(RepoOptions {
        guard: Some(Arc::new(OnlyGood)),
        console: Some(pipy_repo::embedded_console),
        read_only: Some("managed elsewhere".into()),
        ..RepoOptions::default()
    });
    let mut c = server.client();
    // The page and what it asks first need no token.
    let page = c.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Pipy Repo"));
    assert_eq!(
        c.get("/api/v1/console").text(),
        r#"{"readOnly":true,"why":"managed elsewhere"}"#
    );
    // The API does.
    assert_eq!(c.get("/api/v1/repo").st(), (401, "token please"));
    let with_cookie = |cookie: &str| {
        let mut c = server.client();
        let req = format!("GET /api/v1/repo HTTP/1.1\r\nhost: x\r\ncookie: {cookie}\r\n\r\n");
        c.stream.write_all(req.as_bytes()).unwrap();
        c.read(false).status
    };
    assert_eq!(with_cookie("theme=dark; pipy-token=good"), 200);
    assert_eq!(with_cookie("pipy-token=bad"), 401);
    assert_eq!(with_cookie("pipy-token="), 401);
}

#[test]
fn pages_of_other_sites_cannot_write_or_watch() {
    let server = Server::start();
    let send = |head: &str| {
        let mut c = server.client();
        c.stream.write_all(head.as_bytes()).unwrap();
        c.read(false)
    };
    let post = |extra: &str, cb: &str| {
        send(&format!(
            "POST /api/v1/repo/{cb} HTTP/1.1\r\nhost: repo:6060\r\n{extra}content-length: 0\r\n\r\n"
        ))
    };
    let r = post("origin: http://evil.example\r\n", "a");
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), "Cross-origin request refused");
    assert_eq!(post("sec-fetch-site: cross-site\r\n", "b").status, 403);
    assert_eq!(post("origin: http://repo:6061\r\n", "c").status, 403);
    assert_eq!(
        post(
            "origin: http://repo:6060\r\nsec-fetch-site: same-origin\r\n",
            "d"
        )
        .status,
        201
    );
    assert_eq!(post("", "e").status, 201);
    // Log watching over a WebSocket from elsewhere.
    let ws = send(
        "GET /api/v1/log/u/pipy_log HTTP/1.1\r\nhost: repo:6060\r\norigin: http://evil.example\r\n\
         connection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert_eq!(ws.status, 403);
    // Reads from anywhere still work (workers, curl).
    assert_eq!(
        send("GET /api/v1/repo HTTP/1.1\r\nhost: repo:6060\r\norigin: http://evil.example\r\n\r\n")
            .status,
        200
    );
    assert_eq!(server.client().get("/api/v1/repo").text(), "/d\n/e");
}
