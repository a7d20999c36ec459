//! `demuxHTTP`: the server side of HTTP/1. Each request goes to a sub-pipeline of
//! its own (with a forked context); responses go back to the client in request
//! order, so pipelined requests are answered correctly. A `101` answer turns the
//! connection into a tunnel between the client and that request's sub-pipeline.
//!
//! `serveHTTP` (in `serve_http.rs`) reuses this machinery with a handler in place
//! of the sub-pipeline.

use crate::http_codec::{native_head, HttpOptions};
use crate::http_reply::{error_response, simple_response, status_for};
use crate::serve_http::Handler;
use crate::SubLayout;
use pipy_codec::http1::{expects_continue, wants_close, DecodeError, Decoder, Encoder};
use pipy_core::flow::Congestion;
use pipy_core::spare;
use pipy_core::{
    Data, Event, Filter, FilterDump, FilterTemplate, Head, Output, StreamError, SubKind, Version,
};
use std::collections::VecDeque;
use stream::{response_head, Stream};

mod stream;
mod upgrade;

/// Template of `demuxHTTP` (sub-pipeline) and `serveHTTP` (handler).
pub struct DemuxHttpTemplate {
    target: Target,
    options: HttpOptions,
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
            options: HttpOptions::default(),
        }
    }

    /// `serveHTTP(handler)`.
    pub fn serve(handler: Handler) -> Self {
        Self {
            target: Target::Serve(handler),
            options: HttpOptions::default(),
        }
    }

    /// The same, with options (`maxHeaderSize`).
    pub fn with_options(mut self, options: HttpOptions) -> Self {
        self.options = options;
        self
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
        let mut decoder = Decoder::request();
        decoder.set_max_head_size(self.options.max_header_size);
        decoder.hold_after_upgrade(true);
        Box::new(DemuxHttp {
            target: self.target.clone(),
            decoder,
            encoder: {
                let mut e = Encoder::response();
                e.set_buffer_size(self.options.buffer_size);
                e
            },
            streams: VecDeque::new(),
            events: Vec::new(),
            next_key: 0,
            input_ended: false,
            closed: false,
            too_many: Congestion::default(),
            held: 0,
            held_back: Congestion::default(),
            h2: None,
            sniffed: None,
        })
    }
}

struct DemuxHttp {
    target: Target,
    decoder: Decoder,
    encoder: Encoder,
    streams: VecDeque<Stream>,
    /// Reused buffer of decoded events, so decoding allocates nothing per event.
    events: Vec<Event>,
    next_key: u64,
    input_ended: bool,
    closed: bool,
    /// Holds the client's reads paused while `MAX_PIPELINED` requests wait.
    too_many: Congestion,
    /// Bytes of answers that came early (for requests behind the front one).
    held: usize,
    /// Holds the sources of those early answers paused while they pile up.
    held_back: Congestion,
    /// The connection speaks HTTP/2 (it began with the preface).
    h2: Option<crate::http2::server::Server>,
    /// The first bytes, while they may still be the HTTP/2 preface.
    sniffed: Option<Vec<u8>>,
}

/// Empty stream queues that idle connections gave back, for connections
/// that get a request next: an idle keep-alive connection holds none. At most
/// `SPARE_QUEUES` are kept, each with room for at most `KEEP_STREAMS`.
const SPARE_QUEUES: usize = 256;
const KEEP_STREAMS: usize = 4;

thread_local! {
    static SPARE_STREAMS: spare::Pool<VecDeque<Stream>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Key of the HTTP/2 connection's output in `on_reply`.
const H2_KEY: u64 = u64::MAX;

/// Requests of one connection in progress at which reading from the client
/// pauses until half of them are answered (a pipelining client cannot make
/// us start an unbounded number of sub-pipelines).
const MAX_PIPELINED: usize = 32;

/// Bytes of early answers held at which their sources pause (see `held`).
const HELD_LIMIT: usize = 1 << 20;

impl DemuxHttp {
    /// Decodes client bytes (or, with `None`, the bytes held after a refused
    /// `Upgrade`) and dispatches the requests they hold.
    fn decode(&mut self, data: Option<Data>, out: &mut Output<'_>) {
        let mut events = std::mem::take(&mut self.events);
        let mut push = |e| events.push(e);
        let resumed = data.is_none();
        let r = match data {
            Some(d) => self.decoder.decode(d, &mut push),
            None => self.decoder.resume(&mut push),
        };
        for e in events.drain(..) {
            self.on_request_event(e, out);
        }
        if self.events.capacity() < events.capacity() {
            self.events = events;
        }
        match r {
            // Held bytes after the client's FIN are all there will be.
            Ok(()) if resumed && self.input_ended => self.end_input(out),
            Ok(()) => self.settle_upgrade(out),
            Err(e) => self.fail(e, out),
        }
    }

    fn on_request_event(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(Head::Request(req)) => {
                let key = self.next_key;
                self.next_key += 1;
                if expects_continue(&req) {
                    out.push(Event::Data(Data::from("HTTP/1.1 100 Continue\r\n\r\n")));
                }
                let mut s = Stream::new(key, req.version, wants_close(req.version, &req.headers));
                s.is_head = req.method.eq_ignore_ascii_case("HEAD");
                s.is_connect = req.method == "CONNECT";
                let head = Head::Request(req);
                match &self.target {
                    Target::Pipeline(sub) => {
                        let Some(layout) = sub.get() else {
                            tracing::error!("demuxHTTP has no sub-pipeline: add .to(...)");
                            return;
                        };
                        let p = out.sub_pipeline(&layout, true, key);
                        s.pipeline = Some(p.clone());
                        self.push_stream(s);
                        p.input(Event::MessageStart(head));
                    }
                    Target::Serve(_) => {
                        s.request = Some((head, Data::new()));
                        self.push_stream(s);
                    }
                }
            }
            Event::Data(d) => {
                let mut too_large = false;
                if let Some(s) = self.streams.back_mut() {
                    if let Some(p) = &s.pipeline {
                        p.input(Event::Data(d));
                    } else if let Some((_, body)) = &mut s.request {
                        // serveHTTP gathers the request whole: within a limit.
                        too_large = body.len() + d.len() > crate::handle::DEFAULT_BODY_LIMIT;
                        if !too_large {
                            body.push(d);
                        }
                    }
                }
                if too_large {
                    self.fail(DecodeError::BodyTooLarge, out);
                }
            }
            Event::MessageEnd(tail) => self.on_request_end(tail, out),
            _ => {}
        }
    }

    fn on_request_end(&mut self, tail: Head, out: &mut Output<'_>) {
        let only = self.streams.len() == 1;
        let Some(s) = self.streams.back_mut() else {
            return;
        };
        s.request_done = true;
        if let Some(p) = &s.pipeline {
            p.input(Event::MessageEnd(tail));
        } else if let (Target::Serve(h), Some((head, body))) = (&self.target, s.request.take()) {
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
            let target = out.reply_target(key);
            let Some(events) = h.respond(
                head,
                body,
                tail,
                out.context(),
                Box::new(move |e| target.send(e)),
            ) else {
                // A Promise: the answer comes back through `on_reply`.
                return;
            };
            // The whole body is in hand: it keeps a length, however long.
            s.body_length = Some(
                events
                    .iter()
                    .map(|e| match e {
                        Event::Data(d) => d.len() as u64,
                        _ => 0,
                    })
                    .sum(),
            );
            for e in events {
                self.on_response(key, e, out);
            }
        }
    }

    /// Malformed input: the request being read is dropped (unless its answer has
    /// begun, which then ends the connection), and an error answer goes out after
    /// what is already queued, then a close. Nothing waits for more input.
    /// (Upstream skips to the end of a line after a bad chunk and reads on, and
    /// closes without an answer on other errors; we answer 400/431/501 and close,
    /// as RFC 9112 §7.1 and §11.2 want a recipient to treat bad framing.)
    fn fail(&mut self, err: DecodeError, out: &mut Output<'_>) {
        tracing::debug!("bad request: {err}");
        self.input_ended = true;
        if let Some(s) = self.streams.back_mut() {
            if !s.request_done {
                s.abort(StreamError::ProtocolError);
                if s.response_started {
                    s.request_done = true;
                    s.close_after = true;
                    self.flush(out);
                    return;
                }
                self.streams.pop_back();
            }
        }
        let key = self.next_key;
        self.next_key += 1;
        let mut s = Stream::new(key, Version::Http11, true);
        s.request_done = true;
        self.push_stream(s);
        for e in simple_response(err.status(), err.reason(), true) {
            self.on_response(key, e, out);
        }
    }

    /// The client's FIN. A request cut short ends at once: it is dropped unless
    /// its answer has begun. A tunnel passes the FIN on and waits for the far end.
    /// (Upstream passes a cut request on as if it were complete; RFC 9112 §8
    /// calls it incomplete, so it is not handled as a request.)
    fn end_input(&mut self, out: &mut Output<'_>) {
        self.input_ended = true;
        if let Some(s) = self.streams.back_mut() {
            if s.tunnel {
                s.abort(StreamError::NoError);
                return;
            }
            if !s.request_done {
                s.abort(StreamError::ConnectionReset);
                if s.response_started {
                    s.request_done = true;
                    s.close_after = true;
                } else {
                    self.streams.pop_back();
                }
            }
        }
        self.flush(out);
    }

    fn on_response(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        let Some(idx) = self.streams.iter().position(|s| s.key == key) else {
            return;
        };
        if idx > 0 {
            if let Event::Data(d) = &evt {
                self.held += d.len();
                if self.held >= HELD_LIMIT {
                    self.held_back.begin();
                }
            }
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
        if s.tunnel && s.response_done {
            match evt {
                Event::Data(d) => out.push(Event::Data(d)),
                Event::StreamEnd(_) => self.close(out),
                _ => {}
            }
            return;
        }
        if s.response_done {
            return;
        }
        match evt {
            Event::StreamEnd(err) if s.response_started => {
                // Cut off mid-response: what came goes out, then the connection
                // closes, so the client sees the message cut short (RFC 9112 §8).
                // Upstream instead rewrites a held-back body's Content-Length to
                // what came and keeps the connection: a truncated body that looks
                // complete.
                s.response_done = true;
                s.close_after = true;
                self.encoder
                    .encode(Event::StreamEnd(err), &mut |d| out.push(Event::Data(d)));
                self.close(out);
            }
            Event::StreamEnd(err) => {
                let status = match err {
                    StreamError::NoError => 502,
                    err => status_for(err),
                };
                for e in error_response(status, err) {
                    self.write_response_event(e, out);
                }
            }
            Event::MessageStart(_) => {
                s.response_started = true;
                let evt = response_head(s, native_head(evt, false));
                self.encoder.expect_response_to(if s.is_connect {
                    "CONNECT"
                } else if s.is_head {
                    "HEAD"
                } else {
                    "GET"
                });
                self.encoder.set_http10_peer(s.version == Version::Http10);
                self.encoder.announce_length(s.body_length.take());
                self.encoder.encode(evt, &mut |d| out.push(Event::Data(d)));
                if self.streams.len() == 1 {
                    self.settle_upgrade(out);
                }
            }
            Event::MessageEnd(_) if s.response_started => {
                s.response_done = true;
                self.encoder.encode(evt, &mut |d| out.push(Event::Data(d)));
                s.close_after |= self.encoder.must_close();
            }
            Event::Data(_) if s.response_started => {
                self.encoder.encode(evt, &mut |d| out.push(Event::Data(d)));
            }
            _ => {}
        }
    }

    /// Adds a request's stream, in a spare queue if this connection has none.
    fn push_stream(&mut self, s: Stream) {
        if self.streams.capacity() == 0 {
            if let Some(queue) = spare::take(&SPARE_STREAMS) {
                self.streams = queue;
            }
        }
        self.streams.push_back(s);
    }

    /// With no request in progress, gives the stream queue back to the
    /// thread's spares (or frees it, past the pool's bounds).
    fn release_streams(&mut self) {
        if !self.streams.is_empty() || self.streams.capacity() == 0 {
            return;
        }
        let queue = std::mem::take(&mut self.streams);
        if queue.capacity() <= KEEP_STREAMS {
            spare::keep(&SPARE_STREAMS, queue, SPARE_QUEUES);
        }
    }

    /// Retires finished responses and writes what later ones have queued.
    fn flush(&mut self, out: &mut Output<'_>) {
        while let Some(front) = self.streams.front() {
            if !(front.response_done && front.request_done) || front.tunnel {
                break;
            }
            let Some(s) = self.streams.pop_front() else {
                break;
            };
            if s.close_after {
                self.close(out);
                return;
            }
            if self.streams.len() <= MAX_PIPELINED / 2 {
                self.too_many.end();
            }
            if let Some(next) = self.streams.front_mut() {
                let pending = std::mem::take(&mut next.pending);
                for e in pending {
                    if let Event::Data(d) = &e {
                        self.held = self.held.saturating_sub(d.len());
                    }
                    self.write_response_event(e, out);
                }
                if self.held <= HELD_LIMIT / 2 {
                    self.held_back.end();
                }
            }
        }
        if self.streams.is_empty() && self.input_ended {
            self.close(out);
        }
    }

    fn close(&mut self, out: &mut Output<'_>) {
        self.streams.clear();
        if !self.closed {
            self.closed = true;
            out.push(Event::StreamEnd(StreamError::NoError));
        }
    }
}

impl DemuxHttp {
    /// Watches a connection's first bytes for the HTTP/2 preface (prior
    /// knowledge, or after TLS chose `h2`): the bytes to decode as HTTP/1, or
    /// `None` while undecided or once HTTP/2 has taken over. An HTTP/1.1
    /// request asking to `Upgrade: h2c` is answered in HTTP/1.1: RFC 9113
    /// §3.1 deprecates that upgrade (upstream still performs it).
    fn sniff(&mut self, d: Data, out: &mut Output<'_>) -> Option<Data> {
        use crate::http2::PREFACE;
        let fresh = self.next_key == 0 && self.decoder.is_idle();
        if self.sniffed.is_none() && !(fresh && d.bytes().next() == Some(PREFACE[0])) {
            return Some(d);
        }
        let seen = self.sniffed.get_or_insert_with(Vec::new);
        seen.extend(d.bytes());
        let n = seen.len().min(PREFACE.len());
        if seen[..n] != PREFACE[..n] {
            return self.sniffed.take().map(Data::from);
        }
        if n < PREFACE.len() {
            return None;
        }
        let target = match &self.target {
            Target::Pipeline(sub) => match sub.get() {
                Some(l) => crate::http2::server::Target::Pipeline(l),
                None => {
                    tracing::error!("demuxHTTP has no sub-pipeline: add .to(...)");
                    self.sniffed = None;
                    self.closed = true;
                    out.push(Event::StreamEnd(StreamError::NoError));
                    return None;
                }
            },
            Target::Serve(h) => crate::http2::server::Target::Serve(h.clone()),
        };
        let h2 = crate::http2::server::Server::start(
            target,
            out.context().clone(),
            out.reply_target(H2_KEY),
        );
        if let Some(seen) = self.sniffed.take() {
            h2.feed(Data::from(seen));
        }
        self.h2 = Some(h2);
        None
    }
}

impl Filter for DemuxHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.closed || self.input_ended {
            return;
        }
        if let Some(h2) = &self.h2 {
            match evt {
                Event::Data(d) => h2.feed(d),
                Event::StreamEnd(_) => h2.end(),
                _ => {}
            }
            return;
        }
        match evt {
            Event::Data(d) => match self.sniff(d, out) {
                Some(d) => self.decode(Some(d), out),
                None => return,
            },
            Event::StreamEnd(_) => {
                if let Some(held) = self.sniffed.take() {
                    self.decode(Some(Data::from(held)), out);
                }
                self.end_input(out)
            }
            _ => {}
        }
        if self.streams.len() >= MAX_PIPELINED {
            // We are handling the client's bytes: its reads pause.
            self.too_many.begin();
        }
        out.context().requests.set(Some(self.streams.len()));
        self.release_streams();
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        if self.closed {
            return;
        }
        if key == H2_KEY {
            self.closed |= evt.is_stream_end();
            out.push(evt);
            return;
        }
        self.on_response(key, evt, out);
        out.context().requests.set(Some(self.streams.len()));
        self.release_streams();
    }
}
