//! Tests of the HTTP/1 codec, with helpers to feed bytes in any split and compare
//! the events that come out.

mod decode;
mod encode;
mod roundtrip;
mod security;
mod tail;
mod upgrade;

use super::{DecodeError, Decoder, Encoder};
use bytes::Bytes;
use pipy_core::{Data, Event, Head, RequestHead, ResponseHead};

/// An event in comparable form; consecutive body pieces are merged.
#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Req(RequestHead),
    Res(ResponseHead),
    Body(Vec<u8>),
    End,
}

fn to_evs(events: Vec<Event>) -> Vec<Ev> {
    let mut evs = Vec::new();
    for e in events {
        match e {
            Event::MessageStart(Head::Request(h)) => evs.push(Ev::Req(*h)),
            Event::MessageStart(Head::Response(h)) => evs.push(Ev::Res(*h)),
            Event::Data(d) => match evs.last_mut() {
                Some(Ev::Body(b)) => b.extend_from_slice(&d.to_vec()),
                _ => evs.push(Ev::Body(d.to_vec())),
            },
            Event::MessageEnd(_) => evs.push(Ev::End),
            e => panic!("unexpected event {e:?}"),
        }
    }
    evs
}

/// Feeds `input` in pieces of `size` bytes (one `Data` per piece), then `eof` if
/// asked. Returns the events and the first error.
fn feed(
    dec: &mut Decoder,
    input: &[u8],
    size: usize,
    eof: bool,
) -> (Vec<Ev>, Result<(), DecodeError>) {
    let mut events = Vec::new();
    let mut result = Ok(());
    for piece in input.chunks(size.max(1)) {
        result = dec.decode(Data::from(piece.to_vec()), &mut |e| events.push(e));
        if result.is_err() {
            break;
        }
    }
    if eof && result.is_ok() {
        result = dec.eof(&mut |e| events.push(e));
    }
    (to_evs(events), result)
}

/// Decodes `input` whole, then again in every piece size from 1 byte up, and checks
/// that every split gives the same events and outcome. Returns them.
fn decode_any_split(
    new: fn() -> Decoder,
    input: &[u8],
    eof: bool,
) -> (Vec<Ev>, Result<(), DecodeError>) {
    let whole = feed(&mut new(), input, input.len(), eof);
    for size in 1..input.len() {
        let split = feed(&mut new(), input, size, eof);
        assert_eq!(split, whole, "pieces of {size} bytes");
    }
    // All pieces in one multi-chunk Data.
    let mut rope = Data::new();
    for b in input.chunks(3) {
        rope.push_bytes(Bytes::copy_from_slice(b));
    }
    let mut events = Vec::new();
    let mut dec = new();
    let mut result = dec.decode(rope, &mut |e| events.push(e));
    if eof && result.is_ok() {
        result = dec.eof(&mut |e| events.push(e));
    }
    assert_eq!((to_evs(events), result), whole, "one rope of 3-byte chunks");
    whole
}

fn decode_requests(input: &[u8]) -> (Vec<Ev>, Result<(), DecodeError>) {
    decode_any_split(Decoder::request, input, false)
}

fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> RequestHead {
    let mut h = RequestHead {
        method: method.into(),
        path: path.into(),
        ..RequestHead::default()
    };
    for (n, v) in headers {
        h.headers.append(
            Bytes::copy_from_slice(n.as_bytes()),
            Bytes::copy_from_slice(v.as_bytes()),
        );
    }
    h
}

fn res(status: u16, text: &str, headers: &[(&str, &str)]) -> ResponseHead {
    let mut h = ResponseHead {
        status,
        status_text: text.into(),
        ..ResponseHead::default()
    };
    for (n, v) in headers {
        h.headers.append(
            Bytes::copy_from_slice(n.as_bytes()),
            Bytes::copy_from_slice(v.as_bytes()),
        );
    }
    h
}

fn body(b: &[u8]) -> Ev {
    Ev::Body(b.to_vec())
}

/// Encodes events, returning each `Data` pushed as bytes.
fn encode(enc: &mut Encoder, events: Vec<Event>) -> Vec<Vec<u8>> {
    let mut pushes = Vec::new();
    for e in events {
        enc.encode(e, &mut |d| pushes.push(d.to_vec()));
    }
    pushes
}

fn start_req(h: RequestHead) -> Event {
    Event::MessageStart(Head::Request(Box::new(h)))
}

fn start_res(h: ResponseHead) -> Event {
    Event::MessageStart(Head::Response(Box::new(h)))
}

fn data(b: &[u8]) -> Event {
    Event::Data(Data::from(b.to_vec()))
}

fn end() -> Event {
    Event::MessageEnd(Head::None)
}

/// Whether `inner` lies within `outer`'s memory: a slice, not a copy.
fn is_slice_of(inner: &Bytes, outer: &Bytes) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i >= o && i + inner.len() <= o + outer.len()
}
