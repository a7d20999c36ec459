//! A logger's `toHTTP(url, options)`: log lines posted to a collector in
//! batches, on the worker's own `muxHTTP` and `connect` (an `http.Agent`
//! pipeline, so the connection is kept alive and TLS works as `connectTLS`).
//!
//! As upstream: a batch goes out once `batch.size` lines (1000) are in, or
//! when `batch.interval` (5 s) passed since the last batch, or no line came
//! for `batch.timeout` (5 s); its body is `prefix`, the lines joined by
//! `separator`, then `postfix` (nothing by default); `method` (POST) and
//! `headers` make the request, with `host` from the URL unless given. A
//! collector that cannot be reached gets the batch again 5 s later.
//!
//! Memory stays bounded: at most `bufferLimit` bytes of lines (8 MiB) wait,
//! in flight included; while the collector is down or slow, lines past that
//! are left out and counted in a warning. Unlike upstream (which waits
//! forever), a collector that answers nothing for 30 s fails the batch, so
//! it is sent again rather than stalling the log.

use crate::http_agent::{agent_layout, exchange, target_of};
use crate::options::Options;
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue};
use bytes::Bytes;
use pipy_core::{Data, Layout, RequestHead};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Upstream's defaults.
const DEFAULT_BATCH_SIZE: usize = 1000;
const DEFAULT_BUFFER_LIMIT: u64 = 8 << 20;
/// How long after a failed post the batch goes again (upstream's connect retry).
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// The timer's precision: batches due by time are looked for this often.
const TICK: Duration = Duration::from_secs(1);

/// One `toHTTP` target of one logger.
pub(crate) struct HttpTarget {
    state: Rc<RefCell<State>>,
}

struct State {
    layout: Layout,
    head: RequestHead,
    batch_size: usize,
    timeout: Option<Duration>,
    interval: Option<Duration>,
    prefix: Bytes,
    separator: Bytes,
    postfix: Bytes,
    limit: usize,
    /// Lines not yet posted, oldest first.
    queue: VecDeque<Bytes>,
    /// Bytes of lines waiting or in flight.
    held: usize,
    /// The batch being posted.
    in_flight: Option<Vec<Bytes>>,
    retry_pending: bool,
    timer_armed: bool,
    last_input: Instant,
    /// None before the first batch: as upstream, the first line goes at once.
    last_flush: Option<Instant>,
    dropped: u64,
    failing: bool,
    /// The worker is stopping: post everything now, and drop what fails.
    closing: bool,
}

thread_local! {
    /// This thread's targets, for the flush as the worker stops.
    static TARGETS: RefCell<Vec<std::rc::Weak<RefCell<State>>>> = const { RefCell::new(Vec::new()) };
}

/// Posts everything this thread's targets hold, without waiting for batches
/// to fill; what fails now is dropped (the worker is stopping).
pub(crate) fn flush_http() {
    let live: Vec<_> = TARGETS.with(|t| t.borrow().iter().filter_map(|w| w.upgrade()).collect());
    for state in live {
        state.borrow_mut().closing = true;
        flush(&state);
    }
}

/// Lines this thread's targets hold, posted or not yet.
pub(crate) fn unsent() -> usize {
    TARGETS.with(|t| {
        t.borrow()
            .iter()
            .filter_map(|w| w.upgrade())
            .map(|s| {
                let s = s.borrow();
                s.queue.len() + s.in_flight.as_ref().map_or(0, Vec::len)
            })
            .sum()
    })
}

/// `scheme://authority/path?query` taken apart: (tls, authority, path).
fn split_url(url: &str) -> Option<(bool, &str, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    // `user@host`: the user is not part of the host.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // The fragment stays with the client; the target starts with `/`.
    let target = target.split_once('#').map_or(target, |(t, _)| t);
    let target = match target.strip_prefix('/') {
        Some(_) => target.to_owned(),
        None => format!("/{target}"),
    };
    (!authority.is_empty()).then_some((tls, authority, target))
}

fn type_error(msg: String) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg).into()
}

impl HttpTarget {
    /// Reads `toHTTP(url, options)`.
    pub(crate) fn new(url: &JsValue, options: &JsValue, ctx: &mut Context) -> JsResult<Self> {
        let url = url.to_string(ctx)?.to_std_string_escaped();
        let (tls, authority, path) = split_url(&url)
            .ok_or_else(|| type_error(format!("toHTTP(): not an http or https URL: {url}")))?;
        let mut opts = Options::new("toHTTP", options, ctx)?;
        let method = match opts.get("method", ctx)? {
            v if v.is_null_or_undefined() => "POST".to_owned(),
            v => v.to_string(ctx)?.to_std_string_escaped(),
        };
        let mut head = RequestHead {
            method,
            path,
            ..Default::default()
        };
        if let Some(h) = opts.get("headers", ctx)?.as_object() {
            head.headers = pipy_js::api::head::headers_from_object(&h, ctx)?;
        }
        if head.headers.get("host").is_none() {
            head.headers.set("host", Bytes::from(authority.to_owned()));
        }
        let limit = opts
            .size("bufferLimit", ctx)?
            .unwrap_or(DEFAULT_BUFFER_LIMIT);
        let batch_v = opts.get("batch", ctx)?;
        let mut batch = Options::new("toHTTP", &batch_v, ctx)?;
        // As upstream's: a size under 1 posts every line alone.
        let batch_size = match batch.number("size", ctx)? {
            Some(n) if n >= 1.0 => n as usize,
            Some(_) => 1,
            None => DEFAULT_BATCH_SIZE,
        };
        let pack = crate::config::pack_options(&mut batch, ctx)?;
        batch.finish(ctx)?;
        let tls_v = opts.get("tls", ctx)?;
        opts.finish(ctx)?;
        let tls_v = match (tls, tls_v.is_object()) {
            (_, true) => tls_v,
            (true, false) => boa_engine::object::ObjectInitializer::new(ctx)
                .build()
                .into(),
            (false, false) => JsValue::undefined(),
        };
        // A silent collector fails the batch instead of holding it forever.
        let conn = boa_engine::object::ObjectInitializer::new(ctx).build();
        conn.set(js_string!("connectTimeout"), 5, false, ctx)?;
        conn.set(js_string!("readTimeout"), 30, false, ctx)?;
        let layout = agent_layout(&target_of(authority, tls), conn.into(), tls_v, ctx)?;
        let now = Instant::now();
        let text = |b: Option<Bytes>| b.unwrap_or_default();
        let target = Self {
            state: Rc::new(RefCell::new(State {
                layout,
                head,
                batch_size,
                timeout: pack.timeout.filter(|d| !d.is_zero()),
                interval: pack.interval.filter(|d| !d.is_zero()),
                prefix: text(pack.prefix),
                separator: text(pack.separator),
                postfix: text(pack.postfix),
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
                queue: VecDeque::new(),
                held: 0,
                in_flight: None,
                retry_pending: false,
                timer_armed: false,
                last_input: now,
                last_flush: None,
                dropped: 0,
                failing: false,
                closing: false,
            })),
        };
        TARGETS.with(|t| {
            let mut t = t.borrow_mut();
            t.retain(|w| w.strong_count() > 0);
            t.push(Rc::downgrade(&target.state));
        });
        Ok(target)
    }

    /// Queues a line (without `\n`); never blocks.
    pub(crate) fn write(&self, line: Bytes) {
        let due = {
            let mut s = self.state.borrow_mut();
            if s.held + line.len() > s.limit {
                s.dropped += 1;
                if s.dropped % 1000 == 1 {
                    tracing::warn!(
                        "logging: {} is behind; {} lines left out so far",
                        s.head.path,
                        s.dropped
                    );
                }
                return;
            }
            s.held += line.len();
            s.queue.push_back(line);
            let now = Instant::now();
            s.last_input = now;
            // With neither a timeout nor an interval, nothing waits.
            let untimed = s.timeout.is_none() && s.interval.is_none();
            s.queue.len() >= s.batch_size || s.interval_passed(now) || untimed
        };
        if due {
            flush(&self.state);
        } else {
            arm_timer(&self.state);
        }
    }
}

impl Drop for HttpTarget {
    /// A logger that goes (a reload replaced its script) posts what it still
    /// holds, once.
    fn drop(&mut self) {
        let s = self.state.borrow();
        if s.queue.is_empty() {
            return;
        }
        let lines: Vec<Bytes> = s.queue.iter().cloned().collect();
        exchange(
            &s.layout,
            s.head.clone(),
            s.body(&lines),
            true,
            Box::new(|_, _, _, _| {}),
        );
    }
}

impl State {
    fn interval_passed(&self, now: Instant) -> bool {
        match (self.interval, self.last_flush) {
            (Some(i), Some(last)) => now - last >= i,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    fn body(&self, lines: &[Bytes]) -> Data {
        let mut body = Data::new();
        if !self.prefix.is_empty() {
            body.push_bytes(self.prefix.clone());
        }
        for (i, line) in lines.iter().enumerate() {
            if i > 0 && !self.separator.is_empty() {
                body.push_bytes(self.separator.clone());
            }
            body.push_bytes(line.clone());
        }
        if !self.postfix.is_empty() {
            body.push_bytes(self.postfix.clone());
        }
        body
    }
}

/// Posts the next batch, unless one is in flight or waiting to be retried.
fn flush(state: &Rc<RefCell<State>>) {
    let (layout, head, body) = {
        let mut s = state.borrow_mut();
        if s.in_flight.is_some() || (s.retry_pending && !s.closing) || s.queue.is_empty() {
            return;
        }
        let n = s.queue.len().min(s.batch_size);
        let lines: Vec<Bytes> = s.queue.drain(..n).collect();
        let body = s.body(&lines);
        s.in_flight = Some(lines);
        s.last_flush = Some(Instant::now());
        (s.layout.clone(), s.head.clone(), body)
    };
    let weak = Rc::downgrade(state);
    exchange(
        &layout,
        head,
        body,
        true,
        Box::new(move |head, _, _, _| {
            if let Some(state) = weak.upgrade() {
                posted(&state, head.is_some());
            }
        }),
    );
}

/// The answer to a post: a response (its head, whatever follows) delivers
/// the batch, as upstream, which reads none; no response puts it back for a
/// retry, or drops it when the worker is stopping.
fn posted(state: &Rc<RefCell<State>>, answered: bool) {
    let retry = {
        let mut s = state.borrow_mut();
        let Some(lines) = s.in_flight.take() else {
            return;
        };
        if answered || s.closing {
            s.held -= lines.iter().map(Bytes::len).sum::<usize>();
            if !answered {
                tracing::warn!(
                    "logging: {} lines for {} lost as the worker stops",
                    lines.len(),
                    s.head.path
                );
            } else if s.failing {
                tracing::info!("logging: {} reachable again", s.head.path);
                s.failing = false;
            }
            false
        } else {
            if !s.failing {
                tracing::warn!(
                    "logging: posting to {} failed; trying again every {} s",
                    s.head.path,
                    RETRY_DELAY.as_secs()
                );
                s.failing = true;
            }
            for line in lines.into_iter().rev() {
                s.queue.push_front(line);
            }
            s.retry_pending = true;
            true
        }
    };
    if retry {
        let weak = Rc::downgrade(state);
        pipy_core::io::after_background(
            RETRY_DELAY,
            Box::new(move || {
                if let Some(state) = weak.upgrade() {
                    state.borrow_mut().retry_pending = false;
                    flush(&state);
                }
            }),
        );
        return;
    }
    let now = {
        let s = state.borrow();
        s.closing || s.queue.len() >= s.batch_size
    };
    if now {
        flush(state);
    } else {
        arm_timer(state);
    }
}

/// Looks again, every [`TICK`] while lines wait, for a batch due by time.
fn arm_timer(state: &Rc<RefCell<State>>) {
    let tick = {
        let mut s = state.borrow_mut();
        if s.timer_armed || s.queue.is_empty() {
            return;
        }
        let shortest = [s.timeout, s.interval].into_iter().flatten().min();
        let Some(shortest) = shortest else {
            return;
        };
        s.timer_armed = true;
        shortest.min(TICK)
    };
    let weak = Rc::downgrade(state);
    pipy_core::io::after_background(
        tick,
        Box::new(move || {
            let Some(state) = weak.upgrade() else {
                return;
            };
            let due = {
                let mut s = state.borrow_mut();
                s.timer_armed = false;
                let now = Instant::now();
                s.timeout.is_some_and(|t| now - s.last_input >= t) || s.interval_passed(now)
            };
            if due {
                flush(&state);
            }
            arm_timer(&state);
        }),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        use super::split_url;
        let s = |u: &str| split_url(u).map(|(t, a, p)| (t, a.to_owned(), p));
        let ok = |t: bool, a: &str, p: &str| Some((t, a.to_owned(), p.to_owned()));
        assert_eq!(
            s("http://127.0.0.1:9/log?a=1"),
            ok(false, "127.0.0.1:9", "/log?a=1")
        );
        assert_eq!(s("https://collector"), ok(true, "collector", "/"));
        assert_eq!(s("http://h?q=1"), ok(false, "h", "/?q=1"));
        assert_eq!(s("http://user:pw@h:8/x#frag"), ok(false, "h:8", "/x"));
        assert_eq!(s("ftp://x/"), None);
        assert_eq!(s("http:///x"), None);
        assert_eq!(s("collector:80/x"), None);
    }
}
