//! `pack(batchSize, { timeout, interval, prefix, postfix, separator, vacancy })`:
//! combines Messages into one.
//!
//! As upstream: the combined message takes the head of its first message and
//! the tail of its last; `prefix`, `separator` and `postfix` (text) go
//! before, between and after the bodies. A batch goes out when `batchSize`
//! messages are in, when `interval` has passed since the last batch (checked
//! as a message ends), when no message came for `timeout` (checked at most
//! every second), and at the end of the stream. `vacancy` tunes upstream's
//! chunk defragmentation, which a rope of shared chunks does not need: it is
//! accepted and has no effect.

use pipy_core::io;
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output, StreamError};
use std::time::{Duration, Instant};

/// Options of `pack`.
#[derive(Clone, Debug)]
pub struct PackOptions {
    /// Flush a complete batch when no message came for this long.
    pub timeout: Option<Duration>,
    /// Flush, as a message ends, when this long passed since the last batch.
    pub interval: Option<Duration>,
    /// Text before the first body.
    pub prefix: Option<bytes::Bytes>,
    /// Text after the last body.
    pub postfix: Option<bytes::Bytes>,
    /// Text between bodies.
    pub separator: Option<bytes::Bytes>,
    /// Most bytes a batch may hold; more ends the stream (`BufferOverflow`).
    pub limit: usize,
}

impl Default for PackOptions {
    fn default() -> Self {
        // Upstream's defaults: 5 s for both.
        Self {
            timeout: Some(Duration::from_secs(5)),
            interval: Some(Duration::from_secs(5)),
            prefix: None,
            postfix: None,
            separator: None,
            limit: crate::handle::DEFAULT_BODY_LIMIT,
        }
    }
}

/// Template of `pack`.
pub struct PackTemplate {
    batch_size: usize,
    options: PackOptions,
}

impl PackTemplate {
    /// Packs `batch_size` messages into one.
    pub fn new(batch_size: usize, options: PackOptions) -> Self {
        Self {
            batch_size,
            options,
        }
    }
}

impl FilterTemplate for PackTemplate {
    fn name(&self) -> &'static str {
        "pack"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Pack {
            batch_size: self.batch_size,
            options: self.options.clone(),
            head: None,
            buffer: Data::new(),
            starts: 0,
            ends: 0,
            last_input: Instant::now(),
            last_flush: None,
            timer: false,
            ended: false,
        })
    }
}

struct Pack {
    batch_size: usize,
    options: PackOptions,
    head: Option<Head>,
    buffer: Data,
    starts: usize,
    ends: usize,
    last_input: Instant,
    /// `None` until the first batch: upstream counts the interval from the
    /// epoch then, so the first complete message always goes out alone.
    last_flush: Option<Instant>,
    timer: bool,
    ended: bool,
}

const TICK: u64 = 1;

impl Pack {
    fn flush(&mut self, end: Head, out: &mut Output<'_>) {
        if let Some(p) = &self.options.postfix {
            self.buffer.push_bytes(p.clone());
        }
        out.push(Event::MessageStart(self.head.take().unwrap_or_default()));
        let body = std::mem::take(&mut self.buffer);
        if !body.is_empty() {
            out.push(Event::Data(body));
        }
        out.push(Event::MessageEnd(end));
        self.starts = 0;
        self.ends = 0;
        self.last_flush = Some(Instant::now());
    }

    fn schedule(&mut self, out: &Output<'_>) {
        if self.timer || self.ended {
            return;
        }
        if let Some(t) = self.options.timeout.filter(|t| !t.is_zero()) {
            self.timer = true;
            let reply = out.reply_target(TICK);
            io::after(
                t.min(Duration::from_secs(1)),
                Box::new(move || reply.send(Event::Data(Data::new()))),
            );
        }
    }

    fn complete(&self) -> bool {
        self.ends > 0 && self.starts == self.ends
    }
}

impl Filter for Pack {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.schedule(out);
        match evt {
            Event::MessageStart(h) => {
                if self.starts == 0 {
                    self.head = Some(h);
                    self.buffer = Data::new();
                    if let Some(p) = &self.options.prefix {
                        self.buffer.push_bytes(p.clone());
                    }
                } else if let Some(s) = &self.options.separator {
                    self.buffer.push_bytes(s.clone());
                }
                self.starts += 1;
            }
            Event::Data(d) => {
                if self.starts > 0 {
                    if self.buffer.len() + d.len() > self.options.limit {
                        tracing::error!(
                            "pack: a batch over {} bytes: the stream ends",
                            self.options.limit
                        );
                        self.buffer = Data::new();
                        out.fail(StreamError::BufferOverflow);
                        return;
                    }
                    self.buffer.push(d);
                }
            }
            Event::MessageEnd(t) => {
                self.ends += 1;
                self.last_input = Instant::now();
                let due = self
                    .options
                    .interval
                    .filter(|i| !i.is_zero())
                    .is_some_and(|i| self.last_flush.is_none_or(|f| self.last_input - f >= i));
                if (self.starts == self.ends && self.ends >= self.batch_size) || due {
                    self.flush(t, out);
                }
            }
            Event::StreamEnd(e) => {
                self.ended = true;
                if self.complete() {
                    self.flush(Head::None, out);
                }
                out.push(Event::StreamEnd(e));
            }
        }
    }

    fn on_reply(&mut self, key: u64, _evt: Event, out: &mut Output<'_>) {
        if key != TICK {
            return;
        }
        self.timer = false;
        if let Some(t) = self.options.timeout {
            if self.complete() && self.last_input.elapsed() >= t {
                self.flush(Head::None, out);
            }
        }
        self.schedule(out);
    }
}
