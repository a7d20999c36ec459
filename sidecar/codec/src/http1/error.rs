//! Why a message could not be decoded, and what a server should answer.

/// A decoding failure. The decoder that returned it stays failed: every later call
/// returns the same error, because the framing of whatever follows is unknown.
///
/// The type is `Copy` and holds no text of its own, so the error path allocates
/// nothing either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The start line or a header field is malformed (bad request line, invalid
    /// byte in a name or value, obs-fold, bad status line...).
    #[error("{0}")]
    MalformedHead(&'static str),
    /// The head is larger than the decoder's limit.
    #[error("message head too large")]
    HeadTooLarge,
    /// Both `Content-Length` and `Transfer-Encoding` are present.
    #[error("both Content-Length and Transfer-Encoding")]
    LengthAndTransferEncoding,
    /// `Content-Length` is not a decimal number, overflows, or has differing values.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// `Transfer-Encoding` that does not end in `chunked`, applies `chunked` twice,
    /// or appears in an HTTP/1.0 request.
    #[error("invalid Transfer-Encoding")]
    BadTransferEncoding,
    /// A transfer coding other than `chunked` (`gzip, chunked`...): we cannot
    /// forward it without changing the message.
    #[error("unsupported transfer coding")]
    UnsupportedTransferEncoding,
    /// A malformed chunk-size line, chunk terminator or trailer section.
    #[error("invalid chunked encoding")]
    BadChunk,
    /// The stream ended in the middle of a message.
    #[error("message cut short")]
    Incomplete,
    /// Data arrived after [`eof`](super::Decoder::eof).
    #[error("data after end of stream")]
    AfterEof,
    /// A body larger than its receiver gathers whole (`serveHTTP`'s request).
    #[error("content too large")]
    BodyTooLarge,
}

impl DecodeError {
    /// The HTTP status a server should answer with (and then close the connection):
    /// 501 for an unsupported transfer coding, 431 for an oversized head (RFC 6585
    /// §5; upstream Pipy closes without an answer), 413 for a body too large to
    /// gather (RFC 9110 §15.5.14), 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            DecodeError::UnsupportedTransferEncoding => 501,
            DecodeError::HeadTooLarge => 431,
            DecodeError::BodyTooLarge => 413,
            _ => 400,
        }
    }

    /// A short description, the same text as `Display` but without formatting.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::MalformedHead(why) => why,
            DecodeError::HeadTooLarge => "message head too large",
            DecodeError::LengthAndTransferEncoding => "both Content-Length and Transfer-Encoding",
            DecodeError::BadContentLength => "invalid Content-Length",
            DecodeError::BadTransferEncoding => "invalid Transfer-Encoding",
            DecodeError::UnsupportedTransferEncoding => "unsupported transfer coding",
            DecodeError::BadChunk => "invalid chunked encoding",
            DecodeError::Incomplete => "message cut short",
            DecodeError::AfterEof => "data after end of stream",
            DecodeError::BodyTooLarge => "content too large",
        }
    }

    pub(crate) fn from_httparse(e: httparse::Error) -> Self {
        DecodeError::MalformedHead(match e {
            httparse::Error::HeaderName => "invalid header name",
            httparse::Error::HeaderValue => "invalid header value",
            httparse::Error::NewLine => "invalid new line",
            httparse::Error::Status => "invalid response status",
            httparse::Error::Token => "invalid token",
            httparse::Error::TooManyHeaders => "too many headers",
            httparse::Error::Version => "invalid HTTP version",
        })
    }
}
