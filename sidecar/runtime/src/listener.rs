//! Listening sockets and inbound connections.

use crate::config::Listen;
use pipy_core::{Context, Event, EventTarget, Inbound, Layout, Outbox, Pipeline, StreamError};
use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Binds a listening socket that other workers can bind too (SO_REUSEPORT).
pub(crate) fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// Accepts connections until shutdown or `stop`, running each through the
/// layout `spec` holds at accept time (a reload swaps it).
pub(crate) async fn serve(
    listener: std::net::TcpListener,
    spec: Rc<RefCell<Listen>>,
    active: Rc<Cell<usize>>,
    mut shutdown: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen: {e}");
            return;
        }
    };
    let stats = crate::stats::ListenerStats::new(spec.borrow().addr);
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, remote)) => {
                    let (layout, idle) = {
                        let spec = spec.borrow();
                        (spec.layout.clone(), spec.idle_timeout)
                    };
                    let active = active.clone();
                    active.set(active.get() + 1);
                    let stats = stats.peer(remote.ip());
                    stats.count.inc_by(1);
                    tokio::task::spawn_local(async move {
                        if let Err(e) = connection(stream, remote, layout, idle, &stats).await {
                            tracing::debug!("connection from {remote}: {e}");
                        }
                        stats.count.dec_by(1);
                        active.set(active.get() - 1);
                    });
                }
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            _ = shutdown.changed() => break,
            _ = stop.changed() => break,
        }
    }
}

/// Runs one inbound connection through a pipeline until either side ends it.
async fn connection(
    mut stream: TcpStream,
    remote: SocketAddr,
    layout: Layout,
    idle_timeout: Option<Duration>,
    stats: &crate::stats::PeerStats,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr()?;
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ctx = Context::new(Some(Inbound { id, remote, local }));
    let outbox = Outbox::new();
    let sink = outbox.clone();
    let pipeline = Pipeline::new(
        &layout,
        ctx,
        EventTarget::Func(Rc::new(move |e| sink.push(e))),
    );
    let (mut r, mut w) = stream.split();
    let mut buf = pipy_core::ReadBuffer::new();
    let mut reading = true;
    let idle_for = idle_timeout.unwrap_or(Duration::from_secs(u64::from(u32::MAX)));
    let idle = tokio::time::sleep(idle_for);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            _ = &mut idle => {
                pipeline.input(Event::StreamEnd(StreamError::IdleTimeout));
                return Ok(());
            }
            n = r.read_buf(buf.prepare()), if reading => match n {
                Ok(0) => {
                    reading = false;
                    pipeline.input(Event::StreamEnd(StreamError::NoError));
                }
                Ok(n) => {
                    stats.bytes_in.inc_by(n as u64);
                    if idle_timeout.is_some() {
                        idle.as_mut().reset(tokio::time::Instant::now() + idle_for);
                    }
                    pipeline.input(Event::Data(buf.take(n).into()))
                }
                Err(e) => {
                    pipeline.input(Event::StreamEnd(StreamError::ReadError));
                    return Err(e);
                }
            },
            _ = outbox.ready() => {
                let batch = outbox.take();
                if !batch.data.is_empty() {
                    if idle_timeout.is_some() {
                        idle.as_mut().reset(tokio::time::Instant::now() + idle_for);
                    }
                    stats.bytes_out.inc_by(batch.data.len() as u64);
                    pipy_filters::connect::write_data(&mut w, &batch.data).await?;
                }
                if batch.end.is_some() {
                    let _ = w.shutdown().await;
                    if reading {
                        // The pipeline ended the connection: let its filters see
                        // the end too (handleStreamEnd, onEnd).
                        pipeline.input(Event::StreamEnd(StreamError::NoError));
                    }
                    return Ok(());
                }
            }
        }
    }
}
