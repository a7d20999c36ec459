//! UDP: `listen(port, { protocol: 'udp' })` and `connect(target, { protocol: 'udp' })`.
//!
//! As upstream: a listening socket gives every peer (source address) a
//! pipeline of its own; each datagram in is a `Data` event, each `Data` event
//! out is a datagram back to that peer, and a peer that sends nothing for
//! `idleTimeout` (60 s by default) ends. An outbound socket is connected to
//! its target and works the same way with one peer.

use crate::config::Listen;
use crate::stats::OutboundStats;
use pipy_core::io::{Outbound, OutboundState};
use pipy_core::{Context, Data, Event, EventTarget, Inbound, Pipeline, StreamError};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::Instant;

/// The largest datagram read.
const MAX_DATAGRAM: usize = 65536;

/// Most peers one listening socket keeps at once; datagrams from new peers
/// beyond it are dropped until some end.
const MAX_PEERS: usize = 65536;

/// Binds a UDP socket that other workers can bind too (SO_REUSEPORT).
pub(crate) fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

struct Peer {
    pipeline: Pipeline,
    last: Cell<Instant>,
    /// The pipeline ended the peer (its output ended).
    ended: Rc<Cell<bool>>,
}

/// Serves a listening UDP socket until shutdown or `stop`.
pub(crate) async fn serve(
    sock: std::net::UdpSocket,
    spec: Rc<RefCell<Listen>>,
    mut shutdown: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let sock = match UdpSocket::from_std(sock) {
        Ok(s) => Rc::new(s),
        Err(e) => {
            tracing::error!(target: "listener", "[listener] cannot listen on UDP: {e}");
            return;
        }
    };
    let local = spec.borrow().addr;
    let mut peers: HashMap<SocketAddr, Peer> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut sweep = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    if !peers.contains_key(&from) {
                        if peers.len() >= MAX_PEERS {
                            continue;
                        }
                        peers.insert(from, open_peer(&sock, &spec, local, from));
                    }
                    if let Some(p) = peers.get(&from) {
                        p.last.set(Instant::now());
                        p.pipeline.input(Event::Data(Data::from(buf[..n].to_vec())));
                    }
                }
                Err(e) => tracing::debug!("udp receive: {e}"),
            },
            _ = sweep.tick() => {
                let idle = spec.borrow().options.idle_timeout;
                let now = Instant::now();
                peers.retain(|_, p| {
                    if p.ended.get() {
                        return false;
                    }
                    match idle {
                        Some(t) if now.duration_since(p.last.get()) >= t => {
                            p.pipeline.input(Event::StreamEnd(StreamError::IdleTimeout));
                            false
                        }
                        _ => true,
                    }
                });
            }
            _ = shutdown.changed() => break,
            _ = stop.changed() => break,
        }
    }
    for (_, p) in peers {
        p.pipeline.input(Event::StreamEnd(StreamError::NoError));
    }
}

fn open_peer(
    sock: &Rc<UdpSocket>,
    spec: &Rc<RefCell<Listen>>,
    local: SocketAddr,
    from: SocketAddr,
) -> Peer {
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 40);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ctx = Context::new(Some(Inbound {
        id,
        remote: from,
        local,
        destination: None,
    }));
    let ended = Rc::new(Cell::new(false));
    let (out, done) = (sock.clone(), ended.clone());
    // Each data event out is one datagram; UDP may drop, so may we when the
    // socket's send buffer is full.
    let target = EventTarget::Func(Rc::new(move |e| match e {
        Event::Data(d) => {
            let _ = out.try_send_to(&d.to_bytes(), from);
        }
        Event::StreamEnd(_) => done.set(true),
        _ => {}
    }));
    let layout = spec.borrow().layout.clone();
    Peer {
        pipeline: Pipeline::new(&layout, ctx, target),
        last: Cell::new(Instant::now()),
        ended,
    }
}

/// Runs an outbound UDP "connection": a socket connected to the target.
pub(crate) async fn connect(
    ob: &Outbound,
    stats: &OutboundStats,
    tell: &crate::outbound::Tell<'_>,
) {
    let fail = |e: StreamError| {
        tell(OutboundState::Closed, None, None);
        ob.outbox.close();
        ob.reply.send(Event::StreamEnd(e));
    };
    let Some(addr) = tokio::net::lookup_host(&ob.target)
        .await
        .ok()
        .and_then(|mut a| a.next())
    else {
        return fail(StreamError::CannotResolve);
    };
    tell(OutboundState::Connecting, None, None);
    let any: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = match UdpSocket::bind(any).await {
        Ok(s) => s,
        Err(_) => return fail(StreamError::ConnectionRefused),
    };
    if sock.connect(addr).await.is_err() {
        return fail(StreamError::ConnectionRefused);
    }
    let local = sock.local_addr().ok();
    tell(OutboundState::Connected, local, Some(addr));
    let idle_for = ob.options.socket.idle_timeout;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut last = Instant::now();
    let end = loop {
        let idle = async {
            match idle_for {
                Some(t) => tokio::time::sleep_until(last + t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ob.outbox.ready() => {
                let batch = ob.outbox.take();
                if batch.abandoned {
                    break None;
                }
                for p in batch.packets {
                    let len = p.len();
                    // A refused datagram (nobody listening) surfaces on a later
                    // call; UDP gives no other word.
                    let _ = sock.send(&p.to_bytes()).await;
                    ob.outbox.written(len);
                    stats.bytes_out.inc_by(len as u64);
                }
                last = Instant::now();
                if batch.end.is_some() {
                    break Some(StreamError::NoError);
                }
            }
            r = sock.recv(&mut buf) => match r {
                Ok(n) => {
                    stats.bytes_in.inc_by(n as u64);
                    last = Instant::now();
                    ob.reply.send(Event::Data(Data::from(buf[..n].to_vec())));
                    if ob.reply.is_closed() {
                        break None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    break Some(StreamError::ConnectionRefused)
                }
                Err(_) => break Some(StreamError::ReadError),
            },
            _ = idle => break Some(StreamError::IdleTimeout),
        }
    };
    ob.outbox.close();
    tell(OutboundState::Closed, local, Some(addr));
    if let Some(e) = end {
        ob.reply.send(Event::StreamEnd(e));
    }
}
