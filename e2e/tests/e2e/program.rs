//! `/api/v1/program` and `/api/v1/files`: a codebase's draft run inside the repo.

use pipy_e2e::*;
use std::time::Duration;

fn write_main(port: u16, cb: &str, script: &str) {
    let r = request(
        port,
        "POST",
        &format!("/api/v1/repo-files{cb}/main.js"),
        script,
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn a_draft_runs_reloads_and_stops_inside_the_repo() {
    let (r, port) = repo(&[]);
    let serve = free_port();
    let st = |r: Response| (r.status, r.text());
    assert_eq!(
        st(request(port, "GET", "/api/v1/program", "")),
        (200, String::new())
    );
    assert_eq!(
        st(request(port, "GET", "/api/v1/files", "")),
        (200, r#"{"main":"","files":[],"readOnly":true}"#.to_string())
    );
    assert_eq!(request(port, "PATCH", "/api/v1/files", "{}").status, 404);
    assert_eq!(
        st(request(port, "POST", "/api/v1/program", "/nope")),
        (400, "Codebase not found: /nope".to_string())
    );

    // Never published: the program runs the draft view.
    assert_eq!(request(port, "POST", "/api/v1/repo/prog", "").status, 201);
    let v1 = format!("pipy().listen({serve}).serveHTTP(new Message('v1'))");
    write_main(port, "/prog", &v1);
    assert_eq!(
        request(port, "POST", "/api/v1/program", "/prog").status,
        201
    );
    assert_eq!(get(serve, "/").text(), "v1");
    assert_eq!(
        st(request(port, "GET", "/api/v1/program", "")),
        (200, "/prog".into())
    );
    assert_eq!(
        request(port, "GET", "/api/v1/files", "").text(),
        r#"{"main":"/main.js","files":["/main.js"],"readOnly":true}"#
    );
    assert_eq!(request(port, "GET", "/api/v1/files/main.js", "").text(), v1);
    assert_eq!(
        request(port, "GET", "/api/v1/files/none.js", "").status,
        404
    );
    assert_eq!(
        request(port, "POST", "/api/v1/files/main.js", "x").status,
        201
    );
    assert_eq!(request(port, "GET", "/api/v1/files/main.js", "").text(), v1);
    assert_eq!(
        st(request(port, "PATCH", "/api/v1/files", "[]")),
        (400, "Invalid JSON object".into())
    );
    let status = request(port, "GET", "/api/v1/status", "").text();
    assert!(status.contains(r#""logs":["pipy_log"]"#), "{status}");
    assert!(!status.contains(r#""uuid":"""#), "{status}");

    // PATCH reloads in place; a broken draft is refused and v2 keeps serving.
    write_main(
        port,
        "/prog",
        &format!("pipy().listen({serve}).serveHTTP(new Message('v2'))"),
    );
    assert_eq!(
        request(port, "PATCH", "/api/v1/program", "/prog").status,
        201
    );
    assert_eq!(get(serve, "/").text(), "v2");
    write_main(port, "/prog", "pipy().listen(");
    assert_eq!(
        st(request(port, "PATCH", "/api/v1/program", "/prog")),
        (400, "Failed to start up".into())
    );
    assert_eq!(get(serve, "/").text(), "v2");
    assert!(r.stderr_text().contains("main.js:1"), "{}", r.stderr_text());

    // A draft without its main file does not start.
    assert_eq!(request(port, "POST", "/api/v1/repo/bare", "").status, 201);
    assert_eq!(
        request(port, "DELETE", "/api/v1/repo-files/bare/main.js", "").status,
        204
    );
    assert_eq!(
        st(request(port, "POST", "/api/v1/program", "/bare")),
        (400, "No main script".into())
    );

    assert_eq!(request(port, "DELETE", "/api/v1/program", "").status, 204);
    assert_eq!(
        st(request(port, "GET", "/api/v1/program", "")),
        (200, String::new())
    );
    wait_for(
        "the program's port to close",
        Duration::from_secs(5),
        || std::net::TcpStream::connect(("127.0.0.1", serve)).is_err(),
    );
    // `/` restarts the last codebase (its current draft: v3).
    write_main(
        port,
        "/prog",
        &format!("pipy().listen({serve}).serveHTTP(new Message('v3'))"),
    );
    assert_eq!(request(port, "POST", "/api/v1/program", "/").status, 201);
    assert_eq!(get(serve, "/").text(), "v3");
}

/// Script checks hold a thread each while the engine loads the script: past
/// two at once the repo answers `429` at once instead of queueing more, and
/// takes checks again when they end.
#[test]
fn a_third_script_check_at_once_is_refused_with_429() {
    let (_r, port) = repo(&[]);
    // The dry run evaluates the module, so its top-level `exec` takes 2 s.
    let slow = "(pipy.exec('sleep 2'), pipy().listen(8080).dummy())";
    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let r = request(port, "POST", "/api/v1/graph", slow);
                (r.status, started.elapsed())
            })
        })
        .collect();
    let mut answers: Vec<(u16, Duration)> =
        clients.into_iter().map(|c| c.join().unwrap()).collect();
    answers.sort();
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses, [200, 200, 429], "{answers:?}");
    // The refusal did not wait for the running checks.
    let refused = answers.iter().find(|a| a.0 == 429).unwrap();
    assert!(refused.1 < Duration::from_millis(1500), "{answers:?}");
    assert_eq!(
        request(port, "POST", "/api/v1/graph", "pipy().listen(8080).dummy()").status,
        200
    );
}

/// `POST /api/v1/graph` (upstream's: a script in, its pipeline graph out; a
/// broken one is `400` with the error) and `POST /api/v1/check/CB` (the dry
/// run of a draft, where the console marks errors), on a real repo.
#[test]
fn scripts_are_drawn_and_drafts_checked_without_running() {
    let (_r, port) = repo(&[]);
    let listen = free_port();
    let script = format!(
        "pipy()\n.listen({listen})\n.demuxHTTP().to('serve')\n.pipeline('serve')\n.serveHTTP(new Message('hi'))"
    );
    let r = request(port, "POST", "/api/v1/graph", &script);
    assert_eq!(r.status, 200, "{}", r.text());
    let graph: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    let names: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert!(
        names.iter().any(|n| n.contains(&listen.to_string())),
        "{names:?}"
    );
    assert!(
        names.contains(&"demuxHTTP") && names.contains(&"serveHTTP"),
        "{names:?}"
    );
    // Drawn, not run: nothing listens.
    assert!(std::net::TcpStream::connect(("127.0.0.1", listen)).is_err());
    let r = request(
        port,
        "POST",
        "/api/v1/graph",
        "pipy()\n.listen(8080)\n.dump(",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("main.js:3:"), "{}", r.text());
    assert_eq!(request(port, "GET", "/api/v1/graph", "").status, 405);

    // A draft with an error in its second file, then mended.
    assert_eq!(request(port, "POST", "/api/v1/repo/chk", "").status, 201);
    write_main(
        port,
        "/chk",
        "import './lib.js'\npipy.listen(0, $=>$.dummy())\n",
    );
    let lib = "/api/v1/repo-files/chk/lib.js";
    assert_eq!(
        request(port, "POST", lib, "var a = 1\nvar b = (\n").status,
        201
    );
    let r = request(port, "POST", "/api/v1/check/chk", "");
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["file"], "/lib.js", "{v}");
    assert_eq!(v["line"], 2, "{v}");
    assert_eq!(request(port, "POST", lib, "var a = 1\n").status, 201);
    let r = request(port, "POST", "/api/v1/check/chk", "");
    let v: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    // Modules written in statements have no Configuration to draw (upstream
    // draws none either).
    assert_eq!(v["modules"], serde_json::json!({}), "{v}");
    // Every Configuration module's graph, a used one's too, roots named as
    // the graph API names them.
    write_main(
        port,
        "/chk",
        "pipy().listen(18080).demuxHTTP().to($=>$.use('lib.js', 'x'))",
    );
    let lib_pipeline = "pipy().pipeline('x').replaceMessage(new Message('x'))";
    assert_eq!(request(port, "POST", lib, lib_pipeline).status, 201);
    let r = request(port, "POST", "/api/v1/check/chk", "");
    let v: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let main = v["modules"]["/main.js"]["graph"]["nodes"].to_string();
    assert!(main.contains("Listen 0.0.0.0:18080"), "{v}");
    assert!(main.contains("demuxHTTP"), "{v}");
    let used = v["modules"]["/lib.js"]["graph"]["nodes"].to_string();
    assert!(used.contains("replaceMessage"), "{v}");
    assert_eq!(request(port, "POST", "/api/v1/check/none", "").status, 400);
}
