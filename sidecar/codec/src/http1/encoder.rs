//! The HTTP/1.x encoder: message events in, bytes out, with framing it chooses.

use super::write::{self, put_hex, Framing};
use bytes::{Bytes, BytesMut};
use pipy_core::{Data, Event, Head, HeaderMap, RequestHead, ResponseHead, Version};
use std::collections::VecDeque;

/// Default limit of body bytes held back to send a `Content-Length`.
pub const DEFAULT_BUFFER_SIZE: usize = 16 * 1024;

const CRLF: &[u8] = b"\r\n";
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The head of the message being encoded.
#[derive(Debug)]
enum Msg {
    Request(Box<RequestHead>),
    Response(Box<ResponseHead>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No message in progress: `Data` passes through untouched (a tunnel).
    Idle,
    /// Holding back the head and body to send a `Content-Length`.
    Buffering,
    /// Streaming a body of known length; this many bytes left.
    Length(u64),
    /// Streaming a chunked body.
    Chunked,
    /// Streaming a body delimited by closing the connection.
    UntilClose,
    /// Head sent; the message has no body and `Data` is dropped.
    NoBody,
}

/// An HTTP/1.x encoder for one direction of one connection.
///
/// Feed it `MessageStart` with a native head (`Head::Request` for a request
/// encoder, `Head::Response` for a response encoder; any other head is replaced by
/// a default `GET /` or `200 OK`), `Data` and `MessageEnd`, and it pushes wire bytes.
/// Requests are always written as HTTP/1.1, responses with the version of their
/// head. What a head holds cannot break the framing: a method that is not a token
/// becomes `GET`, unsafe bytes of the path are percent-encoded, fields with invalid
/// names or control characters in values are dropped.
///
/// The encoder chooses the framing; a given `Transfer-Encoding` is dropped, other
/// fields (`Connection` included) are written as given. The body is held back
/// until `MessageEnd` while it fits the buffer ([`set_buffer_size`](Self::set_buffer_size)),
/// and then the head goes out with `Content-Length` and the body chunks in a single
/// `Data` (the chunks are not copied). A longer body is streamed: with the
/// `Content-Length` the head gave, else chunked, else (an HTTP/1.0 response) until
/// the connection closes, which [`must_close`](Self::must_close) then reports.
///
/// Responses to `HEAD` requests keep their `Content-Length` and send no body;
/// announce each request with [`expect_head_response`](Self::expect_head_response)
/// in order. Responses `1xx`, `204` and `304` get no body and no framing headers.
/// `Data` outside a message (after a `101` or a `CONNECT`) passes through as is.
/// `StreamEnd` in the middle of a message writes what was held back (the head, with
/// the framing a longer body would get, and the body so far) and never ends the
/// message: the caller closes the connection, and the receiver sees a message cut
/// short, as it would behind any proxy that streams.
#[derive(Debug)]
pub struct Encoder {
    is_response: bool,
    buffer_size: usize,
    state: State,
    msg: Option<Msg>,
    body: Data,
    /// For each announced request, whether it was a `HEAD`.
    head_requests: VecDeque<(bool, bool)>,
    /// Answering HEAD with a body in hand: it is measured for `Content-Length`
    /// (as a GET would get) and never sent.
    head_only: bool,
    /// The next response goes to an HTTP/1.0 client, which knows no chunked coding.
    http10_peer: bool,
    /// The body length announced for the next message, and for the current one.
    next_length: Option<u64>,
    length: Option<u64>,
    must_close: bool,
    scratch: BytesMut,
}

impl Encoder {
    /// An encoder of requests (the client side of a connection).
    pub fn request() -> Self {
        Self::new(false)
    }

    /// An encoder of responses (the server side of a connection).
    pub fn response() -> Self {
        Self::new(true)
    }

    fn new(is_response: bool) -> Self {
        Self {
            is_response,
            buffer_size: DEFAULT_BUFFER_SIZE,
            state: State::Idle,
            msg: None,
            body: Data::new(),
            head_requests: VecDeque::new(),
            head_only: false,
            http10_peer: false,
            next_length: None,
            length: None,
            must_close: false,
            scratch: BytesMut::new(),
        }
    }

    /// Sets how many body bytes may be held back to send a `Content-Length`.
    pub fn set_buffer_size(&mut self, size: usize) {
        self.buffer_size = size;
    }

    /// Announces, in request order, whether the next response answers a `HEAD`
    /// request. Responses that were not announced are not treated as such.
    pub fn expect_head_response(&mut self, is_head: bool) {
        self.head_requests.push_back((is_head, false));
    }

    /// Announces the next request by its method: as
    /// [`expect_head_response`](Self::expect_head_response), and a 2xx answer
    /// to a `CONNECT` is written without framing, the connection becoming a
    /// tunnel after it.
    pub fn expect_response_to(&mut self, method: &str) {
        self.head_requests
            .push_back((method.eq_ignore_ascii_case("HEAD"), method == "CONNECT"));
    }

    /// Says whether the next response goes to an HTTP/1.0 client: a long body of
    /// unknown length is then delimited by closing the connection, not chunked,
    /// whatever version the response head says.
    pub fn set_http10_peer(&mut self, http10: bool) {
        self.http10_peer = http10;
    }

    /// Announces that the body of the next message is exactly `len` bytes (the
    /// caller holds it whole): a body too long to hold back then goes out with
    /// that `Content-Length`, not chunked, when its head gives none.
    pub fn announce_length(&mut self, len: Option<u64>) {
        self.next_length = len;
    }

    /// Whether a message was framed by closing the connection, or ended short of
    /// its `Content-Length`: the connection must close after what was written.
    pub fn must_close(&self) -> bool {
        self.must_close
    }

    /// Prepares the encoder for a new connection, keeping its settings.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.msg = None;
        self.body = Data::new();
        self.head_requests.clear();
        self.must_close = false;
        self.head_only = false;
        self.http10_peer = false;
        self.next_length = None;
        self.length = None;
    }

    /// Encodes one event, pushing the bytes it produces (if any) to `out`.
    pub fn encode(&mut self, evt: Event, out: &mut dyn FnMut(Data)) {
        match evt {
            Event::MessageStart(head) => self.start(head, out),
            Event::Data(data) => self.data(data, out),
            Event::MessageEnd(_) => self.end(out),
            Event::StreamEnd(_) => {
                if self.state == State::Buffering {
                    self.start_streaming(out);
                    self.must_close = true;
                }
                self.state = State::Idle;
                self.msg = None;
                self.body = Data::new();
            }
        }
    }

    fn start(&mut self, head: Head, out: &mut dyn FnMut(Data)) {
        if self.state != State::Idle {
            self.end(out); // a new message implicitly ends the previous one
        }
        self.length = self.next_length.take();
        let msg = match (self.is_response, head) {
            (false, Head::Request(mut h)) => {
                // The method decides framing below: settle it before writing.
                if !write::is_token(h.method.as_bytes()) {
                    h.method = "GET".into();
                }
                Msg::Request(h)
            }
            (false, _) => Msg::Request(Box::new(RequestHead {
                method: "GET".into(),
                path: "/".into(),
                ..RequestHead::default()
            })),
            (true, Head::Response(h)) => Msg::Response(h),
            (true, _) => Msg::Response(Box::default()),
        };
        if let Msg::Response(h) = &msg {
            let final_response = h.status >= 200 || h.status == 101;
            let (is_head, is_connect) = if final_response {
                self.head_requests.pop_front().unwrap_or((false, false))
            } else {
                (false, false)
            };
            let tunnel = is_connect && (200..300).contains(&h.status);
            let framing = match h.status {
                _ if is_head
                    && content_length(&h.headers).is_none()
                    && h.status >= 200
                    && h.status != 204
                    && h.status != 304 =>
                {
                    self.head_only = true;
                    None
                }
                _ if is_head => Some(Framing::KeepLength),
                100..=199 | 204 | 304 => Some(Framing::Nothing),
                _ if tunnel => Some(Framing::Nothing),
                _ => None,
            };
            if let Some(framing) = framing {
                let head = self.head_bytes(&msg, framing);
                out(head.into());
                self.state = State::NoBody;
                return;
            }
        }
        self.msg = Some(msg);
        self.state = State::Buffering;
    }

    fn data(&mut self, mut data: Data, out: &mut dyn FnMut(Data)) {
        if data.is_empty() {
            return;
        }
        match self.state {
            State::Idle | State::UntilClose => out(data),
            State::NoBody => {}
            State::Buffering => {
                self.body.push(data);
                if self.body.len() > self.buffer_size {
                    self.start_streaming(out);
                }
            }
            State::Length(left) => {
                // Never send more than announced: the excess would be a message of its own.
                let n = data.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                self.state = State::Length(left - n as u64);
                if n > 0 {
                    out(data.shift(n));
                }
            }
            State::Chunked => {
                let size = self.chunk_size_line(data.len());
                data.unshift_bytes(size);
                data.push_bytes(Bytes::from_static(CRLF));
                out(data);
            }
        }
    }

    fn end(&mut self, out: &mut dyn FnMut(Data)) {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Buffering if self.head_only => {
                self.head_only = false;
                let len = std::mem::take(&mut self.body).len() as u64;
                if let Some(msg) = self.msg.take() {
                    out(self.head_bytes(&msg, Framing::Length(len)).into());
                }
            }
            State::Buffering => {
                let body = std::mem::take(&mut self.body);
                let len = body.len() as u64;
                let framing = match &self.msg {
                    Some(Msg::Request(h))
                        if len == 0 && matches!(h.method.as_str(), "GET" | "HEAD" | "CONNECT") =>
                    {
                        Framing::Nothing
                    }
                    _ => Framing::Length(len),
                };
                if let Some(msg) = self.msg.take() {
                    let mut bytes: Data = self.head_bytes(&msg, framing).into();
                    bytes.push(body);
                    out(bytes);
                }
            }
            State::Length(left) => self.must_close |= left > 0,
            State::Chunked => out(Bytes::from_static(LAST_CHUNK).into()),
            State::Idle | State::UntilClose | State::NoBody => {}
        }
    }

    /// The body outgrew the buffer: sends the head with streaming framing and what
    /// was held back.
    fn start_streaming(&mut self, out: &mut dyn FnMut(Data)) {
        // A body delimited by the close says `connection: close` (RFC 9112
        // §9.6), whatever was asked: `Framing::UntilClose` writes it.
        let Some(msg) = self.msg.take() else {
            return;
        };
        if std::mem::take(&mut self.head_only) {
            // Too big to measure cheaply: the head goes without a length.
            self.body = Data::new();
            out(self.head_bytes(&msg, Framing::KeepLength).into());
            self.state = State::NoBody;
            return;
        }
        let (head_length, http10_response) = match &msg {
            Msg::Request(h) => (content_length(&h.headers), false),
            Msg::Response(h) => (
                content_length(&h.headers),
                h.version == Version::Http10 || self.http10_peer,
            ),
        };
        let given_length = head_length.or(self.length);
        let mut body = std::mem::take(&mut self.body);
        let (framing, state) = match given_length {
            Some(n) => (Framing::Length(n), State::Length(n)),
            None if http10_response => (Framing::UntilClose, State::UntilClose),
            None => (Framing::Chunked, State::Chunked),
        };
        let mut bytes: Data = self.head_bytes(&msg, framing).into();
        self.state = state;
        match state {
            State::Length(n) => {
                let sent = body.len().min(usize::try_from(n).unwrap_or(usize::MAX));
                bytes.push(body.shift(sent));
                self.state = State::Length(n - sent as u64);
            }
            State::Chunked => {
                bytes.push_bytes(self.chunk_size_line(body.len()));
                bytes.push(body);
                bytes.push_bytes(Bytes::from_static(CRLF));
            }
            _ => {
                self.must_close = true;
                bytes.push(body);
            }
        }
        out(bytes);
    }

    fn head_bytes(&mut self, msg: &Msg, framing: Framing) -> Bytes {
        match msg {
            Msg::Request(h) => write::request_head(&mut self.scratch, h, framing),
            Msg::Response(h) => write::response_head(&mut self.scratch, h, framing),
        }
        self.scratch.split().freeze()
    }

    fn chunk_size_line(&mut self, len: usize) -> Bytes {
        write::reserve(&mut self.scratch, 18);
        put_hex(&mut self.scratch, len as u64);
        self.scratch.extend_from_slice(CRLF);
        self.scratch.split().freeze()
    }
}

/// The `Content-Length` a head gives, when it is one plain decimal number.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get("content-length")?.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}
