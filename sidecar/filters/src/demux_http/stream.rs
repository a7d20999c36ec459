//! One request-response exchange of a `demuxHTTP` connection, and how its
//! response head is fitted to the request.

use bytes::Bytes;
use pipy_codec::http1::wants_close;
use pipy_core::{Data, Event, Head, Pipeline, StreamError, Version};

/// A request in flight: its sub-pipeline (or collected request for a serve
/// handler) and the state of its response.
pub(super) struct Stream {
    pub(super) key: u64,
    pub(super) pipeline: Option<Pipeline>,
    /// Response events that arrived while an earlier response was still going out.
    pub(super) pending: Vec<Event>,
    /// The request is fully received.
    pub(super) request_done: bool,
    pub(super) response_started: bool,
    pub(super) response_done: bool,
    pub(super) is_head: bool,
    /// The request is a `CONNECT`: a 2xx answer makes a tunnel.
    pub(super) is_connect: bool,
    pub(super) version: Version,
    pub(super) close_after: bool,
    /// The response was `101`, or a 2xx to a `CONNECT`: bytes now flow both
    /// ways unframed.
    pub(super) tunnel: bool,
    /// Collected request for a serve handler.
    pub(super) request: Option<(Head, Data)>,
    /// The length of a response body held whole (a serve handler's).
    pub(super) body_length: Option<u64>,
}

impl Stream {
    pub(super) fn new(key: u64, version: Version, close_after: bool) -> Self {
        Stream {
            key,
            pipeline: None,
            pending: Vec::new(),
            request_done: false,
            response_started: false,
            response_done: false,
            is_head: false,
            is_connect: false,
            version,
            close_after,
            tunnel: false,
            request: None,
            body_length: None,
        }
    }

    /// Ends the sub-pipeline's input early (the request was cut short).
    pub(super) fn abort(&self, err: StreamError) {
        if let Some(p) = &self.pipeline {
            p.input(Event::StreamEnd(err));
        }
    }
}

/// Fits a response head to the request it answers. RFC 9110 §2.5: a server
/// sends its own version, HTTP/1.1, to HTTP/1.0 clients too; they get
/// `connection: keep-alive` when they asked for it, else `connection: close`.
/// A `101`, or a 2xx to a `CONNECT`, makes the stream a tunnel.
pub(super) fn response_head(s: &mut Stream, evt: Event) -> Event {
    let Event::MessageStart(Head::Response(mut h)) = evt else {
        return evt;
    };
    h.version = Version::Http11;
    if wants_close(h.version, &h.headers) {
        // The response itself closes (its head already says so).
        s.close_after = true;
    } else if s.close_after {
        h.headers.set("connection", Bytes::from_static(b"close"));
    } else if s.version == Version::Http10 {
        h.headers
            .set("connection", Bytes::from_static(b"keep-alive"));
    }
    let connected = s.is_connect && (200..300).contains(&h.status);
    s.tunnel = (h.status == 101 || connected) && s.pipeline.is_some();
    Event::MessageStart(Head::Response(h))
}
