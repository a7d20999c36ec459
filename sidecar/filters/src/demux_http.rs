//! `demuxHTTP`: the server side of HTTP/1. Each request goes to a sub-pipeline of
//! its own (with a forked context); responses go back to the client in request
//! order, so pipelined requests are answered correctly.
//!
//! `serveHTTP` (in `serve_http.rs`) reuses this machinery with a handler in place
//! of the sub-pipeline.

use crate::http_codec::native_head;
use crate::serve_http::Handler;
use crate::SubLayout;
use bytes::Bytes;
use pipy_codec::http1::{expects_continue, wants_close, Decoder, Encoder};
use pipy_core::{
    Data, Event, Filter, FilterDump, FilterTemplate, Head, Output, Pipeline, ResponseHead,
    StreamError, SubKind, Version,
};
use std::collections::VecDeque;

/// Template of `demuxHTTP` (sub-pipeline) and `serveHTTP` (handler).
pub struct DemuxHttpTemplate {
    target: Target,
}

#[derive(Clone)]
enum Target {
    Pipeline(SubLayout),
    Serve(Handler),
}

impl DemuxHttpTemplate {
    /// `demuxHTTP()`; the sub-pipeline comes with `.to(...)`.
    pub fn demux(sub: SubLayout) -> Self {
        Self {
            target: Target::Pipeline(sub),
        }
    }

    /// `serveHTTP(handler)`.
    pub fn serve(handler: Handler) -> Self {
        Self {
            target: Target::Serve(handler),
        }
    }
}

impl FilterTemplate for DemuxHttpTemplate {
    fn name(&self) -> &'static str {
        match self.target {
            Target::Pipeline(_) => "demuxHTTP",
            Target::Serve(_) => "serveHTTP",
        }
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(match &self.target {
            Target::Pipeline(sub) => {
                FilterDump::joint(self.name(), vec![sub.get()]).with_kind(SubKind::Demux)
            }
            Target::Serve(_) => FilterDump::plain(self.name()),
        })
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(DemuxHttp {
            target: self.target.clone(),
            decoder: Decoder::request(),
            encoder: Encoder::response(),
            streams: VecDeque::new(),
            next_key: 0,
            input_ended: false,
            closed: false,
        })
    }
}

struct Stream {
    key: u64,
    pipeline: Option<Pipeline>,
    /// Response events that arrived while an earlier response was still going out.
    pending: Vec<Event>,
    /// The request is fully received.
    request_done: bool,
    response_started: bool,
    response_done: bool,
    is_head: bool,
    version: Version,
    close_after: bool,
    /// Collected request for a serve handler.
    request: Option<(Head, Data)>,
}

struct DemuxHttp {
    target: Target,
    decoder: Decoder,
    encoder: Encoder,
    streams: VecDeque<Stream>,
    next_key: u64,
    input_ended: bool,
    closed: bool,
}

/// The status a failed sub-pipeline maps to when no response was produced.
fn status_for(err: StreamError) -> u16 {
    use StreamError::*;
    match err {
        ConnectionTimeout | ReadTimeout | WriteTimeout | IdleTimeout => 504,
        RuntimeError | UnknownError | BufferOverflow => 500,
        Unauthorized => 401,
        _ => 502,
    }
}

/// The answer to a request whose sub-pipeline failed before responding: the
/// status for the error, the error's name in words as reason phrase, no body.
pub(crate) fn error_response(status: u16, err: StreamError) -> Vec<Event> {
    let mut text = String::new();
    for (i, c) in err.name().chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            text.push(' ');
        }
        text.push(c);
    }
    let head = ResponseHead {
        status,
        status_text: text,
        ..Default::default()
    };
    vec![
        Event::MessageStart(Head::Response(Box::new(head))),
        Event::MessageEnd(Head::None),
    ]
}

/// A minimal response with a text body.
pub(crate) fn simple_response(status: u16, body: &str, close: bool) -> Vec<Event> {
    let mut head = ResponseHead {
        status,
        ..Default::default()
    };
    head.headers.append(
        Bytes::from_static(b"content-type"),
        Bytes::from_static(b"text/plain"),
    );
    if close {
        head.headers.append(
            Bytes::from_static(b"connection"),
            Bytes::from_static(b"close"),
        );
    }
    let mut events = vec![Event::MessageStart(Head::Response(Box::new(head)))];
    if !body.is_empty() {
        events.push(Event::Data(Data::from(body.to_string())));
    }
    events.push(Event::MessageEnd(Head::None));
    events
}

impl DemuxHttp {
    fn on_request_event(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(Head::Request(req)) => {
                let key = self.next_key;
                self.next_key += 1;
                let close_after = wants_close(req.version, &req.headers);
                if expects_continue(&req) {
                    out.push(Event::Data(Data::from("HTTP/1.1 100 Continue\r\n\r\n")));
                }
                let mut s = Stream {
                    key,
                    pipeline: None,
                    pending: Vec::new(),
                    request_done: false,
                    response_started: false,
                    response_done: false,
                    is_head: req.method.eq_ignore_ascii_case("HEAD"),
                    version: req.version,
                    close_after,
                    request: None,
                };
                let head = Head::Request(req);
                match &self.target {
                    Target::Pipeline(sub) => {
                        let Some(layout) = sub.get() else {
                            tracing::error!("demuxHTTP has no sub-pipeline: add .to(...)");
                            return;
                        };
                        let p = out.sub_pipeline(&layout, true, key);
                        s.pipeline = Some(p.clone());
                        self.streams.push_back(s);
                        p.input(Event::MessageStart(head));
                    }
                    Target::Serve(_) => {
                        s.request = Some((head, Data::new()));
                        self.streams.push_back(s);
                    }
                }
            }
            Event::Data(d) => {
                if let Some(s) = self.streams.back_mut() {
                    if let Some(p) = &s.pipeline {
                        p.input(Event::Data(d));
                    } else if let Some((_, body)) = &mut s.request {
                        body.push(d);
                    }
                }
            }
            Event::MessageEnd(tail) => {
                let only = self.streams.len() == 1;
                let Some(s) = self.streams.back_mut() else {
                    return;
                };
                s.request_done = true;
                if let Some(p) = &s.pipeline {
                    p.input(Event::MessageEnd(tail));
                } else if let (Target::Serve(h), Some((head, body))) =
                    (&self.target, s.request.take())
                {
                    // Fast path: a constant answer to the only request in flight
                    // goes out as bytes encoded once.
                    if let Handler::Fixed(f) = h {
                        if only
                            && !s.is_head
                            && !s.close_after
                            && s.version == Version::Http11
                            && f.keeps_alive()
                        {
                            out.push(Event::Data(f.wire()));
                            self.streams.pop_front();
                            return;
                        }
                    }
                    let key = s.key;
                    let events = h.respond(head, body, out.context());
                    for e in events {
                        self.on_response(key, e, out);
                    }
                }
            }
            _ => {}
        }
    }

    fn fail(&mut self, status: u16, reason: &str, out: &mut Output<'_>) {
        // Malformed input: answer after what is already queued, then close.
        let key = self.next_key;
        self.next_key += 1;
        self.streams.push_back(Stream {
            key,
            pipeline: None,
            pending: Vec::new(),
            request_done: true,
            response_started: false,
            response_done: false,
            is_head: false,
            version: Version::Http11,
            close_after: true,
            request: None,
        });
        self.input_ended = true;
        for e in simple_response(status, reason, true) {
            self.on_response(key, e, out);
        }
    }

    fn on_response(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        let Some(idx) = self.streams.iter().position(|s| s.key == key) else {
            return;
        };
        if idx > 0 {
            self.streams[idx].pending.push(evt);
            return;
        }
        self.write_response_event(evt, out);
        self.flush(out);
    }

    /// Writes one event of the front stream's response.
    fn write_response_event(&mut self, evt: Event, out: &mut Output<'_>) {
        let Some(s) = self.streams.front_mut() else {
            return;
        };
        if s.response_done {
            return;
        }
        match evt {
            Event::StreamEnd(err) => {
                if s.response_started {
                    // Cut off mid-response: the client cannot be told cleanly.
                    s.response_done = true;
                    s.close_after = true;
                    self.closed = true;
                    out.push(Event::StreamEnd(err));
                } else {
                    let status = if err == StreamError::NoError {
                        502
                    } else {
                        status_for(err)
                    };
                    let events = error_response(status, err);
                    for e in events {
                        self.write_response_event(e, out);
                    }
                }
            }
            Event::MessageStart(_) => {
                let e = native_head(evt, false);
                let (is_head, version, close) = (s.is_head, s.version, s.close_after);
                s.response_started = true;
                let e = match e {
                    Event::MessageStart(Head::Response(mut h)) => {
                        if version == Version::Http10 {
                            h.version = Version::Http10;
                            if !close {
                                h.headers
                                    .set("connection", Bytes::from_static(b"keep-alive"));
                            }
                        }
                        if wants_close(h.version, &h.headers) {
                            s.close_after = true;
                        } else if close {
                            h.headers.set("connection", Bytes::from_static(b"close"));
                        }
                        Event::MessageStart(Head::Response(h))
                    }
                    e => e,
                };
                self.encoder.expect_head_response(is_head);
                self.encoder.encode(e, &mut |d| out.push(Event::Data(d)));
            }
            Event::MessageEnd(_) if s.response_started => {
                s.response_done = true;
                self.encoder.encode(evt, &mut |d| out.push(Event::Data(d)));
                if self.encoder.must_close() {
                    if let Some(s) = self.streams.front_mut() {
                        s.close_after = true;
                    }
                }
            }
            Event::Data(_) if s.response_started => {
                self.encoder.encode(evt, &mut |d| out.push(Event::Data(d)));
            }
            _ => {}
        }
    }

    /// Retires finished responses and writes what later ones have queued.
    fn flush(&mut self, out: &mut Output<'_>) {
        while let Some(front) = self.streams.front() {
            if !(front.response_done && front.request_done) {
                break;
            }
            let s = self.streams.pop_front().expect("front exists");
            if s.close_after {
                self.streams.clear();
                if !self.closed {
                    self.closed = true;
                    out.push(Event::StreamEnd(StreamError::NoError));
                }
                return;
            }
            if let Some(next) = self.streams.front_mut() {
                let pending = std::mem::take(&mut next.pending);
                for e in pending {
                    self.write_response_event(e, out);
                }
            }
        }
        if self.streams.is_empty() && self.input_ended && !self.closed {
            self.closed = true;
            out.push(Event::StreamEnd(StreamError::NoError));
        }
    }
}

impl Filter for DemuxHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.closed || self.input_ended {
            return;
        }
        match evt {
            Event::Data(d) => {
                let mut events = Vec::new();
                let r = self.decoder.decode(d, &mut |e| events.push(e));
                for e in events {
                    self.on_request_event(e, out);
                }
                if let Err(e) = r {
                    tracing::debug!("bad request: {e}");
                    self.fail(e.status(), e.reason(), out);
                }
            }
            Event::StreamEnd(_) => {
                self.input_ended = true;
                // A request cut short gets no answer; finished ones still do.
                if let Some(s) = self.streams.back() {
                    if !s.request_done {
                        let s = self.streams.pop_back().expect("back exists");
                        if let Some(p) = s.pipeline {
                            p.input(Event::StreamEnd(StreamError::ConnectionReset));
                        }
                    }
                }
                self.flush(out);
            }
            _ => {}
        }
        out.context().requests.set(Some(self.streams.len()));
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        if self.closed {
            return;
        }
        self.on_response(key, evt, out);
        out.context().requests.set(Some(self.streams.len()));
    }
}
