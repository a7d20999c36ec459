//! HTTP/2 for `demuxHTTP`, `serveHTTP` and `muxHTTP`, on the `h2` crate.
//!
//! `h2` is async: each HTTP/2 connection runs as a task on the worker's
//! thread, reading and writing through a [`pipe::Pipe`] joined to the
//! filter. Each stream is a sub-pipeline (server side) or a waiting
//! `muxHTTP` stream (client side), with flow control tied to the engine's
//! backpressure: request bodies are acknowledged (WINDOW_UPDATE) only once
//! the sub-pipeline's writers have room, and answers queue up to a limit
//! past which their source pauses.

pub(crate) mod client;
mod convert;
pub(crate) mod pipe;
mod queue;
pub(crate) mod server;

/// The client connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Each stream's (and the connection's) receive window.
const WINDOW: u32 = 1 << 20;

/// Streams a peer may open at once.
const MAX_STREAMS: u32 = 256;

/// Largest header block accepted.
const MAX_HEADER_LIST: u32 = 64 * 1024;
