//! `new pipeline.Hub()`: upstream 1.5's hub (of its pipeline API): streams
//! that `swap(hub)` join it, and what each sends goes to every other (a
//! two-party hub splices two connections).

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, JsData, JsResult, JsValue};
use boa_gc::{Finalize, Trace};
use pipy_core::{Event, EventTarget};
use std::cell::RefCell;
use std::rc::Rc;

/// The parties of a hub: each stream's id and where its output goes.
#[derive(Default)]
pub struct Hub {
    parties: Vec<(u64, EventTarget)>,
}

/// Parties one hub holds at most (past that, more streams cannot join).
pub const MAX_PARTIES: usize = 4096;

impl Hub {
    /// Adds a party; false when the hub is full.
    pub fn join(&mut self, id: u64, target: EventTarget) -> bool {
        if self.parties.iter().any(|(i, _)| *i == id) {
            return true;
        }
        if self.parties.len() >= MAX_PARTIES {
            return false;
        }
        self.parties.push((id, target));
        true
    }

    /// Removes a party.
    pub fn exit(&mut self, id: u64) {
        self.parties.retain(|(i, _)| *i != id);
    }

    /// The targets of every party but `from`.
    pub fn others(&self, from: u64) -> Vec<EventTarget> {
        self.parties
            .iter()
            .filter(|(i, _)| *i != from)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

/// Sends `evt` to every party of `hub` but `from` (taken out of the hub
/// first, so a party that acts on it may join or leave).
pub fn broadcast(hub: &Rc<RefCell<Hub>>, evt: &Event, from: u64) {
    let targets = hub.borrow().others(from);
    for t in targets {
        t.send(evt.clone());
    }
}

/// The script object of `pipeline.Hub` (the runtime puts the class there).
#[derive(Trace, Finalize, JsData)]
pub struct HubObject(#[unsafe_ignore_trace] pub Rc<RefCell<Hub>>);

/// The hub behind a script value, if it is one.
pub fn hub_of(v: &JsValue) -> Option<Rc<RefCell<Hub>>> {
    v.as_object()?
        .downcast_ref::<HubObject>()
        .map(|h| h.0.clone())
}

impl Class for HubObject {
    const NAME: &'static str = "Hub";
    const LENGTH: usize = 0;

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Ok(HubObject(Rc::new(RefCell::new(Hub::default()))))
    }

    fn init(_: &mut ClassBuilder<'_>) -> JsResult<()> {
        Ok(())
    }
}
