//! `swap(hub)`: the stream joins a `Hub` (a value, or a function giving one
//! at the stream's first event, as upstream); what comes in goes out of every
//! other stream of the hub, and what they send comes out here. Events before
//! the hub is known wait, bounded ([`MAX_WAITING`] bytes of Data; past that
//! the stream ends with `BufferOverflow`).

use crate::util::Callback;
use pipy_core::{Event, Filter, FilterTemplate, Output, StreamError};
use pipy_js::api::hub::{broadcast, hub_of, Hub};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Data waiting for the hub, at most.
pub const MAX_WAITING: usize = 1 << 20;

/// Template of `swap`.
pub struct SwapTemplate(pub Callback);

impl FilterTemplate for SwapTemplate {
    fn name(&self) -> &'static str {
        "swap"
    }
    fn create(&self) -> Box<dyn Filter> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Box::new(Swap {
            hub_value: self.0.clone(),
            hub: None,
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            waiting: Vec::new(),
            held: 0,
            ended: false,
        })
    }
}

struct Swap {
    hub_value: Callback,
    hub: Option<Rc<RefCell<Hub>>>,
    id: u64,
    waiting: Vec<Event>,
    held: usize,
    /// The stream ended here: it left the hub, and nothing more goes either way.
    ended: bool,
}

impl Filter for Swap {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.hub.is_none() {
            let Some(v) = self.hub_value.call(&[], out) else {
                return;
            };
            if !v.is_null_or_undefined() {
                let Some(hub) = hub_of(&v) else {
                    tracing::error!("swap(): callback did not return a Hub");
                    return out.fail(StreamError::RuntimeError);
                };
                if !hub.borrow_mut().join(self.id, out.reply_target(0)) {
                    tracing::error!("swap(): the hub is full");
                    return out.fail(StreamError::RuntimeError);
                }
                for e in std::mem::take(&mut self.waiting) {
                    broadcast(&hub, &e, self.id);
                }
                self.held = 0;
                self.hub = Some(hub);
            }
        }
        let end = evt.is_stream_end();
        match &self.hub {
            Some(hub) => {
                broadcast(hub, &evt, self.id);
                // Its end went to the others (ending them, as upstream's);
                // it leaves the hub.
                if end {
                    hub.borrow_mut().exit(self.id);
                    self.ended = true;
                }
            }
            None => {
                if let Event::Data(d) = &evt {
                    self.held += d.len();
                }
                self.waiting.push(evt);
                if self.held > MAX_WAITING {
                    self.waiting.clear();
                    out.fail(StreamError::BufferOverflow);
                }
            }
        }
    }

    fn on_reply(&mut self, _: u64, evt: Event, out: &mut Output<'_>) {
        if !self.ended {
            out.push(evt);
        }
    }
}

impl Drop for Swap {
    fn drop(&mut self) {
        if let Some(hub) = &self.hub {
            hub.borrow_mut().exit(self.id);
        }
    }
}
