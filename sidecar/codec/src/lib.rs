//! pipy-codec: pure wire formats, free of I/O, so that each can be tested byte by
//! byte and fuzzed (see `fuzz/`).
//!
//! - [`http1`]: HTTP/1.x framing. A [`http1::Decoder`] per connection direction
//!   turns bytes (`Data`, split anyhow) into `MessageStart` / `Data` / `MessageEnd`
//!   events with native heads, checks the framing rules that prevent request
//!   smuggling (RFC 9112 §6.3) and says which status to answer on error. A
//!   [`http1::Encoder`] turns events back into bytes, choosing `Content-Length`,
//!   chunked or close-delimited framing itself.
//!
//! Body bytes are never copied: the decoder emits slices of the input `Bytes` and
//! the encoder puts them behind a head it writes into one buffer.
//!
//! ```
//! use pipy_codec::http1::{Decoder, Encoder};
//! use pipy_core::{Data, Event, Head};
//!
//! let mut decoder = Decoder::request();
//! let mut events = Vec::new();
//! decoder
//!     .decode(Data::from("POST /up HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"), &mut |e| events.push(e))
//!     .unwrap();
//! assert!(matches!(&events[0], Event::MessageStart(Head::Request(h)) if h.path == "/up"));
//! assert!(matches!(events.last(), Some(Event::MessageEnd(_))));
//!
//! let mut encoder = Encoder::request();
//! let mut wire = Data::new();
//! for e in events {
//!     encoder.encode(e, &mut |d| wire.push(d));
//! }
//! // Framing fields in upstream Pipy's spelling and order.
//! assert_eq!(
//!     wire.to_vec(),
//!     b"POST /up HTTP/1.1\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nhi"
//! );
//! ```

#![warn(missing_docs)]

pub mod bgp;
pub mod compression;
pub mod detect;
pub mod dns;
pub mod dubbo;
pub mod fastcgi;
pub mod hessian;
pub mod http1;
pub mod mqtt;
pub mod netlink;
pub mod proxy_protocol;
pub mod resp;
pub mod socks;
pub mod thrift;
pub mod tls_hello;
pub mod websocket;

/// What a decoder of frames with a header and a body (Dubbo, Netlink)
/// found, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameStep<H> {
    /// A frame begins, with its header.
    Start(H),
    /// Bytes of its body, passed on as they come (never gathered).
    Body(bytes::Bytes),
    /// The frame is complete.
    End,
}

/// What a decoder of messages that keep their bytes (RESP, Thrift) found,
/// in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// A message begins.
    Start,
    /// Bytes of the message, as they were on the wire.
    Raw(bytes::Bytes),
    /// The message is complete, decoded.
    End(T),
}
