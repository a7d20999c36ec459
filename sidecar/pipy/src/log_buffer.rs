//! The process log `pipy_log`: a bounded history of recent lines, fed by a tracing
//! [`Layer`], that the repo's `/log` and the admin link's `log/tail` show and that
//! watchers can follow line by line (spec §5.4, §6.3).
//!
//! Lines look like upstream's: `2026-11-25 21:21:43.370 [INF] message` (UTC, see
//! [`pipy_repo::api::log_time`]). The history keeps the newest lines up to 256 KiB of
//! text, upstream's size for a log history.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Upstream's history size per log, in bytes of line text.
pub(crate) const HISTORY_MAX: usize = 256 * 1024;

/// Lines a watcher may fall behind by before it misses some: a stalled watcher must not
/// grow the process's memory.
const WATCHER_QUEUE: usize = 4096;

/// The process log, `pipy_log`.
pub(crate) static PIPY_LOG: LogBuffer = LogBuffer::new("pipy_log", HISTORY_MAX);

/// A named log: its recent history and the watchers of new lines.
#[derive(Debug)]
pub(crate) struct LogBuffer {
    name: &'static str,
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
    pub(crate) fn set_limit(&self, max: usize) {
        self.max.store(max, std::sync::atomic::Ordering::Relaxed);
    }

    /// An empty log `name` that keeps at most `max` bytes of lines.
    pub(crate) const fn new(name: &'static str, max: usize) -> Self {
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
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while logging leaves the history consistent enough to keep using.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one line (without `\n`), dropping the oldest ones beyond the size limit,
    /// and hands it to the watchers.
    pub(crate) fn push(&self, line: String) {
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
    pub(crate) fn tail(&self) -> String {
        let s = self.state();
        let mut out = String::with_capacity(s.size + s.lines.len());
        for line in &s.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// New lines from now on, while the receiver lives.
    pub(crate) fn subscribe(&self) -> mpsc::Receiver<Arc<str>> {
        let (tx, rx) = mpsc::channel(WATCHER_QUEUE);
        self.state().watchers.push(tx);
        rx
    }
}

/// `PIPY_LOG` for the repo service: `GET /log` and the watchers of its own log.
#[derive(Debug)]
pub(crate) struct ProcessLogs;

impl pipy_repo::api::ProcessLog for ProcessLogs {
    fn tail(&self, name: &str) -> Option<String> {
        (name == PIPY_LOG.name()).then(|| PIPY_LOG.tail())
    }

    fn subscribe(&self, name: &str) -> Option<mpsc::Receiver<Arc<str>>> {
        (name == PIPY_LOG.name()).then(|| PIPY_LOG.subscribe())
    }
}

/// The tracing layer that writes every enabled event into a [`LogBuffer`].
pub(crate) struct BufferLayer(pub(crate) &'static LogBuffer);

impl<S: Subscriber> Layer<S> for BufferLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if let Some(line) = format_line(event) {
            self.0.push(line);
        }
    }
}

/// The tracing layer that prints every enabled event to the local log output
/// (stderr unless `--log-local` or `--log-file` say otherwise), in the same
/// upstream-style lines as the log history, without colours.
pub(crate) struct LocalLayer(pub(crate) tracing_subscriber::fmt::writer::BoxMakeWriter);

impl<S: Subscriber> Layer<S> for LocalLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        use tracing_subscriber::fmt::MakeWriter as _;
        if let Some(mut line) = format_line(event) {
            line.push('\n');
            let _ = std::io::Write::write_all(&mut self.0.make_writer(), line.as_bytes());
        }
    }
}

/// `2026-11-25 21:21:43.370 [INF] message`, or `None` for events never logged.
fn format_line(event: &Event<'_>) -> Option<String> {
    let target = event.metadata().target();
    // Sending a streamed line over the admin link makes tungstenite log (at debug
    // level, through `log`); recording that would stream it again, forever.
    if target.starts_with("tungstenite") || target.starts_with("tokio_tungstenite") {
        return None;
    }
    // `print()` writes each data event as a line of its own, without a
    // header, as upstream's Log::write does.
    if target == "print" {
        let mut raw = String::new();
        event.record(&mut LineVisitor(&mut raw));
        return Some(raw);
    }
    let mut line = format!(
        "{} {} ",
        pipy_repo::api::log_time(crate::now_ms()),
        level_tag(*event.metadata().level())
    );
    event.record(&mut LineVisitor(&mut line));
    Some(line)
}

/// Upstream's level tags.
fn level_tag(level: Level) -> &'static str {
    match level {
        Level::ERROR => "[ERR]",
        Level::WARN => "[WRN]",
        Level::INFO => "[INF]",
        Level::DEBUG | Level::TRACE => "[DBG]",
    }
}

/// Writes the message, then any other fields as ` name=value`.
struct LineVisitor<'a>(&'a mut String);

impl Visit for LineVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

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
    fn events_become_upstream_style_lines() {
        static LOG: LogBuffer = LogBuffer::new("t", HISTORY_MAX);
        let subscriber = tracing_subscriber::registry().with(BufferLayer(&LOG));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "script", "hello {}", 42);
            tracing::warn!(n = 3, "careful");
            tracing::debug!(target: "tungstenite::protocol", "not recorded");
        });
        let tail = LOG.tail();
        let lines: Vec<&str> = tail.lines().collect();
        assert_eq!(lines.len(), 2, "{tail}");
        // `2026-11-25 21:21:43.370 [INF] hello 42`
        assert_eq!(lines[0].len(), 23 + " [INF] hello 42".len(), "{tail}");
        assert!(lines[0].ends_with(" [INF] hello 42"), "{tail}");
        assert!(lines[1].ends_with(" [WRN] careful n=3"), "{tail}");
    }
}
