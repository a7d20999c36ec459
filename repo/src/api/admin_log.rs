//! `--admin-log-file` (spec §1): one line per POST, PATCH and DELETE request,
//! `<time> <status> <METHOD> <path> <body>`.
//!
//! Requests only format their line and hand it to a writer thread, which appends and
//! flushes after each burst: a slow disk never holds up the service.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;

use http::{Method, StatusCode};

use super::logs::log_time;

/// The sending end of the writer thread.
#[derive(Debug)]
pub(super) struct AdminLog {
    lines: mpsc::Sender<String>,
}

impl AdminLog {
    /// Starts the writer thread for `path`. A file that cannot be opened is reported on
    /// stderr once; the service runs on without the log.
    pub(super) fn open(path: PathBuf) -> Self {
        let (lines, rx) = mpsc::channel::<String>();
        let spawned = std::thread::Builder::new()
            .name("pipy-admin-log".into())
            .spawn(move || write_all(&path, &rx));
        if let Err(e) = spawned {
            eprintln!("admin log: cannot start its writer: {e}");
        }
        Self { lines }
    }

    /// Records one request, if it is a POST, PATCH or DELETE.
    pub(super) fn record(&self, status: StatusCode, method: &Method, path: &str, body: &[u8]) {
        if *method == Method::POST || *method == Method::PATCH || *method == Method::DELETE {
            let now = super::instances::now_ms();
            let _ = self.lines.send(line(now, status, method, path, body));
        }
    }
}

/// Appends lines as they come, until the service (the sender) is gone.
fn write_all(path: &std::path::Path, rx: &mpsc::Receiver<String>) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    let mut out = match file {
        Ok(f) => std::io::BufWriter::new(f),
        Err(e) => {
            eprintln!("admin log: cannot open {}: {e}", path.display());
            // Drain, so that senders never see an error worth reporting.
            while rx.recv().is_ok() {}
            return;
        }
    };
    while let Ok(first) = rx.recv() {
        let mut ok = out.write_all(first.as_bytes()).is_ok();
        while let Ok(more) = rx.try_recv() {
            ok &= out.write_all(more.as_bytes()).is_ok();
        }
        if !(ok && out.flush().is_ok()) {
            eprintln!("admin log: cannot write {}", path.display());
        }
    }
}

/// One line with its `\n`; the body is re-serialised as compact JSON, or `undefined`.
fn line(now_ms: u64, status: StatusCode, method: &Method, path: &str, body: &[u8]) -> String {
    let body = serde_json::from_slice::<serde_json::Value>(body)
        .map_or_else(|_| "undefined".to_owned(), |v| v.to_string());
    format!(
        "{} {} {method} {path} {body}\n",
        log_time(now_ms),
        status.as_u16()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_spec_example() {
        let l = line(
            1_795_641_703_370,
            StatusCode::BAD_REQUEST,
            &Method::POST,
            "/api/v1/repo/a",
            b"{ \"base\" : \"/zz\" }",
        );
        assert_eq!(
            l,
            "2026-11-25 21:21:43.370 400 POST /api/v1/repo/a {\"base\":\"/zz\"}\n"
        );
        let l = line(0, StatusCode::CREATED, &Method::DELETE, "/x", b"");
        assert_eq!(l, "1970-01-01 00:00:00.000 201 DELETE /x undefined\n");
    }
}
