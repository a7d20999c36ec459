//! The streaming HTTP/1.x decoder: bytes in, message events out.

use super::body::{request_body, response_body, Body};
use super::chunked::Chunked;
use super::head;
use super::DecodeError;
use bytes::{Buf, Bytes, BytesMut};
use pipy_core::{Data, Event, Head, MessageTail};
use std::collections::VecDeque;

mod tunnel;

/// Default limit on the size of a message head: upstream Pipy's `maxHeaderSize`
/// default (16 KiB).
pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 * 1024;

/// Where the decoder is in the stream.
#[derive(Debug)]
enum State {
    /// Between messages, or inside a head (`head_buf` holds its start).
    Head,
    /// In a body with this many bytes left.
    Length(u64),
    /// In a chunked body.
    Chunked(Chunked),
    /// In a body that ends when the connection does.
    UntilClose,
    /// After a request that asked to `Upgrade`: further bytes are held (in
    /// `head_buf`) until the caller knows whether the answer switched protocols
    /// ([`Decoder::start_tunnel`]) or not ([`Decoder::resume`]).
    AwaitUpgrade,
    /// Past the end of HTTP: bytes pass through as they are.
    Tunnel,
    /// [`Decoder::eof`] was called.
    Closed,
    /// An error happened; it is returned again.
    Failed(DecodeError),
}

/// A streaming HTTP/1.x decoder for one direction of one connection.
///
/// Feed it bytes with [`decode`](Self::decode), split anyhow; it emits, for each
/// message, `MessageStart(Head::Request | Head::Response)`, body `Data` events and
/// `MessageEnd(Head::Tail)` (the head's and the body's size on the wire). Body data
/// are slices of the input `Bytes`, never copies; when a whole input buffer is
/// body, it is passed on as it is.
///
/// Heads are parsed by httparse. A head within one input chunk is parsed in place
/// and its header fields are slices of that chunk; a head split across chunks is
/// first gathered into one buffer (at most the head size limit).
///
/// Response side: announce each request with [`expect_response`](Self::expect_response)
/// so that responses to `HEAD` get no body. Interim responses (`1xx` other than
/// `101`) are consumed and not emitted: a proxy answers `Expect: 100-continue`
/// itself (see [`expects_continue`](super::expects_continue)). After a `101` the
/// decoder becomes a tunnel and passes further bytes on as `Data` outside any
/// message; [`start_tunnel`](Self::start_tunnel) does the same by hand (after a
/// `CONNECT` succeeds). On the request side, with [`hold_after_upgrade`](Self::hold_after_upgrade),
/// the bytes after a request with an `Upgrade` field are held until the caller
/// calls [`start_tunnel`](Self::start_tunnel) (the answer was `101`) or
/// [`resume`](Self::resume) (it was not).
#[derive(Debug)]
pub struct Decoder {
    is_response: bool,
    max_head: usize,
    state: State,
    /// Start of a head split across input chunks.
    head_buf: BytesMut,
    /// End-of-head scanner over `head_buf`: 1 after LF, 2 after LF CR.
    eoh: u8,
    /// For each announced request, whether it was a `HEAD`, and whether a
    /// `CONNECT` (whose 2xx answer makes the connection a tunnel).
    expect: VecDeque<(bool, bool)>,
    /// Size of the current message's head, and of its body so far, on the wire.
    tail: MessageTail,
    /// The request being read asked to `Upgrade`.
    upgrade: bool,
    /// Whether bytes after an `Upgrade` request are held.
    hold_upgrades: bool,
    /// Asked, for each response, which request it answers (its method).
    request_of: Option<RequestHook>,
}

/// A function telling a response decoder the method of the request a
/// response answers, given the response's head (which it may turn into
/// another form of head, as scripts see it).
pub struct RequestHook(pub Box<RequestOf>);

/// See [`RequestHook`].
pub type RequestOf = dyn FnMut(&mut Head) -> Option<String>;

impl std::fmt::Debug for RequestHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestHook")
    }
}

impl Decoder {
    /// A decoder of requests (the server side of a connection).
    pub fn request() -> Self {
        Self::new(false)
    }

    /// A decoder of responses (the client side of a connection).
    pub fn response() -> Self {
        Self::new(true)
    }

    fn new(is_response: bool) -> Self {
        Self {
            is_response,
            max_head: DEFAULT_MAX_HEAD_SIZE,
            state: State::Head,
            head_buf: BytesMut::new(),
            eoh: 0,
            expect: VecDeque::new(),
            tail: MessageTail::default(),
            upgrade: false,
            hold_upgrades: false,
            request_of: None,
        }
    }

    /// Sets the limit on the size of a message head (and of a chunked trailer
    /// section); larger ones are a [`DecodeError::HeadTooLarge`].
    pub fn set_max_head_size(&mut self, size: usize) {
        self.max_head = size;
    }

    /// Announces a request whose response this decoder will read, in the order the
    /// requests were sent. `method_is_head` makes that response bodiless.
    /// Responses that were not announced count as answers to non-`HEAD` requests.
    pub fn expect_response(&mut self, method_is_head: bool) {
        self.expect.push_back((method_is_head, false));
    }

    /// Announces a request as [`expect_response`](Self::expect_response) does,
    /// by its method: a `HEAD`'s answer is bodiless, and a 2xx answer to a
    /// `CONNECT` turns the connection into a tunnel (RFC 9110 §9.3.6).
    pub fn expect_response_to(&mut self, method: &str) {
        self.expect
            .push_back((method.eq_ignore_ascii_case("HEAD"), method == "CONNECT"));
    }

    /// Whether this decoder reads responses.
    pub fn is_response(&self) -> bool {
        self.is_response
    }

    /// Has `hook` tell, for each response, the method of the request it
    /// answers (instead of the requests announced with
    /// [`expect_response_to`](Self::expect_response_to)): a `HEAD`'s answer is
    /// bodiless, a `CONNECT`'s 2xx a tunnel. `None` from it: a `GET`.
    pub fn set_request_hook(&mut self, hook: RequestHook) {
        self.request_of = Some(hook);
    }

    /// Whether the decoder is between messages with nothing buffered: the
    /// connection can be closed here without cutting a message.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && self.head_buf.is_empty()
    }

    /// Prepares the decoder for a new connection, keeping its settings and buffers.
    pub fn reset(&mut self) {
        self.state = State::Head;
        self.head_buf.clear();
        self.eoh = 0;
        self.expect.clear();
        self.tail = MessageTail::default();
        self.upgrade = false;
    }

    /// Decodes the next bytes of the stream, pushing events to `out`.
    ///
    /// On error, the events of everything before the faulty bytes have been
    /// emitted, and the decoder stays failed.
    pub fn decode(
        &mut self,
        mut data: Data,
        out: &mut dyn FnMut(Event),
    ) -> Result<(), DecodeError> {
        if data.is_empty() {
            return match self.state {
                State::Failed(e) => Err(e),
                _ => Ok(()),
            };
        }
        // Fast path: the whole buffer is body, pass it on without touching it.
        match self.state {
            State::Length(left) if data.len() as u64 <= left => {
                let left = left - data.len() as u64;
                self.tail.body_size += data.len() as u64;
                out(Event::Data(data));
                self.state = State::Length(left);
                if left == 0 {
                    self.end_message(&mut Data::new(), out);
                }
                return Ok(());
            }
            State::UntilClose => {
                self.tail.body_size += data.len() as u64;
                out(Event::Data(data));
                return Ok(());
            }
            State::Tunnel => {
                out(Event::Data(data));
                return Ok(());
            }
            _ => {}
        }
        let mut body = Data::new();
        let mut result = Ok(());
        for chunk in data.take_chunks() {
            result = self.feed(chunk, &mut body, out);
            if result.is_err() {
                break;
            }
        }
        flush(&mut body, out);
        result.inspect_err(|&e| self.state = State::Failed(e))
    }

    /// Signals the end of the stream. A body that lasts until the connection closes
    /// ends here (`MessageEnd` is emitted); a message cut short is an error.
    pub fn eof(&mut self, out: &mut dyn FnMut(Event)) -> Result<(), DecodeError> {
        let result = match self.state {
            State::Failed(e) => return Err(e),
            State::Head | State::AwaitUpgrade if !self.head_buf.is_empty() => {
                Err(DecodeError::Incomplete)
            }
            State::Length(_) | State::Chunked(_) => Err(DecodeError::Incomplete),
            State::UntilClose => {
                out(Event::MessageEnd(Head::Tail(std::mem::take(
                    &mut self.tail,
                ))));
                Ok(())
            }
            State::Head | State::AwaitUpgrade | State::Tunnel | State::Closed => Ok(()),
        };
        self.state = match result {
            Ok(()) => State::Closed,
            Err(e) => State::Failed(e),
        };
        result
    }

    /// Consumes one input chunk.
    fn feed(
        &mut self,
        mut buf: Bytes,
        body: &mut Data,
        out: &mut dyn FnMut(Event),
    ) -> Result<(), DecodeError> {
        while !buf.is_empty() {
            match &mut self.state {
                State::Head => self.read_head(&mut buf, out)?,
                State::Length(left) => {
                    let n = usize::try_from(*left).map_or(buf.len(), |l| l.min(buf.len()));
                    body.push_bytes(buf.split_to(n));
                    *left -= n as u64;
                    self.tail.body_size += n as u64;
                    if *left == 0 {
                        self.end_message(body, out);
                    }
                }
                State::Chunked(c) => {
                    let before = buf.len();
                    let done = c.decode(&mut buf, body)?;
                    self.tail.body_size += (before - buf.len()) as u64;
                    if done {
                        self.end_message(body, out);
                    }
                }
                State::UntilClose => {
                    self.tail.body_size += buf.len() as u64;
                    body.push_bytes(std::mem::take(&mut buf));
                }
                State::Tunnel => body.push_bytes(std::mem::take(&mut buf)),
                State::AwaitUpgrade => {
                    if self.head_buf.len() + buf.len() > self.max_head {
                        return Err(DecodeError::HeadTooLarge);
                    }
                    self.head_buf.extend_from_slice(&buf);
                    buf.clear();
                }
                State::Closed => return Err(DecodeError::AfterEof),
                State::Failed(e) => return Err(*e),
            }
        }
        Ok(())
    }

    /// Reads (part of) a head from `buf`, and starts the message when it is complete.
    fn read_head(
        &mut self,
        buf: &mut Bytes,
        out: &mut dyn FnMut(Event),
    ) -> Result<(), DecodeError> {
        if self.head_buf.is_empty() {
            // Empty lines before a message are ignored (RFC 9112 §2.2).
            let skip = buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            buf.advance(skip);
            if buf.is_empty() {
                return Ok(());
            }
            // Common case: the whole head is in this chunk; parse it in place.
            if let Some(n) = self.start_message(buf, out)? {
                buf.advance(n);
                return Ok(());
            }
            if buf.len() > self.max_head {
                return Err(DecodeError::HeadTooLarge);
            }
        }
        // The head continues past this chunk: gather it up to its end.
        let (take, complete) = match scan_end_of_head(&mut self.eoh, buf) {
            Some(end) => (end, true),
            None => (buf.len(), false),
        };
        if self.head_buf.len() + take > self.max_head {
            return Err(DecodeError::HeadTooLarge);
        }
        self.head_buf.extend_from_slice(&buf[..take]);
        buf.advance(take);
        if complete {
            self.eoh = 0;
            let src = self.head_buf.split().freeze();
            match self.start_message(&src, out)? {
                Some(n) if n == src.len() => {}
                _ => return Err(DecodeError::MalformedHead("malformed message head")),
            }
        }
        Ok(())
    }

    /// Parses a head at the start of `src`; when complete, emits `MessageStart`
    /// (unless it is an interim response), sets up the body and returns the head's
    /// length.
    fn start_message(
        &mut self,
        src: &Bytes,
        out: &mut dyn FnMut(Event),
    ) -> Result<Option<usize>, DecodeError> {
        let (n, head, body) = if self.is_response {
            let Some((n, res)) = head::parse_response(src, self.max_head)? else {
                return Ok(None);
            };
            if n > self.max_head {
                return Err(DecodeError::HeadTooLarge);
            }
            let Some(head) = res.head else {
                return Ok(Some(n)); // interim response: dropped
            };
            let version = head.version;
            let mut head = Head::Response(head);
            let (is_head, is_connect) = match &mut self.request_of {
                Some(hook) => match (hook.0)(&mut head) {
                    Some(m) => (m.eq_ignore_ascii_case("HEAD"), m == "CONNECT"),
                    None => (false, false),
                },
                None => self.expect.pop_front().unwrap_or((false, false)),
            };
            let body = if is_connect && (200..300).contains(&res.status) {
                Body::Upgrade
            } else {
                response_body(res.status, is_head, version, res.framing)?
            };
            (n, head, body)
        } else {
            let Some((n, head, framing)) = head::parse_request(src, self.max_head)? else {
                return Ok(None);
            };
            if n > self.max_head {
                return Err(DecodeError::HeadTooLarge);
            }
            let body = request_body(head.version, framing)?;
            // What follows a CONNECT waits for its answer as after an Upgrade.
            self.upgrade = (framing.upgrade || head.method == "CONNECT") && self.hold_upgrades;
            (n, Head::Request(head), body)
        };
        self.tail = MessageTail {
            head_size: n as u64,
            body_size: 0,
        };
        out(Event::MessageStart(head));
        match body {
            Body::None => self.end_message(&mut Data::new(), out),
            Body::Length(len) => self.state = State::Length(len),
            Body::Chunked => self.state = State::Chunked(Chunked::new(self.max_head)),
            Body::UntilClose => self.state = State::UntilClose,
            Body::Upgrade => {
                out(Event::MessageEnd(Head::Tail(std::mem::take(
                    &mut self.tail,
                ))));
                self.state = State::Tunnel;
            }
        }
        Ok(Some(n))
    }

    fn end_message(&mut self, body: &mut Data, out: &mut dyn FnMut(Event)) {
        flush(body, out);
        out(Event::MessageEnd(Head::Tail(std::mem::take(
            &mut self.tail,
        ))));
        self.state = if std::mem::take(&mut self.upgrade) {
            State::AwaitUpgrade
        } else {
            State::Head
        };
    }
}

fn flush(body: &mut Data, out: &mut dyn FnMut(Event)) {
    if !body.is_empty() {
        out(Event::Data(std::mem::take(body)));
    }
}

/// Finds the end of a head (an empty line, CRLF or bare LF) in `buf`, carrying the
/// scanner state across chunks; returns the length up to and including it.
fn scan_end_of_head(state: &mut u8, buf: &[u8]) -> Option<usize> {
    for (i, &b) in buf.iter().enumerate() {
        *state = match (b, *state) {
            (b'\n', 0) => 1,
            (b'\n', _) => {
                *state = 0;
                return Some(i + 1);
            }
            (b'\r', 1) => 2,
            _ => 0,
        };
    }
    None
}
