//! `mux(key?, options?)`: messages of many streams are merged into one shared
//! sub-pipeline per key (by default the inbound connection); each stream's own
//! output is its input, unchanged. The shared pipeline's output is dropped.

use crate::util::Callback;
use crate::SubLayout;
use pipy_core::{
    Event, EventTarget, Filter, FilterDump, FilterTemplate, Output, Pipeline, SubKind,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

type Sessions = Rc<RefCell<HashMap<String, Pipeline>>>;

/// Template of `mux()`.
pub struct MuxTemplate {
    key: Option<Callback>,
    sub: SubLayout,
    sessions: Sessions,
}

impl MuxTemplate {
    /// `mux(key?)`; the shared pipeline comes with `.to(...)`.
    pub fn new(key: Option<Callback>, sub: SubLayout) -> Self {
        Self {
            key,
            sub,
            sessions: Sessions::default(),
        }
    }
}

impl FilterTemplate for MuxTemplate {
    fn name(&self) -> &'static str {
        "mux"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]).with_kind(SubKind::Mux))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Mux {
            key: self.key.clone(),
            sub: self.sub.clone(),
            sessions: self.sessions.clone(),
            session: None,
        })
    }
}

struct Mux {
    key: Option<Callback>,
    sub: SubLayout,
    sessions: Sessions,
    session: Option<Pipeline>,
}

impl Mux {
    fn session(&mut self, out: &Output<'_>) -> Option<Pipeline> {
        if let Some(s) = &self.session {
            return Some(s.clone());
        }
        let key = match &self.key {
            // A key function that throws ends the stream (`Callback::call`).
            Some(k) => k.call(&[], out)?.display().to_string(),
            None => out
                .context()
                .inbound
                .map(|i| i.id.to_string())
                .unwrap_or_default(),
        };
        let layout = self.sub.get()?;
        let s = self
            .sessions
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| Pipeline::new(&layout, out.context().fork(), EventTarget::Discard))
            .clone();
        self.session = Some(s.clone());
        Some(s)
    }
}

impl Filter for Mux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !evt.is_stream_end() {
            if let Some(s) = self.session(out) {
                s.input(evt.clone());
            }
        }
        out.push(evt);
    }
}
