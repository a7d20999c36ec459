//! The background thread that writes loggers' lines to the standard output,
//! the standard error and syslog, so that a slow terminal, a full pipe or a
//! busy syslog daemon never blocks a worker. What waits for it is bounded
//! ([`MAX_QUEUED`]); past that, lines are left out and counted in a warning.

use super::syslog::Syslog;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bytes queued for the writer at most.
pub(crate) const MAX_QUEUED: usize = 16 << 20;

/// One line for the writer.
pub(crate) enum Line {
    /// To the standard output (with its `\n`).
    Stdout(Vec<u8>),
    /// To the standard error (with its `\n`).
    Stderr(Vec<u8>),
    /// To syslog at a severity (0 emergency .. 7 debug), without `\n`.
    Syslog(u8, Vec<u8>),
}

impl Line {
    fn len(&self) -> usize {
        match self {
            Line::Stdout(b) | Line::Stderr(b) | Line::Syslog(_, b) => b.len(),
        }
    }
}

static QUEUED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);

fn sender() -> &'static Sender<Line> {
    static SENDER: OnceLock<Sender<Line>> = OnceLock::new();
    SENDER.get_or_init(|| {
        let (tx, rx) = channel::<Line>();
        let _ = std::thread::Builder::new()
            .name("pipy-log".into())
            .spawn(move || run(rx));
        tx
    })
}

/// Queues a line; never blocks.
pub(crate) fn send(line: Line) {
    let len = line.len();
    if QUEUED.fetch_add(len, Ordering::AcqRel) + len > MAX_QUEUED {
        QUEUED.fetch_sub(len, Ordering::AcqRel);
        let n = DROPPED.fetch_add(1, Ordering::Relaxed) + 1;
        // One warning per thousand, not one per line left out.
        if n % 1000 == 1 {
            tracing::warn!("logging: output is behind; {n} lines left out so far");
        }
        return;
    }
    if sender().send(line).is_err() {
        QUEUED.fetch_sub(len, Ordering::AcqRel);
    }
}

/// Waits, at most `limit`, until every queued line was written: called before
/// the process exits, so that what a script logged last is not lost.
pub fn drain(limit: Duration) {
    let deadline = Instant::now() + limit;
    while QUEUED.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn run(rx: Receiver<Line>) {
    let mut syslog = Syslog::default();
    while let Ok(first) = rx.recv() {
        // Everything waiting goes out before one flush of each stream.
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
            if batch.len() >= 1024 {
                break;
            }
        }
        // Each stream locked only while this thread writes to it: a blocked
        // standard output must not hold up others' writes to the standard
        // error (the process's own log).
        let mut written = 0;
        let (mut out_used, mut err_used) = (false, false);
        for line in &batch {
            written += line.len();
            // A closed output loses its lines and nothing else.
            let _ = match line {
                Line::Stdout(b) => {
                    out_used = true;
                    std::io::stdout().lock().write_all(b)
                }
                Line::Stderr(b) => {
                    err_used = true;
                    std::io::stderr().lock().write_all(b)
                }
                Line::Syslog(severity, b) => {
                    syslog.send(*severity, b);
                    Ok(())
                }
            };
        }
        if out_used {
            let _ = std::io::stdout().lock().flush();
        }
        if err_used {
            let _ = std::io::stderr().lock().flush();
        }
        QUEUED.fetch_sub(written, Ordering::AcqRel);
    }
}
