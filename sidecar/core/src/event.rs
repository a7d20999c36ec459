//! Events: what flows through pipelines.

use crate::{Data, Head};
use std::fmt;

/// Why a stream ended. The names are the ones scripts see as `StreamEnd.error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// Ended normally.
    NoError,
    /// Unclassified failure.
    UnknownError,
    /// A script callback threw.
    RuntimeError,
    /// Reading from a socket failed.
    ReadError,
    /// Writing to a socket failed.
    WriteError,
    /// The host name did not resolve.
    CannotResolve,
    /// The connection was cancelled.
    ConnectionCanceled,
    /// The peer reset the connection.
    ConnectionReset,
    /// The peer refused the connection.
    ConnectionRefused,
    /// Connecting took too long.
    ConnectionTimeout,
    /// No data arrived in time.
    ReadTimeout,
    /// Data could not be sent in time.
    WriteTimeout,
    /// The connection sat idle for too long.
    IdleTimeout,
    /// Access was refused.
    Unauthorized,
    /// A buffer limit was exceeded.
    BufferOverflow,
    /// Malformed protocol data.
    ProtocolError,
    /// Asks a `replay` filter upstream to run its sub-pipeline again.
    Replay,
}

impl StreamError {
    /// The name scripts see (empty for `NoError`).
    pub fn name(self) -> &'static str {
        use StreamError::*;
        match self {
            NoError => "",
            UnknownError => "UnknownError",
            RuntimeError => "RuntimeError",
            ReadError => "ReadError",
            WriteError => "WriteError",
            CannotResolve => "CannotResolve",
            ConnectionCanceled => "ConnectionCanceled",
            ConnectionReset => "ConnectionReset",
            ConnectionRefused => "ConnectionRefused",
            ConnectionTimeout => "ConnectionTimeout",
            ReadTimeout => "ReadTimeout",
            WriteTimeout => "WriteTimeout",
            IdleTimeout => "IdleTimeout",
            Unauthorized => "Unauthorized",
            BufferOverflow => "BufferOverflow",
            ProtocolError => "ProtocolError",
            Replay => "Replay",
        }
    }

    /// Every error, in declaration order.
    pub const ALL: [StreamError; 17] = {
        use StreamError::*;
        [
            NoError,
            UnknownError,
            RuntimeError,
            ReadError,
            WriteError,
            CannotResolve,
            ConnectionCanceled,
            ConnectionReset,
            ConnectionRefused,
            ConnectionTimeout,
            ReadTimeout,
            WriteTimeout,
            IdleTimeout,
            Unauthorized,
            BufferOverflow,
            ProtocolError,
            Replay,
        ]
    };

    /// Parses a name as scripts spell it; unknown names map to `UnknownError`.
    pub fn from_name(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .unwrap_or(StreamError::UnknownError)
    }
}

/// One event in a stream.
#[derive(Clone)]
pub enum Event {
    /// A chunk of bytes.
    Data(Data),
    /// Start of a message, with its head.
    MessageStart(Head),
    /// End of a message, with an optional tail (trailers).
    MessageEnd(Head),
    /// End of the stream.
    StreamEnd(StreamError),
}

impl Event {
    /// Whether this is a `StreamEnd`.
    pub fn is_stream_end(&self) -> bool {
        matches!(self, Event::StreamEnd(_))
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Data(d) => write!(f, "Data[{}]", d.len()),
            Event::MessageStart(h) => write!(f, "MessageStart({h:?})"),
            Event::MessageEnd(_) => f.write_str("MessageEnd"),
            Event::StreamEnd(e) => write!(f, "StreamEnd({e:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StreamError;

    #[test]
    fn names_round_trip() {
        for e in StreamError::ALL {
            assert_eq!(StreamError::from_name(e.name()), e);
        }
        assert_eq!(StreamError::from_name("Bogus"), StreamError::UnknownError);
    }
}
