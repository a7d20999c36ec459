//! `logging.TextLogger`, `JSONLogger` and `BinaryLogger` with every target:
//! lines as upstream 1.5.18 writes them (compared side by side), files rotated
//! as `tee` rotates, a real `rsyslogd` reading the syslog target, an HTTP
//! collector receiving batches, and a worker that keeps serving while its
//! collector is down or its standard output is never read.

use crate::harness::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The values every format test logs, and each format's line for them (as
/// upstream's, but for the text of objects, which is ECMAScript's here).
const VALUES: &str = "'a', 1, {b: 2}, [1, 'x'], null, undefined, true, new Data('hi'), 1.5";
const TEXT_LINE: &str =
    r#"a 1 [object Object]:{"b":2} 1,x:[1,"x"] null:null undefined true hi:{} 1.5"#;
const JSON_LINE: &str = r#""a"1{"b":2}[1,"x"]nullnulltrue{}1.5"#;
const BINARY_LINE: &[u8] = b"a1[object Object]AB,nullundefinedtruehi1.5";

fn file_text(path: &std::path::Path, limit: Duration, ready: impl Fn(&str) -> bool) -> String {
    eventually(&format!("{} written", path.display()), limit, || {
        std::fs::read_to_string(path).ok().filter(|t| ready(t))
    })
}

#[test]
fn loggers_write_upstreams_lines_to_stdout_stderr_and_files() {
    let port = free_port();
    let dir = temp_dir();
    let log = dir.join("app.log");
    let script = format!(
        r#"((
  t = new logging.TextLogger('text').toStdout().toFile('{log}'),
  j = new logging.JSONLogger('json').toStderr().toFile('{log}'),
  // Taken off its logger, as upstream's own tests use it.
  b = new logging.BinaryLogger('binary').toStdout().log,
) => pipy().listen({port}).serveHTTP(() => (
  t.log({VALUES}),
  j.log({VALUES}),
  b('a', 1, {{b: 2}}, [0x41, 0x42, 300], null, undefined, true, new Data('hi'), 1.5),
  new Message('ok')
)))()"#,
        log = log.display()
    );
    let p = Pipy::script(&script, &[port]);
    assert_eq!(get(port, "/").text(), "ok");
    let text = file_text(&log, Duration::from_secs(10), |t| t.lines().count() >= 2);
    // Two loggers share the file; each line whole, in the order logged.
    assert_eq!(text, format!("{TEXT_LINE}\n{JSON_LINE}\n"));
    let out = eventually("stdout lines", Duration::from_secs(10), || {
        let b = std::fs::read(&p.stdout).ok()?;
        (b.iter().filter(|c| **c == b'\n').count() >= 2).then_some(b)
    });
    let mut want = format!("{TEXT_LINE}\n").into_bytes();
    want.extend_from_slice(BINARY_LINE);
    want.push(b'\n');
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&want)
    );
    let err = eventually("stderr line", Duration::from_secs(10), || {
        let t = p.stderr_text();
        t.contains(JSON_LINE).then_some(t)
    });
    assert!(err.lines().any(|l| l == JSON_LINE), "{err}");
}

#[test]
fn log_files_rotate_by_size_and_keep_max_file_count() {
    let port = free_port();
    let dir = temp_dir();
    let log = dir.join("rot.log");
    // Each line is 100 bytes with its newline; 250 bytes per file.
    let script = format!(
        r#"((
  n = 0,
  l = new logging.TextLogger('rot').toFile('{log}', {{ maxFileSize: 250, maxFileCount: 2 }}),
) => pipy().listen({port}).serveHTTP(() => (
  l.log(('line ' + (++n) + ' ').padEnd(99, 'x')),
  new Message('ok')
)))()"#,
        log = log.display()
    );
    let _p = Pipy::script(&script, &[port]);
    for i in 1..=9 {
        // Rotated names tell the second a file began: files begun in
        // different seconds get names of their own.
        if i == 3 || i == 5 || i == 7 {
            std::thread::sleep(Duration::from_millis(1100));
        }
        assert_eq!(get(port, "/").text(), "ok");
    }
    // 9 lines: two per file, so four rotated files were made, two kept.
    let current = file_text(&log, Duration::from_secs(10), |t| t.contains("line 9 "));
    assert!(current.starts_with("line 9 "), "{current}");
    let rotated = eventually("two rotated files", Duration::from_secs(10), || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with("-rot.log"))
            .collect();
        names.sort();
        (names.len() == 2).then_some(names)
    });
    let last = std::fs::read_to_string(dir.join(&rotated[1])).unwrap();
    assert!(
        last.starts_with("line 7 ") && last.contains("\nline 8 "),
        "{last}"
    );
    assert_eq!(last.len(), 200, "{last}");
}

/// Starts a real `rsyslogd` (Debian's rsyslog) that listens on a socket of its
/// own and writes `severity|facility|program|message` lines to a file.
struct Rsyslogd {
    child: std::process::Child,
    socket: std::path::PathBuf,
    out: std::path::PathBuf,
}

impl Rsyslogd {
    fn start() -> Rsyslogd {
        let dir = temp_dir();
        let socket = dir.join("log.sock");
        let out = dir.join("messages");
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{dir}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}")
template(name="t" type="string" string="%syslogseverity-text%|%syslogfacility-text%|%programname%|%msg%\n")
*.* action(type="omfile" file="{out}" template="t")
"#,
                dir = dir.display(),
                socket = socket.display(),
                out = out.display()
            ),
        )
        .unwrap();
        let bin = ["/usr/sbin/rsyslogd", "/usr/bin/rsyslogd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("rsyslogd");
        let child = Command::new(bin)
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd (Debian's rsyslog)");
        wait_for("rsyslogd's socket", Duration::from_secs(10), || {
            socket.exists()
        });
        Rsyslogd { child, socket, out }
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn syslog_lines_reach_a_real_rsyslogd() {
    let syslog = Rsyslogd::start();
    let port = free_port();
    let script = format!(
        r#"((
  i = new logging.TextLogger('s').toSyslog(),
  w = new logging.JSONLogger('s').toSyslog('WARNING'),
) => pipy().listen({port}).serveHTTP(() => (
  i.log('hello', 'syslog'),
  w.log({{ level: 'warn' }}),
  new Message('ok')
)))()"#
    );
    let dir = temp_dir();
    std::fs::write(dir.join("main.js"), script).unwrap();
    let p = Pipy::spawn_program(
        &pipy_binary(),
        &[dir.join("main.js").to_str().unwrap()],
        &[("PIPY_SYSLOG_SOCKET", syslog.socket.to_str().unwrap())],
        &[port],
    );
    assert_eq!(get(port, "/").text(), "ok");
    let text = file_text(&syslog.out, Duration::from_secs(10), |t| {
        t.lines().count() >= 2
    });
    // rsyslog's `msg` keeps the space after `pipy:`.
    let lines: Vec<String> = text.lines().map(|l| l.replacen("| ", "|", 1)).collect();
    assert_eq!(
        lines,
        [
            "info|user|pipy|hello syslog",
            r#"warning|user|pipy|{"level":"warn"}"#
        ],
        "{}",
        p.stderr_text()
    );
}

#[test]
fn a_bad_syslog_priority_is_refused_with_the_choices() {
    let (code, _, err) = run_to_end(&["-e", "new logging.TextLogger('x').toSyslog('LOUD')"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("unknown priority 'LOUD'") && err.contains("EMERG, ALERT"),
        "{err}"
    );
    let (code, _, err) = run_to_end(&["-e", "new logging.JSONLogger()"]);
    assert_ne!(code, 0);
    assert!(err.contains("expects a name"), "{err}");
}

/// One request as a collector saw it.
#[derive(Clone, Debug)]
struct Posted {
    head: String,
    body: String,
}

/// An HTTP/1.1 collector on `listener`: answers every request `200` on a
/// kept-alive connection and records it.
fn collector(listener: TcpListener) -> Arc<Mutex<Vec<Posted>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let s = s.clone();
            std::thread::spawn(move || serve_collector(conn, s));
        }
    });
    seen
}

fn serve_collector(conn: TcpStream, seen: Arc<Mutex<Vec<Posted>>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push(Posted {
            head,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        if out
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

#[test]
fn http_target_posts_batches_to_a_collector() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let cport = listener.local_addr().unwrap().port();
    let seen = collector(listener);
    let port = free_port();
    let script = format!(
        r#"((
  n = 0,
  l = new logging.JSONLogger('h').toHTTP('http://127.0.0.1:{cport}/ingest?x=1', {{
    method: 'PUT',
    headers: {{ 'content-type': 'application/json', 'x-token': 'abc' }},
    batch: {{ size: 3, prefix: '[', separator: ',', postfix: ']', timeout: 0.3 }},
  }}),
) => pipy().listen({port}).serveHTTP(() => (
  l.log({{ n: ++n }}),
  new Message('ok')
)))()"#
    );
    let p = Pipy::script(&script, &[port]);
    for _ in 0..8 {
        assert_eq!(get(port, "/").text(), "ok");
    }
    // As upstream: the first line at once, then full batches, the last
    // line after the timeout.
    let posts = eventually("four posts", Duration::from_secs(10), || {
        let s = seen.lock().unwrap().clone();
        (s.len() >= 4).then_some(s)
    });
    let bodies: Vec<&str> = posts.iter().map(|p| p.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            r#"[{"n":1}]"#,
            r#"[{"n":2},{"n":3},{"n":4}]"#,
            r#"[{"n":5},{"n":6},{"n":7}]"#,
            r#"[{"n":8}]"#
        ],
        "{}",
        p.stderr_text()
    );
    let head = posts[0].head.to_ascii_lowercase();
    assert!(head.starts_with("put /ingest?x=1 http/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("host: 127.0.0.1:{cport}\r\n")),
        "{head}"
    );
    assert!(head.contains("x-token: abc\r\n"), "{head}");
    assert!(
        head.contains("content-type: application/json\r\n"),
        "{head}"
    );
    // A line still waiting when the worker stops does not crash it (it used
    // to ask the gone loop for a timer as the engine was dropped).
    assert_eq!(get(port, "/").text(), "ok");
    let mut p = p;
    assert_eq!(p.terminate(), Some(0), "{}", p.stderr_text());
    assert!(!p.stderr_text().contains("panicked"), "{}", p.stderr_text());
}

#[test]
fn http_target_holds_bounded_lines_while_its_collector_is_down() {
    // The collector's port, closed for now.
    let cport = free_port();
    let port = free_port();
    // 40 lines of 100 bytes; 1000 bytes may wait.
    let script = format!(
        r#"((
  n = 0,
  l = new logging.TextLogger('down').toHTTP('http://127.0.0.1:{cport}/', {{
    bufferLimit: 1000,
    batch: {{ size: 100, separator: '\n', timeout: 0.2 }},
  }}),
) => pipy().listen({port}).serveHTTP(() => (
  l.log(('line ' + (++n) + ' ').padEnd(100, 'x')),
  new Message('ok')
)))()"#
    );
    let p = Pipy::script(&script, &[port]);
    let started = Instant::now();
    for _ in 0..40 {
        assert_eq!(get(port, "/").text(), "ok");
    }
    // Logging never held up the requests.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The first line goes at once and fails; the rest wait for its retry.
    eventually(
        "warnings of lines left out and of the failed post",
        Duration::from_secs(15),
        || {
            let t = p.stderr_text();
            (t.contains("lines left out") && t.contains("failed; trying again")).then_some(t)
        },
    );
    // The collector comes up: what was held (the first ten lines) arrives on a retry.
    let listener = TcpListener::bind(("127.0.0.1", cport)).unwrap();
    let seen = collector(listener);
    let posts = eventually("held lines posted", Duration::from_secs(15), || {
        let s = seen.lock().unwrap().clone();
        (!s.is_empty()).then_some(s)
    });
    let lines: Vec<String> = posts
        .iter()
        .flat_map(|p| {
            p.body
                .lines()
                .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
        })
        .collect();
    let want: Vec<String> = (1..=10).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, want);
}

#[test]
fn a_stdout_nobody_reads_never_blocks_the_worker() {
    let port = free_port();
    let dir = temp_dir();
    // Each request logs 1 MiB; 40 of them are far past a pipe's buffer and
    // the writer's 16 MiB bound.
    std::fs::write(
        dir.join("main.js"),
        format!(
            r#"((
  l = new logging.TextLogger('big').toStdout(),
  big = 'x'.repeat(1 << 20),
) => pipy().listen({port}).serveHTTP(() => (l.log(big), new Message('ok'))))()"#
        ),
    )
    .unwrap();
    let stderr = dir.join("stderr.log");
    let mut child = Command::new(pipy_binary())
        .arg(dir.join("main.js"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // Held, never read.
    let _stdout = child.stdout.take();
    wait_for("pipy listens", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let started = Instant::now();
    for _ in 0..40 {
        assert_eq!(get(port, "/").text(), "ok");
    }
    let took = started.elapsed();
    let err = eventually(
        "a warning about lines left out",
        Duration::from_secs(10),
        || {
            let t = std::fs::read_to_string(&stderr).ok()?;
            t.contains("lines left out").then_some(t)
        },
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(took < Duration::from_secs(10), "{took:?} {err}");
}

#[test]
fn a_stopping_worker_posts_what_its_loggers_hold() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let cport = listener.local_addr().unwrap().port();
    let seen = collector(listener);
    // No port: the worker stops once loaded. The first line goes at once;
    // the others would wait a minute for their batch.
    let dir = temp_dir();
    std::fs::write(
        dir.join("main.js"),
        format!(
            "((l = new logging.TextLogger('bye').toHTTP('http://127.0.0.1:{cport}/', {{\n\
               batch: {{ size: 100, timeout: 60, interval: 60, separator: '|' }} }})) =>\n\
             (l.log('first'), l.log('second'), l.log('third'), pipy()))()"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let (code, _, err) = run_to_end(&[dir.join("main.js").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    let bodies: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.body.clone())
        .collect();
    assert_eq!(bodies, ["first", "second|third"], "{err}");
}
