//! Named log histories: the recent lines of every log a repo can show (its
//! `/api/v1/log/<uuid>/<name>` and the admin link's `log/tail`), kept in
//! memory with a size limit, and followed line by line by watchers. The
//! process log `pipy_log` is one; each script logger (`new
//! logging.TextLogger(name)`) writes into the history of its name, whatever
//! its targets, as upstream's loggers do.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Upstream's history size per script log, in bytes of line text.
pub const SCRIPT_HISTORY_MAX: usize = 1 << 20;

/// The name of the process log, which no script logger may take.
pub const PROCESS_LOG: &str = "pipy_log";

/// Script logs kept at most: past this many names, a new name keeps none.
const MAX_NAMES: usize = 256;

/// Lines a watcher may fall behind by before it misses some: a stalled watcher must not
/// grow the process's memory.
const WATCHER_QUEUE: usize = 1024;

/// The longest line kept (longer ones are cut, with `...`): with
/// [`WATCHER_QUEUE`], what a stalled watcher can hold stays bounded (16 MiB).
pub const MAX_LINE: usize = 16 * 1024;

/// `line` cut to [`MAX_LINE`] bytes at a character boundary.
fn cut(mut line: String) -> String {
    if line.len() > MAX_LINE {
        let mut end = MAX_LINE - 3;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    line
}

/// A named log: its recent history and the watchers of new lines.
#[derive(Debug)]
pub struct LogBuffer {
    name: std::borrow::Cow<'static, str>,
    max: std::sync::atomic::AtomicUsize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Lines without their `\n`, oldest first.
    lines: VecDeque<String>,
    /// Bytes of text in `lines`.
    size: usize,
    watchers: Vec<mpsc::Sender<Arc<str>>>,
}

impl LogBuffer {
    /// Keeps at most `max` bytes of lines from now on (`--log-history-limit`).
    pub fn set_limit(&self, max: usize) {
        self.max.store(max, std::sync::atomic::Ordering::Relaxed);
    }

    /// An empty log `name` that keeps at most `max` bytes of lines.
    pub const fn new(name: &'static str, max: usize) -> Self {
        Self::with_name(std::borrow::Cow::Borrowed(name), max)
    }

    const fn with_name(name: std::borrow::Cow<'static, str>, max: usize) -> Self {
        Self {
            name,
            max: std::sync::atomic::AtomicUsize::new(max),
            state: Mutex::new(State {
                lines: VecDeque::new(),
                size: 0,
                watchers: Vec::new(),
            }),
        }
    }

    /// The log's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while logging leaves the history consistent enough to keep using.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one line (without `\n`), dropping the oldest ones beyond the size limit,
    /// and hands it to the watchers.
    pub fn push(&self, line: String) {
        let line = cut(line);
        let mut s = self.state();
        if !s.watchers.is_empty() {
            // The one extra allocation, and only while someone watches.
            let shared: Arc<str> = Arc::from(line.as_str());
            s.watchers.retain(|w| match w.try_send(shared.clone()) {
                Ok(()) => true,
                // A watcher too slow to keep up misses lines rather than piling them up.
                Err(mpsc::error::TrySendError::Full(_)) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
        s.size += line.len();
        s.lines.push_back(line);
        let max = self.max.load(std::sync::atomic::Ordering::Relaxed);
        while s.size > max {
            match s.lines.pop_front() {
                Some(old) => s.size -= old.len(),
                None => break,
            }
        }
    }

    /// The history as text, each line with its `\n`.
    pub fn tail(&self) -> String {
        let s = self.state();
        let mut out = String::with_capacity(s.size + s.lines.len());
        for line in &s.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// New lines from now on, while the receiver lives.
    pub fn subscribe(&self) -> mpsc::Receiver<Arc<str>> {
        let (tx, rx) = mpsc::channel(WATCHER_QUEUE);
        self.state().watchers.push(tx);
        rx
    }
}

static NAMED: Mutex<Vec<Arc<LogBuffer>>> = Mutex::new(Vec::new());

fn named() -> std::sync::MutexGuard<'static, Vec<Arc<LogBuffer>>> {
    NAMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The history of script log `name`, made on first use (`None` past
/// [`MAX_NAMES`] names).
pub fn history(name: &str) -> Option<Arc<LogBuffer>> {
    // The process log's name is taken.
    if name == PROCESS_LOG {
        return None;
    }
    let mut all = named();
    if let Some(h) = all.iter().find(|h| h.name() == name) {
        return Some(h.clone());
    }
    if all.len() >= MAX_NAMES {
        return None;
    }
    let h = Arc::new(LogBuffer::with_name(
        std::borrow::Cow::Owned(name.to_owned()),
        SCRIPT_HISTORY_MAX,
    ));
    all.push(h.clone());
    Some(h)
}

/// The history of script log `name`, if a logger of that name was made.
pub fn find(name: &str) -> Option<Arc<LogBuffer>> {
    named().iter().find(|h| h.name() == name).cloned()
}

/// The names of the script logs, in the order they were made.
pub fn names() -> Vec<String> {
    named().iter().map(|h| h.name().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_newest_lines_within_the_limit() {
        let log = LogBuffer::new("t", 10);
        log.push("aaaa".into());
        log.push("bbbb".into());
        assert_eq!(log.tail(), "aaaa\nbbbb\n");
        log.push("cccc".into());
        assert_eq!(log.tail(), "bbbb\ncccc\n");
        // A line longer than the limit does not fit at all, as upstream.
        log.push("x".repeat(11));
        assert_eq!(log.tail(), "");
    }

    #[test]
    fn watchers_get_new_lines_until_they_leave() {
        let log = LogBuffer::new("t", 100);
        log.push("old".into());
        let mut rx = log.subscribe();
        log.push("new".into());
        assert_eq!(&*rx.try_recv().unwrap(), "new");
        drop(rx);
        log.push("later".into());
        assert!(log.state().watchers.is_empty());
    }

    #[test]
    fn long_lines_are_cut_and_the_process_log_name_is_taken() {
        let log = LogBuffer::new("t", 1 << 20);
        log.push("é".repeat(MAX_LINE));
        let tail = log.tail();
        assert!(
            tail.len() <= MAX_LINE + 1 && tail.ends_with("...\n"),
            "{}",
            tail.len()
        );
        assert!(history(PROCESS_LOG).is_none());
    }

    #[test]
    fn script_logs_are_found_by_name() {
        let a = history("history-test-a").unwrap();
        a.push("one".into());
        assert_eq!(find("history-test-a").unwrap().tail(), "one\n");
        assert!(names().contains(&"history-test-a".to_owned()));
        assert!(find("history-test-none").is_none());
    }
}
