//! The one socket loop: moves bytes between a TCP stream and a pipeline, for
//! accepted and outbound connections alike.
//!
//! Reading and writing run side by side, so a peer that stops reading never
//! stops us from reading the other way, and every wait is bounded: reads by
//! `readTimeout`, writes by `writeTimeout`, both by `idleTimeout`. Reads pause
//! while the socket's tap is closed by a congested writer elsewhere
//! (`pipy_core::flow`); the outbox bounds what waits to be written.

use bytes::BytesMut;
use pipy_core::flow::Tap;
use pipy_core::io::SocketOptions;
use pipy_core::{Data, Event, Outbox, ReadBuffer, StreamError};
use pipy_metrics::live::Handle;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// Which end of a connection we are: it decides what a half-close means.
pub(crate) enum Side<'a> {
    /// An accepted connection: after the client's FIN, answers still go out
    /// until the pipeline ends the stream. Once `drain` turns true (the worker
    /// is stopping), the connection closes as soon as `busy()` says no request
    /// is in progress and nothing waits to be written.
    Inbound {
        drain: watch::Receiver<bool>,
        busy: &'a dyn Fn() -> bool,
        /// Told once, when draining starts.
        on_drain: &'a dyn Fn(),
    },
    /// A connection we opened: the peer's FIN ends the stream, and so does
    /// `gone()` (nobody takes what it reads any more).
    Outbound { gone: &'a dyn Fn() -> bool },
}

/// How often a draining connection checks whether it is still busy.
const DRAIN_CHECK: Duration = Duration::from_millis(50);

/// Byte counters of one connection.
pub(crate) struct Traffic<'a> {
    /// Bytes read.
    pub bytes_in: &'a Handle,
    /// Bytes written.
    pub bytes_out: &'a Handle,
}

enum ReadEnd {
    Eof,
    Failed(StreamError),
    /// Whoever took the events is gone.
    Gone,
}

enum WriteEnd {
    /// The pipeline ended the stream; the write side is shut down.
    Finished,
    Failed(StreamError),
    Abandoned,
    Overflow,
}

/// Applies the socket options that live in the kernel.
pub(crate) fn configure(stream: &TcpStream, o: &SocketOptions) {
    let _ = stream.set_nodelay(o.no_delay);
    if o.keep_alive {
        let _ = socket2::SockRef::from(stream).set_keepalive(true);
    }
}

/// Runs a connection until it ends: bytes read go to `deliver` (with the
/// socket's tap entered), what the pipeline sends waits in `outbox`. Every end
/// is delivered as a `StreamEnd`, except when `gone()` says nobody listens.
pub(crate) async fn pump(
    mut stream: TcpStream,
    outbox: &Outbox,
    o: &SocketOptions,
    side: Side<'_>,
    deliver: &dyn Fn(Event),
    traffic: Traffic<'_>,
) {
    type Sides<'b> = (
        bool,
        &'b dyn Fn() -> bool,
        Option<watch::Receiver<bool>>,
        &'b dyn Fn() -> bool,
        Option<&'b dyn Fn()>,
    );
    let (outbound, gone, mut drain, busy, on_drain): Sides<'_> = match side {
        Side::Inbound {
            drain,
            busy,
            on_drain,
        } => (false, &|| false, Some(drain), busy, Some(on_drain)),
        Side::Outbound { gone } => (true, gone, None, &|| true, None),
    };
    // The draining connection's check timer, made when draining starts (so
    // that an idle connection's state has no room for a timer it never uses):
    // `Some` once the connection is draining.
    let mut drain_tick: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let last = Cell::new(Instant::now());
    let tap = Tap::new();
    let (mut r, mut w) = stream.split();
    // Made in place (`pin!` of the call): a future first held in a local and
    // then moved into a pinned one has room for both in this one's state, and
    // an idle connection's task is mostly this state.
    let mut reader = std::pin::pin!(read_in(&mut r, &tap, o, deliver, gone, &traffic, &last));
    let mut writer = std::pin::pin!(write_out(&mut w, outbox, o, &traffic, &last));
    let mut idle = std::pin::pin!(idle(o.idle_timeout, &last));
    let (mut reading, mut writing) = (true, true);
    loop {
        tokio::select! {
            end = &mut reader, if reading => {
                reading = false;
                match end {
                    ReadEnd::Eof => {
                        deliver(Event::StreamEnd(StreamError::NoError));
                        if outbound || !writing {
                            break;
                        }
                    }
                    ReadEnd::Failed(e) => {
                        deliver(Event::StreamEnd(e));
                        break;
                    }
                    ReadEnd::Gone => break,
                }
            }
            end = &mut writer, if writing => {
                writing = false;
                match end {
                    WriteEnd::Finished => {
                        if !reading {
                            break;
                        }
                        if !outbound {
                            // The pipeline ended the connection: its filters see
                            // the end too (handleStreamEnd, onEnd).
                            deliver(Event::StreamEnd(StreamError::NoError));
                            break;
                        }
                        // Outbound: the peer may still answer after our FIN.
                    }
                    WriteEnd::Failed(e) => {
                        deliver(Event::StreamEnd(e));
                        break;
                    }
                    WriteEnd::Overflow => {
                        tracing::error!("buffer overflow, more than {} bytes waiting to be sent", o.limits.buffer);
                        deliver(Event::StreamEnd(StreamError::BufferOverflow));
                        break;
                    }
                    WriteEnd::Abandoned => break,
                }
            }
            _ = &mut idle => {
                deliver(Event::StreamEnd(StreamError::IdleTimeout));
                break;
            }
            _ = stopping(drain.as_mut()), if drain_tick.is_none() => {
                drain_tick = Some(Box::pin(tokio::time::sleep(DRAIN_CHECK)));
                if let Some(tell) = on_drain {
                    tell();
                }
            }
            _ = next_tick(&mut drain_tick), if drain_tick.is_some() => {
                if !busy() && outbox.pending() == 0 {
                    deliver(Event::StreamEnd(StreamError::NoError));
                    break;
                }
                if let Some(tick) = drain_tick.as_mut() {
                    tick.as_mut().reset(Instant::now() + DRAIN_CHECK);
                }
            }
        }
    }
    outbox.close();
}

/// Reads until the stream ends. Between reads the connection holds no read
/// buffer: it waits for the socket to be readable first, and the buffer is
/// taken only for the read itself (an idle keep-alive connection costs its
/// task and pipeline, not a buffer).
async fn read_in(
    r: &mut tokio::net::tcp::ReadHalf<'_>,
    tap: &Tap,
    o: &SocketOptions,
    deliver: &dyn Fn(Event),
    gone: &dyn Fn() -> bool,
    traffic: &Traffic<'_>,
    last: &Cell<Instant>,
) -> ReadEnd {
    let mut buf = ReadBuffer::new();
    loop {
        if !tap.is_open() {
            tap.opened().await;
        }
        // Readable at once (more bytes came meanwhile): read into what is left
        // of the buffer. Otherwise let the buffer go while waiting.
        let mut ready = std::pin::pin!(r.readable());
        let now = std::future::poll_fn(|cx| std::task::Poll::Ready(ready.as_mut().poll(cx))).await;
        let ready = match now {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => {
                buf.release();
                match o.read_timeout {
                    // Boxed: a timer held inline would be room that every
                    // idle connection's reader pays for.
                    Some(t) => match Box::pin(tokio::time::timeout(t, ready)).await {
                        Ok(r) => r,
                        Err(_) => return ReadEnd::Failed(StreamError::ReadTimeout),
                    },
                    None => ready.await,
                }
            }
        };
        let read = match ready.and_then(|()| read_available(r, buf.prepare())) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => other,
        };
        match read {
            Ok(0) => return ReadEnd::Eof,
            Ok(n) => {
                traffic.bytes_in.inc_by(n as u64);
                last.set(Instant::now());
                let _input = tap.enter();
                deliver(Event::Data(buf.take(n).into()));
                if gone() {
                    return ReadEnd::Gone;
                }
            }
            Err(e) => {
                return ReadEnd::Failed(match e.kind() {
                    io::ErrorKind::ConnectionReset => StreamError::ConnectionReset,
                    _ => StreamError::ReadError,
                })
            }
        }
    }
}

/// Reads what the socket holds into the room left in `buf`. A read that
/// leaves room has drained the socket, so it also clears tokio's readiness, as
/// tokio's own `poll_read` does: the next wait goes to epoll rather than to a
/// `recvfrom` that can only answer EAGAIN (one system call saved per read).
/// Bytes that come meanwhile raise a new readiness event, which the clearing
/// leaves in place.
fn read_available(r: &tokio::net::tcp::ReadHalf<'_>, buf: &mut BytesMut) -> io::Result<usize> {
    let room = buf.capacity() - buf.len();
    let mut got = None;
    let res = r.as_ref().try_io(Interest::READABLE, || {
        let n = r.try_read_buf(buf)?;
        got = Some(n);
        if n > 0 && n < room {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match got {
        Some(n) => Ok(n),
        None => res,
    }
}

async fn write_out<W: AsyncWrite + Unpin>(
    w: &mut W,
    outbox: &Outbox,
    o: &SocketOptions,
    traffic: &Traffic<'_>,
    last: &Cell<Instant>,
) -> WriteEnd {
    loop {
        outbox.ready().await;
        let batch = outbox.take();
        if batch.abandoned {
            return WriteEnd::Abandoned;
        }
        if batch.overflow {
            return WriteEnd::Overflow;
        }
        if !batch.data.is_empty() {
            if let Err(e) = write_data(w, &batch.data, o.write_timeout, outbox, traffic).await {
                return WriteEnd::Failed(e);
            }
            last.set(Instant::now());
        }
        if batch.end.is_some() {
            let _ = w.shutdown().await;
            return WriteEnd::Finished;
        }
    }
}

/// Writes queued bytes: one system call for small batches (head and body
/// copied together), chunk by chunk for big bodies (no copy of their bytes).
/// Each write reports to the outbox, so paused inputs resume as it drains.
async fn write_data<W: AsyncWrite + Unpin>(
    w: &mut W,
    d: &Data,
    timeout: Option<Duration>,
    outbox: &Outbox,
    traffic: &Traffic<'_>,
) -> Result<(), StreamError> {
    if d.len() <= 64 * 1024 && d.chunks().nth(1).is_some() {
        write_chunk(w, &d.to_bytes(), timeout).await?;
        outbox.written(d.len());
        traffic.bytes_out.inc_by(d.len() as u64);
    } else {
        for c in d.chunks() {
            write_chunk(w, c, timeout).await?;
            outbox.written(c.len());
            traffic.bytes_out.inc_by(c.len() as u64);
        }
    }
    Ok(())
}

async fn write_chunk<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
    timeout: Option<Duration>,
) -> Result<(), StreamError> {
    let r = match timeout {
        // Boxed, as the reader's timeout: a timer held inline would be room
        // that every idle connection's writer pays for.
        Some(t) => match Box::pin(tokio::time::timeout(t, w.write_all(bytes))).await {
            Ok(r) => r,
            Err(_) => return Err(StreamError::WriteTimeout),
        },
        None => w.write_all(bytes).await,
    };
    r.map_err(|e| match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => StreamError::ConnectionReset,
        _ => StreamError::WriteError,
    })
}

/// Waits for `tick` to fire; pending while there is none.
fn next_tick(tick: &mut Option<Pin<Box<tokio::time::Sleep>>>) -> impl Future<Output = ()> + '_ {
    std::future::poll_fn(move |cx| match tick.as_mut() {
        Some(t) => t.as_mut().poll(cx),
        None => std::task::Poll::Pending,
    })
}

/// Ends when the worker starts draining; never without a drain signal.
async fn stopping(drain: Option<&mut watch::Receiver<bool>>) {
    match drain {
        Some(rx) => {
            let _ = rx.wait_for(|v| *v).await;
        }
        None => std::future::pending().await,
    }
}

/// Ends when nothing moved either way for `limit`.
async fn idle(limit: Option<Duration>, last: &Cell<Instant>) {
    let Some(limit) = limit else {
        return std::future::pending().await;
    };
    loop {
        let deadline = last.get() + limit;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}
