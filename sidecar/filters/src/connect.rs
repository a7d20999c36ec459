//! `connect(target, options)`: sends the stream's data to a TCP peer and emits
//! what the peer sends back, ending with `StreamEnd` when the peer closes or the
//! connection fails.

use crate::util::Callback;
use pipy_core::{Data, Event, EventTarget, Filter, FilterTemplate, Outbox, Output, StreamError};
use pipy_metrics::live::{Handle, Kind, Registry};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
            outbox: None,
            ended: false,
        })
    }
}

struct Connect {
    target: Callback,
    options: ConnectOptions,
    /// What goes to the peer; read by the connection task.
    outbox: Option<Rc<Outbox>>,
    ended: bool,
}

impl Drop for Connect {
    fn drop(&mut self) {
        // Nobody wants this connection any more.
        if let Some(o) = &self.outbox {
            o.abandon();
        }
    }
}

impl Connect {
    fn start(&mut self, out: &mut Output<'_>) {
        // A target function that throws ends the stream (`Callback::call`).
        let Some(target) = self.target.call(&[], out) else {
            self.ended = true;
            return;
        };
        let target = target.display().to_string().trim_matches('"').to_string();
        let outbox = Outbox::new();
        self.outbox = Some(outbox.clone());
        let reply = out.reply_target(0);
        if target.is_empty() {
            out.push(Event::StreamEnd(StreamError::CannotResolve));
            self.ended = true;
            return;
        }
        tokio::task::spawn_local(run(target, self.options.clone(), outbox, reply));
    }
}

impl Filter for Connect {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.outbox.is_none() {
            // A stream that ends before its first byte (a callback in front threw)
            // opens no connection.
            if let Event::StreamEnd(err) = evt {
                self.ended = true;
                out.push(Event::StreamEnd(err));
                return;
            }
            self.start(out);
        }
        if let Some(o) = &self.outbox {
            o.push(evt);
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

/// The `pipy_outbound_*` metrics of one peer, on this thread.
pub struct OutboundStats {
    count: Handle,
    bytes_in: Handle,
    bytes_out: Handle,
    conn_time: Handle,
}

/// Most peers remembered per thread before the cache starts over.
const PEER_CACHE_LIMIT: usize = 4096;

impl OutboundStats {
    fn roots() -> &'static OutboundStats {
        static ROOTS: OnceLock<OutboundStats> = OnceLock::new();
        ROOTS.get_or_init(|| {
            let reg = Registry::global();
            // Upstream's buckets (ms): 1, 2, 3, 5, 7, 11, … growing by half,
            // twenty of them, then infinity.
            let mut buckets = Vec::with_capacity(21);
            let mut limit: f64 = 1.5;
            for _ in 0..20 {
                buckets.push(limit.floor());
                limit *= 1.5;
            }
            buckets.push(f64::INFINITY);
            OutboundStats {
                count: reg.metric("pipy_outbound_count", Kind::Gauge, &["peer"]),
                bytes_in: reg.metric("pipy_outbound_in", Kind::Counter, &["peer"]),
                bytes_out: reg.metric("pipy_outbound_out", Kind::Counter, &["peer"]),
                conn_time: reg.metric(
                    "pipy_outbound_conn_time",
                    Kind::Histogram(buckets),
                    &["peer"],
                ),
            }
        })
    }

    /// Defines the outbound metrics in the process registry.
    pub fn register() {
        Self::roots();
    }

    /// The series of `target` (`host:port`, labelled `[host]:port` as upstream).
    fn of(target: &str) -> Rc<OutboundStats> {
        thread_local! {
            static PEERS: RefCell<HashMap<String, Rc<OutboundStats>>> = RefCell::new(HashMap::new());
        }
        PEERS.with(|peers| {
            let mut peers = peers.borrow_mut();
            if let Some(p) = peers.get(target) {
                return p.clone();
            }
            if peers.len() >= PEER_CACHE_LIMIT {
                peers.clear();
            }
            let label = match target.rsplit_once(':') {
                Some((host, port)) if !host.starts_with('[') => format!("[{host}]:{port}"),
                _ => target.to_owned(),
            };
            let r = Self::roots();
            let sub = |h: &Handle| h.with_labels(&[&label]).unwrap_or_else(|| h.clone());
            let p = Rc::new(OutboundStats {
                count: sub(&r.count),
                bytes_in: sub(&r.bytes_in),
                bytes_out: sub(&r.bytes_out),
                conn_time: sub(&r.conn_time),
            });
            peers.insert(target.to_owned(), p.clone());
            p
        })
    }
}

/// Counts a connection as open until dropped.
struct Open(Rc<OutboundStats>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.count.dec_by(1);
    }
}

async fn run(target: String, o: ConnectOptions, outbox: Rc<Outbox>, reply: EventTarget) {
    let stats = OutboundStats::of(&target);
    stats.count.inc_by(1);
    let _open = Open(stats.clone());
    let started = Instant::now();
    let mut stream = match open(&target, &o).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("connect {target}: {e:?}");
            reply.send(Event::StreamEnd(e));
            return;
        }
    };
    stats
        .conn_time
        .observe(started.elapsed().as_secs_f64() * 1000.0);
    let _ = stream.set_nodelay(true);
    let (mut r, mut w) = stream.split();
    let mut buf = pipy_core::ReadBuffer::new();
    let mut writing = true;
    let timeout = o.idle_timeout.or(o.read_timeout);
    loop {
        let idle = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = outbox.ready(), if writing => {
                let batch = outbox.take();
                if batch.abandoned {
                    return;
                }
                if !batch.data.is_empty() {
                    stats.bytes_out.inc_by(batch.data.len() as u64);
                    if let Err(e) = write_data(&mut w, &batch.data).await {
                        reply.send(Event::StreamEnd(if e.kind() == io::ErrorKind::BrokenPipe { StreamError::ConnectionReset } else { StreamError::WriteError }));
                        return;
                    }
                }
                if batch.end.is_some() {
                    let _ = w.shutdown().await;
                    writing = false;
                }
            },
            n = r.read_buf(buf.prepare()) => match n {
                Ok(0) => {
                    reply.send(Event::StreamEnd(StreamError::NoError));
                    return;
                }
                Ok(read) => {
                    stats.bytes_in.inc_by(read as u64);
                    let chunk = buf.take(read);
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

/// Writes queued bytes: one system call for small batches (head and body
/// copied together), chunk by chunk for big bodies (no copy of their bytes).
pub async fn write_data<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, d: &Data) -> io::Result<()> {
    if d.len() <= 64 * 1024 && d.chunks().nth(1).is_some() {
        w.write_all(&d.to_bytes()).await
    } else {
        for c in d.chunks() {
            w.write_all(c).await?;
        }
        Ok(())
    }
}
