//! `decodeMultipart()`: the parts of a `multipart/*` message as Messages.
//!
//! As upstream: a message whose `content-type` is `multipart/...;
//! boundary=...` is replaced by one Message per part, its head `{ headers }`
//! (names in lower case; of a repeated name the first value), its body the
//! part's bytes up to the next delimiter (the line break before it
//! included, as upstream keeps it). The preamble and epilogue are dropped; a
//! part that is itself multipart is decoded into its parts in turn. Other
//! messages pass unchanged. A part whose header block is over 4 KiB or
//! [`MAX_FIELDS`] fields is skipped (upstream cuts each line at 4 KiB and
//! reads on without a bound); nesting stops at [`MAX_DEPTH`].

use crate::split::{Matcher, Piece, Splitter};
use crate::util::{headers, js};
use boa_engine::{js_string, JsValue};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output};

/// Most bytes of one part's header block.
pub const MAX_HEADER_SIZE: usize = 4096;
/// Most header fields of one part.
pub const MAX_FIELDS: usize = 100;
/// Deepest nesting of multipart parts decoded.
pub const MAX_DEPTH: usize = 8;

/// Template of `decodeMultipart`.
pub struct DecodeTemplate;

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        "decodeMultipart"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decode { current: None })
    }
}

struct Decode {
    current: Option<Multipart>,
}

/// The multipart parser for a `content-type`, if it is one.
fn start(content_type: &str, depth: usize) -> Option<Multipart> {
    if content_type.len() > 1000 || !content_type.starts_with("multipart/") || depth > MAX_DEPTH {
        return None;
    }
    let at = content_type.find("boundary=")? + "boundary=".len();
    let mut sep = b"--".to_vec();
    sep.extend_from_slice(&content_type.as_bytes()[at..]);
    let matcher = Matcher::new(sep).ok()?;
    Some(Multipart {
        splitter: Splitter::new(matcher),
        state: State::Start,
        header: Vec::new(),
        header_total: 0,
        head: Vec::new(),
        child: None,
        depth,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Right after a delimiter.
    Start,
    /// After `\r` following a delimiter.
    Crlf,
    /// After `-` following a delimiter (the closing one).
    Dash,
    /// Reading header lines.
    Header,
    /// In the body.
    Body,
    /// Ignoring everything up to the next delimiter.
    End,
}

struct Multipart {
    splitter: Splitter,
    state: State,
    header: Vec<u8>,
    /// Bytes of the current part's header block so far.
    header_total: usize,
    head: Vec<(String, String)>,
    child: Option<Box<Multipart>>,
    depth: usize,
}

impl Multipart {
    fn input(&mut self, data: &Data, out: &mut Output<'_>) {
        let mut pieces = Vec::new();
        self.splitter.input(data, &mut |p| pieces.push(p));
        self.pieces(pieces, out);
    }

    fn end(&mut self, out: &mut Output<'_>) {
        let mut pieces = Vec::new();
        self.splitter.end(&mut |p| pieces.push(p));
        pieces.push(Piece::Separator);
        self.pieces(pieces, out);
    }

    fn pieces(&mut self, pieces: Vec<Piece>, out: &mut Output<'_>) {
        for p in pieces {
            match p {
                Piece::Separator => self.delimiter(out),
                Piece::Bytes(d) => self.bytes(d, out),
            }
        }
    }

    fn delimiter(&mut self, out: &mut Output<'_>) {
        if self.state == State::Body {
            match self.child.take() {
                Some(mut c) => c.end(out),
                None => out.push(Event::MessageEnd(Head::None)),
            }
        }
        self.state = State::Start;
        self.head.clear();
        self.header.clear();
        self.header_total = 0;
    }

    fn bytes(&mut self, mut d: Data, out: &mut Output<'_>) {
        while !d.is_empty() {
            match self.state {
                State::Body => {
                    match &mut self.child {
                        Some(c) => c.input(&d, out),
                        None => out.push(Event::Data(d)),
                    }
                    return;
                }
                State::End => return,
                State::Header => {
                    let line = d.shift_to(|c| c == b'\n');
                    self.header_total += line.len();
                    if self.header_total > MAX_HEADER_SIZE || self.head.len() >= MAX_FIELDS {
                        // A header block past its bound: the part is skipped.
                        self.state = State::End;
                        continue;
                    }
                    let room = MAX_HEADER_SIZE.saturating_sub(self.header.len());
                    self.header.extend(line.bytes().take(room));
                    if self.header.last() == Some(&b'\n') || line.bytes().last() == Some(b'\n') {
                        self.header_line(out);
                    }
                }
                State::Start | State::Crlf | State::Dash => {
                    let c = d.shift(1).bytes().next().unwrap_or(0);
                    self.state = match (self.state, c) {
                        (State::Start, b'\r') => State::Crlf,
                        (State::Start, b'-') => State::Dash,
                        (State::Crlf, b'\n') => State::Header,
                        _ => State::End,
                    };
                }
            }
        }
    }

    /// A header line is complete (an empty one ends the headers).
    fn header_line(&mut self, out: &mut Output<'_>) {
        let line = std::mem::take(&mut self.header);
        if line.len() > 2 {
            let text = String::from_utf8_lossy(&line);
            if let Some((name, value)) = text.split_once(':') {
                let value = value.trim_start_matches([' ', '\t']);
                let value = value.split(['\r', '\n']).next().unwrap_or("");
                let name = name.to_ascii_lowercase();
                // Upstream keeps the first of repeated names.
                if !self.head.iter().any(|(n, _)| *n == name) {
                    self.head.push((name, value.to_owned()));
                }
            }
            return;
        }
        let content_type = self
            .head
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.clone());
        self.child = content_type
            .and_then(|ct| start(&ct, self.depth + 1))
            .map(Box::new);
        if self.child.is_none() {
            out.push(Event::MessageStart(part_head(&self.head)));
        }
        self.state = State::Body;
    }
}

fn part_head(fields: &[(String, String)]) -> Head {
    let v: JsValue = js(|ctx| {
        let h = boa_engine::object::ObjectInitializer::new(ctx).build();
        for (n, v) in fields {
            let _ = h.set(js_string!(n.as_str()), js_string!(v.as_str()), false, ctx);
        }
        boa_engine::object::ObjectInitializer::new(ctx)
            .property(
                js_string!("headers"),
                h,
                boa_engine::property::Attribute::all(),
            )
            .build()
            .into()
    });
    pipy_js::convert::script_head(v)
}

impl Filter for Decode {
    fn process(&mut self, mut evt: Event, out: &mut Output<'_>) {
        match &mut evt {
            Event::MessageStart(h) => {
                if self.current.is_none() {
                    self.current = headers::get(h, "content-type").and_then(|ct| start(&ct, 0));
                }
                if self.current.is_none() {
                    out.push(evt);
                }
            }
            Event::Data(d) => match &mut self.current {
                Some(m) => m.input(d, out),
                None => out.push(evt),
            },
            Event::MessageEnd(_) | Event::StreamEnd(_) => {
                match self.current.take() {
                    Some(mut m) => m.end(out),
                    None if matches!(evt, Event::MessageEnd(_)) => return out.push(evt),
                    None => {}
                }
                if evt.is_stream_end() {
                    out.push(evt);
                }
            }
        }
    }
}
