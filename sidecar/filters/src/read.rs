//! `read(filename, { seek, size })`: outputs a file's content as Data.
//!
//! As upstream: at the stream's first event the file (a path, or a function
//! giving one; `-` for the standard input) is opened, read from `seek` for
//! `size` bytes (each a number or a function giving one; the whole file by
//! default) and output as Data followed by a `StreamEnd`. The input events are
//! consumed. Reading pauses while what it output is congested downstream, so
//! a big file sent to a slow client does not pile up in memory.

use crate::util::{js, Callback};
use bytes::Bytes;
use pipy_core::flow::Tap;
use pipy_core::{io, Data, Event, EventTarget, Filter, FilterTemplate, Output, StreamError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

/// Bytes read at a time.
const CHUNK: usize = 16 << 10;

/// Template of `read`.
pub struct ReadTemplate {
    filename: Callback,
    seek: Option<Callback>,
    size: Option<Callback>,
}

impl ReadTemplate {
    /// Reads `filename` from `seek`, at most `size` bytes.
    pub fn new(filename: Callback, seek: Option<Callback>, size: Option<Callback>) -> Self {
        Self {
            filename,
            seek,
            size,
        }
    }
}

impl FilterTemplate for ReadTemplate {
    fn name(&self) -> &'static str {
        "read"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Read {
            filename: self.filename.clone(),
            seek: self.seek.clone(),
            size: self.size.clone(),
            started: false,
        })
    }
}

struct Read {
    filename: Callback,
    seek: Option<Callback>,
    size: Option<Callback>,
    started: bool,
}

fn number(cb: &Option<Callback>, out: &Output<'_>) -> Option<Option<u64>> {
    let Some(cb) = cb else { return Some(None) };
    let v = cb.call(&[], out)?;
    if v.is_null_or_undefined() {
        return Some(None);
    }
    let n = js(|ctx| v.to_number(ctx)).unwrap_or(0.0);
    Some(Some(if n.is_finite() && n > 0.0 {
        n as u64
    } else {
        0
    }))
}

impl Filter for Read {
    fn process(&mut self, _evt: Event, out: &mut Output<'_>) {
        if self.started {
            return;
        }
        self.started = true;
        let Some(v) = self.filename.call(&[], out) else {
            return;
        };
        let Some(seek) = number(&self.seek, out) else {
            return;
        };
        let Some(size) = number(&self.size, out) else {
            return;
        };
        let Ok(name) = js(|ctx| v.to_string(ctx).map(|s| s.to_std_string_escaped())) else {
            return out.fail(StreamError::RuntimeError);
        };
        let reply = out.reply_target(0);
        // A worker with no port stays while the file is read.
        let busy = pipy_js::busy::Busy::begin();
        io::spawn(Box::pin(async move {
            stream_file(name, seek.unwrap_or(0), size, reply).await;
            drop(busy);
        }));
    }
}

async fn stream_file(name: String, seek: u64, size: Option<u64>, reply: EventTarget) {
    let source: std::io::Result<Box<dyn AsyncRead + Unpin>> = if name == "-" {
        Ok(Box::new(tokio::io::stdin()))
    } else {
        match tokio::fs::File::open(&name).await {
            Ok(mut f) => match f.seek(std::io::SeekFrom::Start(seek)).await {
                Ok(_) => Ok(Box::new(f)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    };
    let mut source = match source {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("read: unable to open file for reading: {name}: {e}");
            return reply.send(Event::StreamEnd(StreamError::ReadError));
        }
    };
    let tap = Tap::new();
    let mut left = size.unwrap_or(u64::MAX);
    while left > 0 {
        tap.opened().await;
        if reply.is_closed() {
            return;
        }
        let mut buf = vec![0u8; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK))];
        match source.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                left -= n as u64;
                let _entered = tap.enter();
                reply.send(Event::Data(Data::from(Bytes::from(buf))));
            }
            Err(e) => {
                tracing::error!("read: {name}: {e}");
                return reply.send(Event::StreamEnd(StreamError::ReadError));
            }
        }
    }
    let _entered = tap.enter();
    reply.send(Event::StreamEnd(StreamError::NoError));
}
