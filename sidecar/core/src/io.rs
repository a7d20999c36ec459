//! The engine's way out to sockets and timers, provided by the runtime.
//!
//! Filters stay free of tokio: `connect` hands an [`Outbound`] to [`connect`],
//! and filters that need a timer call [`after`]. The runtime installs its
//! implementation of [`Io`] on each worker thread ([`install`]).

use crate::{EventTarget, Limits, Outbox};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// Options every TCP socket takes, inbound (`listen`) or outbound (`connect`),
/// with upstream's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SocketOptions {
    /// Where reads from the source pause, and where the stream gives up.
    pub limits: Limits,
    /// End the stream when nothing is read for this long.
    pub read_timeout: Option<Duration>,
    /// End the stream when a write does not complete in this long.
    pub write_timeout: Option<Duration>,
    /// End the stream when nothing moves either way for this long.
    pub idle_timeout: Option<Duration>,
    /// TCP keep-alive probes.
    pub keep_alive: bool,
    /// Disable Nagle's algorithm.
    pub no_delay: bool,
}

impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            read_timeout: None,
            write_timeout: None,
            // Upstream's default: a connection nothing moves on ends in a minute.
            idle_timeout: Some(Duration::from_secs(60)),
            keep_alive: true,
            no_delay: true,
        }
    }
}

/// The transport of a socket, as `protocol` options name it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// A TCP byte stream.
    #[default]
    Tcp,
    /// UDP datagrams: each data event is one packet.
    Udp,
}

impl Protocol {
    /// `'tcp'` or `'udp'` (any case), as scripts spell them.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            _ => None,
        }
    }

    /// The name in listener labels (`TCP`, `UDP`).
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// Options of an outbound connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectOptions {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Socket options.
    pub socket: SocketOptions,
    /// Give up connecting after this long.
    pub connect_timeout: Option<Duration>,
    /// Extra attempts after a failed connect (`u32::MAX`: for ever).
    pub retry_count: u32,
    /// Pause between attempts.
    pub retry_delay: Duration,
    /// Local address to bind before connecting (`ip` or `ip:port`).
    pub bind: Option<String>,
}

/// Where an outbound connection is, as upstream's `Outbound.state` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboundState {
    /// Created, not yet connecting.
    Open,
    /// Connecting.
    Connecting,
    /// Connected.
    Connected,
    /// Closed (or never connected).
    Closed,
}

impl OutboundState {
    /// The name scripts see.
    pub fn name(self) -> &'static str {
        match self {
            OutboundState::Open => "open",
            OutboundState::Connecting => "connecting",
            OutboundState::Connected => "connected",
            OutboundState::Closed => "closed",
        }
    }
}

/// What an `onState` callback learns of an outbound connection.
#[derive(Clone, Copy, Debug)]
pub struct OutboundInfo {
    /// Its state now.
    pub state: OutboundState,
    /// The local end, once connected.
    pub local: Option<SocketAddr>,
    /// The peer, once connected.
    pub remote: Option<SocketAddr>,
    /// The port of the target, known from the start.
    pub target_port: u16,
}

/// An outbound connection for the runtime to open and run.
pub struct Outbound {
    /// `host:port`.
    pub target: String,
    /// Its options.
    pub options: ConnectOptions,
    /// What goes to the peer.
    pub outbox: Rc<Outbox>,
    /// Where what the peer sends (and the stream's end) goes.
    pub reply: EventTarget,
    /// Told of every state change.
    pub on_state: Option<Rc<dyn Fn(OutboundInfo)>>,
}

/// Sockets and timers for the engine on one worker thread.
pub trait Io {
    /// Opens and runs an outbound connection.
    fn connect(&self, outbound: Outbound);
    /// Runs `f` on this thread after `delay`; a worker with no port waits
    /// for it before it ends.
    fn after(&self, delay: Duration, f: Box<dyn FnOnce()>);
    /// The same for housekeeping (sweeps of idle sessions, log batches): a
    /// worker with no port does not wait for it.
    fn after_background(&self, delay: Duration, f: Box<dyn FnOnce()>) {
        self.after(delay, f);
    }
    /// Runs a task on this thread (a protocol engine that is async inside,
    /// such as HTTP/2's).
    fn spawn(&self, task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>);
}

thread_local! {
    static IO: RefCell<Option<Rc<dyn Io>>> = const { RefCell::new(None) };
}

/// Installs the runtime's I/O for this thread.
pub fn install(io: Rc<dyn Io>) {
    IO.with(|cell| *cell.borrow_mut() = Some(io));
}

/// Removes this thread's I/O: what asks for it later (a script object
/// dropped with the engine as the thread ends) gets none, instead of a loop
/// that is gone.
pub fn uninstall() {
    IO.with(|cell| *cell.borrow_mut() = None);
}

fn current() -> Option<Rc<dyn Io>> {
    IO.with(|cell| cell.borrow().clone())
}

/// Opens an outbound connection; without a runtime on this thread the stream
/// ends at once with `ConnectionRefused`.
pub fn connect(outbound: Outbound) {
    match current() {
        Some(io) => io.connect(outbound),
        None => outbound.reply.send(crate::Event::StreamEnd(
            crate::StreamError::ConnectionRefused,
        )),
    }
}

thread_local! {
    static ON_RELOAD: RefCell<Vec<std::rc::Weak<dyn Fn()>>> = const { RefCell::new(Vec::new()) };
}

/// Registers `hook` to be told when this thread's codebase is replaced by a
/// new version (connections that can say so, HTTP/2's, then tell their
/// clients to move on). The hook is held weakly: dropping it unregisters.
pub fn on_reload(hook: &Rc<dyn Fn()>) {
    ON_RELOAD.with(|h| {
        let mut h = h.borrow_mut();
        h.retain(|w| w.strong_count() > 0);
        h.push(Rc::downgrade(hook));
    });
}

/// Tells every live [`on_reload`] hook of this thread that a new version now
/// serves: the connections open now belong to the old one.
pub fn reloaded() {
    let hooks: Vec<_> = ON_RELOAD.with(|h| std::mem::take(&mut *h.borrow_mut()));
    for hook in hooks.iter().filter_map(|w| w.upgrade()) {
        hook();
    }
}

/// Runs `task` on this thread; without a runtime on this thread, never.
pub fn spawn(task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {
    if let Some(io) = current() {
        io.spawn(task);
    }
}

/// Runs `f` after `delay`; without a runtime on this thread, never.
pub fn after(delay: Duration, f: Box<dyn FnOnce()>) {
    if let Some(io) = current() {
        io.after(delay, f);
    }
}

thread_local! {
    static BACKGROUND: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` as housekeeping: connections it opens do not keep a worker with
/// no port running (a logger's connections to its collector, say).
pub fn in_background<R>(f: impl FnOnce() -> R) -> R {
    let was = BACKGROUND.with(|b| b.replace(true));
    let r = f();
    BACKGROUND.with(|b| b.set(was));
    r
}

/// Whether housekeeping runs now ([`in_background`]).
pub fn is_background() -> bool {
    BACKGROUND.with(std::cell::Cell::get)
}

/// Runs housekeeping `f` after `delay` (a portless worker does not wait for
/// it); without a runtime on this thread, never.
pub fn after_background(delay: Duration, f: Box<dyn FnOnce()>) {
    if let Some(io) = current() {
        io.after_background(delay, f);
    }
}
