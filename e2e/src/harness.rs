//! Starting `pipy`, waiting for its ports, and a small independent HTTP/1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Tests that use the examples' fixed ports run one at a time.
pub static FIXED_PORTS: Mutex<()> = Mutex::new(());

/// Takes the fixed-port lock even if an earlier holder panicked.
pub fn fixed_ports() -> MutexGuard<'static, ()> {
    FIXED_PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ports handed out so far by this process (each test its own).
static NEXT_PORT: AtomicUsize = AtomicUsize::new(0);

/// A free port, bindable on every address. Taken below Linux's ephemeral
/// range (32768 up), so that no outbound connection of a concurrent test
/// holds it as its local port by the time the test binds it (a port the
/// system handed out as "free" could be, and `0.0.0.0:port` then failed).
pub fn free_port() -> u16 {
    const FIRST: usize = 20_000;
    const SPAN: usize = 12_000;
    let start = (std::process::id() as usize * 97) % SPAN;
    loop {
        let n = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        assert!(n < SPAN, "free_port: no free port left below 32000");
        let port = (FIRST + (start + n) % SPAN) as u16;
        let free = TcpListener::bind(("0.0.0.0", port)).is_ok()
            && std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok();
        if free {
            return port;
        }
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A fresh folder for a test's files.
pub fn temp_dir() -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("pipy-it-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Path of the examples folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The `pipy` binary under test: `PIPY_BIN`, else `pipy` in the target folder that
/// holds the running test executable (`target/debug/deps/x` → `target/debug/pipy`).
pub fn pipy_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("PIPY_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("pipy"))
        .expect("a target folder");
    assert!(
        bin.is_file(),
        "{} is missing: run these tests through `cargo test --workspace` (or `make test`), \
         which builds it, or set PIPY_BIN",
        bin.display()
    );
    bin
}

/// The `pipy-operator` binary under test: `PIPY_OPERATOR_BIN`, else `pipy-operator` in
/// the target folder that holds the running test executable (next to `pipy`).
pub fn pipy_operator_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("PIPY_OPERATOR_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("pipy-operator"))
        .expect("a target folder");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (`cargo build -p pipy-operator`), or set \
         PIPY_OPERATOR_BIN",
        bin.display()
    );
    bin
}

/// A running `pipy` process; killed when dropped.
pub struct Pipy {
    pub child: Child,
    pub stderr: PathBuf,
    pub stdout: PathBuf,
}

impl Pipy {
    /// Runs `pipy <args>` and waits until every port in `ports` accepts.
    pub fn spawn(args: &[&str], ports: &[u16]) -> Pipy {
        Self::spawn_program(&pipy_binary(), args, &[], ports)
    }

    /// Runs `program <args>` with the extra environment `env` (another binary of the
    /// workspace, such as [`pipy_operator_binary`]) and waits until every port in
    /// `ports` accepts.
    pub fn spawn_program(
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        ports: &[u16],
    ) -> Pipy {
        let dir = temp_dir();
        let stderr = dir.join("stderr.log");
        let stdout = dir.join("stdout.log");
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let mut p = Pipy {
            child,
            stderr,
            stdout,
        };
        for port in ports {
            p.wait_port(*port);
        }
        p
    }

    /// Writes `script` as `main.js` (plus extra files) and runs it.
    pub fn script(script: &str, ports: &[u16]) -> Pipy {
        Self::script_with(script, &[], &[], ports)
    }

    /// Like [`Pipy::script`], with extra files and extra arguments.
    pub fn script_with(script: &str, files: &[(&str, &str)], args: &[&str], ports: &[u16]) -> Pipy {
        let dir = temp_dir();
        std::fs::write(dir.join("main.js"), script).unwrap();
        for (name, content) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let main = dir.join("main.js");
        let mut all: Vec<&str> = args.to_vec();
        let main = main.to_string_lossy().into_owned();
        all.push(&main);
        Self::spawn(&all, ports)
    }

    fn wait_port(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "pipy exited with {status} before port {port} opened:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("port {port} did not open:\n{}", self.stderr_text());
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> Option<i32> {
        send_sigterm(self.child.id() as i32);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

fn send_sigterm(pid: i32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

impl Drop for Pipy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `pipy <args>` to completion (bounded) and returns (exit code, stdout, stderr).
pub fn run_to_end(args: &[&str]) -> (i32, String, String) {
    let mut p = Pipy::spawn(args, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(s)) = p.child.try_wait() {
            return (s.code().unwrap_or(-1), p.stdout_text(), p.stderr_text());
        }
        assert!(
            Instant::now() < deadline,
            "pipy did not exit: {}",
            p.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        Conn {
            reader: BufReader::new(s),
        }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.reader.get_mut().write_all(raw).unwrap();
    }

    /// Reads one response; `head_request` means no body follows.
    pub fn read(&mut self, head_request: bool) -> Response {
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("status line");
            assert!(!line.is_empty(), "connection closed before a response");
            let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
            let reason = line
                .splitn(3, ' ')
                .nth(2)
                .unwrap_or("")
                .trim_end()
                .to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                self.reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (n, v) = h.split_once(':').expect("header line");
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
            if (100..200).contains(&status) {
                continue;
            }
            let mut r = Response {
                status,
                reason,
                headers,
                body: Vec::new(),
            };
            if head_request || status == 204 || status == 304 {
                return r;
            }
            if let Some(len) = r.header("content-length") {
                let mut b = vec![0; len.parse().unwrap()];
                self.reader.read_exact(&mut b).unwrap();
                r.body = b;
            } else if r
                .header("transfer-encoding")
                .is_some_and(|t| t.contains("chunked"))
            {
                loop {
                    let mut size = String::new();
                    self.reader.read_line(&mut size).unwrap();
                    let n =
                        usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap();
                    let mut chunk = vec![0; n + 2];
                    if n == 0 {
                        let mut end = String::new();
                        self.reader.read_line(&mut end).unwrap();
                        break;
                    }
                    self.reader.read_exact(&mut chunk).unwrap();
                    r.body.extend_from_slice(&chunk[..n]);
                }
            } else {
                self.reader.read_to_end(&mut r.body).unwrap();
            }
            return r;
        }
    }

    /// Reads an interim (1xx) response head and returns its status.
    pub fn read_interim(&mut self) -> u16 {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut blank = String::new();
        while {
            blank.clear();
            self.reader.read_line(&mut blank).unwrap();
            !blank.trim_end().is_empty()
        } {}
        status
    }

    /// Whether the server has closed the connection (reads EOF within a bound).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }
}

/// One request on a new connection.
pub fn get(port: u16, path: &str) -> Response {
    let mut c = Conn::open(port);
    c.send(format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n").as_bytes());
    c.read(false)
}

/// A POST with a body on a new connection.
pub fn post(port: u16, path: &str, body: &[u8]) -> Response {
    let mut c = Conn::open(port);
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    c.send(&req);
    c.read(false)
}

/// A helper process of a test (a peer server or client), killed and reaped
/// when dropped, also when the test fails half-way.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `curl -sS` with a 20 s limit and `args`: whether it succeeded, and
/// what it printed (standard output, then its error).
pub fn curl(args: &[&str]) -> (bool, String) {
    let o = Command::new("curl")
        .args(["-sS", "-m", "20"])
        .args(args)
        .output()
        .expect("curl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}
