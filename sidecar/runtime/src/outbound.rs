//! Outbound connections and timers: the runtime's side of `pipy_core::io`.

use crate::socket::{self, Side, Traffic};
use crate::stats::OutboundStats;
use pipy_core::io::{ConnectOptions, Io, Outbound, OutboundInfo, OutboundState};
use pipy_core::{Event, StreamError};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};

/// Sockets and timers on a worker's current-thread runtime.
struct TokioIo;

impl Io for TokioIo {
    fn connect(&self, outbound: Outbound) {
        // A worker with no port stays while it has connections open, but for
        // housekeeping's.
        let busy = (!pipy_core::io::is_background()).then(pipy_js::busy::Busy::begin);
        tokio::task::spawn_local(async move {
            run(outbound).await;
            drop(busy);
        });
    }

    fn spawn(&self, task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {
        tokio::task::spawn_local(task);
    }

    fn after(&self, delay: Duration, f: Box<dyn FnOnce()>) {
        // A worker with no port stays for its timers, as upstream's loop.
        timer(delay, f, Some(pipy_js::busy::Busy::begin()));
    }

    fn after_background(&self, delay: Duration, f: Box<dyn FnOnce()>) {
        timer(delay, f, None);
    }
}

/// Runs `f` after `delay`, counted as work in flight while `busy` lives.
fn timer(delay: Duration, f: Box<dyn FnOnce()>, busy: Option<pipy_js::busy::Busy>) {
    tokio::task::spawn_local(async move {
        tokio::time::sleep(delay).await;
        f();
        drop(busy);
    });
}

/// Gives this thread's engine its sockets and timers.
pub(crate) fn install() {
    pipy_core::io::install(Rc::new(TokioIo));
}

thread_local! {
    /// This thread's open outbound connections (`pipy.outbound.count`).
    static OPEN_COUNT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many outbound connections this thread has open.
pub(crate) fn open_count() -> usize {
    OPEN_COUNT.with(std::cell::Cell::get)
}

/// Counts a connection as open until dropped.
struct Open(Rc<OutboundStats>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.count.dec_by(1);
        OPEN_COUNT.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

async fn run(ob: Outbound) {
    let stats = OutboundStats::of(&ob.target);
    stats.count.inc_by(1);
    OPEN_COUNT.with(|c| c.set(c.get() + 1));
    let _open = Open(stats.clone());
    let target_port = ob
        .target
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0);
    let tell = |state, local, remote| {
        if let Some(f) = &ob.on_state {
            f(OutboundInfo {
                state,
                local,
                remote,
                target_port,
            });
        }
    };
    tell(OutboundState::Open, None, None);
    if ob.options.protocol == pipy_core::io::Protocol::Udp {
        return crate::udp::connect(&ob, &stats, &tell).await;
    }
    let started = Instant::now();
    let stream = match open(&ob.target, &ob.options, &tell).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("connect {}: {e:?}", ob.target);
            tell(OutboundState::Closed, None, None);
            ob.outbox.close();
            ob.reply.send(Event::StreamEnd(e));
            return;
        }
    };
    stats
        .conn_time
        .observe(started.elapsed().as_secs_f64() * 1000.0);
    socket::configure(&stream, &ob.options.socket);
    let (local, remote) = (stream.local_addr().ok(), stream.peer_addr().ok());
    tell(OutboundState::Connected, local, remote);
    let reply = &ob.reply;
    socket::pump(
        stream,
        &ob.outbox,
        &ob.options.socket,
        Side::Outbound {
            gone: &|| reply.is_closed(),
        },
        &|e| reply.send(e),
        Traffic {
            bytes_in: &stats.bytes_in,
            bytes_out: &stats.bytes_out,
        },
    )
    .await;
    tell(OutboundState::Closed, local, remote);
}

pub(crate) type Tell<'a> = dyn Fn(OutboundState, Option<SocketAddr>, Option<SocketAddr>) + 'a;

/// Resolves and connects, retrying as the options say.
async fn open(target: &str, o: &ConnectOptions, tell: &Tell<'_>) -> Result<TcpStream, StreamError> {
    let mut attempt = 0;
    loop {
        let r = match o.connect_timeout {
            Some(t) => match tokio::time::timeout(t, attempt_once(target, o, tell)).await {
                Ok(r) => r,
                Err(_) => Err(StreamError::ConnectionTimeout),
            },
            None => attempt_once(target, o, tell).await,
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) if attempt >= o.retry_count => return Err(e),
            Err(_) => {
                attempt = attempt.saturating_add(1);
                tokio::time::sleep(o.retry_delay).await;
            }
        }
    }
}

async fn attempt_once(
    target: &str,
    o: &ConnectOptions,
    tell: &Tell<'_>,
) -> Result<TcpStream, StreamError> {
    // Upstream reports no separate resolving step (the lookup is quick or
    // cached); neither do we, so scripts see the same sequence.
    let addr = tokio::net::lookup_host(target)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or(StreamError::CannotResolve)?;
    tell(OutboundState::Connecting, None, None);
    let connected = match &o.bind {
        None => TcpStream::connect(addr).await,
        Some(local) => {
            let local = bind_address(local).ok_or(StreamError::CannotResolve)?;
            let sock = if addr.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(|e| classify(&e))?;
            sock.bind(local).map_err(|e| classify(&e))?;
            sock.connect(addr).await
        }
    };
    connected.map_err(|e| classify(&e))
}

/// `bind`: an `ip:port`, or an `ip` alone (any port).
fn bind_address(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip = s.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
    Some(SocketAddr::new(ip, 0))
}

fn classify(e: &io::Error) -> StreamError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => StreamError::ConnectionRefused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => StreamError::ConnectionReset,
        io::ErrorKind::TimedOut => StreamError::ConnectionTimeout,
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::InvalidInput => StreamError::CannotResolve,
        _ => StreamError::ConnectionRefused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_takes_an_address_with_or_without_a_port() {
        assert_eq!(
            bind_address("127.0.0.2:5000"),
            Some("127.0.0.2:5000".parse().expect("addr"))
        );
        assert_eq!(
            bind_address("127.0.0.2"),
            Some("127.0.0.2:0".parse().expect("addr"))
        );
        assert_eq!(bind_address("nonsense"), None);
    }
}
