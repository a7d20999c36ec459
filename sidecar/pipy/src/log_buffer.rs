//! The process log `pipy_log`: a bounded history of recent lines, fed by a tracing
//! [`Layer`], that the repo's `/log` and the admin link's `log/tail` show and that
//! watchers can follow line by line (spec §5.4, §6.3).
//!
//! Lines look like upstream's: `2026-11-25 21:21:43.370 [INF] message` (UTC, see
//! [`pipy_repo::api::log_time`]). The history keeps the newest lines up to 256 KiB of
//! text, upstream's size for a log history.

use std::fmt::Write as _;
use std::sync::Arc;

use pipy_runtime::logging::history::{self, LogBuffer};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Upstream's history size per log, in bytes of line text.
pub(crate) const HISTORY_MAX: usize = 256 * 1024;

/// The process log, `pipy_log`.
pub(crate) static PIPY_LOG: LogBuffer = LogBuffer::new(history::PROCESS_LOG, HISTORY_MAX);

/// `PIPY_LOG` for the repo service: `GET /log` and the watchers of its own log.
#[derive(Debug)]
pub(crate) struct ProcessLogs;

impl pipy_repo::api::ProcessLog for ProcessLogs {
    fn tail(&self, name: &str) -> Option<String> {
        with_log(name, LogBuffer::tail)
    }

    fn subscribe(&self, name: &str) -> Option<mpsc::Receiver<Arc<str>>> {
        with_log(name, LogBuffer::subscribe)
    }
}

/// Calls `f` with the log `name`: `pipy_log` or a script logger's.
pub(crate) fn with_log<R>(name: &str, f: impl FnOnce(&LogBuffer) -> R) -> Option<R> {
    if name == PIPY_LOG.name() {
        return Some(f(&PIPY_LOG));
    }
    history::find(name).map(|h| f(&h))
}

/// The names of every log: `pipy_log`, then the script loggers'.
pub(crate) fn names() -> Vec<String> {
    let mut names = vec![PIPY_LOG.name().to_owned()];
    names.extend(history::names());
    names
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
