//! Fast tests of native filters: pipelines driven with events, no sockets, no
//! script engine.

use crate::branch::LinkTemplate;
use crate::demux::DemuxTemplate;
use crate::dump::{Kind, UtilTemplate};
use crate::http_codec::{DecodeTemplate, EncodeTemplate, Side};
use crate::mux::{MuxOptions, MuxTemplate};
use crate::SubLayout;
use pipy_core::{Context, Data, Event, EventTarget, Head, Layout, Pipeline, StreamError};
use std::cell::RefCell;
use std::rc::Rc;

fn layout(name: &str, filters: Vec<Rc<dyn pipy_core::FilterTemplate>>) -> Layout {
    let l = Layout::new(name);
    for f in filters {
        l.append(f);
    }
    l
}

/// Runs `events` through `layout` and returns what comes out.
fn run(layout: &Layout, events: Vec<Event>) -> Vec<Event> {
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let p = Pipeline::new(
        layout,
        Context::new(None),
        EventTarget::Func(Rc::new(move |e| g.borrow_mut().push(e))),
    );
    for e in events {
        p.input(e);
    }
    drop(p);
    Rc::try_unwrap(got)
        .map(|c| c.into_inner())
        .unwrap_or_default()
}

fn bytes(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Data(d) => Some(String::from_utf8_lossy(&d.to_vec()).into_owned()),
            _ => None,
        })
        .collect()
}

fn data(s: &str) -> Event {
    Event::Data(Data::from(s.to_string()))
}

#[test]
fn decoding_then_encoding_a_request_keeps_its_head_and_body() {
    let l = layout(
        "codec",
        vec![
            Rc::new(DecodeTemplate(Side::Request, Default::default())),
            Rc::new(EncodeTemplate(Side::Request, Default::default())),
        ],
    );
    // Split at awkward places: the decoder must carry state across chunks.
    let out = run(
        &l,
        vec![
            data("POST /a HTTP/1.1\r\nhost: x\r\ncont"),
            data("ent-length: 5\r\n\r\nhel"),
            data("lo"),
        ],
    );
    let text = bytes(&out).to_ascii_lowercase();
    assert!(text.starts_with("post /a http/1.1\r\n"), "{text}");
    assert!(text.contains("host: x\r\n"), "{text}");
    assert!(text.contains("content-length: 5\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello"), "{text}");
}

#[test]
fn decoding_splits_pipelined_requests_into_messages() {
    let l = layout(
        "decode",
        vec![Rc::new(DecodeTemplate(Side::Request, Default::default()))],
    );
    let out = run(
        &l,
        vec![data("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")],
    );
    let paths: Vec<String> = out
        .iter()
        .filter_map(|e| match e {
            Event::MessageStart(Head::Request(r)) => Some(r.path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(paths, ["/1", "/2"]);
    let ends = out
        .iter()
        .filter(|e| matches!(e, Event::MessageEnd(_)))
        .count();
    assert_eq!(ends, 2);
}

#[test]
fn link_runs_the_stream_through_its_sub_pipeline() {
    let sub = layout(
        "sub",
        vec![Rc::new(UtilTemplate::new(Kind::Dummy, None, None))],
    );
    let l = layout(
        "main",
        vec![Rc::new(LinkTemplate(SubLayout::of(sub.clone())))],
    );
    let out = run(&l, vec![data("x"), Event::StreamEnd(StreamError::NoError)]);
    // dummy drops everything: nothing comes back through the link.
    assert!(bytes(&out).is_empty(), "{out:?}");
    assert_eq!(sub.active(), 0, "the sub-pipeline ended with its stream");
}

/// A pass-through filter that counts its instances.
struct Counted(Rc<std::cell::Cell<usize>>);

impl pipy_core::FilterTemplate for Counted {
    fn name(&self) -> &'static str {
        "counted"
    }
    fn create(&self) -> Box<dyn pipy_core::Filter> {
        self.0.set(self.0.get() + 1);
        Box::new(PassOn)
    }
}

struct PassOn;

impl pipy_core::Filter for PassOn {
    fn process(&mut self, evt: Event, out: &mut pipy_core::Output<'_>) {
        out.push(evt);
    }
}

#[test]
fn demux_starts_one_sub_pipeline_per_message_and_passes_their_answers_in_order() {
    let made = Rc::new(std::cell::Cell::new(0));
    let sub = layout("each", vec![Rc::new(Counted(made.clone()))]);
    let l = layout(
        "main",
        vec![Rc::new(DemuxTemplate::new(SubLayout::of(sub.clone()), 1))],
    );
    let mut events = Vec::new();
    for body in ["a", "b", "c"] {
        events.push(Event::MessageStart(Head::None));
        events.push(data(body));
        events.push(Event::MessageEnd(Head::None));
    }
    events.push(Event::StreamEnd(StreamError::NoError));
    let out = run(&l, events);
    assert_eq!(made.get(), 3, "one sub-pipeline per message");
    // A pass-through sub-pipeline answers each message with itself.
    assert_eq!(bytes(&out), "abc");
    assert!(matches!(out.last(), Some(Event::StreamEnd(_))), "{out:?}");
    assert_eq!(sub.active(), 0);
}

#[test]
fn mux_shares_one_session_per_key_and_answers_each_message_in_order() {
    let shared = layout("shared", vec![]);
    let t: Rc<dyn pipy_core::FilterTemplate> = Rc::new(MuxTemplate::new(
        None,
        SubLayout::of(shared.clone()),
        MuxOptions::default(),
    ));
    let l = layout("main", vec![t]);
    // No inbound connection: every stream has the same (empty) key.
    let a = Pipeline::new(&l, Context::new(None), EventTarget::Discard);
    let b = Pipeline::new(&l, Context::new(None), EventTarget::Discard);
    for p in [&a, &b] {
        p.input(Event::MessageStart(Head::None));
        p.input(Event::MessageEnd(Head::None));
    }
    assert_eq!(shared.active(), 1, "one shared session");
    // A pass-through shared pipeline answers each message with itself.
    let out = run(
        &l,
        vec![
            Event::MessageStart(Head::None),
            data("one"),
            Event::MessageEnd(Head::None),
            Event::MessageStart(Head::None),
            data("two"),
            Event::MessageEnd(Head::None),
            Event::StreamEnd(StreamError::NoError),
        ],
    );
    assert_eq!(bytes(&out), "onetwo");
    assert!(matches!(out.last(), Some(Event::StreamEnd(_))), "{out:?}");
}
