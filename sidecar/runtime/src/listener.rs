//! Listening sockets and inbound connections.

use crate::config::Listen;
use crate::socket::{Side, Traffic};
use pipy_core::io::SocketOptions;
use pipy_core::{Context, EventTarget, Inbound, Layout, Outbox, Pipeline};
use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Binds a listening socket that other workers can bind too (SO_REUSEPORT).
pub(crate) fn bind(
    addr: SocketAddr,
    reuse_port: bool,
    transparent: bool,
) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    if transparent {
        // Needed to accept TPROXY'd connections; REDIRECT'd ones work without
        // it, so lacking the privilege is only a warning.
        let r = if addr.is_ipv4() {
            sock.set_ip_transparent_v4(true)
        } else {
            sock.set_ip_transparent_v6(true)
        };
        if let Err(e) = r {
            tracing::warn!(target: "listener", "[listener] transparent mode on port {}: {e}", addr.port());
        }
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// Accepts connections until shutdown or `stop`, running each through the
/// layout `spec` holds at accept time (a reload swaps it). At
/// `maxConnections` open connections, accepting pauses until one closes.
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
    let open_here = Rc::new(Cell::new(0usize));
    let room = Rc::new(tokio::sync::Notify::new());
    loop {
        let max = spec.borrow().max_connections;
        if max.is_some_and(|m| open_here.get() >= m) {
            tokio::select! {
                _ = room.notified() => continue,
                _ = shutdown.changed() => break,
                _ = stop.changed() => break,
            }
        }
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, remote)) => {
                    let (layout, options, transparent, peer_stats) = {
                        let spec = spec.borrow();
                        (spec.layout.clone(), spec.options.clone(), spec.transparent, spec.peer_stats)
                    };
                    let destination = if transparent { original_destination(&stream) } else { None };
                    let active = active.clone();
                    active.set(active.get() + 1);
                    open_here.set(open_here.get() + 1);
                    let (open_here, room) = (open_here.clone(), room.clone());
                    let drain = shutdown.clone();
                    let stats = if peer_stats { stats.peer(remote.ip()) } else { stats.listen_level() };
                    stats.count.inc_by(1);
                    tokio::task::spawn_local(async move {
                        if let Err(e) = connection(stream, (remote, destination), layout, &options, drain, &stats).await {
                            tracing::debug!("connection from {remote}: {e}");
                        }
                        stats.count.dec_by(1);
                        active.set(active.get() - 1);
                        open_here.set(open_here.get() - 1);
                        room.notify_one();
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

/// Where a connection redirected by a NAT rule was going (`SO_ORIGINAL_DST`).
fn original_destination(stream: &TcpStream) -> Option<SocketAddr> {
    let sock = socket2::SockRef::from(stream);
    let dst = match stream.local_addr().ok()? {
        SocketAddr::V4(_) => sock.original_dst_v4(),
        SocketAddr::V6(_) => sock.original_dst_v6(),
    };
    dst.ok()?.as_socket()
}

thread_local! {
    /// This thread's open inbound connections, by id (`pipy.inbound`).
    static OPEN: std::cell::RefCell<std::collections::BTreeMap<u64, std::rc::Weak<Context>>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

/// Keeps a connection in [`OPEN`] while it lives.
struct Open(u64);

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.with(|o| o.borrow_mut().remove(&self.0));
    }
}

/// The contexts of this thread's open inbound connections, oldest first.
pub(crate) fn open_connections() -> Vec<Rc<Context>> {
    OPEN.with(|o| {
        o.borrow()
            .values()
            .filter_map(std::rc::Weak::upgrade)
            .collect()
    })
}

/// Runs one inbound connection through a pipeline until either side ends it.
async fn connection(
    stream: TcpStream,
    (remote, destination): (SocketAddr, Option<SocketAddr>),
    layout: Layout,
    options: &SocketOptions,
    drain: watch::Receiver<bool>,
    stats: &crate::stats::PeerStats,
) -> io::Result<()> {
    crate::socket::configure(&stream, options);
    let local = stream.local_addr()?;
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ctx = Context::new(Some(Inbound {
        id,
        remote,
        local,
        destination,
    }));
    OPEN.with(|o| o.borrow_mut().insert(id, Rc::downgrade(&ctx)));
    let _open = Open(id);
    let outbox = Outbox::with_limits(options.limits);
    let sink = outbox.clone();
    let pipeline = Pipeline::new(
        &layout,
        ctx.clone(),
        EventTarget::Func(Rc::new(move |e| sink.push(e))),
    );
    pipeline.set_start_value(Rc::new(pipy_filters::branch::InboundStart));
    // As upstream, the stream starts as the connection is accepted: what
    // `onStart` gives goes out before the client says anything (a server's
    // greeting).
    pipeline.start();
    // Busy unless a protocol filter counts requests and none is in progress.
    let busy = || ctx.requests.get().is_none_or(|n| n > 0);
    crate::socket::pump(
        stream,
        &outbox,
        options,
        Side::Inbound {
            drain,
            busy: &busy,
            on_drain: &|| {
                let hook = ctx.on_drain.borrow().clone();
                if let Some(tell) = hook {
                    tell();
                }
            },
        },
        &|e| pipeline.input(e),
        Traffic {
            bytes_in: &stats.bytes_in,
            bytes_out: &stats.bytes_out,
        },
    )
    .await;
    Ok(())
}
