//! `demuxFastCGI()` and `muxFastCGI(key?, options?)`: FastCGI (see
//! `pipy_codec::fastcgi`) between the records on a connection and one
//! message per request, as upstream 1.5's filters of these names do.
//!
//! A request's head is `{ role, keepAlive, params }` (role 1, the responder,
//! by default; `params` the name-value pairs as an object of strings), its
//! body the `FCGI_STDIN` stream. A response has an empty head, the
//! `FCGI_STDOUT` stream as its body and, in its `MessageEnd`, a tail
//! `{ appStatus, protocolStatus, stderr }` (`stderr` a Data of the
//! `FCGI_STDERR` stream).
//!
//! `demuxFastCGI` gives each request a sub-pipeline of its own (requests may
//! interleave on one connection) and writes its answer back under its
//! request ID; without `keepAlive` the connection ends after the answer.
//! `muxFastCGI` shares a session per key (`mux_pool`) among many streams,
//! each request under an ID of its own, and routes the answers by ID.
//!
//! Where we differ from upstream, on purpose: a sub-pipeline that ends
//! without answering still ends its request (`FCGI_END_REQUEST`, status 0;
//! upstream leaves the client waiting); records longer than 65,535 bytes are
//! split (upstream's length field wraps); parameters and `stderr` are
//! bounded ([`MAX_PARAMS`], [`MAX_STDERR`]).

use crate::mux::MuxOptions;
use crate::mux_pool::{session_key, Pool, Session, Wire};
use crate::util::{js, Callback};
use crate::SubLayout;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue};
use bytes::Bytes;
use pipy_codec::fastcgi::{self as wire, Decoder, Record};
use pipy_core::{
    Data, Event, EventTarget, Filter, FilterDump, FilterTemplate, Head, Output, Pipeline,
    StreamError, SubKind,
};
use pipy_js::api::data::{data_of, new_data};
use pipy_js::convert;
use std::collections::HashMap;
use std::rc::Rc;

/// Most bytes of parameters `demuxFastCGI` holds on one connection (of the
/// requests whose parameters are still coming).
pub const MAX_PARAMS: usize = 1 << 20;
/// Most requests open at once on one connection `demuxFastCGI` takes.
pub const MAX_REQUESTS: usize = 1024;
/// Most bytes of one response's `FCGI_STDERR` stream `muxFastCGI` keeps
/// for the tail (the rest is dropped).
pub const MAX_STDERR: usize = 1 << 20;

fn records(kind: u8, id: u16, body: &[u8]) -> Event {
    let mut out = Vec::with_capacity(body.len() + 16);
    wire::encode_records(kind, id, body, &mut out);
    Event::Data(Data::from(Bytes::from(out)))
}

/// The records `d` completes.
fn decode(decoder: &mut Decoder, d: &Data) -> Vec<Record> {
    let mut recs = Vec::new();
    for chunk in d.chunks() {
        decoder.feed(chunk, &mut recs);
    }
    recs
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------- demux

/// Template of `demuxFastCGI()`.
pub struct DemuxTemplate {
    sub: SubLayout,
}

impl DemuxTemplate {
    /// `demuxFastCGI()`; each request's sub-pipeline comes with `.to(...)`.
    pub fn new(sub: SubLayout) -> Self {
        Self { sub }
    }
}

impl FilterTemplate for DemuxTemplate {
    fn name(&self) -> &'static str {
        "demuxFastCGI"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]).with_kind(SubKind::Demux))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Demux {
            sub: self.sub.clone(),
            decoder: Decoder::new(),
            requests: HashMap::new(),
            input_ended: false,
            done: false,
        })
    }
}

/// A request a server is taking or answering.
struct ServerRequest {
    role: u16,
    keep_conn: bool,
    params: Vec<u8>,
    pipeline: Option<Pipeline>,
    request_ended: bool,
}

struct Demux {
    sub: SubLayout,
    decoder: Decoder,
    requests: HashMap<u16, ServerRequest>,
    input_ended: bool,
    done: bool,
}

fn request_head(role: u16, keep_conn: bool, params: &[u8], ctx: &mut Context) -> JsResult<Head> {
    let pairs = wire::decode_params(params)
        .map_err(|e| boa_engine::JsNativeError::syntax().with_message(e.to_string()))?;
    let obj = ObjectInitializer::new(ctx).build();
    for (name, value) in pairs {
        obj.set(
            js_string!(text(&name)),
            js_string!(text(&value)),
            false,
            ctx,
        )?;
    }
    let a = Attribute::all();
    let head = ObjectInitializer::new(ctx)
        .property(js_string!("role"), i32::from(role), a)
        .property(js_string!("keepAlive"), keep_conn, a)
        .property(js_string!("params"), obj, a)
        .build();
    Ok(convert::script_head(head.into()))
}

/// `appStatus` and `protocolStatus` of a response's tail (zeros when absent).
fn tail_status(h: &Head, ctx: &mut Context) -> JsResult<(u32, u8)> {
    let Head::Script(s) = h else {
        return Ok((0, 0));
    };
    let Some(o) = convert::script_value(s).as_object() else {
        return Ok((0, 0));
    };
    let app = o.get(js_string!("appStatus"), ctx)?.to_u32(ctx)?;
    let protocol = o.get(js_string!("protocolStatus"), ctx)?.to_u32(ctx)?;
    Ok((app, protocol as u8))
}

impl Demux {
    fn on_record(&mut self, rec: Record, out: &mut Output<'_>) {
        let id = rec.request_id;
        match rec.kind {
            wire::BEGIN_REQUEST => {
                if self.requests.len() >= MAX_REQUESTS && !self.requests.contains_key(&id) {
                    tracing::error!("demuxFastCGI: over {MAX_REQUESTS} requests at once");
                    self.done = true;
                    return out.fail(StreamError::ProtocolError);
                }
                let (role, flags) = wire::parse_begin_request(&rec.body);
                self.requests.entry(id).or_insert(ServerRequest {
                    role,
                    keep_conn: flags & wire::KEEP_CONN != 0,
                    params: Vec::new(),
                    pipeline: None,
                    request_ended: false,
                });
            }
            wire::ABORT_REQUEST => {
                // Ended, and answered (the specification asks for an
                // END_REQUEST; upstream sends none).
                if let Some(r) = self.requests.get_mut(&id) {
                    if let Some(p) = r.pipeline.take() {
                        p.input(Event::StreamEnd(StreamError::NoError));
                    }
                    self.end_request(id, (0, 0), out);
                }
            }
            wire::PARAMS => self.on_params(id, rec.body, out),
            wire::STDIN => {
                let Some(r) = self.requests.get_mut(&id) else {
                    return;
                };
                let Some(p) = r.pipeline.clone().filter(|_| !r.request_ended) else {
                    return;
                };
                if rec.body.is_empty() {
                    r.request_ended = true;
                    p.input(Event::MessageEnd(Head::None));
                } else {
                    p.input(Event::Data(Data::from(rec.body)));
                }
            }
            // FCGI_DATA (the filter role's extra stream) and management
            // records: not taken, as upstream.
            _ => {}
        }
    }

    fn on_params(&mut self, id: u16, body: Bytes, out: &mut Output<'_>) {
        if self.requests.get(&id).is_none_or(|r| r.pipeline.is_some()) {
            return;
        }
        let held: usize = self.requests.values().map(|r| r.params.len()).sum();
        let Some(r) = self.requests.get_mut(&id) else {
            return;
        };
        if !body.is_empty() {
            if held + body.len() > MAX_PARAMS {
                tracing::error!("demuxFastCGI: parameters over {MAX_PARAMS} bytes");
                self.done = true;
                return out.fail(StreamError::ProtocolError);
            }
            r.params.extend_from_slice(&body);
            return;
        }
        let head = match js(|ctx| request_head(r.role, r.keep_conn, &r.params, ctx)) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("demuxFastCGI: {e}");
                self.done = true;
                return out.fail(StreamError::ProtocolError);
            }
        };
        r.params = Vec::new();
        let Some(layout) = self.sub.get() else { return };
        let p = out.sub_pipeline(&layout, true, u64::from(id));
        r.pipeline = Some(p.clone());
        p.input(Event::MessageStart(head));
    }

    /// Ends a request with its status; without keep-alive, the connection.
    fn end_request(&mut self, id: u16, status: (u32, u8), out: &mut Output<'_>) {
        let Some(r) = self.requests.remove(&id) else {
            return;
        };
        out.push(records(wire::STDOUT, id, &[]));
        out.push(records(
            wire::END_REQUEST,
            id,
            &wire::end_request_body(status.0, status.1),
        ));
        if !r.keep_conn || (self.input_ended && self.requests.is_empty()) {
            self.finish(out);
        }
    }

    fn finish(&mut self, out: &mut Output<'_>) {
        self.done = true;
        for (_, r) in self.requests.drain() {
            if let Some(p) = r.pipeline {
                p.input(Event::StreamEnd(StreamError::NoError));
            }
        }
        out.push(Event::StreamEnd(StreamError::NoError));
    }
}

impl Filter for Demux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match evt {
            Event::Data(d) => {
                for rec in decode(&mut self.decoder, &d) {
                    self.on_record(rec, out);
                    if self.done {
                        return;
                    }
                }
            }
            Event::StreamEnd(_) => {
                self.input_ended = true;
                // Requests that never began are gone; those still taking
                // their body end, and answer (or end) in their turn.
                self.requests.retain(|_, r| r.pipeline.is_some());
                let open: Vec<Pipeline> = self
                    .requests
                    .values()
                    .filter(|r| !r.request_ended)
                    .filter_map(|r| r.pipeline.clone())
                    .collect();
                for p in open {
                    p.input(Event::StreamEnd(StreamError::NoError));
                }
                if self.requests.is_empty() && !self.done {
                    self.finish(out);
                }
            }
            _ => {}
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        let id = key as u16;
        match evt {
            Event::Data(d) => {
                if self.requests.contains_key(&id) && !d.is_empty() {
                    let bytes = d.to_bytes();
                    out.push(records(wire::STDOUT, id, &bytes));
                }
            }
            Event::MessageEnd(tail) => {
                let status = js(|ctx| tail_status(&tail, ctx)).unwrap_or_default();
                self.end_request(id, status, out);
            }
            Event::StreamEnd(_) => self.end_request(id, (0, 0), out),
            Event::MessageStart(_) => {}
        }
    }
}

// ---------------------------------------------------------------- mux

/// A request waiting for its response on a shared session.
struct ClientRequest {
    /// Which stream asked (IDs are reused; tokens are not).
    token: u64,
    /// `None` once the stream left early: the ID stays taken until the
    /// application ends the aborted request.
    target: Option<EventTarget>,
    started: bool,
    stdout_ended: bool,
    stderr: Vec<u8>,
}

/// `muxFastCGI`'s routing: records by request ID to the streams.
#[derive(Default)]
struct Requests {
    decoder: Decoder,
    streams: HashMap<u16, ClientRequest>,
    next_token: u64,
}

impl Requests {
    /// A free request ID for a new stream (the lowest, from 1).
    fn open(&mut self, target: EventTarget) -> Option<(u16, u64)> {
        let id = (1..=u16::MAX).find(|id| !self.streams.contains_key(id))?;
        self.next_token += 1;
        let token = self.next_token;
        self.streams.insert(
            id,
            ClientRequest {
                token,
                target: Some(target),
                started: false,
                stdout_ended: false,
                stderr: Vec::new(),
            },
        );
        Some((id, token))
    }

    /// Whether request `id` is still the one `token`'s stream made and
    /// waits on.
    fn owns(&self, id: u16, token: u64) -> bool {
        self.streams
            .get(&id)
            .is_some_and(|r| r.token == token && r.target.is_some())
    }

    fn on_record(&mut self, rec: Record, deliveries: &mut Vec<(EventTarget, Event)>) {
        let id = rec.request_id;
        if rec.kind == wire::END_REQUEST {
            // The ID is free again (an aborted request's too).
            let Some(r) = self.streams.remove(&id) else {
                return;
            };
            let Some(target) = r.target else { return };
            if !r.started {
                deliveries.push((target.clone(), Event::MessageStart(Head::None)));
            }
            let (app, protocol) = wire::parse_end_request(&rec.body);
            let tail = js(|ctx| response_tail(app, protocol, r.stderr, ctx));
            deliveries.push((target, Event::MessageEnd(tail.unwrap_or(Head::None))));
            return;
        }
        let Some(r) = self.streams.get_mut(&id) else {
            return;
        };
        let Some(target) = r.target.clone() else {
            return;
        };
        if !r.started && matches!(rec.kind, wire::STDOUT | wire::STDERR) {
            r.started = true;
            deliveries.push((target.clone(), Event::MessageStart(Head::None)));
        }
        match rec.kind {
            wire::STDOUT if !r.stdout_ended => {
                if rec.body.is_empty() {
                    r.stdout_ended = true;
                } else {
                    deliveries.push((target, Event::Data(Data::from(rec.body))));
                }
            }
            wire::STDERR => {
                let room = MAX_STDERR.saturating_sub(r.stderr.len());
                r.stderr
                    .extend_from_slice(&rec.body[..rec.body.len().min(room)]);
            }
            _ => {}
        }
    }
}

fn response_tail(app: u32, protocol: u8, stderr: Vec<u8>, ctx: &mut Context) -> JsResult<Head> {
    let stderr = new_data(Data::from(Bytes::from(stderr)), ctx)?;
    let a = Attribute::all();
    let tail = ObjectInitializer::new(ctx)
        .property(js_string!("appStatus"), app, a)
        .property(js_string!("protocolStatus"), i32::from(protocol), a)
        .property(js_string!("stderr"), stderr, a)
        .build();
    Ok(convert::script_head(tail.into()))
}

impl Wire for Requests {
    fn route(&mut self, evt: Event, deliveries: &mut Vec<(EventTarget, Event)>) {
        let Event::Data(d) = evt else { return };
        for rec in decode(&mut self.decoder, &d) {
            self.on_record(rec, deliveries);
        }
    }

    fn end(&mut self) -> Vec<EventTarget> {
        self.streams.drain().filter_map(|(_, r)| r.target).collect()
    }
}

/// Template of `muxFastCGI(key?, options?)`.
pub struct MuxTemplate {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    pool: Rc<Pool<Requests>>,
}

impl MuxTemplate {
    /// `muxFastCGI(key?, options?)`; the session's pipeline comes with
    /// `.to(...)`. Of the options, `maxIdle`, `maxQueue` and `maxMessages`
    /// apply.
    pub fn new(key: Option<Callback>, sub: SubLayout, options: MuxOptions) -> Self {
        Self {
            key,
            sub,
            options,
            pool: Rc::default(),
        }
    }
}

impl FilterTemplate for MuxTemplate {
    fn name(&self) -> &'static str {
        "muxFastCGI"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]).with_kind(SubKind::Mux))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Mux {
            key: self.key.clone(),
            sub: self.sub.clone(),
            options: self.options.clone(),
            pool: self.pool.clone(),
            session: None,
            id: None,
            request_ended: false,
            response_ended: false,
            input_ended: false,
            done: false,
        })
    }
}

struct Mux {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    pool: Rc<Pool<Requests>>,
    session: Option<Rc<Session<Requests>>>,
    /// The request ID on the session and this stream's token, once the
    /// request began.
    id: Option<(u16, u64)>,
    request_ended: bool,
    response_ended: bool,
    input_ended: bool,
    done: bool,
}

/// Role, keep-alive flag and parameters of a request head.
fn begin_request(h: &Head, ctx: &mut Context) -> JsResult<(u16, bool, Vec<u8>)> {
    let obj = match h {
        Head::Script(s) => convert::script_value(s).as_object(),
        _ => None,
    };
    let Some(obj) = obj else {
        return Ok((1, false, Vec::new()));
    };
    let role = obj.get(js_string!("role"), ctx)?;
    let role = if role.is_undefined() {
        1
    } else {
        role.to_u32(ctx)? as u16
    };
    let keep_alive = obj.get(js_string!("keepAlive"), ctx)?.to_boolean();
    let mut pairs = Vec::new();
    if let Some(params) = obj.get(js_string!("params"), ctx)?.as_object() {
        for key in params.own_property_keys(ctx)? {
            let v: JsValue = params.get(key.clone(), ctx)?;
            let name = key.to_string();
            let value = match data_of(&v) {
                Some(d) => d.to_bytes().to_vec(),
                None => v.to_string(ctx)?.to_std_string_escaped().into_bytes(),
            };
            pairs.push((name.into_bytes(), value));
        }
    }
    let params = wire::encode_params(pairs.iter().map(|(k, v)| (&k[..], &v[..])));
    Ok((role, keep_alive, params))
}

impl Mux {
    fn begin(&mut self, head: &Head, out: &mut Output<'_>) {
        let (role, keep_alive, params) = match js(|ctx| begin_request(head, ctx)) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("muxFastCGI: {e}");
                self.done = true;
                return out.fail(StreamError::RuntimeError);
            }
        };
        // A key function that throws ends the stream (`Callback::call`).
        let Some(key) = session_key(&self.key, out) else {
            return;
        };
        let Some(layout) = self.sub.get() else { return };
        let s = self.pool.join(key, self.options.sharing(), &layout, out);
        let Some((id, token)) = s.wire().open(out.reply_target(0)) else {
            tracing::error!("muxFastCGI: every request ID of a session in use");
            s.leave();
            self.done = true;
            return out.fail(StreamError::ConnectionCanceled);
        };
        s.count_message(self.options.max_messages);
        let mut bytes = Vec::with_capacity(params.len() + 48);
        let begin = wire::begin_request_body(role, keep_alive);
        wire::encode_records(wire::BEGIN_REQUEST, id, &begin, &mut bytes);
        if !params.is_empty() {
            wire::encode_records(wire::PARAMS, id, &params, &mut bytes);
        }
        wire::encode_records(wire::PARAMS, id, &[], &mut bytes);
        self.id = Some((id, token));
        self.session = Some(s.clone());
        s.input([Event::Data(Data::from(Bytes::from(bytes)))]);
    }

    /// Sends `record` for this stream's request, while the request is its
    /// own (an ID the application ended may serve another stream now).
    fn send(&self, kind: u8, body: &[u8]) {
        if let (Some((id, token)), Some(s)) = (self.id, &self.session) {
            if s.wire().owns(id, token) {
                s.input([records(kind, id, body)]);
            }
        }
    }

    fn end_request(&mut self) {
        if self.id.is_some() && !self.request_ended {
            self.request_ended = true;
            self.send(wire::STDIN, &[]);
        }
    }

    fn finish(&mut self, err: StreamError, out: &mut Output<'_>) {
        self.done = true;
        self.leave();
        out.push(Event::StreamEnd(err));
    }

    fn leave(&mut self) {
        if let Some((id, token)) = self.id {
            let owned = self
                .session
                .as_ref()
                .is_some_and(|s| s.wire().owns(id, token));
            if owned && !self.response_ended {
                // Left before the answer: the application is told, and the
                // ID stays taken until it ends the request.
                self.send(wire::ABORT_REQUEST, &[]);
                if let Some(s) = &self.session {
                    if let Some(r) = s.wire().streams.get_mut(&id) {
                        r.target = None;
                    }
                }
            }
        }
        if let Some(s) = self.session.take() {
            s.leave();
        }
    }
}

impl Filter for Mux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match evt {
            Event::MessageStart(h) => {
                if self.id.is_none() {
                    self.begin(&h, out);
                }
            }
            Event::Data(d) => {
                if self.id.is_some() && !self.request_ended && !d.is_empty() {
                    self.send(wire::STDIN, &d.to_bytes());
                }
            }
            Event::MessageEnd(_) => self.end_request(),
            Event::StreamEnd(err) => {
                self.end_request();
                self.input_ended = true;
                if self.id.is_none() || self.response_ended {
                    self.finish(err, out);
                }
            }
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match evt {
            Event::StreamEnd(err) => self.finish(err, out),
            Event::MessageEnd(_) => {
                out.push(evt);
                // The application ended the request: its ID may serve
                // another stream from now on.
                self.response_ended = true;
                self.request_ended = true;
                if self.input_ended {
                    self.finish(StreamError::NoError, out);
                }
            }
            e => out.push(e),
        }
    }
}

impl Drop for Mux {
    fn drop(&mut self) {
        self.leave();
    }
}
