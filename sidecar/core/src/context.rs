//! Per-stream context: connection facts and the script host's variables.

use std::any::Any;
use std::cell::RefCell;
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
}

/// State the script host keeps per context (its context variables).
pub trait ScriptState: Any {
    /// A copy for a context forked from this one.
    fn fork(&self) -> Box<dyn ScriptState>;
    /// Downcasting support.
    fn as_any(&self) -> &dyn Any;
}

/// Context of one pipeline: shared by the pipelines a filter links in place
/// (`link`, `branch`, `to`), forked for those that start new streams (`demux`).
#[derive(Default)]
pub struct Context {
    /// The inbound connection, when there is one.
    pub inbound: Option<Inbound>,
    /// State of the script host (context variables), opaque to the core.
    pub script: RefCell<Option<Box<dyn ScriptState>>>,
}

impl Context {
    /// A root context for a new inbound connection.
    pub fn new(inbound: Option<Inbound>) -> Rc<Self> {
        Rc::new(Self {
            inbound,
            script: RefCell::new(None),
        })
    }

    /// A new context starting from a copy of this one's values.
    pub fn fork(&self) -> Rc<Self> {
        Rc::new(Self {
            inbound: self.inbound,
            script: RefCell::new(self.script.borrow().as_ref().map(|s| s.fork())),
        })
    }
}
