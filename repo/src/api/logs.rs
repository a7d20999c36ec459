//! Logs (spec §5.4, §6.3): the relay from a worker's admin link to WebSocket watchers
//! on `/api/v1/log/UUID/NAME`, the repo process's own log (empty uuid) and `GET /log`.
//!
//! A watcher registers when its upgrade is answered and asks for the log with `watch\n`.
//! For a worker, the repo then sends `log/tail/NAME` and `log/on/NAME` on the worker's
//! admin link (at once, or when the link comes up); the worker answers the tail with
//! `log-tail/NAME\n…`, which starts every watcher still waiting, and then streams
//! `log/NAME\n…` frames, which go to every started watcher. When the last watcher of a
//! log leaves, the repo sends `log/off/NAME`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::admin_link::{self, Socket};
use super::reply::{bare, Reply};
use super::{lock, RepoState, Req};

/// A process log the repo can show and stream: the `pipy` binary passes its `pipy_log`
/// (see [`RepoOptions::own_log`](super::RepoOptions::own_log)).
pub trait ProcessLog: Send + Sync + Debug {
    /// The history of log `name` as text, one `\n`-terminated line each; `None` when the
    /// process has no log of that name.
    fn tail(&self, name: &str) -> Option<String>;
    /// New lines of log `name` (without their `\n`) from now on, while the receiver
    /// lives; `None` when the process has no log of that name.
    fn subscribe(&self, name: &str) -> Option<mpsc::Receiver<Arc<str>>>;
}

/// The log watchers of the service, by instance uuid and log name.
#[derive(Debug, Default)]
pub(super) struct Watchers {
    next_id: u64,
    by_log: HashMap<(String, String), Vec<Watcher>>,
}

#[derive(Debug)]
struct Watcher {
    id: u64,
    /// Text for the watcher's WebSocket.
    out: mpsc::UnboundedSender<Utf8Bytes>,
    /// It sent `watch`.
    watching: bool,
    /// It got the tail, so new lines go to it too.
    started: bool,
}

impl Watchers {
    /// Uuids of the instances someone watches: they do not expire (spec §5.3).
    pub(super) fn uuids(&self) -> impl Iterator<Item = &str> {
        self.by_log.keys().map(|(uuid, _)| uuid.as_str())
    }
}

/// `GET /log` (the repo's own `pipy_log`, empty without one) and `GET /log/NAME` (404
/// for a log the process does not have).
pub(super) fn get(state: &RepoState, req: &Req) -> Reply {
    if req.method != Method::GET {
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    }
    let own = state.options.own_log.as_deref();
    match req.path.strip_prefix("/log/") {
        None => super::reply::text(
            StatusCode::OK,
            &own.and_then(|l| l.tail("pipy_log")).unwrap_or_default(),
        ),
        Some(name) => match own.and_then(|l| l.tail(name)) {
            Some(text) => super::reply::text(StatusCode::OK, &text),
            None => bare(StatusCode::NOT_FOUND),
        },
    }
}

/// A WebSocket upgrade on `/api/v1/log/UUID/NAME` (`path` is percent-decoded).
pub(super) fn accept(state: Arc<RepoState>, path: &str, req: Request<Incoming>) -> Reply {
    let rest = path.strip_prefix("/api/v1/log/").unwrap_or_default();
    // Without a `/` after the uuid there is no log to watch; upstream still upgrades.
    let log = rest
        .split_once('/')
        .map(|(uuid, name)| (uuid.to_owned(), name.to_owned()));
    admin_link::upgrade(req, move |ws| watch(state, log, ws))
}

/// One watcher's WebSocket, until the client leaves.
async fn watch(state: Arc<RepoState>, log: Option<(String, String)>, ws: Socket) {
    let (out, mut lines) = mpsc::unbounded_channel();
    let id = log
        .as_ref()
        .map(|(uuid, name)| register(&state, uuid, name, out));
    let (mut tx, mut rx) = ws.split();
    // The repo's own log, once `watch` came in for an empty uuid.
    let mut own: Option<mpsc::Receiver<Arc<str>>> = None;
    loop {
        tokio::select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) if t.as_str().trim_end() == "watch" => {
                    match &log {
                        Some((uuid, name)) if uuid.is_empty() && own.is_none() => {
                            own = start_own(&state, name, &mut tx).await;
                        }
                        Some((uuid, name)) if !uuid.is_empty() => start(&state, uuid, name, id),
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            text = lines.recv() => match text {
                Some(t) => {
                    if tx.send(Message::Text(t)).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            line = next_own(&mut own) => match line {
                Some(first) => {
                    let batch = batch_lines(first, own.as_mut());
                    if tx.send(Message::text(batch)).await.is_err() {
                        break;
                    }
                }
                None => own = None,
            },
        }
    }
    if let (Some((uuid, name)), Some(id)) = (&log, id) {
        unregister(&state, uuid, name, id);
    }
}

fn register(
    state: &RepoState,
    uuid: &str,
    name: &str,
    out: mpsc::UnboundedSender<Utf8Bytes>,
) -> u64 {
    let mut w = lock(&state.watchers);
    w.next_id += 1;
    let id = w.next_id;
    w.by_log
        .entry((uuid.to_owned(), name.to_owned()))
        .or_default()
        .push(Watcher {
            id,
            out,
            watching: false,
            started: false,
        });
    id
}

fn unregister(state: &RepoState, uuid: &str, name: &str, id: u64) {
    let key = (uuid.to_owned(), name.to_owned());
    let last = {
        let mut w = lock(&state.watchers);
        let Some(list) = w.by_log.get_mut(&key) else {
            return;
        };
        list.retain(|w| w.id != id);
        let last = list.is_empty();
        if last {
            w.by_log.remove(&key);
        }
        last
    };
    if last && !uuid.is_empty() {
        admin_link::send_to(state, uuid, format!("log/off/{name}"));
    }
}

/// `watch` for a worker's log: ask its admin link for the tail and the stream.
fn start(state: &RepoState, uuid: &str, name: &str, id: Option<u64>) {
    {
        let mut w = lock(&state.watchers);
        let key = (uuid.to_owned(), name.to_owned());
        let Some(watcher) = w
            .by_log
            .get_mut(&key)
            .and_then(|l| l.iter_mut().find(|w| Some(w.id) == id))
        else {
            return;
        };
        if watcher.watching {
            return;
        }
        watcher.watching = true;
    }
    // Without a link yet, `on_link` asks once the worker connects.
    ask(state, uuid, name);
}

fn ask(state: &RepoState, uuid: &str, name: &str) {
    // The worker answers in order: the tail first, then new lines, so none is lost
    // or repeated between the two.
    admin_link::send_to(state, uuid, format!("log/tail/{name}"));
    admin_link::send_to(state, uuid, format!("log/on/{name}"));
}

/// A worker's admin link came up: ask it for every log someone watches.
pub(super) fn on_link(state: &RepoState, uuid: &str) {
    let names: Vec<String> = lock(&state.watchers)
        .by_log
        .iter()
        .filter(|((u, _), list)| u == uuid && list.iter().any(|w| w.watching))
        .map(|((_, name), _)| name.clone())
        .collect();
    for name in names {
        ask(state, uuid, &name);
    }
}

/// `log-tail/NAME` from worker `uuid`: the history starts every watcher still waiting.
pub(super) fn on_tail(state: &RepoState, uuid: &str, name: &str, history: Utf8Bytes) {
    let mut w = lock(&state.watchers);
    let Some(list) = w.by_log.get_mut(&(uuid.to_owned(), name.to_owned())) else {
        return;
    };
    for watcher in list.iter_mut().filter(|w| w.watching && !w.started) {
        watcher.started = true;
        let _ = watcher.out.send(history.clone());
    }
}

/// `log/NAME` from worker `uuid`: new lines for the started watchers. Returns whether
/// anyone still watches that log.
pub(super) fn on_lines(state: &RepoState, uuid: &str, name: &str, lines: Utf8Bytes) -> bool {
    let w = lock(&state.watchers);
    let Some(list) = w.by_log.get(&(uuid.to_owned(), name.to_owned())) else {
        return false;
    };
    for watcher in list.iter().filter(|w| w.started) {
        let _ = watcher.out.send(lines.clone());
    }
    list.iter().any(|w| w.watching)
}

/// `watch` for the repo's own log: sends the tail and subscribes to new lines.
async fn start_own(
    state: &RepoState,
    name: &str,
    tx: &mut futures_util::stream::SplitSink<Socket, Message>,
) -> Option<mpsc::Receiver<Arc<str>>> {
    let log = state.options.own_log.as_deref()?;
    // Subscribe first: a line logged in between shows twice rather than never.
    let lines = log.subscribe(name)?;
    let tail = log.tail(name).unwrap_or_default();
    tx.send(Message::text(tail)).await.ok()?;
    Some(lines)
}

async fn next_own(own: &mut Option<mpsc::Receiver<Arc<str>>>) -> Option<Arc<str>> {
    match own {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// `first` and every line already waiting behind it, each with its `\n`: lines that
/// arrive together go out in one frame.
pub(super) fn batch_lines(first: Arc<str>, rx: Option<&mut mpsc::Receiver<Arc<str>>>) -> String {
    let mut out = String::with_capacity(first.len() + 1);
    out.push_str(&first);
    out.push('\n');
    if let Some(rx) = rx {
        while let Ok(line) = rx.try_recv() {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// `ms` since the epoch as `YYYY-MM-DD HH:MM:SS.mmm`, the time format of upstream's log
/// lines. Upstream prints local time; this prints UTC, because reading the local zone
/// needs a time-zone dependency (and most containers run in UTC anyway).
pub fn log_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    format!(
        "{y:04}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02}.{:03}",
        ms % 1000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_time_formats_utc_with_milliseconds() {
        assert_eq!(log_time(0), "1970-01-01 00:00:00.000");
        // 2026-11-25 21:21:43.370 UTC, the spec's example line.
        assert_eq!(log_time(1_795_641_703_370), "2026-11-25 21:21:43.370");
        assert_eq!(log_time(951_782_400_001), "2000-02-29 00:00:00.001");
    }

    #[test]
    fn lines_arriving_together_form_one_batch() {
        let (tx, mut rx) = mpsc::channel(8);
        tx.try_send(Arc::from("b")).unwrap();
        tx.try_send(Arc::from("c")).unwrap();
        assert_eq!(batch_lines(Arc::from("a"), Some(&mut rx)), "a\nb\nc\n");
        assert_eq!(batch_lines(Arc::from("d"), None), "d\n");
    }

    #[test]
    fn tails_start_waiting_watchers_and_lines_follow() {
        let state = RepoState::new(crate::Repo::new(crate::SqliteStore::in_memory().unwrap()));
        let (out, mut got) = mpsc::unbounded_channel();
        let id = register(&state, "u1", "pipy_log", out);
        assert!(!on_lines(&state, "u1", "pipy_log", "early\n".into()));
        start(&state, "u1", "pipy_log", Some(id));
        // Lines before the tail are not shown; the tail starts the watcher.
        assert!(on_lines(&state, "u1", "pipy_log", "early\n".into()));
        on_tail(&state, "u1", "pipy_log", "old\n".into());
        assert!(on_lines(&state, "u1", "pipy_log", "new\n".into()));
        assert_eq!(got.try_recv().unwrap().as_str(), "old\n");
        assert_eq!(got.try_recv().unwrap().as_str(), "new\n");
        assert!(got.try_recv().is_err());
        assert_eq!(lock(&state.watchers).uuids().collect::<Vec<_>>(), ["u1"]);
        unregister(&state, "u1", "pipy_log", id);
        assert!(!on_lines(&state, "u1", "pipy_log", "gone\n".into()));
        assert_eq!(lock(&state.watchers).uuids().count(), 0);
    }
}
