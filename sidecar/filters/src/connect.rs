//! `connect(target, options)`: sends the stream's data to a TCP peer and emits
//! what the peer sends back, ending with `StreamEnd` when the peer closes or the
//! connection fails.

use crate::util::Callback;
use bytes::BytesMut;
use pipy_core::{Data, Event, EventTarget, Filter, FilterTemplate, Output, StreamError};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Options of `connect`, as documented upstream (times in seconds in scripts).
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// Give up connecting after this long.
    pub connect_timeout: Option<Duration>,
    /// End the stream when nothing is read for this long.
    pub read_timeout: Option<Duration>,
    /// End the stream when nothing moves either way for this long.
    pub idle_timeout: Option<Duration>,
    /// Extra attempts after a failed connect (negative upstream = forever).
    pub retry_count: u32,
    /// Pause between attempts.
    pub retry_delay: Duration,
}

/// Template of `connect`.
pub struct ConnectTemplate {
    target: Callback,
    options: ConnectOptions,
}

impl ConnectTemplate {
    /// `connect(target, options)`: target is `host:port` or a function giving it.
    pub fn new(target: Callback, options: ConnectOptions) -> Self {
        Self { target, options }
    }
}

impl FilterTemplate for ConnectTemplate {
    fn name(&self) -> &'static str {
        "connect"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Connect {
            target: self.target.clone(),
            options: self.options.clone(),
            tx: None,
            ended: false,
        })
    }
}

enum Command {
    Data(Data),
    End,
}

struct Connect {
    target: Callback,
    options: ConnectOptions,
    tx: Option<mpsc::UnboundedSender<Command>>,
    ended: bool,
}

impl Connect {
    fn start(&mut self, out: &mut Output<'_>) {
        let target = self
            .target
            .eval(&[], out.context())
            .map(|v| v.display().to_string().trim_matches('"').to_string())
            .unwrap_or_default();
        let (tx, rx) = mpsc::unbounded_channel();
        self.tx = Some(tx);
        let reply = out.reply_target(0);
        if target.is_empty() {
            out.push(Event::StreamEnd(StreamError::CannotResolve));
            self.ended = true;
            return;
        }
        tokio::task::spawn_local(run(target, self.options.clone(), rx, reply));
    }
}

impl Filter for Connect {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.tx.is_none() {
            self.start(out);
        }
        let Some(tx) = &self.tx else { return };
        match evt {
            Event::Data(d) => {
                let _ = tx.send(Command::Data(d));
            }
            Event::StreamEnd(_) => {
                let _ = tx.send(Command::End);
            }
            _ => {}
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if evt.is_stream_end() {
            self.ended = true;
        }
        out.push(evt);
    }
}

fn classify(e: &io::Error) -> StreamError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => StreamError::ConnectionRefused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => StreamError::ConnectionReset,
        io::ErrorKind::TimedOut => StreamError::ConnectionTimeout,
        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput => StreamError::CannotResolve,
        _ => {
            if e.to_string().contains("lookup") || e.to_string().contains("resolve") {
                StreamError::CannotResolve
            } else {
                StreamError::ConnectionRefused
            }
        }
    }
}

async fn open(target: &str, o: &ConnectOptions) -> Result<TcpStream, StreamError> {
    let mut attempt = 0;
    loop {
        let r = match o.connect_timeout {
            Some(t) => match tokio::time::timeout(t, TcpStream::connect(target)).await {
                Ok(r) => r.map_err(|e| classify(&e)),
                Err(_) => Err(StreamError::ConnectionTimeout),
            },
            None => TcpStream::connect(target).await.map_err(|e| classify(&e)),
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) if attempt >= o.retry_count => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(o.retry_delay).await;
            }
        }
    }
}

/// Writes a batch of data in as few system calls as is cheap.
async fn write_data(w: &mut tokio::net::tcp::WriteHalf<'_>, d: Data) -> io::Result<()> {
    let n = d.chunks().count();
    if n > 1 && d.len() <= 64 * 1024 {
        w.write_all(&d.to_bytes()).await
    } else {
        for c in d.chunks() {
            w.write_all(c).await?;
        }
        Ok(())
    }
}

async fn run(
    target: String,
    o: ConnectOptions,
    mut rx: mpsc::UnboundedReceiver<Command>,
    reply: EventTarget,
) {
    let mut stream = match open(&target, &o).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("connect {target}: {e:?}");
            reply.send(Event::StreamEnd(e));
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut r, mut w) = stream.split();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut writing = true;
    let timeout = o.idle_timeout.or(o.read_timeout);
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let idle = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            cmd = rx.recv(), if writing => match cmd {
                Some(Command::Data(mut d)) => {
                    // Batch whatever else is already queued.
                    let mut end = false;
                    while let Ok(c) = rx.try_recv() {
                        match c {
                            Command::Data(more) => d.push(more),
                            Command::End => { end = true; break; }
                        }
                    }
                    if let Err(e) = write_data(&mut w, d).await {
                        reply.send(Event::StreamEnd(if e.kind() == io::ErrorKind::BrokenPipe { StreamError::ConnectionReset } else { StreamError::WriteError }));
                        return;
                    }
                    if end {
                        let _ = w.shutdown().await;
                        writing = false;
                    }
                }
                Some(Command::End) => {
                    let _ = w.shutdown().await;
                    writing = false;
                }
                // The filter is gone: nobody wants this connection any more.
                None => return,
            },
            n = r.read_buf(&mut buf) => match n {
                Ok(0) => {
                    reply.send(Event::StreamEnd(StreamError::NoError));
                    return;
                }
                Ok(_) => {
                    let chunk = buf.split().freeze();
                    reply.send(Event::Data(chunk.into()));
                    if reply.is_closed() {
                        return;
                    }
                }
                Err(e) => {
                    reply.send(Event::StreamEnd(match e.kind() {
                        io::ErrorKind::ConnectionReset => StreamError::ConnectionReset,
                        _ => StreamError::ReadError,
                    }));
                    return;
                }
            },
            _ = idle => {
                let err = if o.idle_timeout.is_some() { StreamError::IdleTimeout } else { StreamError::ReadTimeout };
                reply.send(Event::StreamEnd(err));
                return;
            }
        }
    }
}
