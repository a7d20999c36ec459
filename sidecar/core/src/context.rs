//! Per-stream context: connection facts and the script host's variables.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;

/// Facts about the inbound connection a stream came from.
#[derive(Clone, Copy, Debug)]
pub struct Inbound {
    /// Unique id of the connection in this process.
    pub id: u64,
    /// The client's address.
    pub remote: SocketAddr,
    /// The local address the client connected to.
    pub local: SocketAddr,
    /// Where the client meant to connect before a NAT rule redirected it
    /// here (`listen`'s `transparent` option), when known.
    pub destination: Option<SocketAddr>,
}

/// State the script host keeps per context (its context variables).
pub trait ScriptState: Any {
    /// A copy for a context forked from this one.
    fn fork(&self) -> Box<dyn ScriptState>;
    /// Downcasting support.
    fn as_any(&self) -> &dyn Any;
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Context of one pipeline: shared by the pipelines a filter links in place
/// (`link`, `branch`, `to`), forked for those that start new streams (`demux`).
#[derive(Default)]
pub struct Context {
    /// A number for logs (`dump`'s `[context=N]`), unique in the process.
    pub id: u64,
    /// The inbound connection, when there is one.
    pub inbound: Option<Inbound>,
    /// State of the script host (context variables), opaque to the core.
    pub script: RefCell<Option<Box<dyn ScriptState>>>,
    /// Requests of the stream in progress, as counted by a filter that knows
    /// where requests begin and end (`demuxHTTP`). `None` when no filter
    /// counts: then the stream is busy for as long as it is open. A draining
    /// worker closes connections that are open but not busy.
    pub requests: Cell<Option<usize>>,
    /// Told when the worker starts draining the connection (shutdown or
    /// reload), so that a protocol with a way to say so (HTTP/2's GOAWAY)
    /// can tell the client. Set by the filter that speaks it.
    pub on_drain: RefCell<Option<Rc<dyn Fn()>>>,
}

impl Context {
    /// A root context for a new inbound connection.
    pub fn new(inbound: Option<Inbound>) -> Rc<Self> {
        Rc::new(Self {
            id: next_id(),
            inbound,
            script: RefCell::new(None),
            requests: Cell::new(None),
            on_drain: RefCell::new(None),
        })
    }

    /// A new context starting from a copy of this one's values.
    pub fn fork(&self) -> Rc<Self> {
        Rc::new(Self {
            id: next_id(),
            inbound: self.inbound,
            script: RefCell::new(self.script.borrow().as_ref().map(|s| s.fork())),
            requests: Cell::new(None),
            on_drain: RefCell::new(None),
        })
    }
}
