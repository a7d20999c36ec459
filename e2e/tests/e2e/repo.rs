//! Repo mode and worker mode: a real `pipy` repo and real `pipy` workers.

use pipy_e2e::*;
use std::time::{Duration, Instant};

#[test]
fn init_repo_publishes_every_example() {
    let ex = examples();
    let init = format!("--init-repo={}", ex.display());
    let (_r, port) = repo(&[&init]);
    let list = request(port, "GET", "/repo", "").text();
    assert!(
        list.contains("/01-hello/\n") && list.contains("/gateway/\n"),
        "{list}"
    );
    let m = request(port, "GET", "/repo/07-plugins/", "");
    assert_eq!(m.header("etag"), Some("1"));
    assert_eq!(
        m.text(),
        "/main.js\n/config.js\n/plugins/balancer.js\n/plugins/default.js\n/plugins/router.js"
    );
}

#[test]
fn a_worker_runs_published_versions_and_keeps_the_last_good_one() {
    let (r, port) = repo(&[]);
    let app = free_port();
    publish(
        port,
        "/app",
        &format!("pipy().listen({app}).serveHTTP(new Message('v1'))"),
        "1",
    );
    let url = format!("http://127.0.0.1:{port}/repo/app/");
    let w = Pipy::spawn(&[&url, "--instance-name=w1"], &[app]);
    assert_eq!(get(app, "/").text(), "v1");
    // A new version reaches the worker by its 5 s check.
    publish(
        port,
        "/app",
        &format!("pipy().listen({app}).serveHTTP(new Message('v2'))"),
        "2",
    );
    wait_for("v2", Duration::from_secs(15), || text_on(app) == "v2");
    // The instance reports the version it runs.
    wait_for("the report of v2", Duration::from_secs(15), || {
        request(port, "GET", "/api/v1/repo/app", "")
            .text()
            .contains(r#""name":"w1","ip""#)
            && request(port, "GET", "/api/v1/repo/app", "")
                .text()
                .contains(r#""version":"2""#)
    });
    // A broken version is refused; v2 keeps serving.
    publish(port, "/app", "pipy().listen(", "3");
    wait_for("the failed reload", Duration::from_secs(15), || {
        w.stderr_text().contains("Failed reloading codebase")
    });
    assert_eq!(get(app, "/").text(), "v2");
    assert!(
        w.stderr_text().contains("main.js:1:"),
        "{}",
        w.stderr_text()
    );
    drop(r);
}

#[test]
fn a_repo_on_disk_survives_a_kill() {
    let dir = temp_dir();
    let d = dir.to_string_lossy().into_owned();
    let (mut r, port) = repo(&[&d]);
    publish(port, "/keep", "pipy().listen(1).dummy()", "7");
    let _ = r.child.kill();
    let _ = r.child.wait();
    let (_r2, port2) = repo(&[&d]);
    let m = request(port2, "GET", "/repo/keep/", "");
    assert_eq!((m.status, m.header("etag")), (200, Some("7")));
    assert_eq!(
        request(port2, "GET", "/repo/keep/main.js", "").text(),
        "pipy().listen(1).dummy()"
    );
}

#[test]
fn publishes_under_load_lose_no_request() {
    let (_r, port) = repo(&[]);
    let app = free_port();
    let script = |v: u32| format!("pipy().listen({app}).serveHTTP(new Message('v{v}'))");
    publish(port, "/load", &script(1), "1");
    let url = format!("http://127.0.0.1:{port}/repo/load/");
    let _w = Pipy::spawn(&[&url], &[app]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Answers so far, so that each version is served a while before the next.
    let served = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    // Bounded load: 4 clients, a new connection per request, at most 20k each.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            let served = served.clone();
            std::thread::spawn(move || {
                let (mut ok, mut errors) = (0u32, Vec::new());
                let mut seen = std::collections::BTreeSet::new();
                while ok < 20_000 && !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let r = std::panic::catch_unwind(|| get(app, "/"));
                    match r {
                        Ok(r) if r.status == 200 => {
                            ok += 1;
                            seen.insert(r.text());
                            served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Ok(r) => errors.push(format!("status {}", r.status)),
                        Err(_) => errors.push("connection failed".to_string()),
                    }
                }
                (ok, errors, seen)
            })
        })
        .collect();
    for v in 2..=4 {
        // The clients get answers from the running version before the next
        // one is published (a loaded machine may start them late).
        let before = served.load(std::sync::atomic::Ordering::SeqCst);
        wait_for("answers under load", Duration::from_secs(15), || {
            served.load(std::sync::atomic::Ordering::SeqCst) >= before + 50
        });
        publish(port, "/load", &script(v), &v.to_string());
        let want = format!("v{v}");
        wait_for(&want, Duration::from_secs(15), || {
            get(app, "/").text() == want
        });
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = 0;
    let mut versions = std::collections::BTreeSet::new();
    for c in clients {
        let (ok, errors, seen) = c.join().unwrap();
        assert!(
            errors.is_empty(),
            "requests failed during reloads: {errors:?}"
        );
        total += ok;
        versions.extend(seen);
    }
    assert!(total > 100, "too little load: {total}");
    assert_eq!(
        versions.into_iter().collect::<Vec<_>>(),
        ["v1", "v2", "v3", "v4"]
    );
}

#[test]
fn a_repo_killed_mid_writes_keeps_every_acknowledged_write() {
    let dir = temp_dir();
    let d = dir.to_string_lossy().into_owned();
    let (mut r, port) = repo(&[&d]);
    assert_eq!(request(port, "POST", "/api/v1/repo/k", "").status, 201);
    let writer = std::thread::spawn(move || {
        let (mut files, mut published) = (Vec::new(), 0u32);
        for i in 0..10_000u32 {
            let body = format!("// file {i}");
            let ok = std::panic::catch_unwind(|| {
                request(
                    port,
                    "POST",
                    &format!("/api/v1/repo-files/k/f{i}.js"),
                    &body,
                )
                .status
            });
            match ok {
                Ok(201) => files.push(i),
                _ => break,
            }
            if i % 5 == 4 {
                let v = format!(r#"{{"version":"{i}"}}"#);
                match std::panic::catch_unwind(|| {
                    request(port, "PATCH", "/api/v1/repo/k", &v).status
                }) {
                    Ok(201) => published = i,
                    _ => break,
                }
            }
        }
        (files, published)
    });
    std::thread::sleep(Duration::from_millis(700));
    let _ = r.child.kill();
    let _ = r.child.wait();
    let (files, published) = writer.join().unwrap();
    assert!(
        files.len() > 5,
        "too few writes before the kill: {}",
        files.len()
    );
    let (_r2, port2) = repo(&[&d]);
    // Every acknowledged write is there.
    for i in &files {
        let r = request(port2, "GET", &format!("/api/v1/repo-files/k/f{i}.js"), "");
        assert_eq!(
            (r.status, r.text()),
            (200, format!("// file {i}")),
            "file {i}"
        );
    }
    // The published tree is whole: the manifest's version is at least the last
    // acknowledged one, and every file it lists is served with that version.
    let m = request(port2, "GET", "/repo/k/", "");
    assert_eq!(m.status, 200);
    let version: u32 = m.header("etag").unwrap().parse().unwrap();
    assert!(version >= published, "{version} < {published}");
    for line in m.text().lines().skip(1) {
        let f = request(port2, "GET", &format!("/repo/k{line}"), "");
        assert_eq!(f.status, 200, "{line}");
        assert_eq!(
            f.header("etag"),
            Some(version.to_string().as_str()),
            "{line}"
        );
    }
}

#[test]
fn concurrent_publishers_leave_a_consistent_codebase() {
    let (_r, port) = repo(&[]);
    assert_eq!(request(port, "POST", "/api/v1/repo/shared", "").status, 201);
    let writers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|who| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    let path = format!("/api/v1/repo-files/shared/{who}{i}.js");
                    assert_eq!(
                        request(port, "POST", &path, &format!("{who}{i}")).status,
                        201
                    );
                    let v = format!(r#"{{"version":"{who}{i}"}}"#);
                    assert_eq!(
                        request(port, "PATCH", "/api/v1/repo/shared", &v).status,
                        201
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    // One last publish settles every draft; then everything is published once.
    let r = request(
        port,
        "PATCH",
        "/api/v1/repo/shared",
        r#"{"version":"final"}"#,
    );
    assert_eq!(r.status, 201);
    let m = request(port, "GET", "/repo/shared/", "");
    assert_eq!(m.header("etag"), Some("final"));
    let listed: Vec<String> = m.text().lines().map(str::to_string).collect();
    assert_eq!(listed.len(), 51, "main.js and 50 files: {listed:?}");
    for who in ["a", "b"] {
        for i in 0..25 {
            let f = request(port, "GET", &format!("/repo/shared/{who}{i}.js"), "");
            assert_eq!((f.status, f.text()), (200, format!("{who}{i}")));
            assert_eq!(f.header("etag"), Some("final"));
        }
    }
}

#[test]
fn a_publish_reaches_a_linked_worker_at_once() {
    let (_r, port) = repo(&[]);
    let app = free_port();
    let script = |v: u32| format!("pipy().listen({app}).serveHTTP(new Message('v{v}'))");
    publish(port, "/linked", &script(1), "1");
    let url = format!("http://127.0.0.1:{port}/repo/linked/");
    // No polling: only the admin link can bring the new version.
    let _w = Pipy::spawn(&[&url, "--no-reload", "--instance-uuid=linked-1"], &[app]);
    wait_for("the first report", Duration::from_secs(10), || {
        request(port, "GET", "/api/v1/repo/linked", "")
            .text()
            .contains("linked-1")
    });
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    publish(port, "/linked", &script(2), "2");
    wait_for("v2 over the link", Duration::from_secs(4), || {
        get(app, "/").text() == "v2"
    });
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[test]
fn publishing_a_base_reloads_the_workers_of_its_derivatives() {
    let (_r, port) = repo(&[]);
    let app = free_port();
    let script = |v: &str| format!("pipy().listen({app}).serveHTTP(new Message('{v}'))");
    publish(port, "/base", &script("base v1"), "1");
    let r = request(port, "POST", "/api/v1/repo/derived", r#"{"base":"/base"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = request(port, "PATCH", "/api/v1/repo/derived", r#"{"version":"5"}"#);
    assert_eq!(r.status, 201);
    let url = format!("http://127.0.0.1:{port}/repo/derived/");
    let _w = Pipy::spawn(&[&url], &[app]);
    assert_eq!(get(app, "/").text(), "base v1");
    // Changing the base bumps the derivative (5 -> 6) and its worker follows.
    publish(port, "/base", &script("base v2"), "2");
    wait_for("the derivative's worker", Duration::from_secs(15), || {
        get(app, "/").text() == "base v2"
    });
    assert_eq!(
        request(port, "GET", "/repo/derived/", "").header("etag"),
        Some("6")
    );
}

#[test]
fn init_code_runs_a_codebase_inside_the_repo() {
    let _g = fixed_ports();
    let init = format!("--init-repo={}", examples().display());
    let port = free_port();
    let admin = format!("--admin-port=127.0.0.1:{port}");
    let _r = Pipy::spawn(&[&admin, &init, "--init-code=/01-hello"], &[port, 8080]);
    assert_eq!(get(8080, "/").text(), "Hi, there!\n");
    let (code, _, err) = run_to_end(&[
        &admin.replace(&port.to_string(), &free_port().to_string()),
        "--init-code=/nope",
    ]);
    assert_eq!(code, 255);
    assert!(err.contains("Codebase not found: /nope"), "{err}");
    let (code, _, err) = run_to_end(&["--init-code=/x", "-e", "1"]);
    assert_eq!(code, 255);
    assert!(err.contains("invalid option --init-code"), "{err}");
}

#[test]
fn a_worker_is_ready_only_once_its_codebase_loaded() {
    let (_r, port) = repo(&[]);
    let (admin, serve) = (free_port(), free_port());
    // Not published yet: the worker keeps retrying the download.
    assert_eq!(request(port, "POST", "/api/v1/repo/late", "").status, 201);
    let url = format!("http://127.0.0.1:{port}/repo/late/");
    let _w = Pipy::spawn(
        &[&url, &format!("--admin-port=127.0.0.1:{admin}")],
        &[admin],
    );
    let r = get(admin, "/readyz");
    assert_eq!(
        (r.status, r.text()),
        (503, "the codebase is not loaded yet\n".into())
    );
    publish(
        port,
        "/late",
        &format!("pipy().listen({serve}).serveHTTP(new Message('late'))"),
        "1",
    );
    // The worker retries every 5 s.
    wait_for("readiness", Duration::from_secs(12), || {
        get(admin, "/readyz").status == 200
    });
    assert_eq!(get(serve, "/").text(), "late");
}
